"""The light client against TensorFlow Serving's own messages and against the real exported tiny models.

- its schema has TF Serving's field numbers, types and labels, message by message;
- a request it sends parses as TF Serving's `PredictRequest` with the same content as one built with TensorFlow;
- it reads TensorFlow's string `tensor_content` layout;
- over a servicer built only from `tensorflow_serving.apis` that runs the exported SavedModels, its `embed`,
  `classify`, `attention` and `metadata` equal `SentenceEmbedder`'s own, in both response encodings;
- it works with TensorFlow blocked from import, and beside tensorflow + tensorflow_serving in one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import any_pb2, descriptor_pb2, wrappers_pb2
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
)

from embedder import contract
from serving import EmbeddingClient, FailedPrecondition, ModelNotFound
from serving.client import schema as pb
from tests.helpers.models import TINY_TEXTS
from tests.helpers.paths import PROJECT_ROOT
from tests.serving.fake_prediction_service import BLOCK_TENSORFLOW, serve

#: Our message → TF Serving's (class or descriptor), for the field-by-field comparison.
COUNTERPARTS = {
    "Int64Value": wrappers_pb2.Int64Value,
    "Any": any_pb2.Any,
    "TensorShapeDim": tensor_shape_pb2.TensorShapeProto.Dim,
    "TensorShapeProto": tensor_shape_pb2.TensorShapeProto,
    "TensorProto": tensor_pb2.TensorProto,
    "TensorInfo": meta_graph_pb2.TensorInfo,
    "SignatureDef": meta_graph_pb2.SignatureDef,
    "ModelSpec": model_pb2.ModelSpec,
    "PredictRequest": predict_pb2.PredictRequest,
    "PredictResponse": predict_pb2.PredictResponse,
    "SignatureDefMap": get_model_metadata_pb2.SignatureDefMap,
    "GetModelMetadataRequest": get_model_metadata_pb2.GetModelMetadataRequest,
    "GetModelMetadataResponse": get_model_metadata_pb2.GetModelMetadataResponse,
    "StatusProto": get_model_status_pb2.ModelVersionStatus.DESCRIPTOR.fields_by_name["status"].message_type,
    "ModelVersionStatus": get_model_status_pb2.ModelVersionStatus,
    "GetModelStatusRequest": get_model_status_pb2.GetModelStatusRequest,
    "GetModelStatusResponse": get_model_status_pb2.GetModelStatusResponse,
}


def _descriptor(counterpart):
    return getattr(counterpart, "DESCRIPTOR", counterpart)


def _proto(descriptor) -> descriptor_pb2.DescriptorProto:
    proto = descriptor_pb2.DescriptorProto()
    _descriptor(descriptor).CopyToProto(proto)
    return proto


@pytest.mark.parametrize("name", sorted(COUNTERPARTS))
def test_schema_fields_match_tf_serving(name):
    ours = _proto(pb.message_class(name).DESCRIPTOR)
    theirs = {field.number: field for field in _proto(COUNTERPARTS[name]).field}
    for field in ours.field:
        assert field.number in theirs, f"{name}.{field.name}: no field {field.number} in TF Serving's message"
        other = theirs[field.number]
        assert (field.name, field.type, field.label) == (other.name, other.type, other.label), f"{name}.{field.name}"
        assert field.HasField("oneof_index") == other.HasField("oneof_index"), f"{name}.{field.name}"
        if field.type in (field.TYPE_MESSAGE, field.TYPE_ENUM):
            # Same kind of target: map entries by their key/value, others by the counterpart's name.
            our_target, their_target = field.type_name.rsplit(".", 1)[-1], other.type_name.rsplit(".", 1)[-1]
            if our_target.endswith("Entry"):
                assert our_target == their_target
            elif field.type == field.TYPE_MESSAGE:
                assert _descriptor(COUNTERPARTS[our_target]).full_name == other.type_name.lstrip(".")


def test_enum_numbers_match_tf():
    from tensorflow.core.framework import types_pb2
    from tensorflow.core.protobuf import error_codes_pb2

    for value_name, number in pb.DATA_TYPES.items():
        assert types_pb2.DataType.Value(value_name) == number
    states = get_model_status_pb2.ModelVersionStatus.State
    for number, state in pb.MODEL_VERSION_STATE_NAMES.items():
        assert states.Value(state) == number
    code = pb.POOL.FindEnumTypeByName(f"{pb.PACKAGE}.Code")
    theirs = {name: number for name, number in error_codes_pb2.Code.items() if not name.startswith("DO_NOT_USE")}
    assert {v.name: v.number for v in code.values} == theirs


def test_request_on_the_wire_parses_as_tf_servings_own_predict_request():
    raw: list[bytes] = []

    def deserialize(data: bytes):
        raw.append(data)
        return predict_pb2.PredictRequest.FromString(data)

    def predict(request, context):
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "recorded")

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {
            "Predict": grpc.unary_unary_rpc_method_handler(
                predict, request_deserializer=deserialize, response_serializer=lambda m: m.SerializeToString()
            )
        },
    )
    texts = ["a good film", "", "é ünïcode", "x" * 1000]
    with serve([handler]) as target, EmbeddingClient(target, "default", version=0) as client:
        with pytest.raises(FailedPrecondition, match="recorded"):
            client.embed(texts)
    expected = predict_pb2.PredictRequest(
        model_spec=model_pb2.ModelSpec(
            name="default", signature_name=contract.SIGNATURE_EMBED, version=wrappers_pb2.Int64Value(value=0)
        )
    )
    expected.inputs[contract.INPUT_TEXT].CopyFrom(tf.make_tensor_proto(texts, dtype=tf.string))
    (data,) = raw
    parsed = predict_pb2.PredictRequest.FromString(data)
    assert parsed == expected
    assert parsed.model_spec.HasField("version") and parsed.model_spec.version.value == 0
    assert [t.decode() for t in tf.make_ndarray(parsed.inputs["text"])] == texts


def test_string_tensor_content_layout_is_tensorflows():
    from serving.client.tensor_codec import to_numpy

    words = [b"ab", b"", "é".encode() * 100]
    ours = pb.TensorProto(dtype=pb.DATA_TYPES["DT_STRING"], tensor_content=bytes([2, 0, 200, 1]) + b"".join(words))
    ours.tensor_shape.dim.add(size=3)
    assert tf.io.parse_tensor(ours.SerializeToString(), tf.string).numpy().tolist() == words
    assert to_numpy(ours).tolist() == words
    # And TensorFlow's numeric shorthand (one value for a constant tensor) reads like tf.make_ndarray.
    constant = tf.make_tensor_proto(np.full((2, 3), 0.25, np.float32))
    constant.ClearField("tensor_content")
    constant.float_val.append(0.25)
    np.testing.assert_array_equal(
        to_numpy(pb.TensorProto.FromString(constant.SerializeToString())), tf.make_ndarray(constant)
    )


# ---------------------------------------------------------------------------------- the real exported models
class SavedModelService:
    """TF Serving's Predict / GetModelStatus over `tf.saved_model.load`, built only from tensorflow_serving.apis."""

    def __init__(self, version_dirs: dict[str, Path], encoding: str = "tensor_content"):
        self.models = {name: (int(path.name), tf.saved_model.load(str(path))) for name, path in version_dirs.items()}
        self.encoding = encoding

    def _tensor(self, value: np.ndarray) -> tensor_pb2.TensorProto:
        proto = tf.make_tensor_proto(value)
        if self.encoding == "field" and value.dtype == np.float32:
            proto.ClearField("tensor_content")
            proto.float_val.extend(value.ravel().tolist())
        return proto

    def predict(self, request, context):
        spec = request.model_spec
        if spec.name not in self.models:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        version, loaded = self.models[spec.name]
        signature = spec.signature_name or contract.SIGNATURE_EMBED
        if signature not in loaded.signatures:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature name: "{signature}" not found')
        text = tf.constant(tf.make_ndarray(request.inputs[contract.INPUT_TEXT]), dtype=tf.string)
        outputs = loaded.signatures[signature](**{contract.INPUT_TEXT: text})
        response = predict_pb2.PredictResponse(
            model_spec=model_pb2.ModelSpec(
                name=spec.name, signature_name=signature, version=wrappers_pb2.Int64Value(value=version)
            )
        )
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(self._tensor(value.numpy()))
        return response

    def handlers(self):
        return [
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": grpc.unary_unary_rpc_method_handler(
                        self.predict,
                        request_deserializer=predict_pb2.PredictRequest.FromString,
                        response_serializer=predict_pb2.PredictResponse.SerializeToString,
                    )
                },
            )
        ]


