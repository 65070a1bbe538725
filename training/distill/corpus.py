"""The distillation corpus: texts from files, split into sentences, de-duplicated, minus excluded sentences.

Input files (`read_texts`):

- plain text, one text a line (``.txt`` or any other suffix), optionally gzip-compressed (``.gz``);
- tab-separated with a header line (``.tsv`` / ``.tsv.gz``): every column among `TEXT_COLUMNS` that the header
  has (``text``; ``sentence1`` and ``sentence2`` for sentence-pair files such as STS-B) is read.

`build_corpus` splits each text with `training.distill.sentences.split_sentences`, drops pieces of fewer than
``min_words`` words, drops repeats (the first occurrence stays), drops every sentence that also occurs in the
``exclude`` files (compared after lower-casing and collapsing whitespace), so that an evaluation set never leaks
into the student's training, and optionally keeps a seeded sample per file and in total. The result's
`fingerprint` names the exact sentence list, so cached teacher vectors are never reused for another corpus.

Example:
    >>> corpus = build_corpus(["reviews.txt.gz"], exclude=["stsb/dev.tsv"], max_sentences=200_000)
    >>> len(corpus), corpus.fingerprint[:12]
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedder.validation import check_int
from training.distill.sentences import split_sentences

#: Columns read from a tab-separated file's header, when present.
TEXT_COLUMNS = ("text", "sentence1", "sentence2")


def _open_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) for a plain or gzip file; a non-UTF-8 line is a clear error."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}: line {number} is not valid UTF-8 ({error.reason}).") from None


def _is_tsv(path: Path) -> bool:
    suffixes = path.suffixes
    return bool(suffixes) and (suffixes[-1] == ".tsv" or suffixes[-2:] == [".tsv", ".gz"])


def read_texts(path: str | Path, text_columns: Sequence[str] = TEXT_COLUMNS) -> Iterator[str]:
    """Yields the texts of one corpus file (see the module docstring for the formats).

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: a TSV header has none of `text_columns`, or a line is not valid UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Corpus file not found: {path}")
    lines = _open_lines(path)
    if not _is_tsv(path):
        for _, line in lines:
            if line.strip():
                yield line
        return
    first = next(lines, None)
    if first is None:
        return
    header = first[1].split("\t")
    wanted = [header.index(c) for c in text_columns if c in header]
    if not wanted:
        raise ValueError(
            f"{path}: the header has none of the text columns {list(text_columns)}. Received header: {header}"
        )
    for number, line in lines:
        cells = line.split("\t")  # no quoting: tabs never occur inside a field of these files
        for index in wanted:
            if index < len(cells) and cells[index].strip():
                yield cells[index]
            elif index >= len(cells):
                raise ValueError(f"{path}: line {number} has {len(cells)} columns, the header {len(header)}.")


def sentence_key(sentence: str) -> str:
    """The form in which sentences are compared for de-duplication and exclusion."""
    return " ".join(sentence.lower().split())


def fingerprint(sentences: Sequence[str]) -> str:
    """SHA-256 of the sentence list (order matters), in hex."""
    digest = hashlib.sha256()
    for sentence in sentences:
        digest.update(sentence.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


@dataclass(frozen=True)
class Corpus:
    """The sentences to distil on, and how they were chosen.

    Attributes:
        sentences: the sentences, in file order (a sample keeps the order).
        per_file: sentences kept from each file, by path (before the `max_sentences` sample).
        excluded: sentences dropped because an `exclude` file holds them.
        duplicates: repeats dropped.
    """

    sentences: list[str]
    per_file: dict[str, int] = field(default_factory=dict)
    excluded: int = 0
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sentences)

    def summary(self) -> dict:
        return {
            "sentences": len(self.sentences),
            "per_file": dict(self.per_file),
            "excluded": self.excluded,
            "duplicates": self.duplicates,
            "fingerprint": self.fingerprint,
        }


def _sample(items: list[str], limit: int | None, rng: np.random.Generator) -> list[str]:
    if limit is None or len(items) <= limit:
        return items
    keep = np.sort(rng.choice(len(items), size=limit, replace=False))
    return [items[i] for i in keep]


def build_corpus(
    paths: Sequence[str | Path],
    exclude: Sequence[str | Path] = (),
    max_words: int | None = 64,
    min_words: int = 2,
    max_per_file: int | None = None,
    max_sentences: int | None = None,
    seed: int = 0,
    text_columns: Sequence[str] = TEXT_COLUMNS,
) -> Corpus:
    """Reads, splits, de-duplicates, excludes and samples the corpus files.

    Args:
        paths: corpus files (see `read_texts`).
        exclude: files whose sentences must not be in the corpus (evaluation sets), read the same way.
        max_words: longer sentences are cut into windows of this many words. Defaults to 64.
        min_words: shorter pieces are dropped. Defaults to 2.
        max_per_file: keep a seeded sample of at most this many sentences from each file. None keeps all.
        max_sentences: then keep a seeded sample of at most this many in total. None keeps all.
        seed: seeds the samples. Defaults to 0.
        text_columns: the columns read from TSV files.

    Returns:
        The `Corpus`.
    """
    if not paths:
        raise ValueError("Received no corpus files; give at least one.")
    check_int("max_per_file", max_per_file, optional=True)
    check_int("max_sentences", max_sentences, optional=True)
    excluded_keys = {
        sentence_key(s)
        for path in exclude
        for text in read_texts(path, text_columns)
        for s in split_sentences(text, None)
    }
    # Whole texts of the exclude files too: an evaluation sentence that the splitter would cut must still match.
    excluded_keys |= {sentence_key(text) for path in exclude for text in read_texts(path, text_columns)}
    rng = np.random.default_rng(seed)
    seen: set[str] = set()
    sentences: list[str] = []
    per_file: dict[str, int] = {}
    excluded = duplicates = 0
    for path in paths:
        kept: list[str] = []
        for text in read_texts(path, text_columns):
            for sentence in split_sentences(text, max_words):
                if len(sentence.split()) < min_words:
                    continue
                key = sentence_key(sentence)
                if key in excluded_keys:
                    excluded += 1
                elif key in seen:
                    duplicates += 1
                else:
                    seen.add(key)
                    kept.append(sentence)
        kept = _sample(kept, max_per_file, rng)
        per_file[str(path)] = len(kept)
        sentences.extend(kept)
    if max_sentences is not None and len(sentences) > max_sentences:
        sentences = _sample(sentences, max_sentences, rng)
    return Corpus(sentences, per_file, excluded, duplicates)
