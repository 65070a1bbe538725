"""`embedder distill` on the command line: bad input is a one-line error, --write-corpus feeds --teacher-embeddings."""

import numpy as np
import pytest

from embedder.cli import main
from tests.training.distill.stand_in_teacher import StandInTeacher, corpus_sentences


@pytest.fixture()
def corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(corpus_sentences(40)), encoding="utf-8")
    return path


def test_teacher_embeddings_with_the_wrong_row_count_is_a_clear_error(tmp_path, corpus_file, capsys):
    vectors = tmp_path / "vectors.npy"
    np.save(vectors, np.zeros((39, 8), np.float32))
    code = main(
        [
            "distill",
            "--teacher-embeddings",
            str(vectors),
            "--corpus",
            str(corpus_file),
            "--arch",
            "transformer",
            "--out",
            str(tmp_path / "models" / "s"),
        ]
    )
    assert code == 2
    error = capsys.readouterr().err
    assert "embedder distill: error:" in error and "has 39 rows but the corpus has 40 sentences" in error
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--arch", "transformer", "--out", "m"], "give --teacher"),
        (["--teacher", "x"], "--arch and --out are required"),
        (["--teacher", "/no/such/model", "--arch", "transformer", "--out", "m"], "not a sentence-transformers"),
        (["--teacher-embeddings", "/no/such.npy", "--arch", "transformer", "--out", "m"], "not found: /no/such.npy"),
        (["--teacher-embeddings", "v.npy", "--arch", "classic", "--out", "m", "--epochs", "0"], "epochs=0"),
        (["--teacher-embeddings", "v.npy", "--arch", "classic", "--out", "m", "--encoder", "units"], "KEY=VALUE"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, corpus_file, capsys, monkeypatch, arguments, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "v.npy", np.zeros((40, 8), np.float32))
    assert main(["distill", "--corpus", str(corpus_file), *arguments]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_write_corpus_then_distil_from_vectors_computed_elsewhere(tmp_path, corpus_file, capsys):
    from embedder.sentence_embedder import SentenceEmbedder

    sentences_file = tmp_path / "sentences.txt"
    assert main(["distill", "--corpus", str(corpus_file), "--write-corpus", str(sentences_file)]) == 0
    sentences = sentences_file.read_text("utf-8").splitlines()
    assert sentences == corpus_sentences(40)
    np.save(tmp_path / "vectors.npy", StandInTeacher(dim=8).encode(sentences))  # "elsewhere"
    out = tmp_path / "models" / "student"
    code = main(
        [
            "distill",
            "--teacher-embeddings",
            str(tmp_path / "vectors.npy"),
            "--corpus",
            str(corpus_file),
            "--arch",
            "classic",
            "--encoder",
            "embedding_dim=8",
            "rnn_units=4",
            "--encoder",  # repeating the flag adds to it
            "attention_units=4",
            "--max-length",
            "10",
            "--min-count",
            "1",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--dev-sentences",
            "8",
            "--out",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert "exported" in capsys.readouterr().out
    student = SentenceEmbedder.load(out)
    assert (student.architecture, student.embedding_dim) == ("classic", 8)
    assert (out.parent / "student.run" / "checkpoints" / "state.json").is_file()
