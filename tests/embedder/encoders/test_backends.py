"""The encoders are written with keras.ops only, so they run on Keras's JAX backend with the same results."""

import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from embedder.encoders import build_encoder, build_model
from tests.helpers.models import TINY_ENCODERS
from tests.helpers.paths import PROJECT_ROOT

TOKENS = np.array([[5, 9, 12, 7, 0, 0], [3, 0, 0, 0, 0, 0], [11, 4, 8, 20, 30, 6]], "int32")


@pytest.mark.slow
def test_encoders_give_the_same_outputs_on_the_jax_backend(tmp_path):
    pytest.importorskip("jax", reason="the jax extra is part of the test install (make test)")
    expected, weights = {}, {}
    for architecture, kwargs in TINY_ENCODERS.items():
        keras.utils.set_random_seed(7)
        model = build_model(build_encoder(architecture, vocabulary_size=40, **kwargs), num_classes=2)
        outputs = model(TOKENS)
        expected[architecture] = {k: np.asarray(outputs[k]) for k in ("embedding", "attention")}
        weights.update({f"{architecture}/{i}": w for i, w in enumerate(model.get_weights())})
    np.savez(tmp_path / "weights.npz", **weights)
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("jax_backend_runner.py")), "weights.npz", "out.npz"],
        cwd=tmp_path,
        env=dict(os.environ, PROJECT_ROOT=str(PROJECT_ROOT), KERAS_BACKEND="jax", JAX_PLATFORMS="cpu"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jax_outputs = np.load(tmp_path / "out.npz")
    for architecture in TINY_ENCODERS:
        for key in ("embedding", "attention"):
            np.testing.assert_allclose(
                jax_outputs[f"{architecture}/{key}"], expected[architecture][key], atol=1e-5, err_msg=architecture
            )
