"""A test hook that kills an index build at a named point, so crash-and-resume tests are deterministic.

Set ``EMBEDDER_INDEX_KILL_AT=POINT:CHUNK`` and the build sends itself SIGKILL (no cleanup, no flush) when it
reaches `POINT` at chunk number `CHUNK` (0-based, counted within the phase of the segment being built):

- ``copy``: the chunk's vectors, ids and texts are written to the segment files but not yet committed.
- ``add``: the chunk's rows are in the FAISS index in memory, and the checkpoint that would hold them is not
  written yet.

Unset (the normal case), it costs one dictionary lookup per chunk.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "EMBEDDER_INDEX_KILL_AT"
COPY = "copy"
ADD = "add"
POINTS = (COPY, ADD)


def maybe_kill(point: str, chunk_index: int) -> None:
    """Kills this process if ``EMBEDDER_INDEX_KILL_AT`` names this point and chunk."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    name, _, chunk = spec.partition(":")
    if name not in POINTS or not chunk.isdigit():
        raise ValueError(f"{ENV_VAR} must be POINT:CHUNK with POINT one of {', '.join(POINTS)}. Received: {spec!r}")
    if name == point and int(chunk) == chunk_index:
        os.kill(os.getpid(), signal.SIGKILL)
