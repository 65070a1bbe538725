"""`EmbeddingClient` against a scripted PredictionService (TF Serving's own messages where installed).

Runs in the main venv and in the protobuf-6 venv without TensorFlow (`make test-client-compat`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

import serving
from serving import (
    DeadlineExceeded,
    EmbeddingClient,
    EmbeddingError,
    FailedPrecondition,
    InvalidInput,
    ModelNotFound,
    ResourceExhausted,
    RetryPolicy,
    Unavailable,
)
from tests.serving.fake_prediction_service import (
    DIM,
    LABELS,
    MODEL_NAME,
    FakePredictionService,
    expected_embeddings,
    fake_embedding,
    fake_tokens,
    serve,
    start_server,
)

FAST_RETRY = RetryPolicy(max_attempts=5, initial_backoff=0.01, max_backoff=0.05)
TEXTS = [f"sentence number {i} " + "word " * (i % 7) for i in range(50)]


def test_embed_returns_float32_rows_in_input_order(service, target):
    with EmbeddingClient(target, MODEL_NAME) as client:
        vectors = client.embed(TEXTS[:5])
    assert vectors.dtype == np.float32 and vectors.shape == (5, DIM)
    np.testing.assert_array_equal(vectors, expected_embeddings(TEXTS[:5]))
    assert len(service.requests) == 1
    assert list(service.requests[0].inputs["text"].string_val) == [t.encode() for t in TEXTS[:5]]


def test_embed_single_string_is_one_dimensional_and_normalize_scales_to_unit_norm(target):
    with EmbeddingClient(target, MODEL_NAME) as client:
        vector = client.embed("a good film")
        unit = client.embed(["a good film", "a bad film"], normalize=True)
    assert vector.shape == (DIM,)
    np.testing.assert_array_equal(vector, fake_embedding(b"a good film", 1))
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(unit[0], vector / np.linalg.norm(vector), rtol=1e-6)


def test_embed_empty_list_and_bytes_and_numpy_input(target):
    with EmbeddingClient(target, MODEL_NAME) as client:
        assert client.embed([]).shape == (0, DIM)
        np.testing.assert_array_equal(client.embed([b"\xff\xfe raw"])[0], fake_embedding(b"\xff\xfe raw", 1))
        np.testing.assert_array_equal(client.embed(np.array(["x", "yz"])), expected_embeddings(["x", "yz"]))


def test_chunks_respect_batch_limit_keep_several_in_flight_and_restore_order(service, target):
    service.delay = 0.03
    with EmbeddingClient(target, MODEL_NAME, max_batch_size=7, max_in_flight=3) as client:
        vectors = client.embed(TEXTS)
    np.testing.assert_array_equal(vectors, expected_embeddings(TEXTS))
    sizes = [len(r.inputs["text"].string_val) for r in service.requests]
    assert max(sizes) <= 7 and sum(sizes) == len(TEXTS) and len(sizes) == 8
    assert 2 <= service.max_active <= 3


def test_one_in_flight_means_one_at_a_time(service, target):
    service.delay = 0.01
    with EmbeddingClient(target, MODEL_NAME, max_batch_size=5, max_in_flight=1) as client:
        client.embed(TEXTS[:20])
    assert service.max_active == 1 and service.calls == 4


def test_chunks_respect_message_limit(service, target):
    texts = [f"{i:03d} " + "x" * 600 for i in range(30)]
    with EmbeddingClient(target, MODEL_NAME, max_message_bytes=4096) as client:
        vectors = client.embed(texts)
    np.testing.assert_array_equal(vectors, expected_embeddings(texts))
    assert all(r.ByteSize() <= 4096 for r in service.requests) and len(service.requests) >= 6


def test_a_text_over_the_message_limit_is_refused_before_sending(service, target):
    with EmbeddingClient(target, MODEL_NAME, max_message_bytes=4096) as client:
        with pytest.raises(InvalidInput, match="position 1 is 5000 bytes"):
            client.embed(["short", "y" * 5000])
    assert service.calls == 0


def test_unavailable_is_retried_with_backoff_then_succeeds(service, target):
    service.failures = [(grpc.StatusCode.UNAVAILABLE, "restarting")] * 3
    policy = RetryPolicy(max_attempts=5, initial_backoff=0.05, multiplier=2.0, jitter=0.2)
    with EmbeddingClient(target, MODEL_NAME, retry=policy) as client:
        start = time.monotonic()
        vectors = client.embed(TEXTS[:3])
        elapsed = time.monotonic() - start
    np.testing.assert_array_equal(vectors, expected_embeddings(TEXTS[:3]))
    assert service.calls == 4
    assert elapsed >= 0.8 * (0.05 + 0.1 + 0.2)  # the three waits, at their smallest jitter


def test_resource_exhausted_is_retried_and_retries_are_bounded(service, target):
    service.failures = [(grpc.StatusCode.RESOURCE_EXHAUSTED, "batching queue full")] * 10
    with EmbeddingClient(target, MODEL_NAME, retry=RetryPolicy(max_attempts=3, initial_backoff=0.01)) as client:
        with pytest.raises(ResourceExhausted) as raised:
            client.embed("x")
    assert service.calls == 3
    assert raised.value.attempts == 3 and raised.value.details == "batching queue full"
    assert raised.value.code is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_retries_within_a_chunked_call_keep_rows_in_order(service, target):
    service.failures = [(grpc.StatusCode.UNAVAILABLE, "blip")] * 4
    with EmbeddingClient(target, MODEL_NAME, max_batch_size=4, max_in_flight=4, retry=FAST_RETRY) as client:
        np.testing.assert_array_equal(client.embed(TEXTS), expected_embeddings(TEXTS))
    assert service.calls == 13 + 4


@pytest.mark.parametrize(
    "code, exception",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, InvalidInput),
        (grpc.StatusCode.NOT_FOUND, ModelNotFound),
        (grpc.StatusCode.FAILED_PRECONDITION, FailedPrecondition),
        (grpc.StatusCode.INTERNAL, EmbeddingError),
    ],
)
def test_other_errors_are_not_retried_and_keep_code_and_message(service, target, code, exception):
    service.failures = [(code, f"the server's own words about {code.name}")]
    with EmbeddingClient(target, MODEL_NAME, retry=FAST_RETRY) as client:
        with pytest.raises(exception) as raised:
            client.embed("x")
    assert service.calls == 1
    assert raised.value.code is code and raised.value.details == f"the server's own words about {code.name}"
    assert code.name in str(raised.value)


def test_unknown_model_and_unknown_signature_map_to_exceptions(target):
    with EmbeddingClient(target, "no-such-model") as client:
        with pytest.raises(ModelNotFound, match=r"Servable not found for request: Latest\(no-such-model\)"):
            client.embed("x")
    with EmbeddingClient(target, MODEL_NAME, signature="nope") as client:
        with pytest.raises(FailedPrecondition, match='signature name: "nope" not found'):
            client.embed("x")


def test_deadline_is_applied_to_the_whole_call(service, target):
    service.delay = 2.0
    with EmbeddingClient(target, MODEL_NAME, timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(DeadlineExceeded) as raised:
            client.embed("x")
        assert time.monotonic() - start < 1.5
    assert raised.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert isinstance(raised.value, TimeoutError)


def test_deadline_bounds_the_retries(service, target):
    service.failures = [(grpc.StatusCode.UNAVAILABLE, "down")] * 1000
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.05, max_backoff=0.05)
    with EmbeddingClient(target, MODEL_NAME, retry=policy) as client:
        start = time.monotonic()
        with pytest.raises((Unavailable, DeadlineExceeded)):
            client.embed("x", timeout=0.5)
        assert time.monotonic() - start < 1.0
    assert 3 <= service.calls < 30


def test_version_zero_is_sent_as_a_version(messages):
    service = FakePredictionService(messages, versions=(0, 3))
    with serve(service.handlers()) as target:
        with EmbeddingClient(target, MODEL_NAME, version=0) as client:
            assert client.embed("x")[2] == 0
        with EmbeddingClient(target, MODEL_NAME) as client:
            assert client.embed("x")[2] == 3
            assert client.embed("x", version=0)[2] == 0
    assert service.requests[0].model_spec.HasField("version")
    assert not service.requests[1].model_spec.HasField("version")


def test_version_label_is_sent(messages):
    service = FakePredictionService(messages, versions=(1, 2))
    with serve(service.handlers()) as target, EmbeddingClient(target, MODEL_NAME, version_label="stable") as client:
        assert client.embed("x")[2] == 1
    assert service.requests[0].model_spec.version_label == "stable"


def test_a_version_swap_during_a_chunked_call_does_not_mix_versions(service, target):
    def swap(svc):
        if 2 not in svc.versions:
            svc.versions.append(2)

    service.after_predict = swap
    with EmbeddingClient(target, MODEL_NAME, max_batch_size=5, max_in_flight=1) as client:
        vectors = client.embed(TEXTS[:20])
    np.testing.assert_array_equal(vectors, expected_embeddings(TEXTS[:20], version=2))
    # The first chunk, answered by version 1, was asked again of version 2 by number.
    assert service.calls == 5
    assert service.requests[-1].model_spec.version.value == 2


def test_a_pinned_version_survives_a_swap(service, target):
    service.after_predict = lambda svc: svc.versions.append(max(svc.versions) + 1)
    with EmbeddingClient(target, MODEL_NAME, version=1, max_batch_size=5) as client:
        np.testing.assert_array_equal(client.embed(TEXTS[:20]), expected_embeddings(TEXTS[:20], version=1))
        assert client.resolve_version() == max(service.versions)


def test_predict_reports_the_answering_version_and_applies_output_filter(service, target):
    with EmbeddingClient(target, MODEL_NAME) as client:
        prediction = client.predict(["a b"], signature="attention", output_filter=["tokens"])
    assert (prediction.model, prediction.version, prediction.signature) == (MODEL_NAME, 1, "attention")
    assert list(prediction.outputs) == ["tokens"]
    assert list(service.requests[0].output_filter) == ["tokens"]


def test_classify_attention_and_metadata(target):
    with EmbeddingClient(target, MODEL_NAME) as client:
        many = client.classify(["ab", "abc"])
        one = client.classify("ab")
        tokens, weights = client.attention(["A good film", ""])
        document = client.metadata()
    assert many.labels == LABELS and many.probabilities.shape == (2, 2)
    np.testing.assert_allclose(many.probabilities.sum(axis=1), 1.0, rtol=1e-6)
    assert one.probabilities.shape == (2,) and one.predicted == LABELS[int(np.argmax(one.probabilities))]
    assert many.predicted == [LABELS[i] for i in np.argmax(many.probabilities, axis=1)]
    assert tokens == [[w.decode() for w in fake_tokens(b"A good film")], ["[EMPTY]"]]
    assert [w.shape for w in weights] == [(2, 3), (2, 1)]
    np.testing.assert_allclose(weights[0].sum(axis=1), 1.0, rtol=1e-6)
    assert document == {"architecture": "fake", "embedding_dim": DIM, "labels": list(LABELS)}


def test_model_metadata_and_status(service, target):
    service.versions = [1, 2]
    service.failed_versions = {3: "Failed to load: truncated saved_model.pb"}
    with EmbeddingClient(target, MODEL_NAME) as client:
        metadata = client.model_metadata()
        statuses = client.status()
        assert [s.version for s in client.status(version=1)] == [1]
        assert client.resolve_version() == 2
        with pytest.raises(ModelNotFound, match="Could not find version 9"):
            client.status(version=9)
    assert metadata.model == MODEL_NAME and metadata.version == 2
    assert sorted(metadata.signatures) == ["attention", "classify", "metadata", "serving_default"]
    embed = metadata.signatures["serving_default"]
    assert embed.inputs["text"].dtype == "DT_STRING" and embed.inputs["text"].shape == (None,)
    assert embed.outputs["embedding"].dtype == "DT_FLOAT" and embed.outputs["embedding"].shape == (None, DIM)
    assert [(s.version, s.state, s.available) for s in statuses] == [
        (1, "AVAILABLE", True),
        (2, "AVAILABLE", True),
        (3, "END", False),
    ]
    assert statuses[2].error_message == "Failed to load: truncated saved_model.pb" and statuses[2].error_code == 3


def test_resolve_version_without_an_available_version_raises(service, target):
    service.versions = []
    service.failed_versions = {4: "bad"}
    with EmbeddingClient(target, MODEL_NAME) as client, pytest.raises(ModelNotFound, match="no AVAILABLE version"):
        client.resolve_version()


def test_unreachable_server_raises_unavailable():
    with EmbeddingClient("127.0.0.1:1", MODEL_NAME, retry=RetryPolicy(max_attempts=2, initial_backoff=0.01)) as c:
        with pytest.raises(Unavailable) as raised:
            c.embed("x")
    assert raised.value.attempts == 2 and isinstance(raised.value, ConnectionError)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(version=-1), "`version`.*Received: version=-1"),
        (dict(version="1"), "`version`"),
        (dict(version=1, version_label="stable"), "both `version` and `version_label`"),
        (dict(timeout=0), "`timeout`.*Received: timeout=0"),
        (dict(max_batch_size=0), "`max_batch_size`"),
        (dict(max_in_flight=True), "`max_in_flight`"),
        (dict(retry=3), "`retry`"),
        (dict(tls="yes"), "`tls`"),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EmbeddingClient("127.0.0.1:1", MODEL_NAME, **kwargs)


def test_invalid_texts_and_closed_client(target):
    client = EmbeddingClient(target, MODEL_NAME)
    with pytest.raises(TypeError, match="position 1"):
        client.embed(["ok", 3])
    with pytest.raises(TypeError, match="int"):
        client.embed(5)
    with pytest.raises(ValueError, match="`timeout`"):
        client.embed("x", timeout=-1)
    client.close()
    with pytest.raises(ValueError, match="closed"):
        client.embed("x")


def _self_signed_certificate(directory):
    key, cert = directory / "server.key", directory / "server.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"]
        + ["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return key.read_bytes(), cert


def test_tls_with_a_given_root_certificate(tmp_path, messages):
    key, cert = _self_signed_certificate(tmp_path)
    service = FakePredictionService(messages)
    credentials = grpc.ssl_server_credentials([(key, cert.read_bytes())])
    with serve(service.handlers(), server_credentials=credentials) as target:
        with EmbeddingClient(target, MODEL_NAME, root_certificates=cert) as client:
            np.testing.assert_array_equal(client.embed("secure"), fake_embedding(b"secure", 1))
        with EmbeddingClient(target, MODEL_NAME, retry=RetryPolicy(max_attempts=1), timeout=5) as plain:
            with pytest.raises(Unavailable):
                plain.embed("not secure")


# ------------------------------------------------------------------------------------------------ import rule
# Every module of the client folder (read from disk: a new file is covered without editing this list), and the
# package `serving` itself, whose lazy names are the client's.
CLIENT_DIR = Path(__file__).resolve().parents[3] / "serving" / "client"
CLIENT_MODULES = (
    "serving",
    "serving.client",
    *sorted(f"serving.client.{path.stem}" for path in CLIENT_DIR.glob("*.py") if path.stem != "__init__"),
)
ALLOWED_ROOTS = {"grpc", "numpy", "google.protobuf", "embedder.contract", "embedder.validation", *CLIENT_MODULES[1:]}


def test_the_client_folder_holds_the_client():
    assert {"serving.client.embedding_client", "serving.client.aio_client", "serving.client.errors"} <= set(
        CLIENT_MODULES
    )


def _imported_names(path) -> set[str]:
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _allowed(name: str, extra=()) -> bool:
    if name.split(".")[0] in sys.stdlib_module_names or name.startswith("__future__"):
        return True
    if name == "serving" or (name.startswith("serving.") and name.split(".")[1] in serving.__all__):
        return True  # `from serving import EmbeddingClient`: the package's lazy client names
    return any(name == root or name.startswith(root + ".") for root in (*ALLOWED_ROOTS, *extra))


@pytest.mark.parametrize("module", CLIENT_MODULES + ("embedder.cli.embed",))
def test_client_modules_import_only_grpc_protobuf_numpy_and_the_standard_library(module):
    import importlib.util

    path = Path(importlib.util.find_spec(module).origin)
    # Imports inside functions count too; the CLI may also use embedder.cli's CommandError (stdlib only).
    extra = ("embedder.cli.CommandError",) if module == "embedder.cli.embed" else ()
    forbidden = sorted(name for name in _imported_names(path) if not _allowed(name, extra))
    assert not forbidden, f"{module} imports {forbidden}"


def test_importing_the_client_loads_nothing_beyond_its_dependencies():
    script = """
