"""The embedded server's PredictionService, ModelService, health and HTTP status against real SavedModels.

One server (in this process, batching on) serves the tiny models of every architecture for the whole module;
requests are built with TF Serving's own messages (tensorflow_serving.apis), as any TF Serving client does.
"""

from __future__ import annotations

import collections
import json
import threading
import urllib.error
import urllib.request

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    regression_pb2,
)

from embedder import contract
from serving.server.config_files import BatchingSettings
from serving.server.metrics import parse_batch_sizes
from serving.server.model_server import ModelServer, ServerOptions
from tests.serving.server.helpers import Stubs, free_port, output, predict_request, rpc_error, string_tensor

ARCHITECTURES = ("classic", "structured", "transformer")
SENTENCES = ["a good film", "Who wrote Hamlet?", "the plot was dull and the acting worse , really", ""]
MAX_BATCH_SIZE = 64
METRICS_PATH = "/monitoring/prometheus/metrics"


@pytest.fixture(scope="module")
def served(exported_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    models = "\n".join(
        f'  config {{ name: "{arch}" base_path: "{version_dir.parent}" model_platform: "tensorflow" '
        f'version_labels {{ key: "stable" value: {version_dir.name} }} }}'
        for arch, (_, version_dir) in exported_models.items()
    )
    (root / "models.config").write_text(f"model_config_list {{\n{models}\n}}\n")
    (root / "monitoring.config").write_text(f'prometheus_config {{ enable: true path: "{METRICS_PATH}" }}')
    options = ServerOptions(
        port=0,
        rest_api_port=free_port(),
        model_config_file=str(root / "models.config"),
        monitoring_config_file=str(root / "monitoring.config"),
        file_system_poll_wait_seconds=0,
        enable_batching=True,
        batching_settings=BatchingSettings(
            max_batch_size=MAX_BATCH_SIZE, batch_timeout_micros=5000, num_batch_threads=1
        ),
    )
    server = ModelServer(options).start()
    channel = grpc.insecure_channel(server.target)
    yield server, Stubs(channel)
    channel.close()
    server.stop()


@pytest.fixture(scope="module")
def stubs(served) -> Stubs:
    return served[1]


# ------------------------------------------------------------------------------------ every signature
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_signature_equals_the_in_process_model(stubs, exported_models, architecture):
    embedder, version_dir = exported_models[architecture]
    version = int(version_dir.name)

    response = stubs.prediction.Predict(predict_request(architecture, SENTENCES), timeout=30)
    assert (response.model_spec.name, response.model_spec.version.value, response.model_spec.signature_name) == (
        architecture,
        version,
        contract.SIGNATURE_EMBED,
    )
    np.testing.assert_allclose(output(response), embedder.encode(SENTENCES), atol=1e-5)

    response = stubs.prediction.Predict(
        predict_request(architecture, SENTENCES, contract.SIGNATURE_CLASSIFY), timeout=30
    )
    assert response.model_spec.signature_name == contract.SIGNATURE_CLASSIFY
    np.testing.assert_allclose(
        output(response, contract.OUTPUT_PROBABILITIES), embedder.predict_proba(SENTENCES), atol=1e-5
    )
    labels = output(response, contract.OUTPUT_LABELS)
    assert labels.tolist() == [[label.encode() for label in embedder.labels]] * len(SENTENCES)

    response = stubs.prediction.Predict(
        predict_request(architecture, SENTENCES, contract.SIGNATURE_ATTENTION), timeout=30
    )
    tokens, weights = embedder.attention(SENTENCES)
    served_tokens = output(response, contract.OUTPUT_TOKENS)
    served_weights = output(response, contract.OUTPUT_ATTENTION)
    assert served_weights.shape == (len(SENTENCES), embedder.attention_rows, embedder.max_length)
    for row, (row_tokens, row_weights) in enumerate(zip(tokens, weights)):
        assert [t.decode() for t in served_tokens[row] if t] == row_tokens
        np.testing.assert_allclose(served_weights[row][:, : len(row_tokens)], row_weights, atol=1e-5)
        np.testing.assert_array_equal(served_weights[row][:, len(row_tokens) :], 0)

    response = stubs.prediction.Predict(
        predict_request(architecture, SENTENCES, contract.SIGNATURE_METADATA), timeout=30
    )
    documents = [json.loads(m) for m in output(response, contract.OUTPUT_METADATA)]
    assert len(documents) == len(SENTENCES) and all(d == documents[0] for d in documents)
    documents[0].pop(contract.META_CREATED)
    assert documents[0].pop(contract.META_PRECISION) == "float32"  # set by the export, not the model
    assert documents[0] == json.loads(json.dumps(embedder.metadata()))


def test_version_label_and_specific_version_route_to_the_same_version(stubs, exported_models):
    version = int(exported_models["classic"][1].name)
    by_label = stubs.prediction.Predict(predict_request("classic", ["a good film"], label="stable"), timeout=30)
    by_version = stubs.prediction.Predict(predict_request("classic", ["a good film"], version=version), timeout=30)
    assert by_label.model_spec.version.value == by_version.model_spec.version.value == version
    np.testing.assert_array_equal(output(by_label), output(by_version))


def test_output_filter_returns_only_the_requested_outputs(stubs):
    request = predict_request("structured", SENTENCES, contract.SIGNATURE_CLASSIFY)
    request.output_filter.append(contract.OUTPUT_LABELS)
    response = stubs.prediction.Predict(request, timeout=30)
    assert list(response.outputs) == [contract.OUTPUT_LABELS]


# --------------------------------------------------------------------------------- inputs the graph handles
def test_empty_batch_gets_empty_outputs_from_every_signature(stubs, exported_models):
    embedder, _ = exported_models["structured"]
    expected = {
        contract.SIGNATURE_EMBED: {contract.OUTPUT_EMBEDDING: (0, embedder.embedding_dim)},
        contract.SIGNATURE_CLASSIFY: {contract.OUTPUT_PROBABILITIES: (0, 2), contract.OUTPUT_LABELS: (0, 2)},
        contract.SIGNATURE_ATTENTION: {
            contract.OUTPUT_TOKENS: (0, embedder.max_length),
            contract.OUTPUT_ATTENTION: (0, embedder.attention_rows, embedder.max_length),
        },
        contract.SIGNATURE_METADATA: {contract.OUTPUT_METADATA: (0,)},
    }
    for signature, shapes in expected.items():
        response = stubs.prediction.Predict(predict_request("structured", [], signature), timeout=30)
        assert {name: output(response, name).shape for name in response.outputs} == shapes


def test_non_utf8_bytes_and_a_one_megabyte_string_are_embedded_like_in_process(stubs, exported_models):
    embedder, _ = exported_models["structured"]
    texts = [b"caf\xe9 \xff\xfe a good film", ("a good film " * 90_000)[:1_000_000]]
    assert len(texts[1].encode()) == 1_000_000
    response = stubs.prediction.Predict(predict_request("structured", texts), timeout=60)
    np.testing.assert_allclose(output(response), embedder.encode(texts), atol=1e-5)


# -------------------------------------------------------------------------------------------- bad requests
def _with_inputs(**tensors):
    request = predict_request("structured", ["a"])
    del request.inputs[contract.INPUT_TEXT]
    for name, tensor in tensors.items():
        request.inputs[name].CopyFrom(tensor)
    return request


def _with_output_filter(name):
    request = predict_request("structured", ["a"])
    request.output_filter.append(name)
    return request


def _mismatched_values():
    tensor = string_tensor(["a", "b"])
    tensor.tensor_shape.dim[0].size = 1
    return _with_inputs(text=tensor)


def _declared_rows(rows: int, texts=("a",)):
    """A request whose shape declares `rows` rows while carrying only `texts`: tiny on the wire."""
    tensor = string_tensor(list(texts))
    tensor.tensor_shape.dim[0].size = rows
    return _with_inputs(text=tensor)


BAD_REQUESTS = {
    "unknown model": (
        lambda: predict_request("nope", ["a"]),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Latest(nope)",
    ),
    "unknown version": (
        lambda: predict_request("structured", ["a"], version=7),
        grpc.StatusCode.NOT_FOUND,
        "Servable not found for request: Specific(structured, 7). Available versions of 'structured': [1]",
    ),
    "unknown label": (
        lambda: predict_request("structured", ["a"], label="canary"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Unrecognized servable version label: canary",
    ),
    "no model name": (lambda: predict_request("", ["a"]), grpc.StatusCode.INVALID_ARGUMENT, "Missing ModelSpec"),
    "unknown signature": (
        lambda: predict_request("structured", ["a"], "summarize"),
        grpc.StatusCode.FAILED_PRECONDITION,
        'Serving signature key "summarize" not found',
    ),
    "missing input key": (
        lambda: _with_inputs(sentences=string_tensor(["a"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Missing but required: ['text']. Sent extra: ['sentences']",
    ),
    "extra input key": (
        lambda: _with_inputs(text=string_tensor(["a"]), lang=string_tensor(["en"])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Sent extra: ['lang']",
    ),
    "wrong dtype": (
        lambda: _with_inputs(text=tf.make_tensor_proto([1.5, 2.5])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Input 'text' of signature 'serving_default' expects dtype DT_STRING; the request sent DT_FLOAT",
    ),
    "rank 2": (
        lambda: _with_inputs(text=tf.make_tensor_proto([["a", "b"]])),
        grpc.StatusCode.INVALID_ARGUMENT,
        "must have rank 1 (shape [-1]); the request sent shape [1, 2]",
    ),
    "rank 0": (
        lambda: _with_inputs(text=tf.make_tensor_proto("a")),
        grpc.StatusCode.INVALID_ARGUMENT,
        "must have rank 1 (shape [-1]); the request sent shape []",
    ),
    "values do not fit the shape": (
        _mismatched_values,
        grpc.StatusCode.INVALID_ARGUMENT,
        "tensor parsing error: text: shape [1] holds 1 values but the request sent 2",
    ),
    "declared rows the values do not fill": (
        lambda: _declared_rows(5000, ["a", "b"]),
        grpc.StatusCode.INVALID_ARGUMENT,
        "tensor parsing error: text: shape [5000] holds 5000 values but the request sent 2",
    ),
    "one value declared as more rows than the limit": (
        lambda: _declared_rows(100_000_000),
        grpc.StatusCode.INVALID_ARGUMENT,
        "Input 'text' has 100000000 rows (shape [100000000]), over the limit of 8192 rows per request "
        "(--max_rows_per_request)",
    ),
    "a declared shape of 2**62 rows": (
        lambda: _declared_rows(2**62, []),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Input 'text' has {2**62} rows",
    ),
    "batch over the limit": (
        lambda: predict_request("structured", ["a"] * (MAX_BATCH_SIZE + 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        f"Task size {MAX_BATCH_SIZE + 1} is larger than maximum input batch size {MAX_BATCH_SIZE}",
    ),
    "unknown output filter": (
        lambda: _with_output_filter("probabilities"),
        grpc.StatusCode.INVALID_ARGUMENT,
        "output tensor alias not found in signature: probabilities",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_gets_tf_servings_status_code_and_a_message_naming_the_problem(stubs, case):
    make_request, code, message = BAD_REQUESTS[case]
    error = rpc_error(stubs.prediction.Predict, make_request(), timeout=30)
    assert error.code() == code
    assert message in error.details()
    # ... and the server goes on serving.
    assert stubs.prediction.Predict(predict_request("structured", ["still here"]), timeout=30).outputs


def test_classify_and_regress_point_to_predict(stubs):
    for call, request_type in (
        (stubs.prediction.Classify, classification_pb2.ClassificationRequest),
        (stubs.prediction.Regress, regression_pb2.RegressionRequest),
    ):
        request = request_type()
        request.model_spec.name = "structured"
        error = rpc_error(call, request, timeout=10)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "Was: tensorflow/serving/predict" in error.details()
        assert "call PredictionService.Predict with signature_name 'classify'" in error.details()
    request = inference_pb2.MultiInferenceRequest()
    request.tasks.add(method_name="tensorflow/serving/classify").model_spec.name = "structured"
    assert rpc_error(stubs.prediction.MultiInference, request, timeout=10).code() == grpc.StatusCode.INVALID_ARGUMENT
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "nope"
    assert rpc_error(stubs.prediction.Classify, request, timeout=10).code() == grpc.StatusCode.NOT_FOUND


def test_too_large_a_message_is_refused_without_harm(served, exported_models):
    # A second, small server: 64 KiB messages both ways, over TLS-less loopback.
    server, _ = served
    options = ServerOptions(
        port=0,
        model_name="limited",
        model_base_path=str(exported_models["structured"][1].parent),
        grpc_max_message_size=64 * 1024,
        enable_model_warmup=False,
    )
    with ModelServer(options).start() as small, grpc.insecure_channel(small.target) as channel:
        limited = Stubs(channel)
        error = rpc_error(limited.prediction.Predict, predict_request("limited", ["a" * 100_000]), timeout=30)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "larger than max" in error.details()
        # 1500 rows of 36 floats: a small request, an answer over the limit.
        error = rpc_error(limited.prediction.Predict, predict_request("limited", ["a"] * 1500), timeout=30)
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert limited.prediction.Predict(predict_request("limited", ["a"] * 10), timeout=30).outputs


# ------------------------------------------------------------------------------------------------ batching
def test_concurrent_requests_are_merged_into_fewer_model_calls_and_split_back(served, exported_models):
    server, stubs = served
    embedder, _ = exported_models["structured"]
    (servable,) = [s for s in server.manager.loaded_servables() if s.model_name == "structured"]
    before = collections.Counter(servable.batch_sizes[contract.SIGNATURE_EMBED])
    texts = [f"sentence {i} : {' '.join(['good'] * (i % 7))} film" for i in range(32)]
    expected = embedder.encode(texts)
    results = [None] * len(texts)
    barrier = threading.Barrier(len(texts))

    def call(i):
        barrier.wait()
        results[i] = stubs.prediction.Predict(predict_request("structured", [texts[i]]), timeout=30)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for i, response in enumerate(results):
        np.testing.assert_allclose(output(response)[0], expected[i], atol=1e-5)
    calls = collections.Counter(servable.batch_sizes[contract.SIGNATURE_EMBED])
    calls.subtract(before)
    calls = +calls
    assert sum(size * count for size, count in calls.items()) == len(texts)
    assert sum(calls.values()) < len(texts) / 2, calls
    assert max(calls) >= 4, calls


# ------------------------------------------------------------------------------ metadata, status, health
def test_get_model_metadata_returns_the_signature_def_map(stubs, exported_models):
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    request.model_spec.name = "structured"
    response = stubs.prediction.GetModelMetadata(request, timeout=10)
    assert response.model_spec.name == "structured" and response.model_spec.version.value == 1
    assert response.metadata["signature_def"].type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert set(contract.SIGNATURE_OUTPUTS) <= set(signatures.signature_def)
    for name, outputs in contract.SIGNATURE_OUTPUTS.items():
        signature = signatures.signature_def[name]
        assert signature.method_name == "tensorflow/serving/predict"
        text = signature.inputs[contract.INPUT_TEXT]
        assert text.dtype == tf.string.as_datatype_enum and [d.size for d in text.tensor_shape.dim] == [-1]
        assert set(signature.outputs) == set(outputs)

    request.ClearField("metadata_field")
    assert "at least one metadata_field" in rpc_error(stubs.prediction.GetModelMetadata, request).details()
    request.metadata_field.append("graph")
    assert "Metadata field graph is not supported" in rpc_error(stubs.prediction.GetModelMetadata, request).details()


def test_get_model_status(stubs):
    assert stubs.status("structured") == {1: ("AVAILABLE", "")}
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "structured"
    (status,) = stubs.model.GetModelStatus(request, timeout=10).model_version_status
    assert status.HasField("status") and status.status.error_code == 0
    request.model_spec.version.value = 9
    error = rpc_error(stubs.model.GetModelStatus, request)
    assert (
        error.code() == grpc.StatusCode.NOT_FOUND and "Could not find version 9 of model structured" in error.details()
    )
    request.model_spec.name = "nope"
    request.model_spec.ClearField("version")
    assert rpc_error(stubs.model.GetModelStatus, request).code() == grpc.StatusCode.NOT_FOUND


def test_health_service_says_serving(stubs):
    for service in ("", "tensorflow.serving.PredictionService"):
        response = stubs.health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_rest_port_serves_status_metadata_metrics_and_predict(served):
    server, stubs = served
    stubs.prediction.Predict(predict_request("classic", ["counted"]), timeout=30)
    base = f"http://127.0.0.1:{server.rest_port}"
    with urllib.request.urlopen(f"{base}/v1/models/structured", timeout=10) as reply:
        status = json.load(reply)
    assert status == {
        "model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        ]
    }
    with urllib.request.urlopen(f"{base}/v1/models/structured/versions/1/metadata", timeout=10) as reply:
        metadata = json.load(reply)
    assert metadata["model_spec"]["name"] == "structured"
    with urllib.request.urlopen(f"{base}{METRICS_PATH}", timeout=10) as reply:
        metrics = reply.read().decode()
    assert 'embedder_serving_request_count{api="Predict",model_name="classic",status="OK"}' in metrics
    assert sum(parse_batch_sizes(metrics, "classic").values()) >= 1
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{base}/v1/models/nope", timeout=10)
    assert caught.value.code == 404 and "nope" in json.load(caught.value)["error"]
    request = urllib.request.Request(f"{base}/v1/models/structured:predict", data=b'{"instances": ["a"]}')
    with urllib.request.urlopen(request, timeout=10) as reply:
        predictions = json.load(reply)["predictions"]
    expected = output(stubs.prediction.Predict(predict_request("structured", ["a"]), timeout=30))
    np.testing.assert_allclose(predictions, expected, atol=1e-6)
