"""bench/precision.py: SERVING.md shows the JSON's table, and a quick run measures every architecture."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import precision


def test_serving_doc_shows_the_json_table():
    results = json.loads(precision.RESULTS.read_text())
    assert not results["quick"] and {"default", "default-fast"} <= set(results["models"])
    for row in results["models"].values():
        assert row["quality"]["float32"] > 0 and all(row[f"b{b}"]["ratio"] > 0 for b in precision.BATCHES)
    text = precision.DOC.read_text("utf-8")
    assert text.split(precision.BEGIN, 1)[1].split(precision.END, 1)[0].strip() == precision.render(results)


@pytest.mark.slow
def test_quick_run_exports_and_times_both_precisions(tmp_path):
    out = tmp_path / "precision.json"
    command = [sys.executable, str(precision.ROOT / "bench" / "precision.py"), "--quick", "--work", str(tmp_path)]
    subprocess.run([*command, "--results", str(out), "--doc", ""], check=True, timeout=600, capture_output=True)
    results = json.loads(out.read_text())
    assert set(results["models"]) == {"transformer"}
    for row in results["models"].values():
        assert row["cosine_bf16_vs_f32_min"] > 0.99  # the same model in both precisions
        assert all(row[f"b{b}"]["float32_per_s"] > 0 and row[f"b{b}"]["bfloat16_per_s"] > 0 for b in precision.BATCHES)
