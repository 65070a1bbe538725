"""Splitting a large input into Predict requests under the server's batch and message limits, and putting the
answers back in input order.

When one request is enough, the texts go in their original order. Otherwise they are sorted by length first
(longest first, stable), as sentence-transformers' ``encode`` does, so that each chunk holds texts of similar
length and the server pads less; `assemble` undoes the sort.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from serving.client.errors import InvalidInput

#: Bytes reserved in every request for the model spec, the map entry and the tensor's dtype and shape.
REQUEST_OVERHEAD_BYTES = 1024


def _varint_size(value: int) -> int:
    size = 1
    while value >= 0x80:
        value >>= 7
        size += 1
    return size


def encoded_size(text: bytes) -> int:
    """Bytes one text adds to a request: its ``string_val`` tag, length prefix and content."""
    return 1 + _varint_size(len(text)) + len(text)


def plan_chunks(texts: Sequence[bytes], max_batch_size: int, max_request_bytes: int) -> list[np.ndarray]:
    """Indices into `texts` of each request's texts, each chunk at most `max_batch_size` texts and
    `max_request_bytes` serialized bytes.

    An empty input gives one empty chunk, so the server still answers with correctly shaped (0, …) outputs.

    Raises:
        InvalidInput: one text alone is over the message limit.
    """
    budget = max_request_bytes - REQUEST_OVERHEAD_BYTES
    sizes = [encoded_size(text) for text in texts]
    for position, size in enumerate(sizes):
        if size > budget:
            raise InvalidInput(
                f"The text at position {position} is {len(texts[position])} bytes, over the {budget}-byte limit "
                f"of one request (max_message_bytes={max_request_bytes}); shorten it or raise max_message_bytes."
            )
    if len(texts) <= max_batch_size and sum(sizes) <= budget:
        return [np.arange(len(texts))]
    order = np.argsort([-size for size in sizes], kind="stable")
    chunks, current, used = [], [], 0
    for index in order:
        if current and (len(current) == max_batch_size or used + sizes[index] > budget):
            chunks.append(np.asarray(current))
            current, used = [], 0
        current.append(index)
        used += sizes[index]
    chunks.append(np.asarray(current))
    return chunks


def assemble(count: int, chunks: Sequence[np.ndarray], outputs: Sequence[dict[str, np.ndarray]]) -> dict:
    """Puts each chunk's outputs back at its texts' positions: {name: array with `count` rows}.

    Raises:
        ValueError: a chunk's outputs do not have one row per text, or disagree in name or trailing shape.
    """
    names = sorted(outputs[0])
    # One chunk in input order (the common case) needs no copy.
    chunks_in_order = len(chunks) == 1 and np.array_equal(chunks[0], np.arange(count))
    result = {}
    for name in names:
        first = outputs[0][name]
        array = None
        for index, chunk_outputs in zip(chunks, outputs):
            if sorted(chunk_outputs) != names:
                raise ValueError(f"The server returned outputs {sorted(chunk_outputs)} and {names} for two chunks.")
            value = chunk_outputs[name]
            if value.ndim == 0 or value.shape[0] != len(index):
                raise ValueError(f"The server returned {name!r} of shape {value.shape} for {len(index)} inputs.")
            if value.shape[1:] != first.shape[1:]:
                raise ValueError(f"The server returned {name!r} with inconsistent shapes {value.shape}, {first.shape}.")
            if chunks_in_order:
                array = value
            else:
                if array is None:
                    array = np.empty((count, *first.shape[1:]), dtype=first.dtype)
                array[index] = value
        result[name] = array
    return result
