"""The manifest of a corpus job: what was embedded, with which model, how far it got; and its commit record.

``manifest.json`` sits in the output directory. It names the model (name, version number, dimension, and the
export's creation time, which tells a re-exported version apart), the input (per-file SHA-256, record counts, the
format and column), the options that change the output, the bad lines by reason, and the output files. It is
written when the job starts (``status: "running"``) and when it ends (``"complete"``).

While the job runs, ``progress.json`` is its commit record: the last committed chunk, replaced atomically (write,
fsync, rename) after each chunk's data is durable, which makes that rename the commit point of the chunk. It is
kept apart from the manifest so that a commit writes a few bytes, however many input files or shards the manifest
lists. `load_manifest` returns the manifest with the committed progress.

`check_resumable` compares a manifest with a new job's model, input and options: `--resume` continues only the
same job, and says which of them differs otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from serving import durable

MANIFEST_FILE = "manifest.json"
PROGRESS_FILE = "progress.json"
MANIFEST_FORMAT = "embedder-corpus/1"
RUNNING = "running"
COMPLETE = "complete"


class ResumeRefused(ValueError):
    """`--resume` was asked for a job that differs from the one in the output directory."""


@dataclass
class Progress:
    """The last committed chunk: everything before `next_line_id` is in the output, nothing after it is."""

    chunks: int = 0
    next_line_id: int = 0
    rows: int = 0
    bad_lines_bytes: int = 0


@dataclass
class Manifest:
    """The manifest document (see the module docstring); `to_dict` is what ``manifest.json`` holds."""

    model: dict
    input: dict
    options: dict
    output: dict
    bad_lines: dict
    progress: Progress = field(default_factory=Progress)
    status: str = RUNNING
    started: str = ""
    finished: str | None = None
    embedder_version: str = ""

    def to_dict(self) -> dict:
        document = asdict(self)
        return {"format": MANIFEST_FORMAT, **document}

    @classmethod
    def from_dict(cls, document: dict) -> Manifest:
        if document.get("format") != MANIFEST_FORMAT:
            raise ValueError(
                f"Not a corpus manifest (format {document.get('format')!r}, expected {MANIFEST_FORMAT!r})."
            )
        fields = {k: v for k, v in document.items() if k != "format"}
        fields["progress"] = Progress(**fields.get("progress", {}))
        return cls(**fields)

    def save(self, directory: str | Path) -> None:
        """Replaces ``manifest.json`` atomically and durably; a complete manifest retires ``progress.json``."""
        durable.write_json_atomically(Path(directory) / MANIFEST_FILE, self.to_dict())
        if self.status == COMPLETE:
            (Path(directory) / PROGRESS_FILE).unlink(missing_ok=True)

    def commit_progress(self, directory: str | Path) -> None:
        """Records `progress` as committed: replaces ``progress.json`` atomically and durably (the commit point)."""
        durable.write_json_atomically(
            Path(directory) / PROGRESS_FILE, {"format": MANIFEST_FORMAT, **asdict(self.progress)}
        )


def package_version() -> str:
    """The installed sentence-embedder version, for the record (stdlib only: no TensorFlow import)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sentence-embedder")
    except PackageNotFoundError:
        return "0+unknown"


now = durable.utc_now


def load_manifest(directory: str | Path) -> Manifest | None:
    """The manifest in `directory` with its committed progress, or None if there is none."""
    return durable.read_committed(directory, MANIFEST_FILE, PROGRESS_FILE, Manifest.from_dict, Progress, RUNNING)


#: Model fields that must match for a resume: the same name, version number, dimension and export.
MODEL_IDENTITY = ("name", "version", "embedding_dim", "created")
#: Input fields that must match: the same bytes, records, format and column.
INPUT_IDENTITY = ("sha256", "records", "format", "column", "header")


def check_resumable(manifest: Manifest, model: dict, input_: dict, options: dict) -> None:
    """Raises `ResumeRefused` unless `manifest` records the same model, input and options as the new job.

    Args:
        manifest: the manifest found in the output directory.
        model: the new job's model description (its ``name``, ``version``, ``embedding_dim``, ``created``).
        input_: the new job's input description (`CorpusInput.to_dict`).
        options: the new job's output options.
    """
    old_model = manifest.model
    if old_model.get("version") != model.get("version") or old_model.get("name") != model.get("name"):
        raise ResumeRefused(
            f"The output was embedded with model {old_model.get('name')!r} version {old_model.get('version')}, "
            f"but this run resolves to {model.get('name')!r} version {model.get('version')}: one corpus, one "
            f"embedding space. Request version {old_model.get('version')} (--model-version, or its version "
            "directory) to resume, or start a new output."
        )
    for key in MODEL_IDENTITY:
        if old_model.get(key) != model.get(key):
            raise ResumeRefused(
                f"Model {model.get('name')!r} version {model.get('version')} is not the one this output was started "
                f"with: {key} was {old_model.get(key)!r}, now {model.get(key)!r}. Start a new output."
            )
    for key in INPUT_IDENTITY:
        if manifest.input.get(key) != input_.get(key):
            what = "content (SHA-256)" if key == "sha256" else key
            raise ResumeRefused(
                f"The input differs from the one this output was started with: its {what} was "
                f"{manifest.input.get(key)!r}, now {input_.get(key)!r}. Resume with the same input, or start a new "
                "output."
            )
    for key in sorted(set(manifest.options) | set(options)):
        if manifest.options.get(key) != options.get(key):
            raise ResumeRefused(
                f"Option {key} was {manifest.options.get(key)!r} when this output was started, now "
                f"{options.get(key)!r}; resume with the same options, or start a new output."
            )
