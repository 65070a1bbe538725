"""TF Serving's REST predict API as JSON ↔ ``PredictRequest`` / ``PredictResponse``.

``POST /v1/models/<name>[/versions/<v> | /labels/<l>]:predict`` takes TF Serving's two layouts:

- row ("instances"): a list with one entry per example; an entry is the input's value when the signature has
  one input, or an object ``{input: value}`` otherwise. Answered ``{"predictions": [...]}``: one value per
  example for a single output, else one ``{output: value}`` object per example.
- columnar ("inputs"): the whole batch per input, as a value (one input) or an object ``{input: value}``.
  Answered ``{"outputs": value}`` for a single output, else ``{"outputs": {output: value}}``.

Strings are JSON strings (UTF-8) or ``{"b64": "<base64>"}`` for arbitrary bytes. Outputs: numbers as JSON
numbers (a float32 prints as the shortest decimal that reads back to it, so nothing is lost), strings as JSON
strings, and as ``{"b64": ...}`` when the output's name ends in ``_bytes`` (TF Serving's rule) or when the bytes
are not valid UTF-8 (which TF Serving would write as invalid JSON).

The request is converted to a ``PredictRequest`` and run through the same `predict` as the gRPC API, so every
check, limit and status code is the same on both ports.
"""

from __future__ import annotations

import base64
import binascii
import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2

from serving.server.errors import invalid_argument
from serving.server.predictor import resolve_signature
from serving.server.servable import Servable
from serving.server.tensors import from_ndarray

ROW_FORMAT = "instances"
COLUMNAR_FORMAT = "inputs"
#: TF Serving encodes string outputs with this name suffix as base64 objects.
BYTES_SUFFIX = "_bytes"
B64_KEY = "b64"


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and B64_KEY in value


def _leaf(value, alias: str, is_string: bool):
    if is_string:
        if isinstance(value, str):
            return value.encode("utf-8")
        if _is_b64(value):
            encoded = value[B64_KEY]
            if not isinstance(encoded, str):
                raise invalid_argument(f"Input '{alias}': a {{\"b64\": ...}} value must hold a string.")
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise invalid_argument(f"Input '{alias}': {encoded[:40]!r} is not valid base64.") from None
        raise invalid_argument(
            f"Input '{alias}' expects strings (or {{\"b64\": ...}} objects); the request sent "
            f"{type(value).__name__} {_excerpt(value)}."
        )
    if isinstance(value, bool) or isinstance(value, (int, float)):
        return value
    raise invalid_argument(
        f"Input '{alias}' expects numbers; the request sent {type(value).__name__} {_excerpt(value)}."
    )


