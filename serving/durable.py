"""Crash-safe building blocks shared by corpus jobs and index builds (standard library only).

- `write_json_atomically`: the commit point of a resumable job: a JSON file replaced whole and durably.
- `maybe_kill`: the test hook behind each job's ``fault_injection`` module: SIGKILL at a named point and chunk, so
  crash-and-resume tests are deterministic. Unset (the normal case), it costs one dictionary lookup.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Sequence
from pathlib import Path


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
