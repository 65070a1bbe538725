"""A test hook that kills the corpus job at a named point, so crash-and-resume tests are deterministic.

Set ``EMBEDDER_CORPUS_KILL_AT=POINT:CHUNK`` and the job sends itself SIGKILL (no cleanup, no flush: what a power
cut or the OOM killer does) when it reaches `POINT` while committing chunk number `CHUNK` (0-based). Points:

- ``mid-chunk``: half of the chunk's rows are written to the output (and flushed), the rest are not.
- ``chunk-written``: the chunk's rows and bad lines are durable, but the manifest does not record it yet.

Unset (the normal case), it costs one dictionary lookup per chunk.
"""

from __future__ import annotations

from serving import durable

ENV_VAR = "EMBEDDER_CORPUS_KILL_AT"
MID_CHUNK = "mid-chunk"
CHUNK_WRITTEN = "chunk-written"
POINTS = (MID_CHUNK, CHUNK_WRITTEN)


def maybe_kill(point: str, chunk_index: int) -> None:
    """Kills this process if ``EMBEDDER_CORPUS_KILL_AT`` names this point and chunk."""
    durable.maybe_kill(ENV_VAR, POINTS, point, chunk_index)
