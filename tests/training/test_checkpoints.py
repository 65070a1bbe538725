"""Resuming: a run killed after some epochs continues from its checkpoint to the weights of an uninterrupted run."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.helpers.keyword_task import KEYWORD_ENCODERS
from training.checkpoints import read_state
from training.config import TrainConfig
from training.train import train


def _last_checkpoint(work_dir):
    state = read_state(work_dir / "checkpoints")
    with np.load(work_dir / "checkpoints" / state["checkpoint"]) as archive:
        return state, [archive[f"arr_{i}"] for i in range(len(archive.files))]


@pytest.mark.slow
def test_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(keyword_files, tmp_path):
    config = TrainConfig(
        architecture="transformer",
        train_path=keyword_files["train"],
        dev_path=keyword_files["dev"],
        encoder=dict(KEYWORD_ENCODERS["transformer"], dropout=0.2),  # dropout: its random state must resume too
        max_length=24,
        batch_size=16,
        epochs=5,
        learning_rate=3e-3,
        schedule="cosine",  # the schedule must resume at the right step
        word_vectors=None,
        patience=0,
        deterministic=True,
    )
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(config.to_dict()))
    killed_dir = tmp_path / "killed.run"
    command = [
        sys.executable,
        "-m",
        "embedder.cli",
        "train",
        "--config",
        str(settings),
        "--out",
        str(tmp_path / "killed"),
        "--work-dir",
        str(killed_dir),
        "--quiet",
    ]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            state = read_state(killed_dir / "checkpoints")
            if state and state["epochs_done"] >= 1:
                break
            time.sleep(0.01)
        process.kill()
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_state, _ = _last_checkpoint(killed_dir)
    assert 1 <= killed_state["epochs_done"] < config.epochs, stderr.decode()[-2000:]
    assert not (tmp_path / "killed").exists()  # it never got to export

    resumed = train(config, None, work_dir=killed_dir, resume=True, verbose=0)
    uninterrupted = train(config, None, work_dir=tmp_path / "full.run", verbose=0)

    assert [h["epoch"] for h in resumed.history] == list(range(1, config.epochs + 1))
    resumed_state, resumed_arrays = _last_checkpoint(killed_dir)
    full_state, full_arrays = _last_checkpoint(tmp_path / "full.run")
    assert resumed_state["epochs_done"] == full_state["epochs_done"] == config.epochs
    assert len(resumed_arrays) == len(full_arrays)
    for resumed_array, full_array in zip(resumed_arrays, full_arrays):  # weights, dropout seeds, optimizer state
        np.testing.assert_allclose(resumed_array, full_array, rtol=1e-5, atol=1e-6)
    for a, b in zip(resumed.embedder.model.get_weights(), uninterrupted.embedder.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert resumed.best_epoch == uninterrupted.best_epoch
    for resumed_epoch, full_epoch in zip(resumed.history, uninterrupted.history):
        assert resumed_epoch["loss"] == pytest.approx(full_epoch["loss"], rel=1e-5)
