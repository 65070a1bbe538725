"""Streams an `embed-corpus` output (or one shard of it) in batches of rows, for building an index.

`read_corpus_output` loads Parquet outputs whole; an index build must not, so this reads them one row group at a
time: ``embeddings.npy`` through its memory map, Parquet shards (the single-process job's ``part-NNNNN.parquet``
or Beam's ``part-NNNNN-of-MMMMM.parquet``) file by file. Rows come in the output's own order (line order for
``.npy``; file order, then row order, for Parquet), which is the order they get in the index.

A *shard* ``(i, n)`` of an output is: for ``.npy``, the ``i``-th of ``n`` contiguous row ranges; for Parquet, every
``n``-th file from the ``i``-th (files sorted by name). Indexes built from the ``n`` shards together hold every row
exactly once.

Example:
    >>> source = open_corpus_source("vectors/", shard=(0, 2))
    >>> for ids, vectors, texts in source.batches(start_row=0, batch_rows=8192):
    ...     ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder.validation import invalid
from serving.corpus.manifest import COMPLETE, Manifest, load_manifest
from serving.corpus.npy_writer import EMBEDDINGS_FILE, IDS_FILE


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` as ``(I, N)``, with 0 <= I < N."""
    index, _, count = str(text).partition("/")
    if not (index.isdigit() and count.isdigit()) or not 0 <= int(index) < int(count):
        raise invalid("shard", "I/N with 0 <= I < N (e.g. 0/4)", text)
    return int(index), int(count)


@dataclass
class CorpusSource:
    """A finished corpus output, or one shard of it, ready to stream.

    Attributes:
        directory: the output directory.
        manifest: its corpus manifest.
        shard: ``(i, n)``, or None for the whole output.
        rows: the rows this source yields.
        dim: the embedding dimension.
        has_text: whether batches carry the sentences.
    """

    directory: Path
    manifest: Manifest
    shard: tuple[int, int] | None
    rows: int
    dim: int
    has_text: bool
    _files: list[Path]
    _row_range: tuple[int, int]

    def batches(self, start_row: int = 0, batch_rows: int = 8192) -> Iterator[tuple[np.ndarray, np.ndarray, list]]:
        """Yields ``(line ids int64 (b,), embeddings float32 (b, dim), texts or None)`` from row `start_row` on."""
        if self.manifest.output["format"] == "npy":
            ids = np.load(self.directory / IDS_FILE, mmap_mode="r")
            embeddings = np.load(self.directory / EMBEDDINGS_FILE, mmap_mode="r")
            begin, end = self._row_range
            for row in range(begin + start_row, end, batch_rows):
                stop = min(row + batch_rows, end)
                yield np.asarray(ids[row:stop], np.int64), np.asarray(embeddings[row:stop], np.float32), None
            return
        import pyarrow.parquet as pq

        skip = start_row
        for path in self._files:
            parquet = pq.ParquetFile(path)
            file_rows = parquet.metadata.num_rows
            if skip >= file_rows:
                skip -= file_rows
                continue
            columns = ["line_id", "embedding"] + (["text"] if self.has_text else [])
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                if skip >= batch.num_rows:
                    skip -= batch.num_rows
                    continue
                if skip:
                    batch, skip = batch.slice(skip), 0
                ids = batch.column("line_id").to_numpy().astype(np.int64, copy=False)
                flat = batch.column("embedding").flatten().to_numpy(zero_copy_only=False)
                vectors = flat.astype(np.float32, copy=False).reshape(-1, self.dim)  # (b, dim)
                texts = batch.column("text").to_pylist() if self.has_text else None
                yield ids, vectors, texts


def open_corpus_source(directory: str | Path, shard: tuple[int, int] | None = None) -> CorpusSource:
    """The finished corpus output in `directory` (or its shard ``(i, n)``) as a `CorpusSource`.

    Raises:
        FileNotFoundError: no corpus manifest in `directory`.
        ValueError: the corpus job has not finished, or the shard is invalid.
    """
    directory = Path(directory)
    manifest = load_manifest(directory)
    if manifest is None:
        raise FileNotFoundError(f"{directory} holds no corpus manifest (manifest.json of `embedder embed-corpus`).")
    if manifest.status != COMPLETE:
        raise ValueError(
            f"The corpus job in {directory} is {manifest.status} ({manifest.progress.next_line_id} of "
            f"{manifest.input['records']} lines); finish it with `embedder embed-corpus ... --resume` first."
        )
    if shard is not None:
        shard = parse_shard(f"{shard[0]}/{shard[1]}")
    dim = int(manifest.output["dim"])
    if manifest.output["format"] == "npy":
        total = int(manifest.output["rows"])
        begin, end = (0, total) if shard is None else (shard[0] * total // shard[1], (shard[0] + 1) * total // shard[1])
        return CorpusSource(directory, manifest, shard, end - begin, dim, False, [], (begin, end))
    import pyarrow.parquet as pq

    files = sorted(directory.glob("part-*.parquet"))
    if shard is not None:
        files = files[shard[0] :: shard[1]]
    rows, has_text = 0, False
    for path in files:
        parquet = pq.ParquetFile(path)
        rows += parquet.metadata.num_rows
        has_text = has_text or "text" in parquet.schema_arrow.names
    return CorpusSource(directory, manifest, shard, rows, dim, has_text, files, (0, rows))
