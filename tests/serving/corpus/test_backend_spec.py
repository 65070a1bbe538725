"""`BackendSpec`: validation, the version asked for by number, and pinning the resolved version."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from serving.corpus.backend_spec import GRPC, SAVED_MODEL, BackendSpec


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="onnx"), "argument `kind`"),
        (dict(kind=SAVED_MODEL), "needs `saved_model`"),
        (dict(kind=GRPC, target="h:1"), "needs `target`.*model=None"),
        (dict(kind=GRPC, target="h:1", model="m", version="2"), "argument `version`.*Received: version='2'"),
    ],
)
def test_invalid_specs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BackendSpec(**kwargs)


def test_a_version_number_selects_the_version_directory(corpus_model_base):
    spec = BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base), version=1)
    backend = spec.create()
    assert backend.version_dir == str(corpus_model_base / "1") and backend.info.version == 1
    same = BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base / "1"), version=1)
    assert same._saved_model_path() == str(corpus_model_base / "1")
    with pytest.raises(ValueError, match="is a SavedModel version directory, not version 2"):
        BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base / "1"), version=2).create()


def test_pinned_specs_name_the_resolved_version_and_pickle(corpus_model_base, corpus_backend, served_model):
    spec = BackendSpec(kind=SAVED_MODEL, saved_model=str(corpus_model_base))
    pinned = spec.pinned(corpus_backend)
    assert pinned.saved_model == str(corpus_model_base / "1")
    served = BackendSpec(kind=GRPC, target=served_model, model="tiny")
    backend = served.create()
    try:
        assert backend.info.version == 1 and backend.info.source == f"grpc://{served_model}"
        assert served.pinned(backend) == dataclasses.replace(served, version=1)
    finally:
        backend.close()
    assert pickle.loads(pickle.dumps(pinned)) == pinned  # what Beam ships to its workers
