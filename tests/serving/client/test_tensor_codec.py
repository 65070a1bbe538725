"""TensorProto → numpy without TensorFlow: both encodings, TensorFlow's shorthands, and malformed tensors."""

from __future__ import annotations

import numpy as np
import pytest

from serving.client import schema as pb
from serving.client.tensor_codec import string_tensor, to_numpy

DT = pb.DATA_TYPES


def tensor(dtype: str, shape, **fields):
    proto = pb.TensorProto(dtype=DT[dtype], **fields)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    return proto


@pytest.mark.parametrize(
    "dtype, numpy_dtype, field",
    [
        ("DT_FLOAT", np.float32, "float_val"),
        ("DT_DOUBLE", np.float64, "double_val"),
        ("DT_INT32", np.int32, "int_val"),
        ("DT_INT64", np.int64, "int64_val"),
        ("DT_UINT8", np.uint8, "int_val"),
        ("DT_BOOL", np.bool_, "bool_val"),
    ],
)
def test_tensor_content_and_typed_field_give_the_same_array(dtype, numpy_dtype, field):
    values = (np.arange(6) % 4).astype(numpy_dtype).reshape(2, 3)
    from_content = to_numpy(
        tensor(dtype, (2, 3), tensor_content=values.astype(values.dtype.newbyteorder("<")).tobytes())
    )
    from_field = to_numpy(tensor(dtype, (2, 3), **{field: values.ravel().tolist()}))
    for array in (from_content, from_field):
        assert array.dtype == numpy_dtype and array.shape == (2, 3)
        np.testing.assert_array_equal(array, values)
    from_content[0, 0] = 1  # a writable copy, not a view of the message's bytes


def test_half_val_holds_bit_patterns():
    values = np.array([0.5, -2.0, 65504.0], dtype=np.float16)
    array = to_numpy(tensor("DT_HALF", (3,), half_val=values.view(np.uint16).tolist()))
    np.testing.assert_array_equal(array, values)


def test_a_short_repeated_field_repeats_its_last_value():
    np.testing.assert_array_equal(to_numpy(tensor("DT_FLOAT", (2, 2), float_val=[0.0, 7.0])), [[0.0, 7.0], [7.0, 7.0]])
    assert to_numpy(tensor("DT_FLOAT", (0, 4))).shape == (0, 4)


def test_strings_from_string_val_and_from_tensor_content():
    words = [b"ab", b"", "é".encode() * 100]
    # TensorFlow's string list layout: every length as a varint, then every string's bytes.
    content = bytes([2, 0, 200, 1]) + b"".join(words)
    for proto in (tensor("DT_STRING", (3,), string_val=words), tensor("DT_STRING", (3,), tensor_content=content)):
        array = to_numpy(proto)
        assert array.dtype == object and array.tolist() == words


def test_string_tensor_builds_a_rank_one_string_tensor():
    proto = string_tensor([b"x", b"yz"])
    assert proto.dtype == DT["DT_STRING"] and [d.size for d in proto.tensor_shape.dim] == [2]
    assert to_numpy(proto).tolist() == [b"x", b"yz"]


@pytest.mark.parametrize(
    "proto, match",
    [
        (tensor("DT_FLOAT", (3,), float_val=[1.0] * 4), "3 elements holds 4 values"),
        (tensor("DT_FLOAT", (2,), tensor_content=b"\x00" * 7), "needs 8 bytes"),
        (tensor("DT_STRING", (2,), tensor_content=bytes([3, 1]) + b"abcde"), "add up to 4 bytes, but 5"),
        (tensor("DT_STRING", (2,), tensor_content=bytes([0x80])), "varint runs past the end"),
        (tensor("DT_COMPLEX64", (1,)), "DT_COMPLEX64"),
        (tensor("DT_FLOAT", (-1,)), "unknown shape"),
    ],
)
def test_malformed_tensors_raise_value_error(proto, match):
    with pytest.raises(ValueError, match=match):
        to_numpy(proto)
