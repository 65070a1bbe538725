"""bench/jax_training_steps.py: the timed training steps of `--quick` (here on the suite's backend; the script's
own process picks JAX at import, and the encoders' JAX runs are tested in tests/embedder/encoders/test_backends.py)."""

from __future__ import annotations

import argparse
import os

import pytest

_backend = os.environ.get("KERAS_BACKEND")
from bench import jax_training_steps as bench  # noqa: E402  (it sets KERAS_BACKEND=jax for its own process)

if _backend is None:  # no leak into the processes later tests start
    del os.environ["KERAS_BACKEND"]
else:
    os.environ["KERAS_BACKEND"] = _backend


@pytest.mark.parametrize("architecture", ["structured"])
def test_quick_settings_time_a_training_step(architecture):
    args = argparse.Namespace(quick=True, **bench.QUICK_SHAPES)
    result = bench.time_architecture(architecture, args)
    assert result["architecture"] == architecture and result["steps_per_s"] > 0
    assert result["sentences_per_s"] == pytest.approx(result["steps_per_s"] * args.batch_size)
    assert 0 < result["tokens_per_s"] <= result["sentences_per_s"] * args.length
    assert result["parameters"] < 20_000  # the tiny encoders, not the comparison's
