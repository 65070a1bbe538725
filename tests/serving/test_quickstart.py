"""The quickstart (`make run`): an exported model is served and called; a missing one is trained first."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from embedder.cli import main
from embedder.cli.quickstart_demo import (
    DEMO_SENTENCES,
    QuickstartSettings,
    bundled_training_data,
    cosine_similarities,
    ensure_model,
    semantic_search,
)


def similarity_rows(out: str) -> np.ndarray:
    """The demo's printed similarity matrix."""
    n = len(DEMO_SENTENCES)
    rows = [line for line in out.splitlines() if line.startswith("[") and line.split("]")[0][1:].isdigit()]
    rows = [line for line in rows if len(line.split()) > n and all(_number(v) for v in line.split()[-n:])]
    return np.array([[float(v) for v in line.split()[-n:]] for line in rows])


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_serves_an_exported_model_and_shows_a_working_call(tmp_path, exported_models, capsys):
    shutil.copytree(exported_models["structured"][1], tmp_path / "models" / "default" / "1")
    command = ["quickstart", "--models-dir", str(tmp_path / "models"), "--port", "0", "--no-serve"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "already exported" in out
    assert "with 'default' version 1 (structured, 36 dimensions) over gRPC at 127.0.0.1:" in out
    similarities = similarity_rows(out)
    assert similarities.shape == (len(DEMO_SENTENCES), len(DEMO_SENTENCES))
    np.testing.assert_allclose(np.diag(similarities), 1.0, atol=0.006)
    np.testing.assert_allclose(similarities, similarities.T, atol=0.011)
    assert "Question type" in out and ("negative" in out or "positive" in out)
    assert "embedder embed-corpus corpus.txt --out vectors/ --target 127.0.0.1:" in out


def test_cosine_similarities():
    vectors = np.array([[3.0, 4.0], [6.0, 8.0], [-4.0, 3.0], [0.0, 0.0]], np.float32)
    expected = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_allclose(cosine_similarities(vectors), expected, atol=1e-6)


def test_semantic_search_ranks_by_cosine_like_sentence_transformers():
    corpus = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)
    queries = np.array([[0.0, 1.0], [3.0, 0.1]], np.float32)
    hits = semantic_search(queries, corpus, top_k=2)
    assert [[h["corpus_id"] for h in row] for row in hits] == [[1, 2], [0, 2]]
    assert hits[0][0]["score"] == pytest.approx(1.0) and hits[0][1]["score"] == pytest.approx(2**-0.5)


def test_bundled_data_is_the_trec_training_set_with_its_readme():
    data = bundled_training_data()
    lines = data.read_text("utf-8").splitlines()
    assert lines[0] == "label\ttext" and len(lines) == 5453
    assert {line.split("\t")[0] for line in lines[1:]} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}
    assert "Li & Roth" in (data.parent.parent / "README.md").read_text("utf-8")


@pytest.mark.slow
@pytest.mark.usefixtures("eager_functions")
def test_trains_and_exports_a_model_when_none_is_exported(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(bundled_training_data().read_text("utf-8").splitlines()[:121]) + "\n")
    settings = QuickstartSettings(
        models_dir=str(tmp_path / "models"),
        epochs=1,
        train_path=str(train),
        encoder=("rnn_units=6", "attention_units=5", "attention_hops=2"),  # GloVe-50d, the default vectors
        work_dir=str(tmp_path / "run"),
    )
    messages = []
    version_dir = ensure_model(settings, log=messages.append)
    assert version_dir == tmp_path / "models" / "default" / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert "Training the default model" in messages[0]
    assert ensure_model(settings, log=messages.append) == version_dir  # exported: no second training
    assert "already exported" in messages[-1]


@pytest.mark.slow
def test_make_run_exports_the_shipped_model_shows_meaning_and_never_imports_torch(tmp_path):
    """`make run`'s path on a machine without a model: the shipped model is exported, served and called."""
    import os
    import subprocess
    import sys

    command = ["quickstart", "--models-dir", str(tmp_path / "models"), "--port", "0", "--no-serve"]
    code = (
        "import sys\nfrom embedder.cli import main\nstatus = main(sys.argv[1:])\n"
        "print('torch imported:', 'torch' in sys.modules)\nsys.exit(status)"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "Exporting the shipped model 'default'" in out
    assert (tmp_path / "models" / "default" / "1" / "saved_model.pb").is_file()
    assert "torch imported: False" in out
    similarities = similarity_rows(out)
    n = len(DEMO_SENTENCES)
    assert similarities.shape == (n, n)
    paraphrases = [similarities[i, i + 1] for i in range(0, n, 2)]
    unrelated = [similarities[i, j] for i in range(n) for j in range(n) if i // 2 != j // 2]
    assert min(paraphrases) > max(unrelated), (paraphrases, max(unrelated))
    search = out[out.index("Semantic search") :].splitlines()
    first_hit = search[search.index("  'Which animal is playing outside?'") + 1]
    assert "A dog is chasing a ball in the park." in first_hit
