"""Fixtures for the training tests: a synthetic keyword task and small labelled files."""

from __future__ import annotations

import numpy as np
import pytest

#: The label of a sentence is decided by the one keyword it contains; the other words are random fillers.
KEYWORDS = {"apple": "fruit", "tiger": "animal", "violin": "music"}
FILLERS = [f"w{i}" for i in range(40)]

#: Small encoders that learn the keyword task in a few epochs.
KEYWORD_ENCODERS = {
    "classic": dict(embedding_dim=16, rnn_units=16, attention_units=16, dropout=0.0),
    "structured": dict(embedding_dim=16, rnn_units=16, attention_units=16, attention_hops=2, dropout=0.0),
    "transformer": dict(hidden_dim=16, num_heads=2, num_layers=1, intermediate_dim=32, dropout=0.0),
    "bilstm_max": dict(embedding_dim=16, rnn_units=16, dropout=0.0),
}


def keyword_sentences(count: int, seed: int, min_words: int = 10, max_words: int = 20):
    """(label, text, keyword position) triples."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        keyword = str(rng.choice(list(KEYWORDS)))
        words = [str(w) for w in rng.choice(FILLERS, size=rng.integers(min_words, max_words))]
        position = int(rng.integers(0, len(words) + 1))
        words.insert(position, keyword)
        rows.append((KEYWORDS[keyword], " ".join(words), position))
    return rows


def write_tsv(path, rows, header=("label", "text")):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(str(v) for v in row[: len(header)]) + "\n")
    return str(path)


@pytest.fixture(scope="session")
def keyword_files(tmp_path_factory):
    """{"train", "dev"}: TSV paths of the keyword task, and "test": held-out (label, text, position) rows."""
    folder = tmp_path_factory.mktemp("keyword")
    return {
        "train": write_tsv(folder / "train.tsv", keyword_sentences(480, seed=0)),
        "dev": write_tsv(folder / "dev.tsv", keyword_sentences(96, seed=1)),
        "test": keyword_sentences(100, seed=2),
    }
