"""An OpenAI-compatible ``POST /v1/embeddings`` on the embedded server's HTTP port.

Request (OpenAI's fields): ``input`` (a string or a list of strings), ``model`` (a served model's name),
optional ``dimensions`` (keep the first N dimensions, then scale back to unit length), ``encoding_format``
(``float``, the default, or ``base64``: the little-endian float32 bytes), ``user`` (ignored). Answer::

    {"object": "list", "model": "default",
     "data": [{"object": "embedding", "index": 0, "embedding": [...]}],
     "usage": {"prompt_tokens": 5, "total_tokens": 5}}

Vectors have unit L2 norm, as OpenAI's do (so a dot product is a cosine); they are the model's
``serving_default`` embeddings, normalised. ``usage`` counts the tokens the model read (`token_count`).
Errors use OpenAI's shape, ``{"error": {"message", "type", "param", "code"}}``, with its HTTP statuses.
"""

from __future__ import annotations

import base64
import dataclasses

import numpy as np
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2

from embedder import contract
from serving.server.errors import ServingError
from serving.server.servable import Servable
from serving.server.token_count import count_tokens, tokenizer_settings

#: OpenAI's limit on the number of inputs of one request.
MAX_INPUTS = 2048
ENCODING_FORMATS = ("float", "base64")
REQUEST_FIELDS = ("input", "model", "dimensions", "encoding_format", "user")

#: gRPC status name → (HTTP status, OpenAI error type).
_ERROR_TYPES = {
    "INVALID_ARGUMENT": (400, "invalid_request_error"),
    "FAILED_PRECONDITION": (400, "invalid_request_error"),
    "OUT_OF_RANGE": (400, "invalid_request_error"),
    "NOT_FOUND": (404, "invalid_request_error"),
    "RESOURCE_EXHAUSTED": (429, "rate_limit_error"),
    "UNAVAILABLE": (503, "server_error"),
    "DEADLINE_EXCEEDED": (504, "server_error"),
}


class OpenAIError(Exception):
    """A request failure in OpenAI's terms: HTTP status, type, the parameter concerned, and a code."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        code: str | None = None,
        error_type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.error_type = error_type

    def to_json(self) -> dict:
        return {"error": {"message": self.message, "type": self.error_type, "param": self.param, "code": self.code}}

    @classmethod
    def from_serving_error(cls, error: ServingError) -> OpenAIError:
        status, error_type = _ERROR_TYPES.get(error.code.name, (500, "server_error"))
        code = "model_not_found" if error.code.name == "NOT_FOUND" else None
        return cls(status, error.message, param="model" if code else None, code=code, error_type=error_type)


def _invalid(message: str, param: str | None) -> OpenAIError:
    return OpenAIError(400, message, param=param)


@dataclasses.dataclass(frozen=True)
class EmbeddingsRequest:
    """A checked ``/v1/embeddings`` request."""

    texts: list[bytes]
    model: str
    dimensions: int | None
    encoding_format: str


def parse_embeddings_request(document) -> EmbeddingsRequest:
    """Checks a request body; raises `OpenAIError` (400) naming the parameter and the limit."""
    if not isinstance(document, dict):
        raise _invalid("The request body must be a JSON object.", None)
    unknown = sorted(set(document) - set(REQUEST_FIELDS))
    if unknown:
        raise _invalid(
            f"Unrecognized request argument supplied: {', '.join(unknown)}. Valid arguments: {list(REQUEST_FIELDS)}.",
            unknown[0],
        )
    model = document.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("You must provide a model parameter: the name of a served model.", "model")
    texts = document.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise _invalid("'input' must be a string or a non-empty list of strings.", "input")
    if len(texts) > MAX_INPUTS:
        raise _invalid(f"'input' holds {len(texts)} strings; at most {MAX_INPUTS} are accepted per request.", "input")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            kind = "token ids" if isinstance(text, (int, list)) else type(text).__name__
            raise _invalid(
                f"'input[{position}]' is {kind}: this server takes text only (its tokenizer runs inside the model).",
                "input",
            )
    dimensions = document.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise _invalid(f"'dimensions' must be a positive integer. Received: {dimensions!r}.", "dimensions")
    encoding_format = document.get("encoding_format") or "float"
    if encoding_format not in ENCODING_FORMATS:
        raise _invalid(
            f"'encoding_format' must be one of {list(ENCODING_FORMATS)}. Received: {encoding_format!r}.",
            "encoding_format",
        )
    user = document.get("user")
    if user is not None and not isinstance(user, str):
        raise _invalid("'user' must be a string.", "user")
    return EmbeddingsRequest([t.encode("utf-8") for t in texts], model, dimensions, encoding_format)


def _predict_request(servable: Servable, texts: list[bytes]) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = servable.model_name
    request.model_spec.version.value = servable.version
    request.model_spec.signature_name = contract.SIGNATURE_EMBED
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING)
    tensor.tensor_shape.dim.add(size=len(texts))
    tensor.string_val.extend(texts)
    request.inputs[contract.INPUT_TEXT].CopyFrom(tensor)
    request.output_filter.append(contract.OUTPUT_EMBEDDING)
    return request


def embed(request: EmbeddingsRequest, servable: Servable, predict, chunk_rows: int | None, timeout: float | None):
    """Runs `request` on `servable` with `predict` (the gRPC API's), at most `chunk_rows` texts a call.

    Returns the JSON answer. Raises `OpenAIError`, or `ServingError` from `predict`.
    """
    import tensorflow as tf

    step = chunk_rows or len(request.texts)
    parts = []
    for start in range(0, len(request.texts), step):
        response = predict(servable, _predict_request(servable, request.texts[start : start + step]), timeout)
        parts.append(tf.make_ndarray(response.outputs[contract.OUTPUT_EMBEDDING]))
    vectors = np.concatenate(parts).astype(np.float32)  # (N, D)
    if request.dimensions is not None:
        if request.dimensions > vectors.shape[1]:
            raise _invalid(
                f"'dimensions' is {request.dimensions}, above model {servable.model_name!r}'s "
                f"{vectors.shape[1]} dimensions.",
                "dimensions",
            )
        vectors = vectors[:, : request.dimensions]  # (N, d)
    vectors = contract.l2_normalize(vectors)  # (N, d), unit rows
    tokens = int(count_tokens(request.texts, tokenizer_settings(str(servable.path))).sum())
    if request.encoding_format == "base64":
        encoded = [base64.b64encode(row.astype("<f4").tobytes()).decode("ascii") for row in vectors]
    else:
        encoded = vectors.tolist()
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": e} for i, e in enumerate(encoded)],
        "model": servable.model_name,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
