"""Near-duplicate mining in blocks equals the all-pairs answer; clusters; the pair cap keeps the best pairs."""

from __future__ import annotations

import numpy as np
import pytest

from serving.search import duplicate_clusters, find_duplicates
from tests.helpers.corpus_outputs import clustered_vectors


def all_pairs(vectors, threshold, ids):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit.T
    a, b = np.nonzero(np.triu(scores >= threshold, k=1))
    return sorted(((float(scores[i, j]), int(ids[i]), int(ids[j])) for i, j in zip(a, b)), key=lambda p: -p[0])


@pytest.fixture(scope="module")
def vectors():
    base = clustered_vectors(500, dim=24, clusters=40, seed=5)
    rng = np.random.default_rng(9)
    copies = base[rng.choice(500, 60, replace=False)] + 0.05 * rng.standard_normal((60, 24)).astype(np.float32)
    return np.concatenate([base, copies])  # 60 near-copies among 560 rows


def test_blocks_find_exactly_the_pairs_of_the_all_pairs_matrix(vectors):
    ids = np.arange(1000, 1000 + len(vectors))
    expected = all_pairs(vectors, 0.95, ids)
    assert len(expected) >= 60
    # Blocks smaller than the corpus and not dividing it: pairs across block edges, none twice, none with itself.
    found = find_duplicates(vectors, 0.95, ids=ids, query_chunk_size=97, corpus_chunk_size=130)
    assert [(a, b) for _, a, b in found] == [(a, b) for _, a, b in expected]
    np.testing.assert_allclose([s for s, _, _ in found], [s for s, _, _ in expected], atol=1e-5)
    assert all(a < b for _, a, b in found)


def test_the_pair_cap_keeps_the_best_pairs(vectors):
    everything = find_duplicates(vectors, 0.5, query_chunk_size=64, corpus_chunk_size=64)
    capped = find_duplicates(vectors, 0.5, query_chunk_size=64, corpus_chunk_size=64, max_pairs=25)
    assert len(everything) > 100  # the cap is hit many times over while scanning
    assert capped == everything[:25]


def test_clusters_are_connected_components():
    pairs = [(0.99, 1, 2), (0.98, 2, 3), (0.97, 7, 8), (0.96, 10, 3)]
    assert duplicate_clusters(pairs) == [[1, 2, 3, 10], [7, 8]]
    assert duplicate_clusters([]) == []


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match=r"expected a cosine in \[-1, 1\]. Received: threshold=1.5"):
        find_duplicates(np.zeros((3, 4), np.float32), 1.5)
    with pytest.raises(ValueError, match="Received: max_pairs=0"):
        find_duplicates(np.zeros((3, 4), np.float32), 0.9, max_pairs=0)
