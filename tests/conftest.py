"""Shared fixtures: tiny vocabularies, tiny models of every architecture, and their exports."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest  # noqa: E402

from tests.helpers.models import TINY_TEXTS, make_tiny_embedder  # noqa: E402


@pytest.fixture(scope="session")
def tiny_vocabulary():
    from embedder.text_preprocessor import build_vocabulary

    return build_vocabulary(TINY_TEXTS)


@pytest.fixture(scope="session")
def exported_models(tmp_path_factory, tiny_vocabulary):
    """One exported tiny model (with a head) per architecture: {architecture: (embedder, version_dir)}.

    Exported with groups of 2 and 3 rows inside a request (instead of 16 and 32), so that the tests' requests of
    more texts than that take the serving module's by-length path (see `embedder.serving_module.SUB_BATCH_PARALLEL`).
    """
    from unittest import mock

    from embedder import serving_module

    base = tmp_path_factory.mktemp("models")
    exported = {}
    with (
        mock.patch.object(serving_module, "SUB_BATCH_PARALLEL", 2),
        mock.patch.object(serving_module, "SUB_BATCH_RECURRENT", 3),
    ):
        for architecture in ("classic", "structured", "transformer"):
            embedder = make_tiny_embedder(architecture, tiny_vocabulary)
            exported[architecture] = (embedder, embedder.export(base / architecture))
    return exported


@pytest.fixture
def eager_functions():
    """Inside the test, every `tf.function` (Keras's training and prediction steps included) runs eagerly.

    For tests whose subject is a script's bookkeeping (the quick runs of bench scripts, the quickstart's training):
    their few steps on tiny models cost less than tracing them (the defaults sweep's quick run: 63 s traced, 13-20 s
    eager). The graph-mode paths keep their own tests (tests/training, tests/embedder), which do not use it.
    """
    import tensorflow as tf

    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)
