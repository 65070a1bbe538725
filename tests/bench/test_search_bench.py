"""bench/search.py runs end to end on random vectors, and docs/SEARCH.md shows the table its JSON renders to."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from bench import search
from serving.search import KINDS, QUANTIZATIONS


def test_quick_run_measures_every_kind_and_quantization(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{search.BEGIN}\nold\n{search.END}\nafter\n", encoding="utf-8")
    results, plot = tmp_path / "search.json", tmp_path / "search.png"
    command = [sys.executable, str(search.ROOT / "bench" / "search.py"), "--quick", "--rows", "2000"]
    command += ["--work", str(tmp_path / "work"), "--results", str(results), "--plot", str(plot), "--doc", str(doc)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    measured = json.loads(results.read_text())
    indexes = measured["ann"]["indexes"]
    assert set(indexes) == {f"{kind}/{quantize}" for kind in KINDS for quantize in QUANTIZATIONS}
    assert indexes["exact/none"]["recall_at_10"] == 1.0
    for row in indexes.values():
        assert 0 <= row["recall_at_10"] <= 1 and row["batched_qps"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0
        assert row["search_structure_bytes"] > 0 and row["build_peak_rss_mib"] > 0
    assert "ef_search_sweep" in indexes["hnsw/none"]
    assert plot.stat().st_size > 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("before\n") and text.endswith("after\n")
    assert search.doc_section(doc) == search.render(measured)


def test_docs_show_the_table_rendered_from_the_json():
    results = json.loads(search.RESULTS.read_text())
    assert search.doc_section(search.DOC) == search.render(results)


def test_retrieval_scores():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.9, 0.8, 0.7]])
    measured = search.retrieval_scores(scores, [{0}, {1}, {1, 2}])
    assert measured == {"mrr_at_10": round((1 + 1 / 2 + 1 / 2) / 3, 4), "recall_at_1": 0.3333, "recall_at_10": 1.0}
