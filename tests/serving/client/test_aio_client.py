"""`AsyncEmbeddingClient` (grpc.aio) against the scripted PredictionService: the same behaviour as the blocking one.

Runs in the main venv and in the protobuf-6 venv without TensorFlow (`make test-client-compat`).
"""

from __future__ import annotations

import asyncio
import time

import grpc
import numpy as np
import pytest

from serving import (
    AsyncEmbeddingClient,
    DeadlineExceeded,
    FailedPrecondition,
    ModelNotFound,
    RetryPolicy,
    Unavailable,
)
from tests.serving.fake_prediction_service import (
    DIM,
    LABELS,
    MODEL_NAME,
    FakePredictionService,
    expected_embeddings,
    serve,
)

TEXTS = [f"sentence {i} " + "word " * (i % 5) for i in range(40)]


def test_embed_chunks_in_flight_and_order(service, target):
    service.delay = 0.03

    async def main():
        async with AsyncEmbeddingClient(target, MODEL_NAME, max_batch_size=6, max_in_flight=3) as client:
            return await client.embed(TEXTS), await client.embed("one"), await client.embed([])

    many, one, empty = asyncio.run(main())
    np.testing.assert_array_equal(many, expected_embeddings(TEXTS))
    assert one.shape == (DIM,) and empty.shape == (0, DIM)
    sizes = [len(r.inputs["text"].string_val) for r in service.requests[:7]]
    assert max(sizes) <= 6 and sum(sizes) == len(TEXTS)
    assert 2 <= service.max_active <= 3


def test_concurrent_calls_share_one_client(target):
    async def main():
        async with AsyncEmbeddingClient(target, MODEL_NAME) as client:
            return await asyncio.gather(*(client.embed(TEXTS[i : i + 3]) for i in range(0, 30, 3)))

    results = asyncio.run(main())
    np.testing.assert_array_equal(np.concatenate(results), expected_embeddings(TEXTS[:30]))


def test_retries_then_succeeds_and_gives_up_when_bounded(service, target):
    service.failures = [(grpc.StatusCode.UNAVAILABLE, "restarting")] * 2

    async def main(max_attempts):
        policy = RetryPolicy(max_attempts=max_attempts, initial_backoff=0.01)
        async with AsyncEmbeddingClient(target, MODEL_NAME, retry=policy) as client:
            return await client.embed(["a", "b"])

    np.testing.assert_array_equal(asyncio.run(main(3)), expected_embeddings(["a", "b"]))
    assert service.calls == 3
    service.failures = [(grpc.StatusCode.UNAVAILABLE, "still restarting")] * 5
    with pytest.raises(Unavailable, match="still restarting") as raised:
        asyncio.run(main(2))
    assert raised.value.attempts == 2 and service.calls == 5


def test_errors_keep_code_and_message(target):
    async def main(model, signature="serving_default"):
        async with AsyncEmbeddingClient(target, model, signature=signature) as client:
            return await client.embed("x")

    with pytest.raises(ModelNotFound, match=r"Latest\(missing\)") as raised:
        asyncio.run(main("missing"))
    assert raised.value.code is grpc.StatusCode.NOT_FOUND
    with pytest.raises(FailedPrecondition, match='"nope" not found'):
        asyncio.run(main(MODEL_NAME, "nope"))


def test_deadline(service, target):
    service.delay = 2.0

    async def main():
        async with AsyncEmbeddingClient(target, MODEL_NAME) as client:
            return await client.embed("x", timeout=0.3)

    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        asyncio.run(main())
    assert time.monotonic() - start < 1.5


def test_version_zero_swap_and_other_methods(messages):
    service = FakePredictionService(messages, versions=(0, 3))
    service.failed_versions = {4: "corrupt"}

    async def main(target):
        async with AsyncEmbeddingClient(target, MODEL_NAME, version=0) as pinned:
            zero = await pinned.embed("x")
        async with AsyncEmbeddingClient(target, MODEL_NAME, max_batch_size=4, max_in_flight=1) as client:
            service.after_predict = lambda svc: None if 5 in svc.versions else svc.versions.append(5)
            swapped = await client.embed(TEXTS[:12])
            service.after_predict = None
            return (
                zero,
                swapped,
                await client.classify(["ab", "abc"]),
                await client.attention("a good film"),
                await client.metadata(),
                await client.model_metadata(),
                await client.status(),
                await client.resolve_version(),
            )

    with serve(service.handlers()) as target:
        zero, swapped, classes, (tokens, weights), document, metadata, statuses, latest = asyncio.run(main(target))
    assert zero[2] == 0
    np.testing.assert_array_equal(swapped, expected_embeddings(TEXTS[:12], version=5))
    assert classes.labels == LABELS and classes.probabilities.shape == (2, 2)
    assert tokens == [["a", "good", "film"]] and weights[0].shape == (2, 3)
    assert document["embedding_dim"] == DIM
    assert metadata.version == 5 and "classify" in metadata.signatures
    assert [(s.version, s.state) for s in statuses] == [
        (0, "AVAILABLE"),
        (3, "AVAILABLE"),
        (4, "END"),
        (5, "AVAILABLE"),
    ]
    assert latest == 5


def test_closed_client_refuses_calls(target):
    async def main():
        client = AsyncEmbeddingClient(target, MODEL_NAME)
        await client.embed("x")
        await client.close()
        await client.embed("x")

    with pytest.raises(ValueError, match="closed"):
        asyncio.run(main())
