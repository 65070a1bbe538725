"""The manifest of a search index: which model's vectors it holds, how it was built, how far the build got.

``index.json`` sits in the index directory. It records the model the vectors came from (name, version number,
dimension, and the export's creation time, copied from the corpus manifest), the kind and quantization, the
resolved FAISS settings, and one *segment* per indexed corpus output (the first build, then each ``--add``): its
source directory, input checksum, shard, row count, first row, and the offset added to its line ids.

While a build runs, ``progress.json`` is its commit record (phase, rows copied, rows in the FAISS checkpoint),
replaced atomically after the data it describes is durable; ``index.json`` is written when a build or an addition
starts and when it ends. `check_model` is the one place that decides whether vectors from some model may be
searched in (or added to) an index.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from serving import durable

INDEX_MANIFEST_FILE = "index.json"
INDEX_PROGRESS_FILE = "progress.json"
INDEX_FORMAT = "embedder-index/1"
RUNNING = "running"
COMPLETE = "complete"

# Build phases, in order, per segment.
COPY = "copy"  # normalised vectors, ids and texts into the segment's files
TRAIN = "train"  # IVF centroids / scalar-quantizer ranges, once per index
ADD = "add"  # rows into the FAISS index, checkpointed
PHASES = (COPY, TRAIN, ADD)

#: The model fields copied from the corpus manifest and compared when searching or adding.
MODEL_FIELDS = ("name", "version", "embedding_dim", "created", "architecture")


class ModelMismatch(ValueError):
    """Vectors of one model version were about to be searched in (or added to) an index of another."""


def describe_model(model: dict) -> str:
    return f"model {model.get('name')!r} version {model.get('version')} (dim {model.get('embedding_dim')})"


def check_model(index_model: dict, other: dict, what: str = "the queries were embedded by") -> None:
    """Raises `ModelMismatch` unless `other` is the model version the index was built from.

    The version number and dimension must be equal, and so must the export's creation time when both sides know
    it (it tells a re-exported version apart). The name may differ when both creation times are known and equal: the
    same export served under another name. Without creation times the names must be equal too.
    """
    same = other.get("version") == index_model.get("version") and other.get("embedding_dim") == index_model.get(
        "embedding_dim"
    )
    if same and index_model.get("created") and other.get("created"):
        same = other["created"] == index_model["created"]
    elif same:
        same = other.get("name") == index_model.get("name")
    if not same:
        raise ModelMismatch(
            f"The index was built from {describe_model(index_model)}, export created {index_model.get('created')}, "
            f"but {what} {describe_model(other)}, export created {other.get('created')}: one index, one embedding "
            f"space. Use version {index_model.get('version')} of the model (--model-version, or its version "
            "directory), or build a new index."
        )


@dataclass
class Segment:
    """One indexed corpus output (or one shard of it).

    Attributes:
        directory: the segment's folder inside the index (``segment-NNNNN``).
        source: the corpus output directory it was read from (for the record).
        input_sha256: the corpus input's checksum (from its manifest): the same corpus in two segments is two shards.
        input_records: the corpus's line count.
        shard: ``[i, n]`` when only shard ``i`` of ``n`` was indexed, else None.
        rows: the segment's rows.
        first_row: its first row in the index (rows are numbered over segments in order).
        id_offset: added to the corpus's line ids: a corpus added later continues after the ids already indexed.
        has_text: the source kept the sentences (Parquet with ``--include-text``), copied into the segment.
    """

    directory: str
    source: str
    input_sha256: str
    input_records: int
    shard: list[int] | None
    rows: int
    first_row: int
    id_offset: int
    has_text: bool


@dataclass
class BuildProgress:
    """How far the build of the last segment got (committed state)."""

    phase: str = COPY
    copied_rows: int = 0  # rows of the last segment in its files
    text_bytes: int = 0  # bytes of its texts file
    added_rows: int = 0  # rows in the FAISS checkpoint `ann_file` (over all segments)
    ann_file: str | None = None


@dataclass
class IndexManifest:
    """The index manifest document (see the module docstring)."""

    model: dict
    kind: str
    quantize: str
    dim: int
    settings: dict
    segments: list[Segment] = field(default_factory=list)
    progress: BuildProgress = field(default_factory=BuildProgress)
    status: str = RUNNING
    created: str = ""
    updated: str = ""
    embedder_version: str = ""

    @property
    def rows(self) -> int:
        """Rows of the index once the build completes."""
        return sum(segment.rows for segment in self.segments)

    def to_dict(self) -> dict:
        return {"format": INDEX_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, document: dict) -> IndexManifest:
        if document.get("format") != INDEX_FORMAT:
            raise ValueError(f"Not an index manifest (format {document.get('format')!r}, expected {INDEX_FORMAT!r}).")
        fields = {k: v for k, v in document.items() if k != "format"}
        fields["segments"] = [Segment(**segment) for segment in fields.get("segments", [])]
        fields["progress"] = BuildProgress(**fields.get("progress", {}))
        return cls(**fields)

    def save(self, directory: str | Path) -> None:
        """Replaces ``index.json`` atomically and durably; a complete manifest retires ``progress.json``."""
        self.updated = now()
        durable.write_json_atomically(Path(directory) / INDEX_MANIFEST_FILE, self.to_dict())
        if self.status == COMPLETE:
            (Path(directory) / INDEX_PROGRESS_FILE).unlink(missing_ok=True)

    def commit_progress(self, directory: str | Path) -> None:
        """Records `progress` as committed (the commit point of each step of a build)."""
        durable.write_json_atomically(
            Path(directory) / INDEX_PROGRESS_FILE, {"format": INDEX_FORMAT, **asdict(self.progress)}
        )


def load_index_manifest(directory: str | Path) -> IndexManifest | None:
    """The manifest in `directory` with its committed progress, or None if there is none."""
    return durable.read_committed(
        directory, INDEX_MANIFEST_FILE, INDEX_PROGRESS_FILE, IndexManifest.from_dict, BuildProgress, RUNNING
    )


now = durable.utc_now
