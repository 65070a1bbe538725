"""The manifest: round trip, atomic replacement, and what a resume must match."""

from __future__ import annotations

import pytest

from serving.corpus.manifest import (
    COMPLETE,
    MANIFEST_FILE,
    PROGRESS_FILE,
    Manifest,
    Progress,
    ResumeRefused,
    check_resumable,
    load_manifest,
)

MODEL = {"name": "tiny", "version": 3, "embedding_dim": 8, "created": "2026-01-01T00:00:00+00:00"}
INPUT = {"sha256": "ab" * 32, "records": 10, "format": "text", "column": None, "header": False, "files": []}
OPTIONS = {"bad_lines": "skip", "output_format": "npy", "include_text": False, "normalize": False, "chunk_size": 4}


def manifest() -> Manifest:
    return Manifest(model=dict(MODEL), input=dict(INPUT), options=dict(OPTIONS), output={"rows": 9}, bad_lines={})


def test_round_trip_and_atomic_save(tmp_path):
    original = manifest()
    original.progress = Progress(chunks=2, next_line_id=8, rows=7, bad_lines_bytes=120)
    original.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE]  # no temporary file left behind
    assert load_manifest(tmp_path) == original
    assert load_manifest(tmp_path / "elsewhere") is None


def test_progress_commits_apart_from_the_manifest_until_the_job_completes(tmp_path):
    job = manifest()
    job.save(tmp_path)
    job.progress = Progress(chunks=1, next_line_id=4, rows=4, bad_lines_bytes=0)
    job.commit_progress(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE, PROGRESS_FILE]
    assert load_manifest(tmp_path).progress == job.progress  # the manifest file itself was not rewritten
    job.status, job.progress = COMPLETE, Progress(chunks=3, next_line_id=10, rows=9)
    job.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [MANIFEST_FILE]
    assert load_manifest(tmp_path) == job


def test_same_job_is_resumable():
    check_resumable(manifest(), dict(MODEL, source="grpc://x:1"), dict(INPUT, files=[{"path": "moved"}]), OPTIONS)


@pytest.mark.parametrize(
    "model, input_, options, match",
    [
        (dict(MODEL, version=4), INPUT, OPTIONS, "version 3, but this run resolves to 'tiny' version 4"),
        (dict(MODEL, name="other"), INPUT, OPTIONS, "resolves to 'other' version 3"),
        (dict(MODEL, created="2026-02-02T00:00:00+00:00"), INPUT, OPTIONS, "created was '2026-01-01"),
        (MODEL, dict(INPUT, sha256="cd" * 32), OPTIONS, r"content \(SHA-256\)"),
        (MODEL, dict(INPUT, column="text"), OPTIONS, "its column was None, now 'text'"),
        (MODEL, INPUT, dict(OPTIONS, normalize=True), "Option normalize was False"),
        (MODEL, INPUT, dict(OPTIONS, chunk_size=8), "Option chunk_size was 4"),
    ],
)
def test_another_model_input_or_options_is_refused(model, input_, options, match):
    with pytest.raises(ResumeRefused, match=match):
        check_resumable(manifest(), model, input_, options)


def test_not_a_manifest_is_an_error(tmp_path):
    (tmp_path / MANIFEST_FILE).write_text('{"format": "something-else"}')
    with pytest.raises(ValueError, match="Not a corpus manifest"):
        load_manifest(tmp_path)
