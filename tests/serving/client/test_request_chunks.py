"""Chunk planning under batch and byte limits, and reassembly in input order."""

from __future__ import annotations

import numpy as np
import pytest

from serving.client import schema as pb
from serving.client.errors import InvalidInput
from serving.client.request_chunks import REQUEST_OVERHEAD_BYTES, assemble, encoded_size, plan_chunks


def test_encoded_size_matches_the_serialized_size():
    texts = [b"", b"a", b"x" * 127, b"y" * 128, b"z" * 20000]
    for text in texts:
        assert pb.TensorProto(string_val=[text]).ByteSize() == encoded_size(text)
    assert pb.TensorProto(string_val=texts).ByteSize() == sum(map(encoded_size, texts))


def test_small_input_is_one_chunk_in_order():
    (chunk,) = plan_chunks([b"bb", b"a", b"ccc"], max_batch_size=3, max_request_bytes=4096)
    assert chunk.tolist() == [0, 1, 2]
    assert [c.tolist() for c in plan_chunks([], 8, 4096)] == [[]]


def test_chunks_cover_every_text_once_under_both_limits():
    rng = np.random.default_rng(0)
    texts = [b"w" * int(n) for n in rng.integers(0, 400, size=200)]
    limit = 4096
    chunks = plan_chunks(texts, max_batch_size=16, max_request_bytes=limit)
    assert sorted(np.concatenate(chunks).tolist()) == list(range(200))
    for chunk in chunks:
        assert 1 <= len(chunk) <= 16
        assert sum(encoded_size(texts[i]) for i in chunk) <= limit - REQUEST_OVERHEAD_BYTES
    lengths = [len(texts[i]) for chunk in chunks for i in chunk]
    assert lengths == sorted(lengths, reverse=True)  # longest first, so each chunk pads little


def test_an_oversized_text_is_refused():
    with pytest.raises(InvalidInput, match="position 1 is 5000 bytes, over the 3072-byte limit"):
        plan_chunks([b"a", b"b" * 5000], max_batch_size=4, max_request_bytes=4096)


def test_assemble_restores_input_order():
    chunks = [np.array([2, 0]), np.array([1])]
    outputs = [{"v": np.array([[2.0], [0.0]])}, {"v": np.array([[1.0]])}]
    np.testing.assert_array_equal(assemble(3, chunks, outputs)["v"], [[0.0], [1.0], [2.0]])


@pytest.mark.parametrize(
    "outputs, match",
    [
        ([{"v": np.zeros((2, 1))}, {"w": np.zeros((1, 1))}], "outputs"),
        ([{"v": np.zeros((3, 1))}, {"v": np.zeros((1, 1))}], "for 2 inputs"),
        ([{"v": np.zeros((2, 1))}, {"v": np.zeros((1, 5))}], "inconsistent shapes"),
    ],
)
def test_assemble_rejects_inconsistent_chunks(outputs, match):
    with pytest.raises(ValueError, match=match):
        assemble(3, [np.array([2, 0]), np.array([1])], outputs)
