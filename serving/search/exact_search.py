"""Exact search: a plain matrix product over L2-normalised vectors, block by block, keeping each query's top k.

`semantic_search(queries, corpus, top_k)` is sentence-transformers' ``util.semantic_search`` over two arrays (one
list per query of ``{"corpus_id", "score"}``, best first); the exact index kind and the tests' reference use
`top_k_blocks`, which never holds more than one block of scores (queries × block rows) in memory.

Example:
    >>> hits = semantic_search(query_vectors, corpus_vectors, top_k=5)
    >>> hits[0][0]
    {'corpus_id': 17, 'score': 0.83}
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from serving.corpus.model_info import l2_normalize

#: Scores held at once per block: queries × block rows (64 MiB of float32).
BLOCK_SCORES = 1 << 24


def block_rows(queries: int) -> int:
    """Corpus rows per block for `queries` queries, so one block of scores stays under `BLOCK_SCORES`."""
    return max(1024, BLOCK_SCORES // max(queries, 1))


def merge_top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's `k` best (score, row) pairs of (n, m) arrays, best first; padded with (-inf, -1) if m < k."""
    n, m = scores.shape
    if m > k:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (n, k), unordered
        scores, rows = np.take_along_axis(scores, part, 1), np.take_along_axis(rows, part, 1)
    order = np.argsort(-scores, axis=1, kind="stable")
    scores, rows = np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)
    if scores.shape[1] < k:
        pad = k - scores.shape[1]
        scores = np.concatenate([scores, np.full((n, pad), -np.inf, np.float32)], axis=1)
        rows = np.concatenate([rows, np.full((n, pad), -1, np.int64)], axis=1)
    return scores, rows


def top_k_blocks(
    queries: np.ndarray, blocks: Iterable[tuple[int, np.ndarray]], k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` best rows by inner product over blocks ``(first row, matrix (b, dim))``.

    Returns:
        scores float32 (n, k) and rows int64 (n, k), best first; -inf / -1 past the rows there are.
    """
    queries = np.asarray(queries, np.float32)
    best_scores = np.full((len(queries), 0), -np.inf, np.float32)
    best_rows = np.full((len(queries), 0), -1, np.int64)
    for first_row, matrix in blocks:
        scores = queries @ np.asarray(matrix, np.float32).T  # (n, b)
        rows = np.broadcast_to(np.arange(first_row, first_row + len(matrix), dtype=np.int64), scores.shape)
        block_scores, block_best = merge_top_k(scores, rows, min(k, scores.shape[1]))
        best_scores, best_rows = merge_top_k(
            np.concatenate([best_scores, block_scores], 1), np.concatenate([best_rows, block_best], 1), k
        )
    if best_scores.shape[1] < k:
        best_scores, best_rows = merge_top_k(best_scores, best_rows, k)
    return best_scores, best_rows


def matrix_blocks(matrix: np.ndarray, rows_per_block: int, first_row: int = 0):
    """``(first row, block)`` pairs over a (memory-mapped) matrix."""
    for start in range(0, len(matrix), rows_per_block):
        yield first_row + start, matrix[start : start + rows_per_block]


def to_hits(scores: np.ndarray, ids: np.ndarray) -> list[list[dict]]:
    """sentence-transformers' result shape: one list per query of ``{"corpus_id": int, "score": float}``."""
    return [
        [{"corpus_id": int(i), "score": float(s)} for s, i in zip(query_scores, query_ids) if i >= 0]
        for query_scores, query_ids in zip(scores, ids)
    ]


def semantic_search(query_embeddings: np.ndarray, corpus_embeddings: np.ndarray, top_k: int = 10) -> list[list[dict]]:
    """Exact cosine-similarity search of each query over the corpus (rows are normalised here).

    Args:
        query_embeddings: float (n, dim), or (dim,) for one query.
        corpus_embeddings: float (rows, dim); `corpus_id` is the row number.
        top_k: results per query. Defaults to 10.
    """
    queries = l2_normalize(np.atleast_2d(query_embeddings))
    corpus = np.asarray(corpus_embeddings)
    rows_per_block = block_rows(len(queries))
    blocks = ((start, l2_normalize(block)) for start, block in matrix_blocks(corpus, rows_per_block))
    scores, rows = top_k_blocks(queries, blocks, top_k)
    return to_hits(scores, rows)
