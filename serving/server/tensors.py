"""`TensorProto` ↔ numpy for the embedded server, with TF Serving's request checks and messages.

Strings travel as ``string_val`` both ways; numeric outputs go out as ``tensor_content`` (one copy of the
buffer, the cheapest encoding to build and to parse). Both are standard encodings: ``tf.make_ndarray`` and any
TF Serving client read them.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

from serving.server.errors import invalid_argument


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


def to_ndarray(proto: tensor_pb2.TensorProto, alias: str, signature_name: str, dtype: int, shape: list[int] | None):
    """The request tensor `alias` as a numpy array, after checking its dtype and shape against the signature.

    Strings become an object array of ``bytes`` (no decoding: the graph replaces invalid UTF-8 itself).
    Following TensorFlow's proto rules, fewer values than the shape holds repeat the last one (none: defaults).
    """
    if proto.dtype != dtype:
        raise invalid_argument(
            f"Input '{alias}' of signature '{signature_name}' expects dtype {dtype_name(dtype)}; the request sent "
            f"{dtype_name(proto.dtype)}."
        )
    got_shape = proto_shape(proto.tensor_shape)
    check_shape(alias, signature_name, got_shape, shape)
    if any(d < 0 for d in got_shape):
        raise invalid_argument(f"Input '{alias}' has a negative dimension: {_format_shape(got_shape)}.")
    count = int(np.prod(got_shape, dtype=np.int64))
    if dtype == types_pb2.DT_STRING:
        values = proto.string_val
        if len(values) > count:
            raise invalid_argument(
                f"tensor parsing error: {alias}: shape {_format_shape(got_shape)} holds {count} values but the "
                f"request sent {len(values)}."
            )
        array = np.empty(count, dtype=object)
        if len(values) == count:
            array[:] = list(values)
        else:
            array[: len(values)] = list(values)
            array[len(values) :] = values[-1] if len(values) else b""
        return array.reshape(got_shape)
    try:
        return tf.make_ndarray(proto)
    except Exception as error:  # noqa: BLE001 - any decoding failure is the client's malformed tensor
        raise invalid_argument(f"tensor parsing error: {alias}: {error}") from None


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
