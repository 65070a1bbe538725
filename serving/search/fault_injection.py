"""A test hook that kills an index build at a named point, so crash-and-resume tests are deterministic.

Set ``EMBEDDER_INDEX_KILL_AT=POINT:CHUNK`` and the build sends itself SIGKILL (no cleanup, no flush) when it
reaches `POINT` at chunk number `CHUNK` (0-based, counted within the phase of the segment being built):

- ``copy``: the chunk's vectors, ids and texts are written to the segment files but not yet committed.
- ``add``: the chunk's rows are in the FAISS index in memory, and the checkpoint that would hold them is not
  written yet.

Unset (the normal case), it costs one dictionary lookup per chunk.
"""

from __future__ import annotations

from serving import durable

ENV_VAR = "EMBEDDER_INDEX_KILL_AT"
COPY = "copy"
ADD = "add"
POINTS = (COPY, ADD)


def maybe_kill(point: str, chunk_index: int) -> None:
    """Kills this process if ``EMBEDDER_INDEX_KILL_AT`` names this point and chunk."""
    durable.maybe_kill(ENV_VAR, POINTS, point, chunk_index)
