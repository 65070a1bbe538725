"""bench/serving_sub_batches.py: the pipeline (`--quick`), the choice rule, and the committed results."""

from __future__ import annotations

import json

import pytest

from bench import doc_markers, serving_sub_batches
from embedder import serving_module


def test_quick_run_measures_every_group_size_and_matches_the_whole_request(tmp_path):
    import tensorflow as tf

    tf.ones([1]).numpy()  # TensorFlow already running, as after other tests: its threads can no longer be set
    out = tmp_path / "sub.json"
    serving_sub_batches.main(["--quick", "--seconds", "0.2", "--results", str(out), "--doc", ""])
    results = json.loads(out.read_text())
    (model,) = results["models"].values()
    for row in model.values():
        assert set(row["per_s"]) == {"whole", "2", "3"} and all(v > 0 for v in row["per_s"].values())
        assert row["ratio"]["whole"] == 1.0
        assert max(row["max_abs_difference"].values()) < 1e-5
    assert results["choice"] == {"recurrent": max([2, 3], key=lambda s: model["4"]["ratio"][str(s)])}


def _row(ratios):
    return {"per_s": {"whole": 100.0}, "ratio": {str(k): v for k, v in ratios.items()}}


def test_the_choice_is_the_best_geometric_mean_over_a_kinds_models_at_32_and_128():
    results = {
        "sub_batch_sizes": [8, 16],
        "models": {
            # 8 wins default's mean ratio (1.5 vs 1.35) but not the geometric mean over both models (16 does).
            "default": {"1": _row({8: 9.0, 16: 0.1}), "32": _row({8: 2.0, 16: 1.2}), "128": _row({8: 1.0, 16: 1.5})},
            "default-fast": {"32": _row({8: 1.0, 16: 1.3}), "128": _row({8: 1.0, 16: 1.0})},
            "classic": {"32": _row({8: 0.5, 16: 1.1}), "128": _row({8: 0.9, 16: 1.2})},
        },
    }
    assert serving_sub_batches.choose(results) == {"parallel": 16, "recurrent": 16}
    results["models"]["default"]["32"] = _row({8: 3.0, 16: 1.2})
    assert serving_sub_batches.choose(results)["parallel"] == 8


@pytest.fixture(scope="module")
def committed():
    return json.loads(serving_sub_batches.RESULTS.read_text())


def test_the_served_group_sizes_are_the_committed_measurements_choice(committed):
    assert committed["choice"] == {
        "parallel": serving_module.SUB_BATCH_PARALLEL,
        "recurrent": serving_module.SUB_BATCH_RECURRENT,
    }
    assert set(committed["models"]) == set(serving_sub_batches.MODELS)
    assert serving_sub_batches.choose(committed) == committed["choice"]


def test_the_serving_docs_table_is_the_results_json_rendered(committed):
    section = doc_markers.section(serving_sub_batches.DOC, serving_sub_batches.BEGIN, serving_sub_batches.END)
    assert section == serving_sub_batches.table(committed)
