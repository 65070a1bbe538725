"""bench/learning_curve.py: the per-class sampling, the stretched schedule, resuming, the doc table and the cheap
arms on generated data."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench import compare, doc_markers
from bench import finetune_from_default as finetune_bench
from bench import learning_curve as bench
from tests.helpers.bench_data import write_bench_data
from training.data import LabelledExamples

ROW_KEYS = {"dataset", "k", "seed", "arm", "train_examples", "dev_examples", "test_examples", "wall_s"}


def pool(sizes: dict[str, int]) -> LabelledExamples:
    """Examples whose text names their class and number, the classes interleaved."""
    rows = sorted(((i, label) for label, size in sizes.items() for i in range(size)))
    return LabelledExamples(tuple(f"{label} {i}" for i, label in rows), tuple(label for _, label in rows))


def test_sampling_takes_k_of_every_class_deterministically_per_seed():
    examples = pool({"a": 30, "b": 20, "c": 5})
    sample = bench.sample_per_class(examples, 8, seed=1)
    assert Counter(sample.labels) == {"a": 8, "b": 8, "c": 5}  # a class with fewer than k: all of it
    assert sample == bench.sample_per_class(examples, 8, seed=1)
    assert sample != bench.sample_per_class(examples, 8, seed=2)
    assert list(sample.texts) == [t for t in examples.texts if t in set(sample.texts)]  # the pool's order
    larger = bench.sample_per_class(examples, 16, seed=1)
    assert Counter(larger.labels) == {"a": 16, "b": 16, "c": 5} and set(sample.texts) <= set(larger.texts)


def test_sampling_rejects_k_below_one():
    with pytest.raises(ValueError, match="Received: k=0"):
        bench.sample_per_class(pool({"a": 3}), 0, seed=0)


def test_tiny_training_sets_are_repeated_to_at_least_min_steps():
    settings = dict(epochs=12, batch_size=32, learning_rate=3e-4, schedule="cosine", patience=4, freeze_epochs=1)
    assert bench.repeats(settings, 16) == 49  # SST-2, k = 8: 784 examples, 25 batches × 12 epochs = 300 steps
    assert bench.repeats(settings, 48) == 17  # TREC, k = 8: 816 examples, 26 batches × 12 epochs = 312 steps
    assert bench.repeats(settings, 6 * 256) == 1  # 48 batches × 12 epochs: enough already
    for examples in (1, 16, 33, 100, 512, 1000):
        times = bench.repeats(settings, examples)
        steps = -(-examples * times // 32) * settings["epochs"]
        assert steps >= bench.MIN_STEPS
        assert times == 1 or -(-examples * (times - 1) // 32) * settings["epochs"] < bench.MIN_STEPS  # the fewest


def test_finetune_settings_are_the_dev_selected_candidate(tmp_path):
    trials = {"lr 1e-3, 8 epochs": 0.80, "lr 2e-3, 12 epochs, cosine": 0.85, "lr 3e-4, 12 epochs, cosine": 0.84}
    results = tmp_path / "finetune.json"
    results.write_text(json.dumps({"dev_selection": {"trec": {n: {"dev_accuracy": a} for n, a in trials.items()}}}))
    name, settings = bench.selected_settings("trec", results)
    assert name == "lr 2e-3, 12 epochs, cosine" and settings == finetune_bench.CANDIDATES[name]


def _rows():
    finetune = [
        dict(dataset="trec", k=8, seed=s, arm="finetune", test_accuracy=a) for s, a in enumerate((0.7, 0.8, 0.9))
    ]
    tfidf = [dict(dataset="trec", k=64, seed=s, arm="tfidf", test_accuracy=a) for s, a in enumerate((0.6, 0.7))]
    return finetune + tfidf + [dict(dataset="sst2", k=256, seed=0, arm="frozen", test_accuracy=0.75)]


def test_table_shows_mean_and_std_per_arm_and_k_and_which_cells_are_measured():
    text = bench.table({"summary": bench.summary(_rows())})
    assert "| trec | 8 | 80.0 ± 10.0 | – | – | – |" in text
    assert "| sst2 | 256 | – | – | 75.0 (1 seed) | – |" in text
    assert "| trec | 64 | – | – | – | 65.0 ± 7.1 (2 seeds) |" in text
    assert "| trec | 16 | – | – | – | – |" in text and len(text.splitlines()) == 2 + len(bench.DATASETS) * len(bench.KS)


def test_render_writes_the_table_between_the_markers_and_the_plot(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text(f"# before\n\n{bench.BEGIN}\nold\n{bench.END}\n\nafter\n", "utf-8")
    document = {"rows": _rows()}
    bench.render(document, tmp_path / "curve.png", doc)
    assert doc_markers.section(doc, bench.BEGIN, bench.END) == bench.table(document)
    text = doc.read_text("utf-8")
    assert text.startswith("# before\n") and text.endswith("after\n") and "old" not in text
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.fixture
def data(tmp_path, monkeypatch):
    root = write_bench_data(tmp_path / "data")
    monkeypatch.setattr(compare, "DATA", root)
    return root


def test_resume_skips_the_runs_already_in_the_json(data, tmp_path):
    out = tmp_path / "curve.json"
    argv = ["--arms", "tfidf", "--datasets", "trec", "sst2", "--ks", "8", "--seeds", "0", "--out", str(out)]
    assert bench.main(argv) == 0
    document = json.loads(out.read_text())
    assert [(r["dataset"], r["k"], r["arm"]) for r in document["rows"]] == [("trec", 8, "tfidf"), ("sst2", 8, "tfidf")]
    for row in document["rows"]:
        assert ROW_KEYS | {"test_accuracy", "dev_accuracy", "C"} <= set(row)
        assert 0.0 <= row["test_accuracy"] <= 1.0 and row["C"] in bench.TFIDF_C_GRID
    assert document["summary"]["trec"]["tfidf"]["8"]["seeds"] == 1
    document["rows"][0]["test_accuracy"] = 0.123  # a run the second invocation must not redo
    out.write_text(json.dumps(document))
    assert bench.main([*argv[:-2], "--ks", "8", "16", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["dataset"], r["k"]) for r in rows] == [("trec", 8), ("sst2", 8), ("trec", 16), ("sst2", 16)]
    assert rows[0]["test_accuracy"] == 0.123


@pytest.mark.slow  # loads the shipped model
def test_frozen_arm_measures_the_shipped_model_on_a_tiny_sample(data, tmp_path):
    out = tmp_path / "curve.json"
    assert bench.main(["--arms", "frozen", "--datasets", "sst2", "--ks", "8", "--seeds", "1", "--out", str(out)]) == 0
    [row] = json.loads(out.read_text())["rows"]
    assert ROW_KEYS <= set(row) and row["arm"] == "frozen" and row["seed"] == 1
    assert row["train_examples"] == 8 * 3 and 0.0 <= row["test_accuracy"] <= 1.0 and 0.0 <= row["dev_accuracy"] <= 1.0


def test_quick_needs_an_output_path_of_its_own():
    with pytest.raises(SystemExit):
        bench.main(["--quick"])


def test_pretrained_doc_shows_the_json_table():
    document = json.loads(bench.RESULTS.read_text())
    assert not document["quick"] and {(r["dataset"], r["arm"]) for r in document["rows"]} >= {
        (dataset, arm) for dataset in bench.DATASETS for arm in ("frozen", "tfidf")
    }
    assert doc_markers.section(bench.DOC, bench.BEGIN, bench.END) == bench.table(document)


def test_finetunes_few_data_defaults_are_the_thresholds_the_measured_curve_gives():
    from training.config import EVERY_WORD_MAX_PER_CLASS, FEW_SHOT_MAX_PER_CLASS

    rows = json.loads(bench.RESULTS.read_text())["rows"]
    assert bench.few_shot_threshold(rows) == FEW_SHOT_MAX_PER_CLASS
    assert bench.threshold(rows, "finetune_all_words", "finetune") == EVERY_WORD_MAX_PER_CLASS


def test_few_shot_threshold_is_the_largest_size_with_a_mean_dev_gain():
    def rows(k, trec, sst2):
        return [
            dict(dataset=d, k=k, seed=0, arm=arm, dev_accuracy=value, test_accuracy=0.5)
            for d, (setfit, finetune) in (("trec", trec), ("sst2", sst2))
            for arm, value in (("setfit", setfit), ("finetune", finetune))
        ]

    measured = rows(8, (0.6, 0.5), (0.6, 0.6)) + rows(16, (0.6, 0.5), (0.5, 0.59)) + rows(64, (0.7, 0.6), (0.6, 0.6))
    assert bench.few_shot_gains(measured)[16]["mean"] == pytest.approx(0.5)
    assert bench.few_shot_threshold(measured) == 64
    assert bench.few_shot_threshold(rows(8, (0.5, 0.6), (0.5, 0.6))) is None


def test_extra_arms_get_a_column_once_measured():
    rows = _rows() + [dict(dataset="trec", k=8, seed=0, arm="finetune_all_words", test_accuracy=0.5)]
    text = bench.table({"summary": bench.summary(rows)})
    assert bench.ARM_NAMES["finetune_all_words"] in text.splitlines()[0]
    assert "| trec | 8 | 80.0 ± 10.0 | – | – | – | 50.0 (1 seed) |" in text
    assert bench.ARM_NAMES["setfit_all_words"] not in text
