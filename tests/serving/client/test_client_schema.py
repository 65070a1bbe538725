"""The client's own TF Serving schema: it builds in a private pool and round-trips its messages.

(Field-by-field equality with TF Serving's descriptors is checked in test_client_interop.py, where TensorFlow is.)
"""

from __future__ import annotations

from google.protobuf import descriptor_pool

from serving.client import schema as pb


def test_messages_live_in_a_private_pool_under_their_own_package():
    assert pb.POOL is not descriptor_pool.Default()
    assert pb.PredictRequest.DESCRIPTOR.full_name == "sentence_embedder.client.v1.PredictRequest"
    assert pb.PredictRequest.DESCRIPTOR.file.pool is pb.POOL
    # Nothing of ours was added to the default pool, where TensorFlow's messages live.
    default = descriptor_pool.Default()
    for name in ("sentence_embedder.client.v1.PredictRequest", "sentence_embedder.client.v1.TensorProto"):
        try:
            default.FindMessageTypeByName(name)
        except KeyError:
            continue
        raise AssertionError(f"{name} leaked into the default descriptor pool")


def test_predict_request_round_trips_with_maps_oneofs_and_packed_floats():
    request = pb.PredictRequest()
    request.model_spec.name = "default"
    request.model_spec.version.value = 0
    request.model_spec.signature_name = "serving_default"
    request.inputs["text"].dtype = pb.DATA_TYPES["DT_STRING"]
    request.inputs["text"].tensor_shape.dim.add(size=2)
    request.inputs["text"].string_val.extend([b"a", "é".encode()])
    request.output_filter.append("embedding")
    parsed = pb.PredictRequest.FromString(request.SerializeToString())
    assert parsed == request
    assert parsed.model_spec.WhichOneof("version_choice") == "version" and parsed.model_spec.version.value == 0
    parsed.model_spec.version_label = "stable"  # the oneof switches to the label
    assert parsed.model_spec.WhichOneof("version_choice") == "version_label"
    response = pb.PredictResponse()
    response.outputs["embedding"].float_val.extend([0.5, -1.25])
    # proto3 packs repeated numbers: tag 5, wire type 2 (0x2A), then the length.
    assert b"\x2a\x08" in response.outputs["embedding"].SerializeToString()


def test_metadata_response_carries_a_signature_def_map_in_any():
    signatures = pb.SignatureDefMap()
    signatures.signature_def["serving_default"].outputs["embedding"].dtype = pb.DATA_TYPES["DT_FLOAT"]
    response = pb.GetModelMetadataResponse()
    response.metadata["signature_def"].type_url = pb.SIGNATURE_DEF_MAP_TYPE_URL
    response.metadata["signature_def"].value = signatures.SerializeToString()
    parsed = pb.GetModelMetadataResponse.FromString(response.SerializeToString())
    inner = pb.SignatureDefMap.FromString(parsed.metadata["signature_def"].value)
    assert inner.signature_def["serving_default"].outputs["embedding"].dtype == pb.DATA_TYPES["DT_FLOAT"]


def test_status_names():
    assert pb.MODEL_VERSION_STATE_NAMES[30] == "AVAILABLE" and pb.MODEL_VERSION_STATE_NAMES[0] == "UNKNOWN"
    assert pb.DATA_TYPE_NAMES[7] == "DT_STRING"
