"""The files of one index segment: normalised full-precision vectors, corpus ids, and the sentences when kept.

A segment folder (``segment-NNNNN``) holds:

- ``vectors.npy``: float32 (rows, dim), L2-normalised. The exact kind searches it directly; every quantized kind
  rescores its candidates with it. It is read through a memory map, so it costs disk and page cache, not
  anonymous memory.
- ``ids.npy``: int64 (rows,), the corpus id of each row (the line id in the corpus, plus the segment's offset).
- ``texts.bin`` + ``text_offsets.npy`` (only when the corpus output kept the sentences): the UTF-8 sentences one
  after another, and int64 (rows + 1,) offsets into them.

Like `serving.corpus.npy_writer`, the arrays are created at full size when the segment starts and written row
range by row range; a range that a crash cut off is written again on resume with the same values, and the texts
file is cut back to its committed length first.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"
TEXTS_FILE = "texts.bin"
TEXT_OFFSETS_FILE = "text_offsets.npy"


def _open(path: Path, dtype, shape: tuple[int, ...], resume: bool):
    if 0 in shape:
        # A memory map cannot be empty: write the (empty) array directly.
        if not resume:
            np.save(path, np.zeros(shape, dtype))
        return np.load(path)
    if resume:
        array = np.load(path, mmap_mode="r+")
        if array.shape != shape or array.dtype != np.dtype(dtype):
            raise RuntimeError(f"{path} holds {array.dtype}{array.shape}, expected {np.dtype(dtype)}{shape}.")
        return array
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


class SegmentWriter:
    """Writes a segment's files.

    Args:
        directory: the segment folder (created if absent).
        rows: the segment's rows.
        dim: the dimension.
        has_text: keep the sentences.
        resume: open the files of an interrupted build; `text_bytes` is the committed length of the texts file.
    """

    def __init__(self, directory: Path, rows: int, dim: int, has_text: bool, resume: bool = False, text_bytes: int = 0):
        directory.mkdir(parents=True, exist_ok=True)
        self.vectors = _open(directory / VECTORS_FILE, np.float32, (rows, dim), resume)
        self.ids = _open(directory / IDS_FILE, np.int64, (rows,), resume)
        self.text_offsets = None
        self._texts = None
        self.text_bytes = text_bytes
        if has_text:
            self.text_offsets = _open(directory / TEXT_OFFSETS_FILE, np.int64, (rows + 1,), resume)
            path = directory / TEXTS_FILE
            if resume and path.exists():
                with open(path, "r+b") as handle:
                    handle.truncate(text_bytes)
            self._texts = open(path, "ab" if resume else "wb")  # noqa: SIM115 - closed in close()

    def write(self, row: int, ids: np.ndarray, vectors: np.ndarray, texts: list[str] | None) -> None:
        """Writes rows ``row .. row + len(ids)``: unit vectors, corpus ids, and texts (appended)."""
        end = row + len(ids)
        self.vectors[row:end] = vectors
        self.ids[row:end] = ids
        if self._texts is not None:
            encoded = [(text or "").encode("utf-8") for text in (texts or [""] * len(ids))]
            lengths = np.fromiter((len(b) for b in encoded), np.int64, len(encoded))
            self.text_offsets[row] = self.text_bytes
            self.text_offsets[row + 1 : end + 1] = self.text_bytes + np.cumsum(lengths)
            self._texts.write(b"".join(encoded))
            self.text_bytes += int(lengths.sum())

    def flush(self) -> None:
        """Makes everything written so far durable."""
        for array in (self.vectors, self.ids, self.text_offsets):
            if isinstance(array, np.memmap):
                array.flush()
        if self._texts is not None:
            self._texts.flush()
            os.fsync(self._texts.fileno())

    def close(self) -> None:
        self.flush()
        if self._texts is not None:
            self._texts.close()
        self.vectors = self.ids = self.text_offsets = self._texts = None


class SegmentReader:
    """A segment's files, memory-mapped read-only."""

    def __init__(self, directory: Path, has_text: bool):
        self.vectors = np.load(directory / VECTORS_FILE, mmap_mode="r")  # (rows, dim)
        self.ids = np.load(directory / IDS_FILE, mmap_mode="r")  # (rows,)
        self._offsets = self._texts = None
        if has_text:
            self._offsets = np.load(directory / TEXT_OFFSETS_FILE, mmap_mode="r")
            self._texts = (
                np.memmap(directory / TEXTS_FILE, np.uint8, "r") if self._offsets[-1] else np.zeros(0, np.uint8)
            )

    @property
    def has_text(self) -> bool:
        return self._offsets is not None

    def text(self, row: int) -> str | None:
        if self._offsets is None:
            return None
        return bytes(self._texts[self._offsets[row] : self._offsets[row + 1]]).decode("utf-8")
