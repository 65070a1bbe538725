"""Fixtures of the client's tests: a scripted PredictionService on a free 127.0.0.1 port."""

from __future__ import annotations

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
