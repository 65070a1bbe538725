"""The embedded server's HTTP port with real clients: TF Serving's REST predict API over `requests`, and the
OpenAI-compatible ``/v1/embeddings`` through the `openai` package, both compared with the gRPC API.

One server (in this process, batching on with a small ``max_batch_size`` so that embeddings requests are split)
serves the tiny models of every architecture for the whole module.
"""

from __future__ import annotations

import base64

import numpy as np
import openai
import pytest
import requests

from embedder import contract
from serving import EmbeddingClient
from serving.server.config_files import BatchingSettings
from serving.server.model_server import ModelServer, ServerOptions
from serving.server.token_count import TokenizerSettings, count_tokens
from tests.helpers.models import TINY_MAX_LENGTH
from tests.serving.server.helpers import free_port

SENTENCES = ["a good film", "Who wrote Hamlet?", "the plot was dull and the acting worse , really", ""]
MAX_BATCH_SIZE = 4
#: Tokenizer corner cases: clitics in both cases, emoji and symbols, invalid UTF-8, empty and blank, too long.
TRICKY = [
    "don't", "DON'T stop", "it's fine, isn't it?!", "emoji 🙂🙂 and $5 & 10%", "", "   ", "a" + " b" * 40,
    "tab\tand\nnewline", "l'amour ... c'est ça", "x's y're z've w'll v'd u'm",
]  # fmt: skip


