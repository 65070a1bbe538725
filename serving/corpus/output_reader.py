"""Reads a finished corpus output back: line ids and embeddings in line order, whatever wrote them.

The single-process job writes ``embeddings.npy`` + ``ids.npy`` or ``part-NNNNN.parquet`` shards; the Beam
pipeline writes ``part-NNNNN-of-MMMMM.parquet`` shards in no particular row order. `read_corpus_output` returns
both as arrays sorted by line id.

Example:
    >>> output = read_corpus_output("out/")
    >>> output.ids[:3], output.embeddings.shape
    (array([0, 1, 2]), (100000, 256))

For ``.npy`` outputs the arrays are memory-mapped (nothing is read until used); Parquet shards are read into
memory, so for very large Parquet outputs read the shards one at a time with pyarrow instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from serving.corpus.manifest import COMPLETE, Manifest, load_manifest
from serving.corpus.npy_writer import EMBEDDINGS_FILE, IDS_FILE


class CorpusOutput(NamedTuple):
    """A corpus output: `ids` (int64, (rows,)) ascending, `embeddings` (float32, (rows, dim)) in the same order,
    `texts` (a list, or None when the output has no text column), and the `manifest`."""

    ids: np.ndarray
    embeddings: np.ndarray
    texts: list[str] | None
    manifest: Manifest


def read_corpus_output(directory: str | Path, require_complete: bool = True) -> CorpusOutput:
    """The ids, embeddings (and texts) of a corpus output, sorted by line id.

    Args:
        directory: the job's output directory.
        require_complete: raise unless the manifest says the job finished. Defaults to True.

    Raises:
        FileNotFoundError: no manifest in `directory`.
        ValueError: the job has not finished (with `require_complete`).
    """
    directory = Path(directory)
    manifest = load_manifest(directory)
    if manifest is None:
        raise FileNotFoundError(f"{directory} holds no corpus manifest.")
    if require_complete and manifest.status != COMPLETE:
        raise ValueError(
            f"The corpus job in {directory} is {manifest.status} ({manifest.progress.next_line_id} of "
            f"{manifest.input['records']} lines); resume it first."
        )
    if manifest.output["format"] == "npy":
        ids = np.load(directory / IDS_FILE, mmap_mode="r")
        embeddings = np.load(directory / EMBEDDINGS_FILE, mmap_mode="r")
        return CorpusOutput(ids, embeddings, None, manifest)
    import pyarrow as pa
    import pyarrow.parquet as pq

    shards = sorted(directory.glob("part-*.parquet"))
    dim = int(manifest.output["dim"])
    tables = [pq.read_table(shard) for shard in shards]
    table = pa.concat_tables(tables) if tables else None
    if table is None or table.num_rows == 0:
        return CorpusOutput(np.zeros(0, np.int64), np.zeros((0, dim), np.float32), None, manifest)
    ids = table.column("line_id").to_numpy()
    flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    embeddings = flat.astype(np.float32, copy=False).reshape(-1, dim)
    order = np.argsort(ids, kind="stable")
    texts = None
    if "text" in table.column_names:
        column = table.column("text").to_pylist()
        texts = [column[i] for i in order]
    return CorpusOutput(ids[order], embeddings[order], texts, manifest)
