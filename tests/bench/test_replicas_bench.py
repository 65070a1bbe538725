"""bench/replicas.py: two real `embedder serve` replicas, one killed under 16 callers, lose no call; SERVING.md shows
the JSON's table."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import replicas


def test_serving_doc_shows_the_json_table():
    results = json.loads(replicas.RESULTS.read_text())
    assert results["model"] == "default" and results["callers"] == 16
    assert results["kill"]["failed_calls"] == 0 and results["kill"]["calls"] > 0
    text = replicas.DOC.read_text("utf-8")
    assert text.split(replicas.BEGIN, 1)[1].split(replicas.END, 1)[0].strip() == replicas.render(results)


def test_summary_takes_medians_and_the_median_ratio():
    run = {"p50_ms": 1.0, "p99_ms": 2.0, "failed_calls": 0}
    results = {
        "runs": {
            "1 replica": [{**run, "sentences_per_s": s} for s in (100, 200, 300)],
            "2 replicas": [{**run, "sentences_per_s": s, "failed_calls": 1} for s in (110, 180, 330)],
        }
    }
    summary = replicas.summary(results)
    assert summary["1 replica"]["sentences_per_s"] == 200 and summary["2 replicas"]["failed_calls"] == 3
    assert summary["throughput_ratio_2_vs_1"] == 1.1  # ratios 1.1, 0.9, 1.1


@pytest.mark.slow
def test_quick_run_kills_one_of_two_real_replicas_under_16_callers_and_loses_nothing(tmp_path):
    out = tmp_path / "replicas.json"
    command = [sys.executable, str(replicas.ROOT / "bench" / "replicas.py"), "--quick", "--work", str(tmp_path)]
    subprocess.run([*command, "--results", str(out), "--doc", ""], check=True, timeout=300, capture_output=True)
    results = json.loads(out.read_text())
    assert results["callers"] == 16
    assert [len(runs) for runs in results["runs"].values()] == [1, 1]
    assert all(run["calls"] > 0 and run["failed_calls"] == 0 for runs in results["runs"].values() for run in runs)
    kill = results["kill"]
    assert kill["failed_calls"] == 0, kill["failures_sample"]
    assert kill["calls"] > 0 and 0 < results["kill_at_s"] < results["seconds"]
