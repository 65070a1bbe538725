"""Tiny models of every architecture: their texts and settings, a builder, and a TensorFlow-only runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.helpers.paths import PROJECT_ROOT

TENSORFLOW_ONLY_RUNNER = PROJECT_ROOT / "tests" / "embedder" / "tensorflow_only_runner.py"


def run_in_tensorflow_only_process(version_dirs, batches, workdir: Path, python: str = sys.executable):
    """Every signature of each SavedModel on `batches`, in a fresh process that may import nothing but TensorFlow
    (`python`: another interpreter, e.g. one with TF Serving's TensorFlow version).

    Returns the runner's outputs (an `np.load` of its .npz, string outputs as object arrays).
    """
    out = Path(workdir) / f"tensorflow_only_outputs_{abs(hash(python))}.npz"
    result = subprocess.run(
        [python, str(TENSORFLOW_ONLY_RUNNER), str(out), *map(str, version_dirs)],
        input=json.dumps(batches),
        capture_output=True,
        text=True,
        cwd=workdir,
        env=dict(os.environ, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="3"),
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "project modules imported: []" in result.stdout
    return np.load(out, allow_pickle=True)


TINY_TEXTS = [
    "a good film",
    "a bad film",
    "what a wonderful , moving story",
    "the plot was dull and the acting worse",
    "who wrote hamlet ?",
    "how far is the moon from the earth ?",
]

#: Small, fast settings for each architecture (a few thousand weights).
TINY_ENCODERS = {
    "classic": dict(embedding_dim=8, rnn_units=6, attention_units=5),
    "structured": dict(embedding_dim=8, rnn_units=6, attention_units=5, attention_hops=3),
    "transformer": dict(hidden_dim=8, num_heads=2, num_layers=2, intermediate_dim=16),
    "bilstm_max": dict(embedding_dim=8, rnn_units=6),
}
TINY_MAX_LENGTH = 12


def make_tiny_embedder(architecture: str, vocabulary, labels=("negative", "positive"), seed: int = 0, **overrides):
    import keras

    from embedder.sentence_embedder import SentenceEmbedder

    keras.utils.set_random_seed(seed)
    kwargs = dict(TINY_ENCODERS[architecture], **overrides)
    return SentenceEmbedder.create(
        architecture, vocabulary, max_length=TINY_MAX_LENGTH, labels=list(labels) if labels else None, **kwargs
    )
