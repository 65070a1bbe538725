"""The quickstart (`make run`): an exported model is served and called; a missing one is trained first."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from embedder.cli import main
from serving.quickstart import QuickstartSettings, bundled_training_data, cosine_similarities, ensure_model


def test_serves_an_exported_model_and_shows_a_working_call(tmp_path, exported_models, capsys):
    shutil.copytree(exported_models["structured"][1], tmp_path / "models" / "default" / "1")
    command = ["quickstart", "--models-dir", str(tmp_path / "models"), "--port", "0", "--no-serve"]
    assert main(command) == 0
    out = capsys.readouterr().out
    assert "already exported" in out
    assert "with 'default' version 1 (structured, 36 dimensions) over gRPC at 127.0.0.1:" in out
    rows = [line for line in out.splitlines() if line.startswith("[") and "?" in line and "." in line[-5:]]
    similarities = np.array([[float(v) for v in line.rsplit("?", 1)[1].split()] for line in rows])
    assert similarities.shape == (6, 6)
    np.testing.assert_allclose(np.diag(similarities), 1.0, atol=0.006)
    np.testing.assert_allclose(similarities, similarities.T, atol=0.011)
    assert "Question type" in out and ("negative" in out or "positive" in out)
    assert "embedder embed-corpus corpus.txt --out vectors/ --target 127.0.0.1:" in out


def test_cosine_similarities():
    vectors = np.array([[3.0, 4.0], [6.0, 8.0], [-4.0, 3.0], [0.0, 0.0]], np.float32)
    expected = [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    np.testing.assert_allclose(cosine_similarities(vectors), expected, atol=1e-6)


def test_bundled_data_is_the_trec_training_set_with_its_readme():
    data = bundled_training_data()
    lines = data.read_text("utf-8").splitlines()
    assert lines[0] == "label\ttext" and len(lines) == 5453
    assert {line.split("\t")[0] for line in lines[1:]} == {"ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"}
    assert "Li & Roth" in (data.parent.parent / "README.md").read_text("utf-8")


@pytest.mark.slow
def test_trains_and_exports_a_model_when_none_is_exported(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(bundled_training_data().read_text("utf-8").splitlines()[:121]) + "\n")
    settings = QuickstartSettings(
        models_dir=str(tmp_path / "models"),
        epochs=1,
        train_path=str(train),
        encoder=("embedding_dim=8", "rnn_units=6", "attention_units=5", "attention_hops=2"),
        work_dir=str(tmp_path / "run"),
    )
    messages = []
    version_dir = ensure_model(settings, log=messages.append)
    assert version_dir == tmp_path / "models" / "default" / "1"
    assert (version_dir / "saved_model.pb").is_file()
    assert "Training the default model" in messages[0]
    assert ensure_model(settings, log=messages.append) == version_dir  # exported: no second training
    assert "already exported" in messages[-1]
