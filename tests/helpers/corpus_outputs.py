"""`embed-corpus` outputs written directly (clustered random vectors, no model needed), for the search tests."""

from __future__ import annotations

import hashlib

import numpy as np

from serving.corpus.manifest import COMPLETE, Manifest, Progress
from serving.corpus.npy_writer import NpyWriter
from serving.corpus.parquet_writer import ParquetShardWriter

DIM = 16
MODEL = {"name": "tiny", "version": 1, "embedding_dim": DIM, "created": "2026-01-01T00:00:00+00:00"}


def clustered_vectors(rows: int, dim: int = DIM, clusters: int = 20, seed: int = 0) -> np.ndarray:
    """float32 (rows, dim): points scattered around random centres, like sentence vectors of a few topics."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    return centres[rng.integers(0, clusters, rows)] + 0.7 * rng.standard_normal((rows, dim)).astype(np.float32)


def write_corpus_output(
    directory,
    vectors: np.ndarray,
    *,
    output_format: str = "npy",
    texts: list[str] | None = None,
    ids: np.ndarray | None = None,
    model: dict | None = None,
    records: int | None = None,
    chunk_rows: int = 100,
    name: str = "corpus",
):
    """An `embed-corpus` output in `directory` holding `vectors` (line ids `ids`, default 0..n-1), complete."""
    directory.mkdir(parents=True, exist_ok=True)
    vectors = np.asarray(vectors, np.float32)
    rows, dim = vectors.shape
    ids = np.arange(rows, dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    records = int(ids.max()) + 1 if records is None and rows else (records or 0)
    if output_format == "npy":
        writer = NpyWriter(directory, rows, dim)
        writer.begin_chunk(0, 0)
        writer.write_rows(ids, vectors)
        writer.close()
        chunks = 1
    else:
        writer = ParquetShardWriter(directory, dim, include_text=texts is not None)
        chunks = 0
        for start in range(0, rows, chunk_rows):
            writer.begin_chunk(chunks, start)
            part = texts[start : start + chunk_rows] if texts is not None else None
            writer.write_rows(ids[start : start + chunk_rows], vectors[start : start + chunk_rows], part)
            writer.end_chunk()
            chunks += 1
    manifest = Manifest(
        model=dict(model or MODEL, source="test"),
        input={"sha256": hashlib.sha256(name.encode()).hexdigest(), "records": records, "format": "text"},
        options={"output_format": output_format, "include_text": texts is not None},
        output={"format": output_format, "rows": rows, "dim": dim, "dtype": "float32", "chunks": chunks},
        bad_lines={"policy": "embed-empty", "count": 0},
        progress=Progress(chunks=chunks, next_line_id=records, rows=rows),
        status=COMPLETE,
    )
    manifest.save(directory)
    return directory
