"""A stand-in for the shared data directory the bench scripts read (trec, sst2, stsb), generated from the keyword task.

The real files live outside the repository (``../shared/data``), which CI does not have; the smoke tests point a
script at this tree instead (its ``--data`` flag, or its ``DATA`` constant patched).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from tests.helpers.keyword_task import KEYWORDS, keyword_sentences, write_tsv

#: rows per split: enough for a logistic regression on every class, few enough to stay fast.
ROWS = {"train": 48, "dev": 24, "test": 24}


def write_bench_data(root: Path, rows: dict[str, int] | None = None) -> Path:
    """trec/{train,test}.tsv, sst2/{train,dev,test}.tsv (label, text) and stsb/{train,dev}.tsv (sentence pairs)."""
    rows = dict(ROWS, **(rows or {}))
    for dataset, splits, seed in (("trec", ("train", "test"), 0), ("sst2", ("train", "dev", "test"), 10)):
        (root / dataset).mkdir(parents=True, exist_ok=True)
        for offset, split in enumerate(splits):
            sentences = keyword_sentences(rows[split], seed=seed + offset, min_words=3, max_words=8)
            if dataset == "sst2":  # another domain: the same keywords among fillers trec's texts never use
                sentences = [(label, text.replace("w", "s"), position) for label, text, position in sentences]
            write_tsv(root / dataset / f"{split}.tsv", sentences)
    (root / "stsb").mkdir(parents=True, exist_ok=True)
    for offset, split in enumerate(("train", "dev")):
        first = keyword_sentences(rows[split], seed=20 + offset, min_words=3, max_words=8)
        second = keyword_sentences(rows[split], seed=30 + offset, min_words=3, max_words=8)
        scores = np.random.default_rng(offset).uniform(0, 5, rows[split])
        pairs = [(f"{s:.2f}", a[1], b[1]) for s, a, b in zip(scores, first, second)]
        write_tsv(root / "stsb" / f"{split}.tsv", pairs, header=("score", "sentence1", "sentence2"))
    return root


def keyword_encoder(texts, batch_size):
    """A stand-in model: one axis per keyword, plus noise seeded by the text (same text, same vector)."""
    axes = {keyword: i for i, keyword in enumerate(KEYWORDS)}
    rows = []
    for text in texts:
        noise = np.random.default_rng(zlib.crc32(text.encode())).normal(scale=0.1, size=len(axes))
        rows.append(np.eye(len(axes))[next(axes[w] for w in text.split() if w in axes)] + noise)
    return np.array(rows, np.float32)
