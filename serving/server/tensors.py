"""`TensorProto` ↔ numpy for the embedded server, with TF Serving's request checks and messages.

Strings travel as ``string_val`` both ways; numeric outputs go out as ``tensor_content`` (one copy of the
buffer, the cheapest encoding to build and to parse). Both are standard encodings: ``tf.make_ndarray`` and any
TF Serving client read them.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from serving.server.errors import invalid_argument, resource_exhausted
from serving.server.request_limits import REFUSE, RequestLimits, truncate_utf8


def dtype_name(dtype: int) -> str:
    """``DT_STRING`` for the enum value of tf.string, and so on."""
    try:
        return types_pb2.DataType.Name(dtype)
    except ValueError:
        return f"DataType({dtype})"


def proto_shape(shape: tensor_shape_pb2.TensorShapeProto) -> list[int] | None:
    """The dimensions of a shape proto (-1 for unknown ones), or None for an unknown rank."""
    if shape.unknown_rank:
        return None
    return [dim.size for dim in shape.dim]


def _format_shape(shape: list[int] | None) -> str:
    return "<unknown rank>" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def check_shape(alias: str, signature_name: str, shape: list[int] | None, expected: list[int] | None) -> None:
    """Raises INVALID_ARGUMENT when `shape` does not fit the signature's `expected` shape (-1: any size)."""
    if expected is None:
        return
    if shape is None or len(shape) != len(expected):
        raise invalid_argument(
            f"Input '{alias}' of signature '{signature_name}' must have rank {len(expected)} (shape "
            f"{_format_shape(expected)}); the request sent shape {_format_shape(shape)}."
        )
    for got, want in zip(shape, expected):
        if want >= 0 and got != want:
            raise invalid_argument(
                f"Input '{alias}' of signature '{signature_name}' must have shape {_format_shape(expected)}; "
                f"the request sent shape {_format_shape(shape)}."
            )


def _sent_value_count(proto: tensor_pb2.TensorProto, dtype: int) -> int:
    """How many values a non-string tensor carries (in ``tensor_content`` or its ``*_val`` field)."""
    per_value = 2 if dtype in (types_pb2.DT_COMPLEX64, types_pb2.DT_COMPLEX128) else 1
    repeated = sum(len(value) for field, value in proto.ListFields() if field.label == field.LABEL_REPEATED)
    return repeated // per_value


def to_ndarray(
    proto: tensor_pb2.TensorProto,
    alias: str,
    signature_name: str,
    dtype: int,
    shape: list[int] | None,
    limits: RequestLimits | None = None,
):
    """The request tensor `alias` as a numpy array, after checking it against the signature and `limits`.

    Every check is made from the declared shape and the values' lengths, before anything is allocated: the
    dtype and shape against the signature, the rows against ``limits.max_rows_per_request``, the values sent
    against the shape (as many as it holds, or one to fill it with, as ``tf.make_tensor_proto`` sends for a
    scalar; TensorFlow's rule of repeating the last of fewer values is not followed, as it lets a tiny request
    declare any size), their bytes against ``limits.max_request_bytes``, and each text against
    ``limits.max_text_bytes`` (truncated or refused). Strings become an object array of ``bytes`` (no decoding:
    the graph replaces invalid UTF-8 itself).

    Raises:
        ServingError: INVALID_ARGUMENT for a wrong dtype or shape, values that do not fit the shape, too many
            rows or (in refuse mode) too long a text; RESOURCE_EXHAUSTED for a request over its byte limit.
    """
    limits = limits or RequestLimits()
    if proto.dtype != dtype:
        raise invalid_argument(
            f"Input '{alias}' of signature '{signature_name}' expects dtype {dtype_name(dtype)}; the request sent "
            f"{dtype_name(proto.dtype)}."
        )
    got_shape = proto_shape(proto.tensor_shape)
    check_shape(alias, signature_name, got_shape, shape)
    if got_shape is None:
        raise invalid_argument(f"Input '{alias}' has an unknown rank; send its shape.")
    if any(d < 0 for d in got_shape):
        raise invalid_argument(f"Input '{alias}' has a negative dimension: {_format_shape(got_shape)}.")
    rows = got_shape[0] if got_shape else 1
    if rows > limits.max_rows_per_request:
        raise invalid_argument(
            f"Input '{alias}' has {rows} rows (shape {_format_shape(got_shape)}), over the limit of "
            f"{limits.max_rows_per_request} rows per request (--max_rows_per_request); split it into smaller "
            "requests."
        )
    count = math.prod(got_shape)  # Python integers: no overflow, whatever the declared dimensions
    if dtype == types_pb2.DT_STRING:
        return _string_array(proto.string_val, alias, got_shape, count, limits)
    sent = _sent_value_count(proto, dtype)
    try:
        itemsize = tf.as_dtype(dtype).size
    except (TypeError, ValueError):
        raise invalid_argument(f"Input '{alias}' has an unsupported dtype {dtype_name(dtype)}.") from None
    if count * itemsize > limits.max_request_bytes:
        raise _too_many_bytes(alias, count * itemsize, got_shape, limits)
    if proto.tensor_content:
        if len(proto.tensor_content) != count * itemsize:
            raise invalid_argument(
                f"tensor parsing error: {alias}: shape {_format_shape(got_shape)} holds {count} values "
                f"({count * itemsize} bytes) but tensor_content has {len(proto.tensor_content)} bytes."
            )
    elif sent > 1 and sent != count:
        raise _count_mismatch(alias, got_shape, count, sent)
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # noqa: BLE001 - any decoding failure is the client's malformed tensor
        raise invalid_argument(f"tensor parsing error: {alias}: {error}") from None


