"""bench/distill_finetune.py: which student it fine-tunes, its quick path, and how it scores a test split."""

from __future__ import annotations

import types

import pytest

from bench import distill_finetune
from tests.helpers.keyword_task import write_tsv


def test_the_best_student_on_sts_is_chosen_and_quick_runs_skip_the_training():
    quality = {"teacher": 90.0, "a": 70.0, "b": 75.0}
    results = {
        "quality": {name: {"stsb_dev_spearman": score} for name, score in quality.items()},
        "students": {"a": {"settings": {}}, "b": {"settings": {}}},
    }
    comparison = distill_finetune.finetune_comparison(types.SimpleNamespace(results=results, quick=True))
    assert comparison["student"] == "b" and comparison["tasks"] == {}  # the teacher is not a student
    assert comparison["settings"] == distill_finetune.SHARED and "b student's encoder sizes" in comparison["note"]


def test_no_student_measured_yet_gives_none(caplog):
    bench = types.SimpleNamespace(results={"quality": {"teacher": {"stsb_dev_spearman": 90.0}}}, quick=False)
    assert distill_finetune.finetune_comparison(bench) is None
    assert "no student has been measured yet" in caplog.text


def test_test_accuracy_is_the_share_of_right_predictions_in_percent(exported_models, tmp_path):
    embedder, _ = exported_models["structured"]
    texts = ["a good film", "a bad film", "who wrote hamlet ?", "what a wonderful , moving story"]
    predicted = list(embedder.predict(texts))
    gold = [predicted[0], predicted[1], *("negative" if p == "positive" else "positive" for p in predicted[2:])]
    path = write_tsv(tmp_path / "test.tsv", list(zip(gold, texts)))
    assert distill_finetune._test_accuracy(embedder, path) == pytest.approx(50.0)
