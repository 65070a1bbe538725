"""A test hook that kills the corpus job at a named point, so crash-and-resume tests are deterministic.

Set ``EMBEDDER_CORPUS_KILL_AT=POINT:CHUNK`` and the job sends itself SIGKILL (no cleanup, no flush: what a power
cut or the OOM killer does) when it reaches `POINT` while committing chunk number `CHUNK` (0-based). Points:

- ``mid-chunk``: half of the chunk's rows are written to the output (and flushed), the rest are not.
- ``chunk-written``: the chunk's rows and bad lines are durable, but the manifest does not record it yet.

Unset (the normal case), it costs one dictionary lookup per chunk.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "EMBEDDER_CORPUS_KILL_AT"
MID_CHUNK = "mid-chunk"
CHUNK_WRITTEN = "chunk-written"
POINTS = (MID_CHUNK, CHUNK_WRITTEN)


def maybe_kill(point: str, chunk_index: int) -> None:
    """Kills this process if ``EMBEDDER_CORPUS_KILL_AT`` names this point and chunk."""
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    name, _, chunk = spec.partition(":")
    if name not in POINTS or not chunk.isdigit():
        raise ValueError(f"{ENV_VAR} must be POINT:CHUNK with POINT one of {', '.join(POINTS)}. Received: {spec!r}")
    if name == point and int(chunk) == chunk_index:
        os.kill(os.getpid(), signal.SIGKILL)
