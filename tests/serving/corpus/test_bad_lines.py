"""The bad-lines file: appended per chunk, cut back to its committed size on resume."""

from __future__ import annotations

import json

import pytest

from serving.corpus.bad_lines import BadLineLog, bad_line_document, check_policy
from serving.corpus.records import EMPTY, Record


def test_resume_cuts_uncommitted_lines_and_appends_after_the_committed_ones(tmp_path):
    path = tmp_path / "bad_lines.jsonl"
    log = BadLineLog(path)
    log.append([bad_line_document(Record(3, None, EMPTY, 4), "a.txt")])
    committed = log.commit()
    log.append([bad_line_document(Record(9, None, EMPTY, 10), "a.txt")])  # a chunk that was never committed
    log.commit()
    log.close()

    resumed = BadLineLog(path, committed_bytes=committed)
    resumed.append([bad_line_document(Record(9, None, EMPTY, 10), "a.txt")])
    resumed.commit()
    resumed.close()
    documents = [json.loads(line) for line in path.read_text().splitlines()]
    assert documents == [
        {"line_id": 3, "file": "a.txt", "line": 4, "reason": "empty"},
        {"line_id": 9, "file": "a.txt", "line": 10, "reason": "empty"},
    ]


def test_a_file_shorter_than_its_committed_size_is_an_error(tmp_path):
    (tmp_path / "bad_lines.jsonl").write_text("{}\n")
    with pytest.raises(RuntimeError, match="shorter .* than its committed size"):
        BadLineLog(tmp_path / "bad_lines.jsonl", committed_bytes=100)


def test_unknown_policy_names_the_choices():
    with pytest.raises(ValueError, match="expected one of 'embed-empty', 'skip'. Received: bad_lines='ignore'"):
        check_policy("ignore")