@pytest.fixture(scope="module")
def saved_model_service(exported_models):
    return SavedModelService({arch: version_dir for arch, (_, version_dir) in exported_models.items()})


def assert_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["tensor_content", "field"])
def test_embed_equals_sentence_embedder_encode(exported_models, saved_model_service, encoding, monkeypatch):
    monkeypatch.setattr(saved_model_service, "encoding", encoding)
    with serve(saved_model_service.handlers()) as target:
        for arch, (embedder, _) in exported_models.items():
            with EmbeddingClient(target, arch, max_batch_size=4) as client:
                assert_close(client.embed(TINY_TEXTS), embedder.encode(TINY_TEXTS))
                assert_close(
                    client.embed(TINY_TEXTS[0], normalize=True),
                    embedder.encode(TINY_TEXTS[0], normalize_embeddings=True),
                )


@pytest.mark.slow
def test_classify_attention_and_metadata_equal_sentence_embedders(exported_models, saved_model_service):
    embedder, version_dir = exported_models["structured"]
    with serve(saved_model_service.handlers()) as target:
        with EmbeddingClient(target, "structured", max_batch_size=4) as client:
            classes = client.classify(TINY_TEXTS)
            tokens, weights = client.attention(TINY_TEXTS[:3])
            document = client.metadata()
        with EmbeddingClient(target, "structured", signature="nope") as client, pytest.raises(FailedPrecondition):
            client.embed("x")
        with EmbeddingClient(target, "unknown") as client, pytest.raises(ModelNotFound, match="unknown"):
            client.embed("x")
    assert list(classes.labels) == embedder.labels
    assert_close(classes.probabilities, embedder.predict_proba(TINY_TEXTS))
    assert classes.predicted == embedder.predict(TINY_TEXTS)
    their_tokens, their_weights = embedder.attention(TINY_TEXTS[:3])
    assert tokens == their_tokens
    assert weights[0].shape[0] == embedder.attention_rows > 1
    for ours, theirs in zip(weights, their_weights):
        assert_close(ours, theirs)
    assert document == json.loads((version_dir / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE).read_text())


