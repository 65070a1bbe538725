"""The synthetic keyword task: the label of a sentence is decided by the one keyword it contains.

Its sentences, TSV files, small encoders that learn it and training settings; shared by the training tests and
bench/attention_keyword.py, so that the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

#: The label of a sentence is decided by the one keyword it contains; the other words are random fillers.
KEYWORDS = {"apple": "fruit", "tiger": "animal", "violin": "music"}
FILLERS = [f"w{i}" for i in range(40)]

#: Small encoders that learn the keyword task in a few epochs (the structured one with Lin et al.'s penalty on, which
#: `embedder train` leaves off by default: the tests of the penalty's handling need a source that has it).
KEYWORD_ENCODERS = {
    "classic": dict(embedding_dim=16, rnn_units=16, attention_units=16, dropout=0.0),
    "structured": dict(
        embedding_dim=16, rnn_units=16, attention_units=16, attention_hops=2, dropout=0.0, penalty_coefficient=1.0
    ),
    "transformer": dict(hidden_dim=16, num_heads=2, num_layers=1, intermediate_dim=32, dropout=0.0),
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


def keyword_pairs(count: int, seed: int):
    """Scored pairs of keyword sentences: 5 where both have the same label, 0 otherwise."""
    rows = keyword_sentences(2 * count, seed)
    return [(5.0 if a[0] == b[0] else 0.0, a[1], b[1]) for a, b in zip(rows[::2], rows[1::2])]


def write_tsv(path, rows, header=("label", "text")):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\t".join(header) + "\n")
        for row in rows:
            handle.write("\t".join(str(v) for v in row[: len(header)]) + "\n")
    return str(path)


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
        schedule="constant",
        warmup_epochs=0.0,
        word_vectors=None,  # random vectors of the small embedding_dim: the keyword task needs no GloVe
        patience=0,
    )
    return TrainConfig(**(values | overrides))
