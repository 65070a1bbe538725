"""Writes a corpus's embeddings as Parquet shards, one per chunk (needs the ``parquet`` extra: pyarrow).

Each shard ``part-NNNNN.parquet`` has the columns ``line_id`` (int64), ``embedding`` (fixed-size list of float32,
the model's dimension) and, when asked for, ``text`` (the sentence as embedded; "" for a bad line under the
``embed-empty`` policy). The Beam pipeline writes the same columns, so one reader serves both.

A shard is written to a hidden temporary file and renamed into place when complete, so a shard that exists is
whole. On resume, shards at or after the first uncommitted chunk, and temporary files, are removed first: they are
written again with the same content.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

SHARD_PATTERN = re.compile(r"^part-(\d+)\.parquet$")


def shard_name(chunk_index: int) -> str:
    return f"part-{chunk_index:05d}.parquet"


def embedding_schema(dim: int, include_text: bool):
    """The pyarrow schema of a shard."""
    import pyarrow as pa

    fields = [pa.field("line_id", pa.int64(), nullable=False), pa.field("embedding", pa.list_(pa.float32(), dim))]
    if include_text:
        fields.append(pa.field("text", pa.string()))
    return pa.schema(fields)


class ParquetShardWriter:
    """The Parquet output of a corpus job.

    Args:
        directory: the output directory.
        dim: the embedding dimension.
        include_text: add a ``text`` column.
        committed_chunks: on resume, the number of committed chunks; later shards are removed.
    """

    def __init__(self, directory: str | Path, dim: int, include_text: bool = False, committed_chunks: int = 0):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError("Parquet output needs pyarrow: install the package with the `parquet` extra.") from None
        self.directory = Path(directory)
        self.dim = dim
        self.include_text = include_text
        self.schema = embedding_schema(dim, include_text)
        self._writer = None
        self._tmp: Path | None = None
        self._target: Path | None = None
        for path in self.directory.iterdir():
            match = SHARD_PATTERN.match(path.name)
            if (match and int(match.group(1)) >= committed_chunks) or path.name.endswith(".parquet.tmp"):
                path.unlink()

    @staticmethod
    def file_names(chunks: int) -> list[str]:
        return [shard_name(i) for i in range(chunks)]

    def begin_chunk(self, chunk_index: int, row_start: int) -> None:
        import pyarrow.parquet as pq

        del row_start  # a shard holds its rows' line ids
        self._target = self.directory / shard_name(chunk_index)
        self._tmp = self.directory / f".{self._target.name}.tmp"
        self._writer = pq.ParquetWriter(self._tmp, self.schema)

    def write_rows(self, line_ids: np.ndarray, vectors: np.ndarray, texts: list[str] | None = None) -> None:
        import pyarrow as pa

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        embedding = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), self.dim)
        columns = [pa.array(np.asarray(line_ids, dtype=np.int64)), embedding]
        if self.include_text:
            columns.append(pa.array(list(texts) if texts is not None else [""] * len(line_ids), pa.string()))
        self._writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))

    def end_chunk(self) -> None:
        self._writer.close()
        self._writer = None
        with open(self._tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(self._tmp, self._target)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
