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


def keyword_config(files, architecture, **overrides):
    """Settings that learn the keyword task in a few seconds."""
    from training.config import TrainConfig

    values = dict(
        architecture=architecture,
        train_path=files["train"],
        dev_path=files["dev"],
        encoder=KEYWORD_ENCODERS[architecture],
        head={"hidden_layers": 0, "dropout": 0.0},
        max_length=24,
        batch_size=16,
        epochs=6,
        learning_rate=3e-3,
        patience=0,
    )
    return TrainConfig(**(values | overrides))


@pytest.fixture(scope="session")
def keyword_models(keyword_files, tmp_path_factory):
    """Every encoder trained briefly on the keyword task; the transformer is also exported (models/transformer/1)."""
    from training.train import train

    base = tmp_path_factory.mktemp("keyword-models")
    results = {}
    for architecture in KEYWORD_ENCODERS:
        out = base / architecture if architecture == "transformer" else None
        results[architecture] = train(
            keyword_config(keyword_files, architecture), out, work_dir=base / f"{architecture}.run", verbose=0
        )
    return results