@pytest.fixture(scope="module")
def served(exported_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("rest")
    models = "\n".join(
        f'  config {{ name: "{arch}" base_path: "{version_dir.parent}" model_platform: "tensorflow" '
        f'version_labels {{ key: "stable" value: {version_dir.name} }} }}'
        for arch, (_, version_dir) in exported_models.items()
    )
    (root / "models.config").write_text(f"model_config_list {{\n{models}\n}}\n")
    options = ServerOptions(
        port=0,
        rest_api_port=free_port(),
        model_config_file=str(root / "models.config"),
        file_system_poll_wait_seconds=0,
        enable_batching=True,
        batching_settings=BatchingSettings(
            max_batch_size=MAX_BATCH_SIZE, batch_timeout_micros=1000, num_batch_threads=1
        ),
    )
    server = ModelServer(options).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base_url(served) -> str:
    return f"http://127.0.0.1:{served.rest_port}"


@pytest.fixture(scope="module")
def grpc_client(served):
    with EmbeddingClient(served.target, "structured", max_batch_size=MAX_BATCH_SIZE) as client:
        yield client


def _post(url: str, document) -> requests.Response:
    return requests.post(url, json=document, timeout=30)


# ----------------------------------------------------------------------------------- TF Serving's REST API
def test_row_format_predict_equals_grpc(base_url, grpc_client):
    reply = _post(f"{base_url}/v1/models/structured:predict", {"instances": SENTENCES})
    assert reply.status_code == 200, reply.text
    predictions = np.asarray(reply.json()["predictions"], dtype=np.float32)
    np.testing.assert_allclose(predictions, grpc_client.embed(SENTENCES), atol=1e-6)

    # A signature with two outputs answers one object per example; named inputs work the same way.
    reply = _post(
        f"{base_url}/v1/models/structured:predict",
        {"signature_name": "classify", "instances": [{"text": s} for s in SENTENCES[:2]]},
    )
    assert reply.status_code == 200, reply.text
    rows = reply.json()["predictions"]
    expected = grpc_client.classify(SENTENCES[:2])
    assert [sorted(row) for row in rows] == [[contract.OUTPUT_LABELS, contract.OUTPUT_PROBABILITIES]] * 2
    np.testing.assert_allclose([row["probabilities"] for row in rows], expected.probabilities, atol=1e-6)
    assert rows[0]["labels"] == list(expected.labels)


def test_columnar_format_and_b64_strings(base_url, grpc_client):
    reply = _post(f"{base_url}/v1/models/classic:predict", {"inputs": {"text": SENTENCES}})
    assert reply.status_code == 200, reply.text
    with EmbeddingClient(grpc_client.target, "classic") as classic:
        np.testing.assert_allclose(np.asarray(reply.json()["outputs"]), classic.embed(SENTENCES), atol=1e-6)

    raw = ["caf\u00e9 film".encode(), b"\xff\xfe not utf-8"]
    b64 = [{"b64": base64.b64encode(text).decode()} for text in raw]
    reply = _post(f"{base_url}/v1/models/structured:predict", {"inputs": b64})
    assert reply.status_code == 200, reply.text
    np.testing.assert_allclose(np.asarray(reply.json()["outputs"]), grpc_client.embed(raw), atol=1e-6)

    # String outputs come back as JSON strings; columnar answers keep every output's own shape.
    reply = _post(
        f"{base_url}/v1/models/structured:predict", {"signature_name": "attention", "inputs": ["a good film"]}
    )
    outputs = reply.json()["outputs"]
    assert outputs["tokens"][0][:3] == ["a", "good", "film"] and outputs["tokens"][0][3] == ""
    tokens, weights = grpc_client.attention(["a good film"])
    np.testing.assert_allclose(np.asarray(outputs["attention"][0])[:, :3], weights[0], atol=1e-6)


def test_versions_and_labels_route_like_grpc(base_url, exported_models):
    version = exported_models["transformer"][1].name
    answers = [
        _post(f"{base_url}/v1/models/transformer{route}:predict", {"instances": ["a good film"]}).json()
        for route in ("", f"/versions/{version}", "/labels/stable")
    ]
    assert answers[0] == answers[1] == answers[2]
    reply = _post(f"{base_url}/v1/models/transformer/versions/9:predict", {"instances": ["x"]})
    assert reply.status_code == 404 and "Specific(transformer, 9)" in reply.json()["error"]
    reply = _post(f"{base_url}/v1/models/transformer/labels/canary:predict", {"instances": ["x"]})
    assert reply.status_code == 400 and "canary" in reply.json()["error"]


@pytest.mark.parametrize(
    "route, body, status, message",
    [
        ("nope:predict", {"instances": ["x"]}, 404, "nope"),
        ("structured:predict", b"{not json", 400, "not valid JSON"),
        ("structured:predict", {"instances": ["x"], "inputs": ["x"]}, 400, "not both"),
        ("structured:predict", {"signature_name": "x"}, 400, '"instances" (row format) or "inputs"'),
        ("structured:predict", {"instances": [1, 2]}, 400, "expects strings"),
        ("structured:predict", {"inputs": [["a", "b"], ["c"]]}, 400, "ragged"),
        ("structured:predict", {"inputs": [["a", "b"], ["c", "d"]]}, 400, "must have rank 1"),
        ("structured:predict", {"inputs": [{"b64": "%%%"}]}, 400, "not valid base64"),
        ("structured:predict", {"signature_name": "nope", "instances": ["x"]}, 400, 'key "nope" not found'),
        ("structured:predict", {"instances": [{"txt": "x"}]}, 400, "the signature takes ['text']"),
        ("structured:predict", {"instances": ["x"] * (MAX_BATCH_SIZE + 1)}, 400, "larger than maximum"),
        ("structured:classify", {"examples": []}, 400, ':predict with "signature_name": "classify"'),
    ],
)
def test_errors_are_tf_serving_json_with_the_http_status_of_the_code(base_url, route, body, status, message):
    if isinstance(body, bytes):
        reply = requests.post(f"{base_url}/v1/models/{route}", data=body, timeout=30)
    else:
        reply = _post(f"{base_url}/v1/models/{route}", body)
    assert reply.status_code == status
    assert list(reply.json()) == ["error"] and message in reply.json()["error"], reply.json()


def test_status_and_metadata_still_answer(base_url):
    status = requests.get(f"{base_url}/v1/models/structured", timeout=30).json()
    assert status["model_version_status"][0]["state"] == "AVAILABLE"
    metadata = requests.get(f"{base_url}/v1/models/structured/metadata", timeout=30).json()
    assert "serving_default" in metadata["metadata"]["signature_def"]["signature_def"]


# ------------------------------------------------------------------------------------ OpenAI embeddings
@pytest.fixture(scope="module")
def openai_client(base_url):
    with openai.OpenAI(base_url=f"{base_url}/v1", api_key="not-checked", max_retries=0, timeout=30) as client:
        yield client


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def test_openai_client_gets_the_grpc_vectors(openai_client, grpc_client):
    texts = [*SENTENCES, *TRICKY]  # more than MAX_BATCH_SIZE: split into several model calls
    expected = grpc_client.embed(texts, normalize=True)
    # Unless told otherwise the openai client asks for base64 and decodes it; asked for base64, it hands the
    # strings over as they came.
    for encoding in ({}, {"encoding_format": "float"}, {"encoding_format": "base64"}):
        response = openai_client.embeddings.create(model="structured", input=texts, **encoding)
        assert response.model == "structured" and [d.index for d in response.data] == list(range(len(texts)))
        vectors = [d.embedding for d in response.data]
        if encoding:
            assert all(isinstance(v, str if encoding["encoding_format"] == "base64" else list) for v in vectors)
        if encoding.get("encoding_format") == "base64":
            vectors = [np.frombuffer(base64.b64decode(v), dtype="<f4") for v in vectors]
        np.testing.assert_allclose(np.asarray(vectors), expected, atol=1e-6)
    single = openai_client.embeddings.create(model="structured", input="a good film")
    np.testing.assert_allclose(single.data[0].embedding, grpc_client.embed("a good film", normalize=True), atol=1e-6)


def test_dimensions_truncate_then_renormalise(openai_client, grpc_client):
    full = grpc_client.embed(SENTENCES)
    response = openai_client.embeddings.create(model="structured", input=SENTENCES, dimensions=3)
    vectors = np.asarray([d.embedding for d in response.data])
    assert vectors.shape == (len(SENTENCES), 3)
    np.testing.assert_allclose(vectors, _unit(full[:, :3]), atol=1e-6)


def test_usage_counts_the_tokens_the_model_reads(openai_client, grpc_client):
    tokens, _ = grpc_client.attention(TRICKY)  # the model's own tokenizer, as the attention signature reports it
    response = openai_client.embeddings.create(model="structured", input=TRICKY)
    assert response.usage.prompt_tokens == response.usage.total_tokens == sum(len(t) for t in tokens)
    # Per text too, including invalid UTF-8, a text cut at max_length and the [EMPTY] token.
    texts = [t.encode() for t in TRICKY] + [b"\xff\xfe bad bytes"]
    tokens, _ = grpc_client.attention(texts)
    settings = TokenizerSettings(max_length=TINY_MAX_LENGTH, lowercase=True)
    assert count_tokens(texts, settings).tolist() == [len(t) for t in tokens]
    assert [len(t) for t in tokens][4:7] == [1, 1, settings.max_length]  # "", "   ", 41 words


@pytest.mark.parametrize(
    "request_body, status, param, message",
    [
        ({"model": "nope", "input": "x"}, 404, "model", "nope"),
        ({"input": "x"}, 400, "model", "must provide a model"),
        ({"model": "structured", "input": []}, 400, "input", "non-empty list"),
        ({"model": "structured", "input": [[1, 2, 3]]}, 400, "input", "token ids"),
        ({"model": "structured", "input": ["x"] * 2049}, 400, "input", "at most 2048"),
        ({"model": "structured", "input": "x", "dimensions": 0}, 400, "dimensions", "positive integer"),
        ({"model": "structured", "input": "x", "dimensions": 999}, 400, "dimensions", "above model"),
        ({"model": "structured", "input": "x", "encoding_format": "int8"}, 400, "encoding_format", "int8"),
        ({"model": "structured", "input": "x", "colour": 1}, 400, "colour", "Unrecognized request argument"),
    ],
)
def test_openai_errors_have_openai_shape_and_status(base_url, request_body, status, param, message):
    reply = _post(f"{base_url}/v1/embeddings", request_body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert sorted(error) == ["code", "message", "param", "type"]
    assert error["param"] == param and message in error["message"], error
    assert error["type"] == "invalid_request_error"


def test_openai_client_raises_its_own_errors(openai_client):
    with pytest.raises(openai.NotFoundError) as caught:
        openai_client.embeddings.create(model="nope", input="x")
    assert caught.value.status_code == 404 and caught.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as caught:
        openai_client.embeddings.create(model="structured", input="x", dimensions=999)
    assert "999" in caught.value.message
