"""A scripted stand-in for TF Serving's PredictionService and ModelService, for the client's tests.

It speaks the real API with whichever message classes it is given: TF Serving's own (``tensorflow_serving.apis``,
the default wherever TensorFlow is installed, so that every client test is also an interop test) or the client's
schema (in the protobuf-6 venv without TensorFlow). It is written against field names only, which both share.

Its "model" is deterministic, so a test knows every answer: `fake_embedding(text, version)`. It can fail the next
calls with given status codes, answer slowly, switch versions, and records every request and the peak number of
concurrent calls.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import threading
import time
from concurrent import futures

import grpc
import numpy as np

DT_FLOAT, DT_STRING = 1, 7
STATE_AVAILABLE, STATE_END = 30, 50
MODEL_NAME = "tiny"
DIM = 4
MAX_LENGTH = 6
ROWS = 2
LABELS = ("negative", "positive")
SIGNATURE_DEF_MAP_TYPE_URL = "type.googleapis.com/tensorflow.serving.SignatureDefMap"


@dataclasses.dataclass(frozen=True)
class Messages:
    """The message classes a fake server is built from."""

    source: str
    PredictRequest: type
    PredictResponse: type
    GetModelMetadataRequest: type
    GetModelMetadataResponse: type
    GetModelStatusRequest: type
    GetModelStatusResponse: type
    SignatureDefMap: type


def tf_serving_messages() -> Messages:
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, predict_pb2

    return Messages(
        "tensorflow_serving.apis",
        predict_pb2.PredictRequest,
        predict_pb2.PredictResponse,
        get_model_metadata_pb2.GetModelMetadataRequest,
        get_model_metadata_pb2.GetModelMetadataResponse,
        get_model_status_pb2.GetModelStatusRequest,
        get_model_status_pb2.GetModelStatusResponse,
        get_model_metadata_pb2.SignatureDefMap,
    )


def client_schema_messages() -> Messages:
    from serving.client import schema as pb

    return Messages(
        "serving.client.schema",
        pb.PredictRequest,
        pb.PredictResponse,
        pb.GetModelMetadataRequest,
        pb.GetModelMetadataResponse,
        pb.GetModelStatusRequest,
        pb.GetModelStatusResponse,
        pb.SignatureDefMap,
    )


def default_messages() -> Messages:
    """TF Serving's own messages where TensorFlow Serving's API package is installed, else the client's."""
    try:
        return tf_serving_messages()
    except ImportError:
        return client_schema_messages()


def fake_embedding(text: bytes, version: int) -> np.ndarray:
    """The fake model's vector for `text`: (length, byte sum mod 251, version, 1)."""
    return np.array([len(text), sum(text) % 251, version, 1.0], dtype=np.float32)


def expected_embeddings(texts: list[str], version: int = 1) -> np.ndarray:
    """What the fake model answers for `texts`, (n, DIM)."""
    return np.stack([fake_embedding(text.encode(), version) for text in texts])


def fake_tokens(text: bytes) -> list[bytes]:
    return text.lower().split()[:MAX_LENGTH]


def fill_tensor(tensor, array: np.ndarray, encoding: str) -> None:
    """Writes `array` into a TensorProto, numbers as `tensor_content` or as `float_val` (`encoding="field"`)."""
    for size in array.shape:
        tensor.tensor_shape.dim.add(size=size)
    if array.dtype == object:
        tensor.dtype = DT_STRING
        tensor.string_val.extend(array.ravel().tolist())
    elif encoding == "tensor_content":
        tensor.dtype = DT_FLOAT
        tensor.tensor_content = array.astype("<f4").tobytes()
    else:
        tensor.dtype = DT_FLOAT
        tensor.float_val.extend(array.astype(np.float32).ravel().tolist())


