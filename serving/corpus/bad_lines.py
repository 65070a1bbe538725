"""The bad-line policy, and the file that records every bad line of a job.

A corpus job never stops in the middle because of one line. A bad record (see `serving.corpus.records`: bytes
that are not UTF-8, an empty or blank sentence, a missing column or key, unparseable or too deeply nested JSON, a
sentence over the job's ``max_text_bytes`` or a CSV field over csv's limit) is handled by one of two
policies, chosen when the job starts and fixed for its resumes:

- ``embed-empty`` (the default): the line keeps its row, embedded as the empty string (what the model gives for
  ``""``), so row ``i`` of the output is line ``i`` of the corpus.
- ``skip``: the line gets no row; the output's line ids show which lines are present.

Under both policies every bad line is written to ``bad_lines.jsonl`` in the output (``{"line_id", "file",
"line", "reason"}`` a line), counted by reason in the manifest, and the first few are listed there too.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from embedder.validation import check_choice
from serving.corpus.records import Record

EMBED_EMPTY = "embed-empty"
SKIP = "skip"
POLICIES = (EMBED_EMPTY, SKIP)

BAD_LINES_FILE = "bad_lines.jsonl"


def check_policy(policy: str) -> None:
    check_choice("bad_lines", policy, POLICIES)


def bad_line_document(record: Record, path: str) -> dict:
    """The JSON document that describes one bad line."""
    return {"line_id": record.line_id, "file": path, "line": record.line, "reason": record.reason}


class BadLineLog:
    """Appends bad-line documents to ``bad_lines.jsonl``; its size is part of each committed chunk.

    Args:
        path: the file.
        committed_bytes: on resume, the file's size at the last committed chunk; anything after it (lines of a
            chunk that was not committed) is cut off, so a resumed job records each bad line once.
    """

    def __init__(self, path: str | Path, committed_bytes: int = 0):
        self.path = Path(path)
        mode = "r+b" if committed_bytes and self.path.exists() else "wb"
        self._file = open(self.path, mode)  # noqa: SIM115 - lives as long as the job
        if committed_bytes:
            if self.path.stat().st_size < committed_bytes:
                raise RuntimeError(
                    f"{self.path} is shorter ({self.path.stat().st_size} bytes) than its committed size "
                    f"({committed_bytes}); the output was modified."
                )
            self._file.truncate(committed_bytes)
            self._file.seek(committed_bytes)

    def append(self, documents: list[dict]) -> None:
        for document in documents:
            self._file.write(json.dumps(document, ensure_ascii=False).encode("utf-8") + b"\n")

    def commit(self) -> int:
        """Makes the appended lines durable; returns the file's size, to record with the chunk."""
        self._file.flush()
        os.fsync(self._file.fileno())
        return self._file.tell()

    def close(self) -> None:
        self._file.close()
