"""`embedder index`, `embedder search` and `embedder dedupe` end to end, with a real (tiny) exported model."""

from __future__ import annotations

import json
import shutil

import pytest

from embedder.cli import main
from serving.corpus.output_reader import read_corpus_output
from serving.search import semantic_search
from tests.helpers.corpus import sentence

QUERIES = ["how far is the moon", "a good film"]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory, corpus_model_base):
    """An embed-corpus output (Parquet, with the sentences) of 60 lines, the last five repeating earlier ones."""
    base = tmp_path_factory.mktemp("cli")
    lines = [sentence(i) for i in range(55)] + [sentence(i) for i in (3, 8, 13, 21, 34)]
    (base / "corpus.txt").write_text("\n".join(lines) + "\n")
    out = base / "vectors"
    command = ["embed-corpus", str(base / "corpus.txt"), "--out", str(out), "--saved-model", str(corpus_model_base)]
    assert main([*command, "--output-format", "parquet", "--include-text", "--chunk-size", "16"]) == 0
    return out


def test_index_then_search_through_a_savedmodel_and_a_server(
    vectors, tmp_path, corpus_model_base, served_model, corpus_backend, capsys
):
    index = tmp_path / "index"
    assert main(["index", str(vectors), "--out", str(index), "--kind", "hnsw", "--quantize", "int8"]) == 0
    assert "60 rows (dim 36, 1 segment(s)) indexed as hnsw/int8" in capsys.readouterr().out

    output = read_corpus_output(vectors)
    expected = semantic_search(corpus_backend.embed(QUERIES), output.embeddings, top_k=3)
    for model in (["--saved-model", str(corpus_model_base)], ["--target", served_model]):
        assert main(["search", str(index), *QUERIES, "--top-k", "3", "--json", *model]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert [a["query"] for a in answer] == QUERIES
        for query_answer, query_expected in zip(answer, expected):
            assert [h["corpus_id"] for h in query_answer["results"]] == [h["corpus_id"] for h in query_expected]
            assert [h["score"] for h in query_answer["results"]] == pytest.approx(
                [h["score"] for h in query_expected], abs=1e-5
            )
            assert all(h["text"] == output.texts[h["corpus_id"]] for h in query_answer["results"])

    assert main(["search", str(index), QUERIES[0], "--top-k", "2", "--saved-model", str(corpus_model_base)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == f"query: {QUERIES[0]}" and len(printed) == 3
    top = expected[0][0]
    assert printed[1].split()[:3] == ["1", f"{top['score']:.4f}", str(top["corpus_id"])]
    assert printed[1].endswith(output.texts[top["corpus_id"]])


def test_search_refuses_another_model_version(vectors, tmp_path, corpus_model_base, capsys):
    base = tmp_path / "tiny"
    shutil.copytree(corpus_model_base, base)
    shutil.copytree(base / "1", base / "2")  # version 2: what the model base path resolves to by default
    index = tmp_path / "index"
    assert main(["index", str(vectors), "--out", str(index)]) == 0
    capsys.readouterr()
    # The index's version is used when the base path holds it...
    assert main(["search", str(index), "moon", "--saved-model", str(base), "--top-k", "1"]) == 0
    capsys.readouterr()
    # ...and another one is refused, naming both.
    for arguments in (["--saved-model", str(base), "--model-version", "2"], ["--saved-model", str(base / "2")]):
        assert main(["search", str(index), "moon", *arguments]) == 2
        error = capsys.readouterr().err
        assert "The index was built from model 'tiny' version 1 (dim 36)" in error
        assert "the queries were embedded by model 'tiny' version 2 (dim 36)" in error


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["index", "{tmp}/absent", "--out", "{tmp}/index"], "holds no corpus manifest"),
        (["index", "{vectors}", "--out", "{tmp}/index", "--shard", "3/2"], "expected I/N with 0 <= I < N"),
        (["index", "{vectors}", "--out", "{tmp}/index", "--hnsw-m", "0"], "Received: hnsw_m=0"),
        (["search", "{tmp}", "moon", "--saved-model", "x"], "holds no index (index.json of `embedder index`)"),
        (["dedupe", "{tmp}/absent"], "holds no corpus manifest"),
    ],
)
def test_user_errors_exit_2_with_a_message(arguments, message, vectors, tmp_path, capsys):
    values = {"tmp": str(tmp_path), "vectors": str(vectors)}
    assert main([a.format(**values) for a in arguments]) == 2
    assert message in capsys.readouterr().err


def test_dedupe_lists_the_repeated_lines(vectors, capsys):
    assert main(["dedupe", str(vectors), "--threshold", "0.9999", "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)
    found = {(p["corpus_id_a"], p["corpus_id_b"]) for p in pairs}
    assert {(3, 55), (8, 56), (13, 57), (21, 58), (34, 59)} <= found
    assert all(p["text_a"] == p["text_b"] for p in pairs if (p["corpus_id_a"], p["corpus_id_b"]) in found)
    assert main(["dedupe", str(vectors), "--threshold", "0.9999", "--clusters"]) == 0
    assert "cluster 1 (2 rows):" in capsys.readouterr().out
