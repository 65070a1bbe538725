"""TensorProto ↔ numpy for the light client, without TensorFlow (`tf.make_tensor_proto` / `tf.make_ndarray`).

A server may write a tensor's values either as raw little-endian bytes in ``tensor_content`` or in the typed
repeated field (``float_val``, ``string_val``…); TF Serving's gRPC Predict uses the typed fields, other servers
``tensor_content``. Both are read here, including TensorFlow's shorthand of a repeated field shorter than the tensor
(the last value fills the rest, as ``tf.make_ndarray`` does) and its string-list ``tensor_content`` layout (all
lengths as varints, then all the bytes).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serving.client import schema as pb

DT_STRING = pb.DATA_TYPES["DT_STRING"]

# DataType → (numpy dtype, the repeated field holding the values), for the types a served model returns.
_NUMERIC = {
    pb.DATA_TYPES["DT_FLOAT"]: (np.float32, "float_val"),
    pb.DATA_TYPES["DT_DOUBLE"]: (np.float64, "double_val"),
    pb.DATA_TYPES["DT_HALF"]: (np.float16, "half_val"),
    pb.DATA_TYPES["DT_INT8"]: (np.int8, "int_val"),
    pb.DATA_TYPES["DT_INT16"]: (np.int16, "int_val"),
    pb.DATA_TYPES["DT_INT32"]: (np.int32, "int_val"),
    pb.DATA_TYPES["DT_INT64"]: (np.int64, "int64_val"),
    pb.DATA_TYPES["DT_UINT8"]: (np.uint8, "int_val"),
    pb.DATA_TYPES["DT_UINT16"]: (np.uint16, "int_val"),
    pb.DATA_TYPES["DT_UINT32"]: (np.uint32, "uint32_val"),
    pb.DATA_TYPES["DT_UINT64"]: (np.uint64, "uint64_val"),
    pb.DATA_TYPES["DT_BOOL"]: (np.bool_, "bool_val"),
}


def encode_text(text: str | bytes) -> bytes:
    """UTF-8 bytes of one input text (bytes pass through: the model's text ops handle invalid UTF-8)."""
    return text if isinstance(text, bytes) else text.encode("utf-8")


def string_tensor(values: Sequence[bytes]) -> pb.TensorProto:
    """A rank-1 DT_STRING TensorProto holding `values` (already encoded)."""
    tensor = pb.TensorProto(dtype=DT_STRING)
    tensor.tensor_shape.dim.add(size=len(values))
    tensor.string_val.extend(values)
    return tensor


def tensor_shape(tensor: pb.TensorProto) -> tuple[int, ...]:
    """The static shape of a TensorProto (a tensor in a response has a fully known one)."""
    shape = tuple(int(dim.size) for dim in tensor.tensor_shape.dim)
    if tensor.tensor_shape.unknown_rank or any(size < 0 for size in shape):
        raise ValueError(f"Received a tensor of unknown shape: {shape}.")
    return shape


def _read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(buffer):
            raise ValueError("Truncated string tensor_content: a varint runs past the end.")
        byte = buffer[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _decode_string_content(content: bytes, count: int) -> list[bytes]:
    lengths, position = [], 0
    for _ in range(count):
        length, position = _read_varint(content, position)
        lengths.append(length)
    if position + sum(lengths) != len(content):
        raise ValueError(
            f"Malformed string tensor_content: {count} lengths add up to {sum(lengths)} bytes, "
            f"but {len(content) - position} follow them."
        )
    values = []
    for length in lengths:
        values.append(content[position : position + length])
        position += length
    return values


def _fill(values, count: int, field: str) -> list:
    """Applies TensorFlow's shorthand: a repeated field shorter than the tensor repeats its last value."""
    values = list(values)
    if len(values) == count:
        return values
    if 0 < len(values) < count:
        return values + [values[-1]] * (count - len(values))
    raise ValueError(f"A tensor of {count} elements holds {len(values)} values in `{field}`.")


def to_numpy(tensor: pb.TensorProto) -> np.ndarray:
    """The numpy array a TensorProto holds (DT_STRING → an object array of bytes).

    Raises:
        ValueError: the dtype is not a plain numeric or string type, or the values do not fit the shape.
    """
    shape = tensor_shape(tensor)
    count = int(np.prod(shape, dtype=np.int64))
    if tensor.dtype == DT_STRING:
        if tensor.tensor_content:
            values = _decode_string_content(tensor.tensor_content, count)
        else:
            values = _fill(tensor.string_val, count, "string_val") if count else []
        array = np.empty(count, dtype=object)
        array[:] = values
        return array.reshape(shape)
    if tensor.dtype not in _NUMERIC:
        name = pb.DATA_TYPE_NAMES.get(tensor.dtype, str(tensor.dtype))
        raise ValueError(f"Received a tensor of dtype {name}, which the client does not decode.")
    dtype, field = _NUMERIC[tensor.dtype]
    if tensor.tensor_content:
        expected = count * np.dtype(dtype).itemsize
        if len(tensor.tensor_content) != expected:
            raise ValueError(
                f"A {dtype.__name__} tensor of shape {shape} needs {expected} bytes of tensor_content, "
                f"received {len(tensor.tensor_content)}."
            )
        little_endian = np.dtype(dtype).newbyteorder("<")
        return np.frombuffer(tensor.tensor_content, dtype=little_endian).astype(dtype).reshape(shape)
    values = _fill(getattr(tensor, field), count, field) if count else []
    if field == "half_val":
        # half_val holds each float16's bit pattern in an int32.
        return np.asarray(values, dtype=np.uint16).view(np.float16).reshape(shape)
    return np.asarray(values, dtype=dtype).reshape(shape)
