"""Writes a corpus's embeddings into one ``.npy`` file through a memory map.

Layout in the output directory: ``embeddings.npy`` (float32, (rows, dim)) and ``ids.npy`` (int64, (rows,)): row
``i`` holds the embedding of line ``ids[i]``. The row count is known before the first chunk (the input scan counts
the records), so both files are created at full size up front (sparse on file systems that allow it) and chunks
are written into their rows. Memory stays flat: only the pages of the chunk being written are touched, and the
kernel writes them back and drops them (they count in RSS as file-backed pages, not anonymous memory).

A chunk is durable when `end_chunk` returns (``msync``). A chunk that was cut off half-written is simply written
again on resume: its rows are overwritten with the same values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.npy"


def _open(path: Path, dtype, shape: tuple[int, ...], resume: bool) -> np.memmap | np.ndarray:
    if resume:
        array = np.load(path, mmap_mode="r+")
        if array.shape != shape or array.dtype != np.dtype(dtype):
            raise RuntimeError(
                f"{path} holds {array.dtype}{array.shape}, expected {np.dtype(dtype)}{shape}; the output was modified."
            )
        return array
    if 0 in shape:
        # A memory map cannot be empty: write the (empty) array directly.
        np.save(path, np.zeros(shape, dtype))
        return np.load(path)
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


class NpyWriter:
    """The ``.npy`` output of a corpus job.

    Args:
        directory: the output directory.
        rows: the number of rows the finished output has.
        dim: the embedding dimension.
        resume: open the existing files (created by an earlier run of the same job) instead of creating them.
    """

    def __init__(self, directory: str | Path, rows: int, dim: int, resume: bool = False):
        directory = Path(directory)
        self.embeddings = _open(directory / EMBEDDINGS_FILE, np.float32, (rows, dim), resume)
        self.ids = _open(directory / IDS_FILE, np.int64, (rows,), resume)
        self._row = 0

    @staticmethod
    def file_names() -> list[str]:
        return [EMBEDDINGS_FILE, IDS_FILE]

    def begin_chunk(self, chunk_index: int, row_start: int) -> None:
        del chunk_index  # the rows say where a chunk goes
        self._row = row_start

    def write_rows(self, line_ids: np.ndarray, vectors: np.ndarray, texts: list[str] | None = None) -> None:
        del texts  # the .npy output has no text column
        end = self._row + len(line_ids)
        self.embeddings[self._row : end] = vectors
        self.ids[self._row : end] = line_ids
        self._row = end

    def flush(self) -> None:
        for array in (self.embeddings, self.ids):
            if isinstance(array, np.memmap):
                array.flush()

    def end_chunk(self) -> None:
        self.flush()

    def close(self) -> None:
        self.flush()
        # Dropping the maps unmaps the files (numpy has no explicit close).
        self.embeddings = self.ids = None
