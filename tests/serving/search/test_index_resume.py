"""A build killed with SIGKILL (while copying rows, or between FAISS checkpoints) resumes to the same index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from serving.search import AnnParams, BuildRefused, IndexBuildConfig, IndexExists, build_index, open_index
from serving.search.fault_injection import ENV_VAR
from serving.search.index_manifest import INDEX_MANIFEST_FILE, INDEX_PROGRESS_FILE, load_index_manifest
from tests.helpers.corpus_outputs import MODEL, clustered_vectors, write_corpus_output
from tests.helpers.paths import PROJECT_ROOT

ROWS = 700  # seven chunks of 100 rows
STEPS = ["--chunk-rows", "100", "--checkpoint-rows", "200", "--hnsw-m", "16", "--ef-construction", "40"]
SETTINGS = dict(chunk_rows=100, checkpoint_rows=200, params=AnnParams(hnsw_m=16, ef_construction=40))


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    base = tmp_path_factory.mktemp("sources")
    vectors = clustered_vectors(ROWS, dim=32)
    texts = [f"sentence number {i} " + "é" * (i % 5) for i in range(ROWS)]
    return {
        "npy": write_corpus_output(base / "npy", vectors),
        "parquet": write_corpus_output(base / "parquet", vectors, output_format="parquet", texts=texts, chunk_rows=90),
    }


def run_cli(*arguments, kill_at=None):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop(ENV_VAR, None)
    if kill_at:
        env[ENV_VAR] = kill_at
    command = [sys.executable, "-m", "embedder", "index", *map(str, arguments), *STEPS]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)


def index_files(directory):
    """Every file of an index but its manifest (which holds timestamps), by relative path."""
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != INDEX_MANIFEST_FILE
    }


CASES = [
    pytest.param("parquet", "exact", "int8", "copy:3", True, id="exact-int8-killed-while-copying"),
    pytest.param("npy", "ivf-pq", "none", "add:4", True, id="ivf-pq-killed-between-checkpoints"),
    pytest.param("parquet", "hnsw", "none", "add:2", False, id="hnsw-killed-between-checkpoints"),
]


@pytest.mark.parametrize("source, kind, quantize, kill_at, same_bytes", CASES)
def test_a_killed_build_resumes_to_the_same_index(source, kind, quantize, kill_at, same_bytes, sources, tmp_path):
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    build_index(IndexBuildConfig(str(sources[source]), str(reference), kind, quantize, **SETTINGS))

    killed = run_cli(sources[source], "--out", resumed, "--kind", kind, "--quantize", quantize, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    interrupted = load_index_manifest(resumed)
    assert interrupted.status == "running" and (resumed / INDEX_PROGRESS_FILE).exists()
    with pytest.raises(ValueError, match="did not finish"):
        open_index(resumed)
    with pytest.raises(IndexExists, match="Pass --resume to continue its build"):
        build_index(IndexBuildConfig(str(sources[source]), str(resumed), kind, quantize, **SETTINGS))

    build_index(IndexBuildConfig(str(sources[source]), str(resumed), resume=True, **SETTINGS))
    assert not (resumed / INDEX_PROGRESS_FILE).exists()
    expected, found = index_files(reference), index_files(resumed)
    assert sorted(found) == sorted(expected)  # no stray checkpoint or temporary file
    manifest, reference_manifest = load_index_manifest(resumed), load_index_manifest(reference)
    assert manifest.status == "complete" and manifest.rows == ROWS
    assert (manifest.progress, manifest.segments) == (reference_manifest.progress, reference_manifest.segments)
    for name in expected:
        if same_bytes or not name.startswith("ann-"):
            assert found[name] == expected[name], name
    # Every search answers the same as the uninterrupted index's.
    queries = clustered_vectors(30, dim=32, seed=3)
    one, other = open_index(reference), open_index(resumed)
    assert other.search(queries, 10, with_text=True, model=MODEL) == one.search(queries, 10, with_text=True)


def test_resume_refuses_other_vectors_and_does_nothing_when_finished(sources, tmp_path):
    out = tmp_path / "index"
    killed = run_cli(sources["npy"], "--out", out, kill_at="copy:1")
    assert killed.returncode == -signal.SIGKILL
    with pytest.raises(BuildRefused, match="Resume with the same vectors and --shard"):
        build_index(IndexBuildConfig(str(sources["npy"]), str(out), shard="0/2", resume=True))
    with pytest.raises(BuildRefused, match="is kind 'exact', not 'hnsw'"):
        build_index(IndexBuildConfig(str(sources["npy"]), str(out), kind="hnsw", resume=True))
    manifest = build_index(IndexBuildConfig(str(sources["npy"]), str(out), resume=True))
    before = json.loads((out / INDEX_MANIFEST_FILE).read_text())
    assert build_index(IndexBuildConfig(str(sources["npy"]), str(out), resume=True)) == manifest
    assert json.loads((out / INDEX_MANIFEST_FILE).read_text()) == before
    np.testing.assert_array_equal(np.load(out / "segment-00000" / "ids.npy"), np.arange(ROWS))
