"""Teacher vectors on disk: computed once per (teacher, corpus), memory-mapped, resumable chunk by chunk.

Layout of one cache entry, ``<cache_dir>/<teacher name>-<corpus fingerprint[:16]>-<dtype>/``:

- ``vectors.npy``: a (sentences, dim) ``.npy`` array (float16 by default: half the disk, and the teacher's unit
  vectors lose nothing that matters for a cosine loss), written in place through a memory map;
- ``state.json``: the teacher, the corpus fingerprint, the shape, ``rows_done``, and the wall-clock and CPU
  seconds the teacher has spent on the entry so far (over all runs that filled it).

Rows are filled in order, one chunk at a time: the chunk is written and flushed, then ``state.json`` is replaced
atomically with the new ``rows_done``. A run killed at any moment therefore loses at most the chunk in progress,
and the next run continues from ``rows_done``. A complete entry is reused without calling the teacher at all.

Example:
    >>> cache = TeacherCache("~/.cache/embedder/teacher", teacher.name, corpus.fingerprint, len(corpus))
    >>> vectors = cache.fill(teacher, corpus.sentences)     # np.memmap, (n, dim)
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedder.validation import check_choice, check_positive_int

VECTORS_FILE = "vectors.npy"
STATE_FILE = "state.json"
DTYPES = ("float16", "float32")


def default_cache_dir() -> Path:
    """``$EMBEDDER_CACHE_DIR/teacher``, else ``$XDG_CACHE_HOME/embedder/teacher`` (``~/.cache/embedder/teacher``)."""
    if os.environ.get("EMBEDDER_CACHE_DIR"):
        return Path(os.environ["EMBEDDER_CACHE_DIR"]) / "teacher"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "embedder" / "teacher"


class TeacherCache:
    """One cache entry: the teacher's vectors for one corpus.

    Args:
        cache_dir: the folder holding the entries.
        teacher_name: the teacher's `name`.
        corpus_fingerprint: the corpus's `fingerprint`.
        rows: the number of sentences.
        dtype: "float16" or "float32". Defaults to "float16".
        chunk_size: sentences per teacher call (and per resumable step). Defaults to 4096.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        teacher_name: str,
        corpus_fingerprint: str,
        rows: int,
        dtype: str = "float16",
        chunk_size: int = 4096,
    ):
        check_choice("dtype", dtype, DTYPES)
        check_positive_int("chunk_size", chunk_size)
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", teacher_name)
        self.directory = Path(cache_dir).expanduser() / f"{slug}-{corpus_fingerprint[:16]}-{dtype}"
        self.teacher_name = teacher_name
        self.corpus_fingerprint = corpus_fingerprint
        self.rows = rows
        self.dtype = dtype
        self.chunk_size = chunk_size

    # ------------------------------------------------------------------------------------------------ state
    def _state(self) -> dict | None:
        path = self.directory / STATE_FILE
        if not path.is_file():
            return None
        state = json.loads(path.read_text("utf-8"))
        expected = {"teacher": self.teacher_name, "fingerprint": self.corpus_fingerprint, "rows": self.rows}
        if any(state.get(k) != v for k, v in expected.items()) or not (self.directory / VECTORS_FILE).is_file():
            return None  # not this corpus (a hash-prefix clash) or a damaged entry: start it afresh
        return state

    def _write_state(self, state: dict) -> None:
        temporary = self.directory / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(state, indent=1), "utf-8")
        os.replace(temporary, self.directory / STATE_FILE)

    @property
    def rows_done(self) -> int:
        state = self._state()
        return int(state["rows_done"]) if state else 0

    @property
    def state(self) -> dict:
        """The entry's ``state.json`` (``{}`` before the first chunk)."""
        return dict(self._state() or {})

    @property
    def complete(self) -> bool:
        return self.rows_done >= self.rows

    def vectors(self) -> np.memmap:
        """The finished vectors, memory-mapped read-only, (rows, dim).

        Raises:
            RuntimeError: the entry is not complete (call `fill`).
        """
        if not self.complete:
            raise RuntimeError(f"The teacher cache {self.directory} holds {self.rows_done} of {self.rows} rows.")
        return np.load(self.directory / VECTORS_FILE, mmap_mode="r")

    # ------------------------------------------------------------------------------------------------ filling
    def fill(self, teacher, sentences: Sequence[str], show_progress_bar: bool = True) -> np.memmap:
        """Computes the missing rows with `teacher` and returns all vectors (see `vectors`).

        Args:
            teacher: a `training.distill.teacher.Teacher`; not called at all when the entry is complete.
            sentences: the corpus sentences, `rows` of them, in the order the fingerprint was taken.
            show_progress_bar: show a tqdm bar over the sentences.
        """
        if len(sentences) != self.rows:
            raise ValueError(f"Received {len(sentences)} sentences for a cache entry of {self.rows} rows.")
        state = self._state()
        if state is not None and state["rows_done"] >= self.rows:
            return self.vectors()
        self.directory.mkdir(parents=True, exist_ok=True)
        if state is None:
            state = {
                "teacher": self.teacher_name,
                "fingerprint": self.corpus_fingerprint,
                "rows": self.rows,
                "dim": int(teacher.dim),
                "dtype": self.dtype,
                "rows_done": 0,
                "teacher_wall_seconds": 0.0,
                "teacher_cpu_seconds": 0.0,
            }
            np.lib.format.open_memmap(
                self.directory / VECTORS_FILE, mode="w+", dtype=self.dtype, shape=(self.rows, state["dim"])
            ).flush()
            self._write_state(state)
        array = np.load(self.directory / VECTORS_FILE, mmap_mode="r+")
        progress = None
        if show_progress_bar:
            from tqdm.auto import tqdm

            progress = tqdm(total=self.rows, initial=state["rows_done"], unit="sentence", desc="teacher vectors")
        try:
            for start in range(state["rows_done"], self.rows, self.chunk_size):
                stop = min(start + self.chunk_size, self.rows)
                wall, cpu = time.perf_counter(), time.process_time()
                chunk = np.asarray(teacher.encode(list(sentences[start:stop])), dtype=np.float32)
                state["teacher_wall_seconds"] = state.get("teacher_wall_seconds", 0.0) + time.perf_counter() - wall
                state["teacher_cpu_seconds"] = state.get("teacher_cpu_seconds", 0.0) + time.process_time() - cpu
                if chunk.shape != (stop - start, state["dim"]):
                    raise ValueError(
                        f"The teacher returned shape {chunk.shape} for {stop - start} sentences; expected "
                        f"({stop - start}, {state['dim']})."
                    )
                array[start:stop] = chunk
                array.flush()
                state["rows_done"] = stop
                self._write_state(state)  # only after the rows are on disk
                if progress is not None:
                    progress.update(stop - start)
        finally:
            if progress is not None:
                progress.close()
            del array
        return self.vectors()


def load_teacher_embeddings(path: str | Path, rows: int) -> np.ndarray:
    """Teacher vectors computed elsewhere: a 2-D ``.npy`` array with one row per corpus sentence, memory-mapped.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not a 2-D array, or its row count differs from `rows`.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Teacher embeddings file not found: {path}")
    vectors = np.load(path, mmap_mode="r")
    if vectors.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D array (sentences, dim), received shape {vectors.shape}.")
    if vectors.shape[0] != rows:
        raise ValueError(
            f"{path} has {vectors.shape[0]} rows but the corpus has {rows} sentences: the teacher embeddings must "
            "have one row per corpus sentence, in order (write the sentences with --write-corpus and encode that "
            "file)."
        )
    return vectors
