"""Numeric version directories under a model base path, as TensorFlow Serving lays them out.

Standard library only: the server, the CLI and the batch job use it without loading TensorFlow.
"""

from __future__ import annotations

from pathlib import Path


def numeric_versions(model_base_path: str | Path) -> list[int]:
    """The version numbers present under a model base path (numeric directory names), ascending."""
    base = Path(model_base_path)
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and p.name.isdigit())


def resolve_version_dir(path: str | Path) -> Path:
    """A version directory as given, or the latest numeric version under a model base path."""
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    versions = numeric_versions(path)
    if not versions:
        raise FileNotFoundError(f"No SavedModel in {path} and no numeric version directory under it.")
    return path / str(versions[-1])
