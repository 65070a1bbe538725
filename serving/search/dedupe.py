"""Near-duplicate pairs (and clusters) of a corpus's vectors, without an all-pairs matrix in memory.

`find_duplicates` is sentence-transformers' ``paraphrase_mining`` over vectors with a similarity threshold: the
corpus is compared with itself one block (``query_chunk_size`` × ``corpus_chunk_size`` scores) at a time, only the
upper triangle (each pair once, no row with itself), and only pairs at or above ``threshold`` are kept, at most
``max_pairs`` of them (the best). `duplicate_clusters` joins the pairs into connected components.

Example:
    >>> output = read_corpus_output("vectors/")
    >>> find_duplicates(output.embeddings, threshold=0.9, ids=output.ids)[:2]
    [(0.998, 17, 4051), (0.97, 3, 9)]
"""

from __future__ import annotations

import numpy as np

from embedder.validation import check_positive_int, invalid
from serving.corpus.model_info import l2_normalize


def find_duplicates(
    embeddings: np.ndarray,
    threshold: float = 0.9,
    *,
    ids: np.ndarray | None = None,
    query_chunk_size: int = 2048,
    corpus_chunk_size: int = 8192,
    max_pairs: int = 500_000,
) -> list[tuple[float, int, int]]:
    """Pairs of rows whose cosine similarity is at least `threshold`, best first.

    Args:
        embeddings: float (rows, dim), e.g. a corpus output's memory-mapped ``embeddings.npy``; normalised here.
        threshold: the smallest cosine similarity reported, in [-1, 1]. Defaults to 0.9.
        ids: the corpus id of each row (e.g. the output's line ids); None: row numbers.
        query_chunk_size: rows compared at once on one side. Defaults to 2048.
        corpus_chunk_size: rows compared at once on the other side. Defaults to 8192.
        max_pairs: keep at most this many pairs (the highest scores). Defaults to 500,000.

    Returns:
        ``(score, id_a, id_b)`` tuples, scores descending, with ``id_a`` the earlier row.
    """
    if not -1.0 <= float(threshold) <= 1.0:
        raise invalid("threshold", "a cosine in [-1, 1]", threshold)
    for name, value in (
        ("query_chunk_size", query_chunk_size),
        ("corpus_chunk_size", corpus_chunk_size),
        ("max_pairs", max_pairs),
    ):
        check_positive_int(name, value)
    rows = len(embeddings)
    ids = np.arange(rows, dtype=np.int64) if ids is None else np.asarray(ids, np.int64)
    scores, first, second = [np.zeros(0, np.float32)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    held = 0
    for query_start in range(0, rows, query_chunk_size):
        queries = l2_normalize(embeddings[query_start : query_start + query_chunk_size])  # (q, dim)
        for corpus_start in range(query_start, rows, corpus_chunk_size):
            corpus = l2_normalize(embeddings[corpus_start : corpus_start + corpus_chunk_size])  # (c, dim)
            block = queries @ corpus.T  # (q, c)
            i, j = np.nonzero(block >= threshold)
            a, b = query_start + i, corpus_start + j
            upper = b > a  # each pair once, never a row with itself
            scores.append(block[i[upper], j[upper]])
            first.append(a[upper])
            second.append(b[upper])
            held += int(upper.sum())
            if held > 2 * max_pairs:
                scores, first, second, held = _keep_best(scores, first, second, max_pairs)
    scores, first, second, _ = _keep_best(scores, first, second, max_pairs)
    order = np.lexsort((second[0], first[0], -scores[0]))  # score descending, then rows ascending
    return [(float(scores[0][k]), int(ids[first[0][k]]), int(ids[second[0][k]])) for k in order]


def _keep_best(scores: list, first: list, second: list, max_pairs: int):
    scores, first, second = np.concatenate(scores), np.concatenate(first), np.concatenate(second)
    if len(scores) > max_pairs:
        best = np.argpartition(-scores, max_pairs - 1)[:max_pairs]
        scores, first, second = scores[best], first[best], second[best]
    return [scores], [first], [second], len(scores)


def duplicate_clusters(pairs: list[tuple[float, int, int]]) -> list[list[int]]:
    """Connected components of the pairs' ids (each pair is an edge): largest first, ids ascending within."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for _, a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for node in parent:
        groups.setdefault(root(node), []).append(node)
    return sorted((sorted(group) for group in groups.values()), key=lambda group: (-len(group), group[0]))