class FakePredictionService:
    """A model named `MODEL_NAME` with the contract's four signatures, served by `serve`.

    Attributes:
        versions: versions currently served (the latest answers when no version is asked for).
        failures: (code, message) pairs; each Predict call takes the first one and fails with it.
        delay: seconds each Predict call sleeps before answering.
        after_predict: called with the service after each successful Predict (e.g. to add a version).
        requests: every PredictRequest received, in arrival order.
        max_active: the largest number of Predict calls handled at the same time.
    """

    def __init__(self, messages: Messages, *, versions=(1,), encoding: str = "tensor_content"):
        self.messages = messages
        self.versions = list(versions)
        self.labels = {"stable": min(versions)}
        self.failed_versions: dict[int, str] = {}
        self.encoding = encoding
        self.failures: list[tuple[grpc.StatusCode, str]] = []
        self.delay = 0.0
        self.after_predict = None
        self.requests: list = []
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    # --------------------------------------------------------------------------------------------- helpers
    def _version(self, spec, context) -> int:
        if spec.name != MODEL_NAME:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        choice = spec.WhichOneof("version_choice")
        if choice == "version":
            if spec.version.value not in self.versions:
                context.abort(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: Specific({spec.name}, {spec.version.value})",
                )
            return spec.version.value
        if choice == "version_label":
            if spec.version_label not in self.labels:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {spec.version_label}"
                )
            return self.labels[spec.version_label]
        return max(self.versions)

    def _outputs(self, signature: str, texts: list[bytes], version: int, context) -> dict[str, np.ndarray]:
        if signature in ("", "serving_default"):
            vectors = np.stack([fake_embedding(t, version) for t in texts]) if texts else np.zeros((0, DIM))
            return {"embedding": vectors.astype(np.float32)}  # (B, DIM)
        if signature == "classify":
            scores = np.array([[len(t) % 3, 1.0] for t in texts], dtype=np.float32).reshape(-1, 2)
            probabilities = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)  # (B, 2)
            labels = np.array([[label.encode() for label in LABELS]] * len(texts), dtype=object).reshape(
                -1, 2
            )  # (B, 2)
            return {"probabilities": probabilities, "labels": labels}
        if signature == "attention":
            tokens = np.full((len(texts), MAX_LENGTH), b"", dtype=object)  # (B, L)
            weights = np.zeros((len(texts), ROWS, MAX_LENGTH), dtype=np.float32)  # (B, R, L)
            for row, text in enumerate(texts):
                words = fake_tokens(text) or [b"[EMPTY]"]
                tokens[row, : len(words)] = words
                weights[row, :, : len(words)] = 1.0 / len(words)
            return {"tokens": tokens, "attention": weights}
        if signature == "metadata":
            document = json.dumps({"architecture": "fake", "embedding_dim": DIM, "labels": list(LABELS)}).encode()
            return {"metadata": np.array([document] * len(texts), dtype=object)}
        context.abort(
            grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature name: "{signature}" not found in signature def'
        )

    # ----------------------------------------------------------------------------------------------- RPCs
    def predict(self, request, context):
        with self._lock:
            self.requests.append(request)
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            failure = self.failures.pop(0) if self.failures else None
        try:
            if failure is not None:
                context.abort(*failure)
            if self.delay:
                time.sleep(self.delay)
            version = self._version(request.model_spec, context)
            if "text" not in request.inputs:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input tensor alias not found in signature: {sorted(request.inputs)}",
                )
            tensor = request.inputs["text"]
            if tensor.dtype != DT_STRING:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Expects arg[0] to be string but {tensor.dtype} is provided"
                )
            texts = list(tensor.string_val)
            response = self.messages.PredictResponse()
            response.model_spec.name = MODEL_NAME
            response.model_spec.version.value = version
            response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
            for name, array in self._outputs(request.model_spec.signature_name, texts, version, context).items():
                if request.output_filter and name not in request.output_filter:
                    continue
                fill_tensor(response.outputs[name], array, self.encoding)
        finally:
            with self._lock:
                self.active -= 1
        if self.after_predict is not None:
            self.after_predict(self)
        return response

    def get_model_metadata(self, request, context):
        version = self._version(request.model_spec, context)
        if list(request.metadata_field) != ["signature_def"]:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Metadata field signature_def is required")
        signature_map = self.messages.SignatureDefMap()
        for signature in ("serving_default", "classify", "attention", "metadata"):
            definition = signature_map.signature_def[signature]
            definition.method_name = "tensorflow/serving/predict"
            definition.inputs["text"].name = "serving_default_text:0"
            definition.inputs["text"].dtype = DT_STRING
            definition.inputs["text"].tensor_shape.dim.add(size=-1)
            for name, array in self._outputs(signature, [b"x"], version, context).items():
                info = definition.outputs[name]
                info.name = f"StatefulPartitionedCall:{name}"
                info.dtype = DT_STRING if array.dtype == object else DT_FLOAT
                info.tensor_shape.dim.add(size=-1)
                for size in array.shape[1:]:
                    info.tensor_shape.dim.add(size=size)
        response = self.messages.GetModelMetadataResponse()
        response.model_spec.name = MODEL_NAME
        response.model_spec.version.value = version
        packed = response.metadata["signature_def"]
        packed.type_url = SIGNATURE_DEF_MAP_TYPE_URL
        packed.value = signature_map.SerializeToString()
        return response

    def get_model_status(self, request, context):
        spec = request.model_spec
        if spec.name != MODEL_NAME:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
        statuses = [(v, STATE_AVAILABLE, 0, "") for v in self.versions]
        statuses += [(v, STATE_END, 3, message) for v, message in self.failed_versions.items()]
        if spec.HasField("version"):
            statuses = [s for s in statuses if s[0] == spec.version.value]
            if not statuses:
                context.abort(
                    grpc.StatusCode.NOT_FOUND, f"Could not find version {spec.version.value} of model {spec.name}"
                )
        response = self.messages.GetModelStatusResponse()
        for version, state, code, message in statuses:
            status = response.model_version_status.add(version=version, state=state)
            status.status.error_code = code
            status.status.error_message = message
        return response

    def handlers(self) -> list:
        m = self.messages

        def unary(fn, request, response):
            return grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=request.FromString, response_serializer=response.SerializeToString
            )

        return [
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.PredictionService",
                {
                    "Predict": unary(self.predict, m.PredictRequest, m.PredictResponse),
                    "GetModelMetadata": unary(
                        self.get_model_metadata, m.GetModelMetadataRequest, m.GetModelMetadataResponse
                    ),
                },
            ),
            grpc.method_handlers_generic_handler(
                "tensorflow.serving.ModelService",
                {"GetModelStatus": unary(self.get_model_status, m.GetModelStatusRequest, m.GetModelStatusResponse)},
            ),
        ]


def start_server(handlers: list, port: int = 0, server_credentials=None, workers: int = 16) -> tuple[grpc.Server, int]:
    """Starts a gRPC server with `handlers` on 127.0.0.1:`port` (0: a free one); returns it and its port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    server.add_generic_rpc_handlers(handlers)
    address = f"127.0.0.1:{port}"
    port = (
        server.add_insecure_port(address)
        if server_credentials is None
        else server.add_secure_port(address, server_credentials)
    )
    server.start()
    return server, port


@contextlib.contextmanager
def serve(handlers: list, server_credentials: grpc.ServerCredentials | None = None):
    """Runs a gRPC server with `handlers` on a free 127.0.0.1 port; yields its target."""
    server, port = start_server(handlers, server_credentials=server_credentials)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


#: Python source that makes TensorFlow (and everything built on it) impossible to import; prepend it to a
#: ``python -c`` script to prove that what follows does not need TensorFlow.
BLOCK_TENSORFLOW = """
import importlib.abc, sys
class _BlockTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"tensorflow", "tensorflow_serving", "keras", "tf_keras", "tensorboard"}:
            raise ImportError(f"{name} is blocked in this process")
sys.meta_path.insert(0, _BlockTensorFlow())
"""
