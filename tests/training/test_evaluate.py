import numpy as np
import pytest

from training.evaluate import classification_report, pair_report, pearson, spearman

LABELS = ["cat", "dog", "emu"]
TRUE = ["cat", "cat", "cat", "dog", "dog", "emu", "emu", "emu", "emu", "cat"]
PRED = ["cat", "dog", "cat", "dog", "cat", "emu", "dog", "emu", "emu", "emu"]


def test_classification_metrics_match_an_independent_computation():
    report = classification_report(TRUE, PRED, LABELS)
    t = np.array([LABELS.index(x) for x in TRUE])
    p = np.array([LABELS.index(x) for x in PRED])
    confusion = np.array([[np.sum((t == i) & (p == j)) for j in range(3)] for i in range(3)])
    assert report.confusion == confusion.tolist() == [[2, 1, 1], [1, 1, 0], [0, 1, 3]]
    assert report.accuracy == pytest.approx(np.mean(t == p)) == pytest.approx(0.6)
    f1 = []
    for c in range(3):
        tp = np.sum((t == c) & (p == c))
        precision, recall = tp / np.sum(p == c), tp / np.sum(t == c)
        f1.append(2 * precision * recall / (precision + recall))
    assert report.f1 == pytest.approx(f1)
    assert report.macro_f1 == pytest.approx(np.mean(f1))
    assert report.support == [4, 2, 4] and report.examples == 10


def test_class_never_predicted_scores_zero_and_unknown_labels_fail():
    report = classification_report(["a", "b", "b"], ["b", "b", "b"], ["a", "b"])
    assert report.f1[0] == 0.0 and report.precision[0] == 0.0
    assert report.macro_f1 == pytest.approx((0.0 + 0.8) / 2)
    with pytest.raises(ValueError, match=r"Labels \['z'\] are not among the classes"):
        classification_report(["a"], ["z"], ["a", "b"])


def _average_ranks(values):
    values = np.asarray(values, float)
    return np.array([np.sum(values < v) + (np.sum(values == v) + 1) / 2 for v in values])


def test_correlations_match_an_independent_computation():
    rng = np.random.default_rng(0)
    gold = np.round(rng.uniform(0, 5, 50), 0)  # many ties
    predicted = gold + rng.normal(0, 1.5, 50)
    expected_pearson = np.corrcoef(predicted, gold)[0, 1]
    expected_spearman = np.corrcoef(_average_ranks(predicted), _average_ranks(gold))[0, 1]
    assert pearson(predicted, gold) == pytest.approx(expected_pearson)
    assert spearman(predicted, gold) == pytest.approx(expected_spearman)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 1000]) == pytest.approx(1.0)
    report = pair_report(gold, predicted)
    assert report.pairs == 50 and report.spearman == pytest.approx(expected_spearman)
