"""Word vectors from the teacher itself: each vocabulary word encoded alone, reduced by PCA to the student's width.

Initialising the student's token embedding this way (``word_vectors="teacher"``) starts it in the teacher's own
space: an average of these static vectors, weighted towards rare words, already ranks sentence similarity much
better than an average of GloVe vectors (the idea behind Model2Vec's static distillation), so training starts
from a student that is already close and mostly has to add context.

The words' teacher vectors go through the same on-disk cache as the corpus's (`TeacherCache`, keyed by the
vocabulary), so students sharing a vocabulary encode it once. The PCA keeps the top ``dim`` components of the
centred vectors and scales the result so that the vectors' mean norm is 1.

Example:
    >>> vectors = teacher_word_vectors(teacher, vocabulary, dim=192, cache_dir="~/.cache/embedder/teacher")
    >>> matrix, found = vectors.embedding_matrix(vocabulary)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from embedder.validation import check_positive_int

#: The argument value (`DistillConfig.word_vectors`) that asks for teacher word vectors.
TEACHER_WORD_VECTORS = "teacher"


def reduce_dimensions(vectors: np.ndarray, dim: int) -> np.ndarray:
    """PCA of `vectors` (n, d) to (n, dim), scaled so that the rows' mean L2 norm is 1.

    With ``dim`` > d the extra columns are zero (the student is wider than the teacher).
    """
    check_positive_int("dim", dim)
    centred = np.asarray(vectors, dtype=np.float64) - vectors.mean(axis=0, keepdims=True)  # (n, d)
    _, _, components = np.linalg.svd(centred, full_matrices=False)  # (d, d), rows by falling variance
    keep = min(dim, components.shape[0])
    reduced = np.zeros((len(vectors), dim))
    reduced[:, :keep] = centred @ components[:keep].T  # (n, keep)
    reduced /= max(float(np.linalg.norm(reduced, axis=1).mean()), 1e-12)
    return reduced.astype(np.float32)


def teacher_word_vectors(
    teacher, vocabulary: Sequence[str], dim: int, cache_dir: str | Path, show_progress_bar: bool = True
):
    """`training.word_vectors.WordVectors` for the vocabulary's words (reserved tokens excluded), `dim` wide.

    Args:
        teacher: a `training.distill.teacher.Teacher`.
        vocabulary: the student's vocabulary (reserved tokens first).
        dim: the student's embedding width.
        cache_dir: the teacher cache directory.
        show_progress_bar: a progress bar while the teacher runs.
    """
    from embedder.text_preprocessor import RESERVED_TOKENS
    from training.distill.corpus import fingerprint
    from training.distill.teacher_cache import TeacherCache
    from training.word_vectors import WordVectors

    words = [w for w in vocabulary if w not in RESERVED_TOKENS]
    if len(words) < 2:
        raise ValueError(f"Received a vocabulary of {len(words)} word(s); teacher word vectors need at least 2.")
    cache = TeacherCache(cache_dir, teacher.name, fingerprint(words), len(words), dtype="float32", chunk_size=8192)
    vectors = cache.fill(teacher, words, show_progress_bar=show_progress_bar)  # (n, teacher dim)
    return WordVectors(tuple(words), reduce_dimensions(np.asarray(vectors), dim))