def _excerpt(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _flatten(value, alias: str, is_string: bool) -> tuple[list[int], list]:
    """(shape, leaves) of a nested JSON list; INVALID_ARGUMENT when it is ragged or holds the wrong type."""
    if not isinstance(value, list):
        return [], [_leaf(value, alias, is_string)]
    if not value:
        return [0], []
    shapes_and_leaves = [_flatten(item, alias, is_string) for item in value]
    shape = shapes_and_leaves[0][0]
    leaves = []
    for item_shape, item_leaves in shapes_and_leaves:
        if item_shape != shape:
            raise invalid_argument(
                f"Input '{alias}' is a ragged list: its elements have shapes {shape} and {item_shape}; every "
                "element of a list must have the same shape."
            )
        leaves.extend(item_leaves)
    return [len(value), *shape], leaves


def json_to_ndarray(value, alias: str, dtype: int) -> np.ndarray:
    """A JSON value (number, string, b64 object or nested lists of them) as an array of the input's dtype."""
    is_string = dtype == types_pb2.DT_STRING
    shape, leaves = _flatten(value, alias, is_string)
    if is_string:
        array = np.empty(len(leaves), dtype=object)
        array[:] = leaves
        return array.reshape(shape)
    try:
        return np.asarray(leaves, dtype=tf.dtypes.as_dtype(dtype).as_numpy_dtype).reshape(shape)
    except (OverflowError, ValueError, TypeError) as error:
        raise invalid_argument(f"Input '{alias}': {error}") from None


def _row_inputs(instances, aliases: list[str]) -> dict[str, list]:
    if not isinstance(instances, list):
        raise invalid_argument(f'"{ROW_FORMAT}" must be a list with one entry per example.')
    named = bool(instances) and all(isinstance(row, dict) and not _is_b64(row) for row in instances)
    if not named:
        if len(aliases) != 1:
            raise invalid_argument(
                f'The signature takes {len(aliases)} inputs {aliases}: each entry of "{ROW_FORMAT}" must be an '
                "object naming them."
            )
        return {aliases[0]: instances}
    columns: dict[str, list] = {}
    for position, row in enumerate(instances):
        if sorted(row) != sorted(aliases):
            raise invalid_argument(
                f'Entry {position} of "{ROW_FORMAT}" has the inputs {sorted(row)}; the signature takes {aliases}.'
            )
        for alias, value in row.items():
            columns.setdefault(alias, []).append(value)
    return columns


def _columnar_inputs(inputs, aliases: list[str]) -> dict:
    if isinstance(inputs, dict) and not _is_b64(inputs):
        return inputs
    if len(aliases) != 1:
        raise invalid_argument(
            f'The signature takes {len(aliases)} inputs {aliases}: "{COLUMNAR_FORMAT}" must be an object naming them.'
        )
    return {aliases[0]: inputs}


def request_format(document) -> str:
    """``instances`` or ``inputs``: the layout of a predict body; INVALID_ARGUMENT for anything else."""
    if not isinstance(document, dict):
        raise invalid_argument("The request body must be a JSON object.")
    has_rows, has_columns = ROW_FORMAT in document, COLUMNAR_FORMAT in document
    if has_rows == has_columns:
        raise invalid_argument(
            f'JSON object must contain either "{ROW_FORMAT}" (row format) or "{COLUMNAR_FORMAT}" (columnar format)'
            + (", not both." if has_rows else ".")
        )
    unknown = sorted(set(document) - {ROW_FORMAT, COLUMNAR_FORMAT, "signature_name"})
    if unknown:
        raise invalid_argument(
            f"Unknown keys in the request: {unknown}; expected signature_name and one of "
            f'"{ROW_FORMAT}" or "{COLUMNAR_FORMAT}".'
        )
    return ROW_FORMAT if has_rows else COLUMNAR_FORMAT


def predict_request_from_json(document, servable: Servable) -> tuple[predict_pb2.PredictRequest, str]:
    """The ``PredictRequest`` a REST predict body stands for (addressed to `servable`), and its layout."""
    layout = request_format(document)
    signature_name = document.get("signature_name", "")
    if not isinstance(signature_name, str):
        raise invalid_argument(f'"signature_name" must be a string; received {_excerpt(signature_name)}.')
    signature = resolve_signature(servable, signature_name)
    aliases = sorted(signature.inputs)
    if layout == ROW_FORMAT:
        columns = _row_inputs(document[ROW_FORMAT], aliases)
    else:
        columns = _columnar_inputs(document[COLUMNAR_FORMAT], aliases)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = servable.model_name
    request.model_spec.version.value = servable.version
    request.model_spec.signature_name = signature.name
    for alias, value in columns.items():
        spec = signature.inputs.get(alias)
        # An unknown alias is sent as it is, so `predict` reports it with the gRPC API's message.
        dtype = spec.dtype if spec is not None else types_pb2.DT_STRING
        array = json_to_ndarray(value, alias, dtype)
        if spec is not None and spec.dtype != types_pb2.DT_STRING:
            array = array.astype(tf.dtypes.as_dtype(spec.dtype).as_numpy_dtype)
        request.inputs[alias].CopyFrom(from_ndarray(array))
    return request, layout


def _json_value(array: np.ndarray, alias: str):
    if array.dtype == object or array.dtype.kind == "S":
        always_b64 = alias.endswith(BYTES_SUFFIX)

        def encode(value: bytes):
            if not always_b64:
                try:
                    return value.decode("utf-8")
                except UnicodeDecodeError:
                    pass
            return {B64_KEY: base64.b64encode(value).decode("ascii")}

        flat = [encode(v) for v in array.ravel()]
        return np.array(flat, dtype=object).reshape(array.shape).tolist() if array.ndim else flat[0]
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        # JSON has no NaN or Infinity; TF Serving writes them as these strings.
        def finite(value):
            return (
                value
                if math.isfinite(value)
                else ("NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity"))
            )

        return np.vectorize(finite, otypes=[object])(array.astype(np.float64)).tolist()
    return array.tolist()


def predict_response_to_json(response: predict_pb2.PredictResponse, layout: str) -> dict:
    """TF Serving's JSON answer for `response` in the layout the request used."""
    outputs = {alias: tf.make_ndarray(tensor) for alias, tensor in response.outputs.items()}
    if layout == COLUMNAR_FORMAT:
        values = {alias: _json_value(array, alias) for alias, array in outputs.items()}
        return {"outputs": next(iter(values.values())) if len(values) == 1 else values}
    sizes = {alias: (array.shape[0] if array.ndim else None) for alias, array in outputs.items()}
    if len(set(sizes.values())) > 1 or None in sizes.values():
        raise invalid_argument(
            f"The outputs have different batch sizes {sizes}, so they cannot be split into rows; ask for the "
            f'columnar format ("{COLUMNAR_FORMAT}").'
        )
    columns = {alias: _json_value(array, alias) for alias, array in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    rows = next(iter(sizes.values()), 0)
    return {"predictions": [{alias: column[row] for alias, column in columns.items()} for row in range(rows)]}
