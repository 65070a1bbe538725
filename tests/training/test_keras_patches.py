"""training/keras_patches.py refuses a Keras it was not written for, and a hook that is gone or changed."""

from __future__ import annotations

import keras
import pytest

from training import keras_patches


def test_the_installed_keras_passes_the_check():
    keras_patches.check_keras()
    low, high = keras_patches.KERAS_VERSIONS
    assert low <= tuple(int(p) for p in keras.__version__.split(".")[:2]) <= high


@pytest.mark.parametrize("version", ["3.9.2", "3.16.0", "4.0.0", "nightly"])
def test_another_version_fails_loudly(version, monkeypatch):
    monkeypatch.delenv(keras_patches.UNCHECKED_ENV, raising=False)
    with pytest.raises(RuntimeError, match=rf"written for Keras 3\.10 to 3\.15; this is Keras {version}"):
        keras_patches.check_keras(version)


def test_the_escape_hatch_warns_but_still_checks_the_hooks(monkeypatch, caplog):
    monkeypatch.setenv(keras_patches.UNCHECKED_ENV, "1")
    with caplog.at_level("WARNING", logger=keras_patches.__name__):
        keras_patches.check_keras("3.16.0")
    assert "this is Keras 3.16.0" in caplog.text
    monkeypatch.setattr(keras.Model, "_symbolic_build", None)  # as if a release removed it
    with pytest.raises(RuntimeError, match="has no keras.Model._symbolic_build"):
        keras_patches.check_keras("3.16.0")


def test_a_hook_with_other_parameters_is_refused(monkeypatch):
    monkeypatch.setattr(keras.optimizers.Optimizer, "_clip_gradients", lambda self, grads, scale: grads)
    with pytest.raises(RuntimeError, match=r"_clip_gradients takes \('self', 'grads', 'scale'\)"):
        keras_patches.check_keras()


def test_optimizers_are_built_only_after_the_check(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    monkeypatch.delenv(keras_patches.UNCHECKED_ENV, raising=False)
    with pytest.raises(RuntimeError, match="this is Keras 3.99.0"):
        keras_patches.clipping_after_all_reduce(keras.optimizers.SGD)
