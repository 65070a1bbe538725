"""`embedder embed` against the scripted PredictionService; runs without TensorFlow."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from embedder.cli import main
from tests.serving.fake_prediction_service import (
    BLOCK_TENSORFLOW,
    DIM,
    MODEL_NAME,
    FakePredictionService,
    default_messages,
    fake_embedding,
    serve,
)

SENTENCES = ["a good film", "a bad film", "who wrote hamlet ?"]


@pytest.fixture(scope="module")
def target():
    with serve(FakePredictionService(default_messages(), versions=(1, 2)).handlers()) as target:
        yield target


def run(target, *args):
    return main(["embed", "--target", target, "--model", MODEL_NAME, *args])


def test_prints_one_tsv_line_per_sentence(target, capsys):
    assert run(target, *SENTENCES) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == SENTENCES
    for sentence, line in zip(SENTENCES, lines):
        values = np.array(line.split("\t")[1].split(), dtype=np.float32)
        np.testing.assert_allclose(values, fake_embedding(sentence.encode(), 2), rtol=1e-5)


def test_json_version_and_normalize(target, capsys):
    assert run(target, "--format", "json", "--version", "1", "--normalize", "a good film") == 0
    record = json.loads(capsys.readouterr().out)
    expected = fake_embedding(b"a good film", 1)
    assert record["sentence"] == "a good film"
    np.testing.assert_allclose(record["embedding"], expected / np.linalg.norm(expected), atol=1e-6)


def test_similarity_table(target, capsys):
    assert run(target, "--format", "similarity", *SENTENCES) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(None, 1) == ["1", SENTENCES[0]]
    matrix = np.array([line.split()[1:] for line in lines[4:]], dtype=float)
    vectors = np.stack([fake_embedding(s.encode(), 2) for s in SENTENCES])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(matrix, unit @ unit.T, atol=1e-3)


def test_reads_stdin_and_saves_npy(target, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("first line\n\nsecond line\n"))
    out = tmp_path / "vectors.npy"
    assert run(target, "-", "last", "--out", str(out)) == 0
    vectors = np.load(out)
    assert vectors.dtype == np.float32 and vectors.shape == (3, DIM)
    np.testing.assert_array_equal(vectors[1], fake_embedding(b"second line", 2))
    assert "saved 3 x 4 embeddings" in capsys.readouterr().err


def test_server_errors_are_one_line_with_exit_status_1(target, capsys):
    assert main(["embed", "--target", target, "--model", "missing", "x"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "NOT_FOUND" in err and "missing" in err


def test_user_errors_exit_with_status_2(target, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run(target, "-") == 2
    assert "no sentences" in capsys.readouterr().err
    assert run(target, "--version", "-1", "x") == 2
    assert "`version`" in capsys.readouterr().err


def test_unreachable_server_without_tensorflow():
    script = BLOCK_TENSORFLOW + "import sys; from embedder.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [sys.executable, "-c", script, "embed", "--target", "127.0.0.1:1", "--timeout", "5", "hello"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("embedder embed: error: cannot reach 127.0.0.1:1:")