def _count_mismatch(alias: str, shape: list[int], count: int, sent: int):
    return invalid_argument(
        f"tensor parsing error: {alias}: shape {_format_shape(shape)} holds {count} values but the request sent "
        f"{sent}; send as many values as the shape holds (or one, to fill it)."
    )


def _too_many_bytes(alias: str, size: int, shape: list[int], limits: RequestLimits):
    return resource_exhausted(
        f"Input '{alias}' holds {size} bytes of values (shape {_format_shape(shape)}), over the limit of "
        f"{limits.max_request_bytes} bytes per request (--max_request_bytes); split it into smaller requests."
    )


def _string_array(values, alias: str, shape: list[int], count: int, limits: RequestLimits) -> np.ndarray:
    sent = len(values)
    if sent > 1 and sent != count or sent > count:
        raise _count_mismatch(alias, shape, count, sent)
    lengths = [len(value) for value in values]
    total = sum(lengths) if sent == count else count * (lengths[0] if lengths else 0)
    if total > limits.max_request_bytes:
        raise _too_many_bytes(alias, total, shape, limits)
    if lengths and max(lengths) > limits.max_text_bytes:
        if limits.text_length_mode == REFUSE:
            row = next(i for i, n in enumerate(lengths) if n > limits.max_text_bytes)
            raise invalid_argument(
                f"Input '{alias}' value {row} is {lengths[row]} bytes, over the limit of {limits.max_text_bytes} "
                f"bytes per text (--max_text_bytes, with --text_length_mode={REFUSE}); shorten it."
            )
        values = [truncate_utf8(value, limits.max_text_bytes) for value in values]
    array = np.empty(count, dtype=object)
    if sent == count:
        array[:] = list(values)
    else:
        array[:] = values[0] if sent else b""
    return array.reshape(shape)


def from_ndarray(array: np.ndarray) -> tensor_pb2.TensorProto:
    """A TensorProto for an output array (numeric: ``tensor_content``; strings: ``string_val``)."""
    array = np.asarray(array)
    proto = tensor_pb2.TensorProto()
    proto.tensor_shape.dim.extend(tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape)
    if array.dtype == object or array.dtype.kind in "SU":
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(v if isinstance(v, bytes) else str(v).encode("utf-8") for v in array.ravel())
        return proto
    proto.dtype = tf.as_dtype(array.dtype).as_datatype_enum
    proto.tensor_content = np.ascontiguousarray(array).tobytes()
    return proto
