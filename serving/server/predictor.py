"""Runs a ``PredictRequest`` on a servable with TF Serving's checks, status codes and response layout.

Used by the Predict RPC and by warm-up replay, so warm-up exercises exactly the path real requests take.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from serving.server.errors import failed_precondition, invalid_argument
from serving.server.request_limits import RequestLimits
from serving.server.servable import INIT_OP_SIGNATURE_KEY, Servable, Signature
from serving.server.tensors import from_ndarray, to_ndarray

#: The signature a request without ``signature_name`` gets (TF Serving's default).
DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY


def resolve_signature(servable: Servable, signature_name: str) -> Signature:
    """The signature a request names (the default one when empty); FAILED_PRECONDITION when there is none."""
    name = signature_name or DEFAULT_SIGNATURE
    signature = servable.signatures.get(name) if name != INIT_OP_SIGNATURE_KEY else None
    if signature is None:
        raise failed_precondition(
            f'Serving signature key "{name}" not found. Model {servable.model_name!r} version {servable.version} '
            f"has the signatures {sorted(servable.signatures)}."
        )
    return signature


def _inputs_message(signature: Signature, sent: list[str]) -> str:
    expected = sorted(signature.inputs)
    extra = sorted(set(sent) - set(expected))
    missing = sorted(set(expected) - set(sent))
    parts = [f"input size does not match signature '{signature.name}': {len(sent)}!={len(expected)}."]
    if missing:
        parts.append(f"Missing but required: {missing}.")
    if extra:
        parts.append(f"Sent extra: {extra}.")
    parts.append(f"The signature takes {expected}.")
    return " ".join(parts)


def predict(
    servable: Servable,
    request: predict_pb2.PredictRequest,
    timeout: float | None = None,
    limits: RequestLimits | None = None,
):
    """Checks and runs `request` on `servable`; returns the ``PredictResponse`` (with its ``model_spec``).

    The request's tensors are checked against the signature and `limits` (default `RequestLimits()`) from their
    declared shapes, before any of their rows is built (so also before the batcher sees them).

    Raises:
        ServingError: FAILED_PRECONDITION for an unknown signature; INVALID_ARGUMENT for missing or extra
            inputs, a wrong dtype or shape, values that do not fit their shape, an unknown output filter, a batch
            or a text over its limit; RESOURCE_EXHAUSTED for a request over its byte limit; UNAVAILABLE when the
            batching queue is full. TensorFlow errors from inside the graph pass through with their code.
    """
    signature = resolve_signature(servable, request.model_spec.signature_name)
    sent = list(request.inputs.keys())
    if set(sent) != set(signature.inputs):
        raise invalid_argument(_inputs_message(signature, sent))
    inputs = {
        alias: to_ndarray(request.inputs[alias], alias, signature.name, spec.dtype, spec.shape, limits)
        for alias, spec in signature.inputs.items()
    }
    batch_sizes = {alias: (array.shape[0] if array.ndim else 1) for alias, array in inputs.items()}
    if len(set(batch_sizes.values())) > 1:
        raise invalid_argument(f"Inputs of signature '{signature.name}' have different batch sizes: {batch_sizes}.")
    for alias in request.output_filter:
        if alias not in signature.outputs:
            raise invalid_argument(
                f"output tensor alias not found in signature: {alias}. Outputs expected to be in the set "
                f"{sorted(signature.outputs)}."
            )
    batch_size = next(iter(batch_sizes.values()), 0)
    outputs = servable.run(signature.name, inputs, batch_size, timeout)
    response = predict_pb2.PredictResponse()
    response.model_spec.name = servable.model_name
    response.model_spec.version.value = servable.version
    response.model_spec.signature_name = signature.name
    for alias in request.output_filter or signature.outputs:
        response.outputs[alias].CopyFrom(from_ndarray(outputs[alias]))
    return response
