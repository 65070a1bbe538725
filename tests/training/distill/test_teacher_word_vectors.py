import numpy as np
import pytest

from tests.training.distill.stand_in_teacher import StandInTeacher
from training.distill.teacher_word_vectors import reduce_dimensions, teacher_word_vectors


def test_reduce_dimensions_is_a_scaled_pca():
    vectors = np.random.default_rng(0).normal(size=(200, 12)) * np.arange(1, 13)  # (n, d), unequal variances
    reduced = reduce_dimensions(vectors, 5)
    assert reduced.shape == (200, 5) and reduced.dtype == np.float32
    assert np.linalg.norm(reduced, axis=1).mean() == pytest.approx(1.0, rel=1e-5)
    covariance = np.cov(reduced, rowvar=False)
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0, atol=1e-6)  # uncorrelated
    assert np.all(np.diff(np.diag(covariance)) <= 1e-9)  # by falling variance
    # Keeping every dimension preserves the centred geometry up to one scale factor; extra ones are zero.
    full = reduce_dimensions(vectors, 14)
    centred = vectors - vectors.mean(axis=0)
    gram, reduced_gram = centred @ centred.T, full[:, :12].astype(np.float64) @ full[:, :12].T
    np.testing.assert_allclose(reduced_gram * (gram[0, 0] / reduced_gram[0, 0]), gram, rtol=1e-4, atol=1e-3)
    assert not full[:, 12:].any()
    with pytest.raises(ValueError, match="Received: dim=0"):
        reduce_dimensions(vectors, 0)


def test_teacher_word_vectors_cover_the_vocabulary_and_are_cached(tmp_path):
    vocabulary = ["", "[UNK]", "[EMPTY]", "good", "bad", "film", "plot"]
    teacher = StandInTeacher()
    vectors = teacher_word_vectors(teacher, vocabulary, dim=3, cache_dir=tmp_path, show_progress_bar=False)
    assert vectors.words == ("good", "bad", "film", "plot") and vectors.vectors.shape == (4, 3)
    assert teacher.calls == 1
    matrix, found = vectors.embedding_matrix(vocabulary)
    assert found == 4 and not matrix[0].any()  # padding stays zero
    again = StandInTeacher()
    cached = teacher_word_vectors(again, vocabulary, dim=3, cache_dir=tmp_path, show_progress_bar=False)
    assert again.calls == 0
    np.testing.assert_array_equal(cached.vectors, vectors.vectors)