import json, sys
import grpc, numpy, google.protobuf.descriptor_pb2, google.protobuf.descriptor_pool, google.protobuf.message_factory
import embedder.contract, embedder.validation
before = set(sys.modules)
import serving
from serving import EmbeddingClient, AsyncEmbeddingClient
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    new = json.loads(result.stdout)
    assert "serving.client.schema" in new
    assert [m for m in new if m.split(".")[0] not in sys.stdlib_module_names and m not in CLIENT_MODULES] == []


def test_retries_carry_a_call_through_a_server_restart(messages):
    service = FakePredictionService(messages)
    with serve(service.handlers()) as target:
        port = int(target.rsplit(":", 1)[1])
    restarted = []  # the server stops above; it comes back on the same port while the client retries

    def start_again():
        time.sleep(0.4)
        restarted.append(start_server(service.handlers(), port)[0])

    thread = threading.Thread(target=start_again)
    thread.start()
    try:
        policy = RetryPolicy(max_attempts=20, initial_backoff=0.05, max_backoff=0.2)
        with EmbeddingClient(target, MODEL_NAME, retry=policy, timeout=10) as client:
            start = time.monotonic()
            vectors = client.embed(TEXTS[:3])
            assert time.monotonic() - start >= 0.3  # it did wait for the restart
    finally:
        thread.join()
        for server in restarted:
            server.stop(None)
    np.testing.assert_array_equal(vectors, expected_embeddings(TEXTS[:3]))
    assert len(restarted) == 1 and service.calls == 1
