"""bench/distill_measures.py: what every distillation number goes through, on generated data and a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from bench import distill_measures as measures
from tests.helpers.bench_data import ROWS, keyword_encoder, write_bench_data


def test_sts_spearman_ranks_the_pairs_cosines_against_the_gold_scores():
    vectors = {"a": np.array([1.0, 0.0]), "b": np.array([2.0, 0.0]), "c": np.array([0.0, 3.0]), "d": [1.0, 1.0]}
    # Cosines of the pairs (a, b), (a, c), (a, d): 1, 0, 0.707; gold scores in the same order rank them alike.
    assert measures.sts_spearman(vectors, ["a", "a", "a"], ["b", "c", "d"], [5.0, 0.0, 2.5]) == pytest.approx(100.0)
    assert measures.sts_spearman(vectors, ["a", "a", "a"], ["b", "c", "d"], [0.0, 5.0, 2.5]) == pytest.approx(-100.0)
    np.testing.assert_allclose(measures.unit(np.array([[3.0, 4.0], [0.0, 0.0]])), [[0.6, 0.8], [0.0, 0.0]])


def test_transfer_accuracy_picks_c_on_dev_and_scores_the_test_split(tmp_path, monkeypatch):
    monkeypatch.setattr(measures, "DATA", write_bench_data(tmp_path))
    splits = measures.transfer_splits(seed=0)
    assert [len(splits["trec"][s][0]) for s in ("train", "dev", "test")] == [44, 4, ROWS["test"]]
    assert sorted(splits["trec"]["train"][0] + splits["trec"]["dev"][0]) == sorted(
        measures.labelled("trec", "train")[0]
    )
    # Vectors that hold the label (the keyword stand-in model): far above chance (33 %), which a pipeline that mixed
    # up texts, labels or splits would land on.
    texts = sorted({t for split in splits["sst2"].values() for t in split[0]})
    vectors = dict(zip(texts, keyword_encoder(texts, 64)))
    result = measures.transfer_accuracy(vectors, splits["sst2"])
    assert result["test"] > 80.0 and result["dev"] > 80.0 and result["C"] in measures.C_GRID


def test_sentences_per_second_counts_every_batch():
    seen = []
    result = measures.sentences_per_second(lambda batch, size: seen.append(list(batch)), list("abcdefg"), 3, repeats=2)
    assert seen == [list("abc"), list("def"), ["g"]] * 2
    assert result["per_s"] > 0 and result["per_cpu_s"] > 0
    assert measures.median_of([{"x": 3}, {"x": 1}, {"x": 2}], "x") == 2.0


def test_saved_model_encoder_is_the_served_signature(exported_models):
    embedder, version_dir = exported_models["structured"]
    texts = ["a good film", "who wrote hamlet ?"]
    np.testing.assert_allclose(measures.saved_model_encoder(version_dir)(texts, 2), embedder.encode(texts), atol=1e-5)
