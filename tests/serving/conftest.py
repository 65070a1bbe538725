"""Fixtures of the serving tests: a scripted PredictionService on a free 127.0.0.1 port (the client's tests), and
a tiny served-format model with its backend and embedded server (the corpus and search tests)."""

from __future__ import annotations

import shutil

import pytest

from tests.serving.fake_prediction_service import FakePredictionService, Messages, default_messages, serve


@pytest.fixture(scope="module")
def messages() -> Messages:
    return default_messages()


@pytest.fixture(params=["tensor_content", "field"])
def service(request, messages) -> FakePredictionService:
    """A fresh service with version 1, answering in each of the two response encodings."""
    return FakePredictionService(messages, versions=(1,), encoding=request.param)


@pytest.fixture
def target(service):
    with serve(service.handlers()) as target:
        yield target


@pytest.fixture(scope="session")
def corpus_model_base(tmp_path_factory, exported_models):
    """A model base path ``.../tiny`` holding version 1 (the session's exported structured model)."""
    base = tmp_path_factory.mktemp("corpus-models") / "tiny"
    shutil.copytree(exported_models["structured"][1], base / "1")
    return base


@pytest.fixture(scope="session")
def corpus_backend(corpus_model_base):
    from serving.corpus.saved_model_backend import SavedModelBackend

    return SavedModelBackend(str(corpus_model_base / "1"), batch_size=64)


@pytest.fixture(scope="session")
def served_model(corpus_model_base):
    """The embedded server (in this process) serving ``tiny`` from `corpus_model_base`: its ``host:port``."""
    from serving.server.model_server import ModelServer, ServerOptions

    server = ModelServer(
        ServerOptions(
            port=0, model_name="tiny", model_base_path=str(corpus_model_base), file_system_poll_wait_seconds=0
        )
    ).start()
    yield server.target
    server.stop(grace=1.0)
