"""Evaluation: accuracy, macro-F1 and the confusion matrix for labelled data; Spearman and Pearson of cosine
similarity for scored sentence pairs. Plain numpy, so the numbers do not depend on a metrics library.

Example:
    >>> report = evaluate_classifier(SentenceEmbedder.load("models/trec"), "trec/test.tsv")
    >>> print(format_classification(report))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from embedder import contract
from training.data import DataError, read_labelled, read_pairs


@dataclass(frozen=True)
class ClassificationReport:
    """Metrics of predicted against true labels.

    Attributes:
        labels: the classes, in the order of the matrix rows and columns.
        accuracy: the share of correct predictions.
        macro_f1: the unweighted mean of the per-class F1 scores (a class never predicted and never true is
            left out; one that is true but never predicted scores 0).
        confusion: ``confusion[i][j]`` counts examples of true class i predicted as class j.
        precision, recall, f1, support: per class, in the order of `labels`.
    """

    labels: list[str]
    accuracy: float
    macro_f1: float
    confusion: list[list[int]]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]

    @property
    def examples(self) -> int:
        return int(sum(self.support))

    def to_dict(self) -> dict:
        return dict(asdict(self), examples=self.examples)


@dataclass(frozen=True)
class PairReport:
    """Agreement of cosine similarities with gold scores: Spearman's and Pearson's correlation (in [-1, 1])."""

    spearman: float
    pearson: float
    pairs: int

    def to_dict(self) -> dict:
        return asdict(self)


def classification_report(
    true_labels: Sequence[str], predicted_labels: Sequence[str], labels: Sequence[str] | None = None
) -> ClassificationReport:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix.

    Args:
        true_labels: the gold labels.
        predicted_labels: the predictions, one per gold label.
        labels: the class order; defaults to the sorted union of both.
    """
    if len(true_labels) != len(predicted_labels):
        raise ValueError(f"Received {len(true_labels)} true labels but {len(predicted_labels)} predictions.")
    if not len(true_labels):
        raise ValueError("Received no examples to evaluate.")
    labels = list(labels) if labels is not None else sorted(set(true_labels) | set(predicted_labels))
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted((set(true_labels) | set(predicted_labels)) - set(index))
    if unknown:
        raise ValueError(f"Labels {unknown!r} are not among the classes {labels!r}.")
    confusion = np.zeros((len(labels), len(labels)), np.int64)
    np.add.at(confusion, ([index[t] for t in true_labels], [index[p] for p in predicted_labels]), 1)
    correct = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(correct, predicted, out=np.zeros_like(correct), where=predicted > 0)
    recall = np.divide(correct, support, out=np.zeros_like(correct), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(correct), where=denominator > 0)
    present = (support + predicted) > 0
    return ClassificationReport(
        labels=labels,
        accuracy=float(correct.sum() / confusion.sum()),
        macro_f1=float(f1[present].mean()),
        confusion=confusion.tolist(),
        precision=precision.tolist(),
        recall=recall.tolist(),
        f1=f1.tolist(),
        support=support.tolist(),
    )


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as Spearman's coefficient needs)."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), np.float64)
    sorted_values = values[order]
    start = 0
    while start < len(values):
        end = start
        while end + 1 < len(values) and sorted_values[end + 1] == sorted_values[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's correlation coefficient (0 when either side is constant)."""
    x = np.asarray(x, np.float64) - np.mean(x)
    y = np.asarray(y, np.float64) - np.mean(y)
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation: Pearson's correlation of the (tie-averaged) ranks."""
    return pearson(_ranks(np.asarray(x, np.float64)), _ranks(np.asarray(y, np.float64)))


def cosine_similarities(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of two (n, dim) arrays."""
    return (contract.l2_normalize(first) * contract.l2_normalize(second)).sum(axis=1)


def pair_report(gold_scores: Sequence[float], similarities: Sequence[float]) -> PairReport:
    if len(gold_scores) != len(similarities):
        raise ValueError(f"Received {len(gold_scores)} scores but {len(similarities)} similarities.")
    return PairReport(spearman(similarities, gold_scores), pearson(similarities, gold_scores), len(gold_scores))


def evaluate_classifier(
    embedder,
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    file_format=None,
    batch_size: int = 64,
) -> ClassificationReport:
    """Classifies a labelled file with `embedder` (a `SentenceEmbedder` with a head) and reports the metrics.

    Raises:
        DataError: bad data, or gold labels the model does not know.
    """
    examples = read_labelled(path, text_column, label_column, file_format)
    if not embedder.labels:
        raise DataError("The model has no classification head; evaluate it on scored pairs (--pairs) instead.")
    unknown = sorted(set(examples.labels) - set(embedder.labels))
    if unknown:
        raise DataError(f"{path}: label(s) {unknown!r} are not among the model's classes {embedder.labels!r}.")
    predictions = embedder.predict(list(examples.texts), batch_size=batch_size)
    return classification_report(examples.labels, predictions, embedder.labels)


def evaluate_pairs(
    embedder,
    path: str | Path,
    score_column: str = "score",
    first_column: str = "sentence1",
    second_column: str = "sentence2",
    file_format=None,
    batch_size: int = 64,
) -> PairReport:
    """Cosine similarity of each pair's embeddings against its gold score (Spearman, Pearson)."""
    pairs = read_pairs(path, score_column, first_column, second_column, file_format)
    first = embedder.encode(list(pairs.first), batch_size=batch_size)
    second = embedder.encode(list(pairs.second), batch_size=batch_size)
    return pair_report(pairs.scores, cosine_similarities(first, second))


def format_classification(report: ClassificationReport) -> str:
    """A plain-text table: overall scores, per-class scores, and the confusion matrix."""
    width = max(8, *(len(label) for label in report.labels))
    lines = [
        f"examples  {report.examples}",
        f"accuracy  {report.accuracy:.4f}",
        f"macro-F1  {report.macro_f1:.4f}",
        "",
        f"{'class':<{width}}  precision  recall     f1  support",
    ]
    for i, label in enumerate(report.labels):
        lines.append(
            f"{label:<{width}}  {report.precision[i]:9.4f}  {report.recall[i]:6.4f}  {report.f1[i]:.4f}  "
            f"{report.support[i]:7d}"
        )
    lines += ["", "confusion matrix (rows: true, columns: predicted)"]
    cell = max(5, width, *(len(str(v)) for row in report.confusion for v in row))
    lines.append(" " * width + "  " + " ".join(f"{label[:cell]:>{cell}}" for label in report.labels))
    for label, row in zip(report.labels, report.confusion):
        lines.append(f"{label:<{width}}  " + " ".join(f"{v:>{cell}d}" for v in row))
    return "\n".join(lines)


def format_pairs(report: PairReport) -> str:
    return f"pairs     {report.pairs}\nspearman  {report.spearman:.4f}\npearson   {report.pearson:.4f}"
