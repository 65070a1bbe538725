"""Crash-safe building blocks shared by corpus jobs and index builds (standard library only).

- `write_json_atomically`: the commit point of a resumable job: a JSON file replaced whole and durably.
- `read_committed`: a manifest with the progress last committed beside it (what a resumed job continues from).
- `utc_now`: the timestamps manifests record.
- `maybe_kill`: the test hook behind each job's ``fault_injection`` module: SIGKILL at a named point and chunk, so
  crash-and-resume tests are deterministic. Unset (the normal case), it costs one dictionary lookup.
"""

from __future__ import annotations

import datetime
import json
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def write_json_atomically(path: Path, document: dict) -> None:
    """Replaces `path` with `document` so that a crash leaves the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    # The rename is the commit: make the directory entry durable too.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_committed(
    directory: str | Path,
    manifest_file: str,
    progress_file: str,
    parse: Callable[[dict], Any],
    progress_class: type,
    running: str,
):
    """The manifest `directory/manifest_file` parsed by `parse`, or None if there is none; while its status is
    `running`, its `progress` is the one committed in `directory/progress_file` (written by each step)."""
    path = Path(directory) / manifest_file
    if not path.is_file():
        return None
    manifest = parse(json.loads(path.read_text("utf-8")))
    progress = Path(directory) / progress_file
    if manifest.status == running and progress.is_file():
        document = json.loads(progress.read_text("utf-8"))
        document.pop("format", None)
        manifest.progress = progress_class(**document)
    return manifest


def utc_now() -> str:
    """Now, UTC, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")  # noqa: UP017 - py3.10


def maybe_kill(env_var: str, points: Sequence[str], point: str, chunk_index: int) -> None:
    """Kills this process if the environment variable `env_var` is ``POINT:CHUNK`` for this point and chunk."""
    spec = os.environ.get(env_var)
    if not spec:
        return
    name, _, chunk = spec.partition(":")
    if name not in points or not chunk.isdigit():
        raise ValueError(f"{env_var} must be POINT:CHUNK with POINT one of {', '.join(points)}. Received: {spec!r}")
    if name == point and int(chunk) == chunk_index:
        os.kill(os.getpid(), signal.SIGKILL)
