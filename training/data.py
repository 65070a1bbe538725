"""Reading labelled sentences and scored sentence pairs from TSV, CSV or JSONL files, and carving a dev hold-out.

Formats are chosen by file suffix (``.tsv``/``.tab``, ``.csv``, ``.jsonl``/``.ndjson``) or by the `file_format`
argument. TSV and CSV files have one header line naming the columns; JSONL files hold one JSON object per line.
Every problem with the input raises `DataError` (a `ValueError`) whose message names the file and, where there is
one, the line:

- a column that is not there (the message lists the columns that are),
- a file with no examples,
- a line that is not valid UTF-8 (or not valid JSON, or has too few fields),
- an empty label, or a score that is not a number,
- a label that appears in the dev data but never in the training data (`check_dev_labels`).

Example:
    >>> train = read_labelled("../shared/data/trec/train.tsv")
    >>> train, dev = split_holdout(train, fraction=0.1, seed=0)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embedder.validation import check_choice, check_number

FORMATS = ("tsv", "csv", "jsonl")
_SUFFIXES = {".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


#: `max_length_for`'s rule, the default of `embedder train --max-length` (chosen by bench/defaults_sweep.py).
LENGTH_PERCENTILE = 95
LENGTH_MULTIPLE = 8
LENGTH_RANGE = (16, 512)


def max_length_for(
    lengths: Sequence[int],
    percentile: float = LENGTH_PERCENTILE,
    multiple: int = LENGTH_MULTIPLE,
    length_range: tuple[int, int] = LENGTH_RANGE,
) -> int:
    """The tokens to read per text for training texts of these lengths: their `percentile`-th percentile, rounded
    up to a multiple of `multiple` and kept within `length_range` (fewer than 16 saves nothing; more than 512 costs
    more than it measured to gain on 20ng, see docs/TRAINING.md).

    >>> max_length_for([5, 9, 12, 30])
    32
    """
    if not len(lengths):
        raise ValueError("Received no text lengths; max_length_for needs the training texts' lengths.")
    check_number("percentile", percentile, minimum=0, maximum=100)
    value = float(np.percentile(np.asarray(lengths, dtype=np.float64), percentile))
    rounded = int(-(-max(value, 1.0) // multiple) * multiple)
    low, high = length_range
    return int(min(max(rounded, low), high))


class DataError(ValueError):
    """Input data that cannot be used, with a message naming the file (and line) and the problem."""


@dataclass(frozen=True)
class LabelledExamples:
    """Sentences and their class labels, in file order."""

    texts: tuple[str, ...]
    labels: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_set(self) -> list[str]:
        """The distinct labels, sorted: the class order of a model trained on these examples."""
        return sorted(set(self.labels))

    def subset(self, indices: Sequence[int]) -> LabelledExamples:
        return LabelledExamples(tuple(self.texts[i] for i in indices), tuple(self.labels[i] for i in indices))


@dataclass(frozen=True)
class ScoredPairs:
    """Sentence pairs and their similarity scores (e.g. STS-B's 0–5), in file order."""

    first: tuple[str, ...]
    second: tuple[str, ...]
    scores: tuple[float, ...]

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def texts(self) -> tuple[str, ...]:
        """Every sentence: the first column's, then the second's (what a vocabulary is built from)."""
        return self.first + self.second

    def subset(self, indices: Sequence[int]) -> ScoredPairs:
        return ScoredPairs(
            tuple(self.first[i] for i in indices),
            tuple(self.second[i] for i in indices),
            tuple(self.scores[i] for i in indices),
        )


def detect_format(path: str | Path, file_format: str | None = None) -> str:
    """The format of `path`: `file_format` when given, else from the suffix (a ``.gz`` suffix is not supported)."""
    if file_format is not None:
        check_choice("file_format", file_format, FORMATS)
        return file_format
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        raise DataError(
            f"{path}: cannot tell the format from the suffix {suffix!r}; use .tsv, .csv or .jsonl "
            "(or pass the format explicitly)."
        )
    return _SUFFIXES[suffix]


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text without the line break), decoding each line on its own to report the bad one."""
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{path}, line {number}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
                    f"{error.start + 1}); re-save the file as UTF-8."
                ) from None
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a byte-order mark, as spreadsheet programs write
            yield number, line.rstrip("\r\n")


def _records(path: Path, file_format: str) -> Iterator[tuple[int, dict[str, str], list[str]]]:
    """(line number, {column: value}, all column names) for each non-blank record."""
    lines = _decoded_lines(path)
    if file_format == "jsonl":
        for number, line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(f"{path}, line {number}: not valid JSON ({error.msg}).") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object, found {type(record).__name__}.")
            yield number, record, list(record)
        return
    delimiter = "\t" if file_format == "tsv" else ","
    header: list[str] | None = None
    for number, line in lines:
        if not line.strip():
            continue
        # TSV files from our data sets are unquoted; CSV follows RFC 4180 quoting (one record a line). A field can
        # be no longer than its line, so the csv module's field limit (128 KiB by default: whole 20 Newsgroups
        # posts are longer) is raised to the line's length where needed.
        if file_format == "tsv":
            fields = line.split(delimiter)
        else:
            if len(line) > csv.field_size_limit():
                csv.field_size_limit(len(line))
            fields = next(csv.reader(io.StringIO(line), delimiter=delimiter), [])
        if header is None:
            header = [f.strip() for f in fields]
            continue
        if len(fields) < len(header):
            raise DataError(
                f"{path}, line {number}: {len(fields)} field(s) where the header has {len(header)} "
                f"({', '.join(header)})."
            )
        yield number, dict(zip(header, fields)), header


def _read_columns(path, columns: Sequence[str], file_format: str | None) -> list[tuple[int, list]]:
    path = Path(path)
    file_format = detect_format(path, file_format)
    rows = []
    for number, record, names in _records(path, file_format):
        missing = [c for c in columns if c not in record]
        if missing:
            where = "header" if file_format != "jsonl" else f"line {number}"
            raise DataError(
                f"{path}: no column {missing[0]!r} in the {where}; found {', '.join(map(repr, names))}. "
                "Choose the columns with --text-column/--label-column (or the matching arguments)."
            )
        rows.append((number, [record[c] for c in columns]))
    if not rows:
        raise DataError(f"{path}: the file holds no examples.")
    return rows


def _text(path, number, column, value) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DataError(f"{path}, line {number}: column {column!r} should hold text, found {value!r}.")
    return value


def write_labelled(examples: LabelledExamples, path: str | Path) -> Path:
    """Writes `examples` as a ``label``/``text`` TSV (the layout of ../shared/data) that `read_labelled` reads back.

    Raises:
        DataError: a text or label holding a tab or a line break, which the layout cannot hold.
    """
    for text, label in zip(examples.texts, examples.labels):
        if any(c in value for value in (text, label) for c in "\t\n\r"):
            raise DataError(f"{path}: cannot write {text[:40]!r} ({label!r}) as TSV: it holds a tab or a line break.")
    lines = ["label\ttext", *(f"{label}\t{text}" for text, label in zip(examples.texts, examples.labels))]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_labelled(
    path: str | Path,
    text_column: str = "text",
    label_column: str = "label",
    file_format: str | None = None,
) -> LabelledExamples:
    """Reads labelled sentences.

    Args:
        path: a TSV, CSV or JSONL file.
        text_column: the column holding the sentence. Defaults to "text".
        label_column: the column holding the class name. Defaults to "label".
        file_format: "tsv", "csv" or "jsonl"; None picks it from the suffix.

    Returns:
        The examples, in file order.

    Raises:
        DataError: see the module docstring.
    """
    texts, labels = [], []
    for number, (text, label) in _read_columns(path, [text_column, label_column], file_format):
        label = _text(path, number, label_column, label if not isinstance(label, (int, bool)) else str(label))
        if not label.strip():
            raise DataError(f"{path}, line {number}: empty label in column {label_column!r}.")
        texts.append(_text(path, number, text_column, text))
        labels.append(label.strip())
    return LabelledExamples(tuple(texts), tuple(labels))


def read_pairs(
    path: str | Path,
    score_column: str = "score",
    first_column: str = "sentence1",
    second_column: str = "sentence2",
    file_format: str | None = None,
) -> ScoredPairs:
    """Reads scored sentence pairs (STS-B layout: score, sentence1, sentence2).

    Raises:
        DataError: see the module docstring; also for a score that is not a finite number.
    """
    first, second, scores = [], [], []
    for number, (score, a, b) in _read_columns(path, [score_column, first_column, second_column], file_format):
        try:
            value = float(score)
        except (TypeError, ValueError):
            value = float("nan")
        if not np.isfinite(value):
            raise DataError(f"{path}, line {number}: the score {score!r} in column {score_column!r} is not a number.")
        first.append(_text(path, number, first_column, a))
        second.append(_text(path, number, second_column, b))
        scores.append(value)
    return ScoredPairs(tuple(first), tuple(second), tuple(scores))


def check_dev_labels(train: LabelledExamples, dev: LabelledExamples, dev_path: str | Path = "dev data") -> None:
    """Raises `DataError` if the dev data has a label the training data never shows (the model could not learn it)."""
    unknown = sorted(set(dev.labels) - set(train.labels))
    if unknown:
        raise DataError(
            f"{dev_path}: label(s) {', '.join(map(repr, unknown))} appear only in the dev data, never in the training "
            f"data (training labels: {', '.join(map(repr, train.label_set))})."
        )


def split_holdout(examples, fraction: float = 0.1, seed: int = 0):
    """Splits examples into (train, dev) with a seeded random hold-out of `fraction` of them.

    Labelled examples are split per class (stratified), so that every class with at least two examples keeps one
    in training and the dev set has the training data's class balance. Scored pairs are split at random.

    Args:
        examples: `LabelledExamples` or `ScoredPairs`.
        fraction: the share held out, strictly between 0 and 1. Defaults to 0.1.
        seed: the random seed; the same seed and data give the same split. Defaults to 0.

    Returns:
        ``(train, dev)`` of the same type as `examples`.
    """
    check_number("fraction", fraction, minimum=0, maximum=1, strict=True)
    rng = np.random.default_rng(seed)
    if isinstance(examples, LabelledExamples):
        labels = np.array(examples.labels)
        held: list[int] = []
        for label in examples.label_set:
            members = np.flatnonzero(labels == label)
            count = int(round(fraction * len(members)))
            count = min(count, len(members) - 1)  # never take a class's last training example
            held.extend(rng.permutation(members)[:count].tolist())
    else:
        count = int(round(fraction * len(examples)))
        held = rng.permutation(len(examples))[:count].tolist()
    if not held or len(held) == len(examples):
        raise DataError(
            f"Cannot hold out {fraction:.0%} of {len(examples)} examples for dev; give a dev file or more data."
        )
    held_set = set(held)
    kept = [i for i in range(len(examples)) if i not in held_set]
    return examples.subset(kept), examples.subset(sorted(held))