def _child_env() -> dict:
    paths = [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


@pytest.mark.slow
def test_client_works_with_tensorflow_blocked_from_import(exported_models, saved_model_service):
    embedder, _ = exported_models["transformer"]
    script = BLOCK_TENSORFLOW + textwrap.dedent(
        """
        import json, sys
        from serving import EmbeddingClient
        with EmbeddingClient(sys.argv[1], "transformer") as client:
            vectors = client.embed(json.loads(sys.argv[2]))
        assert not any(m.split(".")[0] in ("tensorflow", "keras") for m in sys.modules)
        print(json.dumps(vectors.tolist()))
        """
    )
    with serve(saved_model_service.handlers()) as target:
        result = subprocess.run(
            [sys.executable, "-c", script, target, json.dumps(TINY_TEXTS)],
            capture_output=True,
            text=True,
            timeout=120,
            env=_child_env(),
        )
    assert result.returncode == 0, result.stderr[-2000:]
    np.testing.assert_allclose(np.array(json.loads(result.stdout)), embedder.encode(TINY_TEXTS), rtol=1e-5, atol=1e-6)


TF_SERVING_IMPORTS = """
import tensorflow
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
    predict_pb2, prediction_log_pb2, prediction_service_pb2_grpc)
"""
CLIENT_IMPORTS = "from serving import EmbeddingClient\nfrom serving.client import schema\n"
USE_BOTH = """
from tests.serving.fake_prediction_service import MODEL_NAME, FakePredictionService, serve, tf_serving_messages
service = FakePredictionService(tf_serving_messages())
with serve(service.handlers()) as target, EmbeddingClient(target, MODEL_NAME, max_batch_size=2) as client:
    vectors = client.embed(["a", "bb", "ccc"])
    statuses = client.status()
assert (vectors[:, 0] == [1, 2, 3]).all() and statuses[0].available, (vectors, statuses)
request = predict_pb2.PredictRequest.FromString(service.requests[0].SerializeToString())
assert request.model_spec.name == MODEL_NAME
print("ok")
"""


@pytest.mark.slow
def test_client_imported_before_tensorflow_serving_coexists_with_it():
    # This process shows the other order: tensorflow_serving's messages and the client are both in use here.
    result = subprocess.run(
        [sys.executable, "-c", CLIENT_IMPORTS + TF_SERVING_IMPORTS + USE_BOTH],
        capture_output=True,
        text=True,
        timeout=180,
        env=_child_env(),
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
