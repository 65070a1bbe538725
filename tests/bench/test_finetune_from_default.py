"""bench/finetune_from_default.py's summary: mean ± std per arm, and whether each arm beats the scratch baseline."""

from __future__ import annotations

import pytest

from bench import finetune_from_default as bench


def test_summary_compares_every_arm_with_the_scratch_baseline():
    rows = [{"task": "trec", "config": bench.SCRATCH, "test_accuracy": a} for a in (0.90, 0.91, 0.89)] + [
        {"task": "trec", "config": bench.DEFAULT, "test_accuracy": a} for a in (0.88, 0.89, 0.90)
    ]
    summary = bench.summary(rows)["trec"]
    assert summary[bench.SCRATCH]["mean"] == pytest.approx(90.0) and summary[bench.SCRATCH]["seeds"] == 3
    assert summary[bench.DEFAULT]["std"] == pytest.approx(1.0)
    assert summary["beats_scratch"] == {bench.DEFAULT: False}


def test_candidates_are_complete_finetune_settings():
    from training.config import FinetuneConfig

    for settings in bench.CANDIDATES.values():
        config = FinetuneConfig(source="models/x", train_path="train.tsv", **settings)  # every key is a real setting
        assert {key: getattr(config, key) for key in settings} == settings


def test_pretrained_doc_shows_the_json_table():
    import json

    document = json.loads(bench.RESULTS.read_text())
    assert not document["quick"] and {"trec", "sst2"} <= set(document["summary"])
    section = bench.DOC.read_text("utf-8").split(bench.BEGIN, 1)[1].split(bench.END, 1)[0].strip()
    assert section == bench.table(document)


def test_a_dev_tie_goes_to_the_first_candidate_whatever_the_stored_order():
    first, second, third = list(bench.CANDIDATES)[:3]
    trials = {second: {"dev_accuracy": 0.8}, third: {"dev_accuracy": 0.7}, first: {"dev_accuracy": 0.8}}
    assert bench.chosen_candidate(trials) == first
    assert bench.chosen_candidate(dict(reversed(list(trials.items())))) == first
    assert bench.chosen_candidate({**trials, third: {"dev_accuracy": 0.9}}) == third
