"""Searching an index built by `embedder index`: one index, or several shard indexes queried as one.

`open_index(path)` opens an index directory, a directory whose subdirectories are shard indexes, or a list of
index directories; `search(query_embeddings, top_k)` returns sentence-transformers' shape, one list per query of
``{"corpus_id": int, "score": float}`` best first (with ``"text"`` when asked for and kept). Pass the model that
embedded the queries (`model=`, a dict or `ModelInfo`): a query from another model version than the index's is
refused with `ModelMismatch`, naming both.

Scores are cosine similarities. The exact unquantized kind computes them for every row; HNSW over float32 computes
them for the candidates it visits; every quantized kind fetches ``top_k × rescore_multiplier`` candidates by its
approximate score and rescores them with the full-precision vectors. A sharded index searches each shard for
``top_k`` and merges: the scores are exact cosines everywhere, so the merge is exact.

Example:
    >>> index = open_index("index/")
    >>> index.search(client.embed(["How far is the moon?"]), top_k=3, model=backend.info)
    [[{'corpus_id': 812, 'score': 0.91}, {'corpus_id': 5, 'score': 0.77}, {'corpus_id': 77, 'score': 0.74}]]
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from embedder.validation import check_positive_int
from serving.corpus.model_info import l2_normalize
from serving.search import ann
from serving.search.exact_search import block_rows, matrix_blocks, merge_top_k, to_hits, top_k_blocks
from serving.search.index_manifest import (
    COMPLETE,
    INDEX_MANIFEST_FILE,
    IndexManifest,
    check_model,
    describe_model,
    load_index_manifest,
)
from serving.search.segment_store import SegmentReader

#: Queries rescored at once (their candidates' vectors are gathered together).
RESCORE_QUERIES = 1024


class Hits(NamedTuple):
    """Search results as arrays: `scores` float32 (n, k) and `corpus_ids` int64 (n, k), best first (-inf / -1
    past the rows there are), and `texts` (one list per query, None entries where no text was kept) or None."""

    scores: np.ndarray
    corpus_ids: np.ndarray
    texts: list[list[str | None]] | None


def _model_dict(model) -> dict:
    return model.to_dict() if hasattr(model, "to_dict") else dict(model)


def _queries(query_embeddings, dim: int) -> np.ndarray:
    queries = np.atleast_2d(np.asarray(query_embeddings, dtype=np.float32))
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"The index holds {dim}-dimensional vectors; received queries of shape {queries.shape}.")
    return l2_normalize(queries)  # (n, dim)


def _hits_to_results(hits: Hits) -> list[list[dict]]:
    results = to_hits(hits.scores, hits.corpus_ids)
    if hits.texts is not None:
        for query_results, texts in zip(results, hits.texts):
            for result, text in zip(query_results, texts):
                if text is not None:
                    result["text"] = text
    return results


class SearchIndex:
    """One index directory, opened for searching (its files are memory-mapped).

    Args:
        directory: the index directory (``index.json`` and its files).

    Raises:
        FileNotFoundError: no index manifest in `directory`.
        ValueError: the build has not finished.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        manifest = load_index_manifest(self.directory)
        if manifest is None:
            raise FileNotFoundError(f"{self.directory} holds no index ({INDEX_MANIFEST_FILE} of `embedder index`).")
        if manifest.status != COMPLETE:
            raise ValueError(
                f"The build of the index in {self.directory} did not finish (phase {manifest.progress.phase}); "
                "finish it with `embedder index ... --resume`."
            )
        self.manifest: IndexManifest = manifest
        self.settings = dict(manifest.settings)
        self._segments = [SegmentReader(self.directory / s.directory, s.has_text) for s in manifest.segments]
        self._starts = np.array([s.first_row for s in manifest.segments], np.int64)
        self._ann = None
        if ann.uses_faiss(manifest.kind, manifest.quantize):
            self._ann = ann.read(manifest.quantize, self.directory / manifest.progress.ann_file)

    @property
    def model(self) -> dict:
        """The model the index's vectors came from (name, version, embedding_dim, created, architecture)."""
        return self.manifest.model

    @property
    def dim(self) -> int:
        return self.manifest.dim

    @property
    def rows(self) -> int:
        return self.manifest.rows

    @property
    def has_text(self) -> bool:
        return any(segment.has_text for segment in self._segments)

    def __repr__(self) -> str:
        return (
            f"SearchIndex({str(self.directory)!r}, {self.rows} rows, {self.manifest.kind}/{self.manifest.quantize}, "
            f"{describe_model(self.model)})"
        )

    def _by_segment(self, rows: np.ndarray):
        """(segment number, positions in `rows`, local rows) for each segment holding some of `rows` (all >= 0)."""
        owner = np.searchsorted(self._starts, rows, side="right") - 1
        for number in np.unique(owner):
            where = np.nonzero(owner == number)[0]
            yield number, where, rows[where] - self._starts[number]

    def _gather(self, rows: np.ndarray, what: str) -> np.ndarray:
        """The segment arrays' entries (`what`: "vectors" or "ids") at global `rows` (any order, all >= 0)."""
        first = getattr(self._segments[0], what)
        out = np.empty((len(rows), *first.shape[1:]), first.dtype)
        for number, where, local in self._by_segment(rows):
            order = np.argsort(local)  # memory-map reads in file order
            out[where[order]] = getattr(self._segments[number], what)[local[order]]
        return out

    def _candidates(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._ann is None:
            blocks = (
                (first_row + start, block)
                for first_row, segment in zip(self._starts, self._segments)
                for start, block in matrix_blocks(segment.vectors, block_rows(len(queries)))
            )
            return top_k_blocks(queries, blocks, k)
        rows = ann.search(self._ann, self.manifest.kind, self.manifest.quantize, self.settings, queries, k)
        return np.full(rows.shape, np.nan, np.float32), rows.astype(np.int64)

    def _rescore(self, queries: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosines of each query's candidate `rows` (-1: none), its best `k` first."""
        scores = np.full(rows.shape, -np.inf, np.float32)
        for start in range(0, len(queries), RESCORE_QUERIES):
            part = rows[start : start + RESCORE_QUERIES]
            valid = part >= 0
            unique, inverse = np.unique(part[valid], return_inverse=True)
            vectors = self._gather(unique, "vectors")  # (u, dim)
            chunk = np.full(part.shape, -np.inf, np.float32)
            query_of = np.nonzero(valid)[0]
            chunk[valid] = np.einsum("ij,ij->i", queries[start : start + RESCORE_QUERIES][query_of], vectors[inverse])
            scores[start : start + RESCORE_QUERIES] = chunk
        rows = np.where(np.isfinite(scores), rows, -1)
        return merge_top_k(scores, rows, k)

    def search_hits(
        self, query_embeddings, top_k: int = 10, *, with_text: bool = False, rescore_multiplier: int | None = None
    ) -> Hits:
        """`search` as arrays (`Hits`); the queries are normalised here, and no model check is made."""
        check_positive_int("top_k", top_k)
        queries = _queries(query_embeddings, self.dim)
        k = min(top_k, self.rows)
        if k == 0:
            return Hits(
                np.full((len(queries), top_k), -np.inf, np.float32),
                np.full((len(queries), top_k), -1, np.int64),
                [[] for _ in queries] if with_text else None,
            )
        multiplier = rescore_multiplier or self.settings.get("rescore_multiplier", 4)
        if ann.needs_rescoring(self.manifest.kind, self.manifest.quantize):
            _, candidates = self._candidates(queries, min(k * multiplier, self.rows))
            scores, rows = self._rescore(queries, candidates, k)
        else:
            scores, rows = self._candidates(queries, k)
            if self._ann is not None:  # HNSW over float32: its distances are inner products, but take exact ones
                scores, rows = self._rescore(queries, rows, k)
        if k < top_k:
            scores, rows = merge_top_k(scores, rows, top_k)
        ids = np.full(rows.shape, -1, np.int64)
        found = rows >= 0
        ids[found] = self._gather(rows[found], "ids")
        texts = None
        if with_text:
            texts = [[self._text(int(row)) for row in query_rows if row >= 0] for query_rows in rows]
        return Hits(scores, ids, texts)

    def _text(self, row: int) -> str | None:
        number = int(np.searchsorted(self._starts, row, side="right") - 1)
        return self._segments[number].text(row - int(self._starts[number]))

    def search(
        self,
        query_embeddings,
        top_k: int = 10,
        *,
        model=None,
        with_text: bool = False,
        rescore_multiplier: int | None = None,
    ) -> list[list[dict]]:
        """The `top_k` nearest rows of each query, as sentence-transformers' ``util.semantic_search`` returns them.

        Args:
            query_embeddings: float (n, dim), or (dim,) for one query; normalised here.
            top_k: results per query. Defaults to 10.
            model: the model that embedded the queries (a `ModelInfo` or its dict); checked against the index's.
                None skips the check (the caller vouches for the vectors).
            with_text: add ``"text"`` to each result when the index kept the sentences. Defaults to False.
            rescore_multiplier: candidates per result rescored (quantized kinds); None: the index's setting.

        Raises:
            ModelMismatch: `model` is not the model version the index was built from.
            ValueError: the queries' dimension is not the index's.
        """
        if model is not None:
            check_model(self.model, _model_dict(model))
        hits = self.search_hits(query_embeddings, top_k, with_text=with_text, rescore_multiplier=rescore_multiplier)
        return _hits_to_results(hits)


class ShardedIndex:
    """Several shard indexes of one corpus (or of several) searched as one: each shard's top k, merged.

    Args:
        indexes: the shards' `SearchIndex` objects (or directories). They must hold vectors of the same model
            version, and no corpus rows twice.
    """

    def __init__(self, indexes):
        self.shards = [index if isinstance(index, SearchIndex) else SearchIndex(index) for index in indexes]
        if not self.shards:
            raise ValueError("A sharded index needs at least one shard.")
        first = self.shards[0]
        seen = {}
        for shard in self.shards:
            check_model(first.model, shard.model, what=f"the shard {shard.directory} was built from")
            for segment in shard.manifest.segments:
                this = None if segment.shard is None else tuple(segment.shard)
                for (sha, part), where in seen.items():
                    if sha == segment.input_sha256 and (part is None or this is None or part == this):
                        raise ValueError(
                            f"The shards {where} and {shard.directory} both hold rows of the corpus "
                            f"{sha[:12]}… (shards {part} and {segment.shard}): its rows would be found twice."
                        )
                seen[(segment.input_sha256, this)] = shard.directory
        self.manifest = first.manifest

    @property
    def model(self) -> dict:
        return self.shards[0].model

    @property
    def dim(self) -> int:
        return self.shards[0].dim

    @property
    def rows(self) -> int:
        return sum(shard.rows for shard in self.shards)

    @property
    def has_text(self) -> bool:
        return any(shard.has_text for shard in self.shards)

    def __repr__(self) -> str:
        return f"ShardedIndex({len(self.shards)} shards, {self.rows} rows, {describe_model(self.model)})"

    def search_hits(
        self, query_embeddings, top_k: int = 10, *, with_text: bool = False, rescore_multiplier: int | None = None
    ) -> Hits:
        check_positive_int("top_k", top_k)
        parts = [
            shard.search_hits(query_embeddings, top_k, with_text=with_text, rescore_multiplier=rescore_multiplier)
            for shard in self.shards
        ]
        scores = np.concatenate([part.scores for part in parts], axis=1)  # (n, shards·k)
        ids = np.concatenate([part.corpus_ids for part in parts], axis=1)
        position = np.broadcast_to(np.arange(scores.shape[1], dtype=np.int64), scores.shape)
        best_scores, best_position = merge_top_k(scores, np.where(ids >= 0, position, -1), top_k)
        best_ids = np.where(best_position >= 0, np.take_along_axis(ids, np.maximum(best_position, 0), 1), -1)
        texts = None
        if with_text:
            # Each shard's texts list holds its found rows only, in rank order: position p of shard s is rank p % k.
            texts = []
            for query, query_positions in enumerate(best_position):
                row = []
                for p in query_positions[query_positions >= 0]:
                    shard_texts = parts[p // top_k].texts[query]
                    row.append(shard_texts[p % top_k])
                texts.append(row)
        return Hits(best_scores, best_ids, texts)

    def search(
        self,
        query_embeddings,
        top_k: int = 10,
        *,
        model=None,
        with_text: bool = False,
        rescore_multiplier: int | None = None,
    ) -> list[list[dict]]:
        """As `SearchIndex.search`, over every shard."""
        if model is not None:
            check_model(self.model, _model_dict(model))
        hits = self.search_hits(query_embeddings, top_k, with_text=with_text, rescore_multiplier=rescore_multiplier)
        return _hits_to_results(hits)


def open_index(path) -> SearchIndex | ShardedIndex:
    """An index directory, a directory of shard index directories, or a list of index directories, opened.

    Raises:
        FileNotFoundError: `path` holds no index and no shard indexes.
    """
    if isinstance(path, (list, tuple)):
        return SearchIndex(path[0]) if len(path) == 1 else ShardedIndex(path)
    path = Path(path)
    if (path / INDEX_MANIFEST_FILE).is_file():
        return SearchIndex(path)
    shards = (
        sorted(child for child in path.iterdir() if (child / INDEX_MANIFEST_FILE).is_file()) if path.is_dir() else []
    )
    if not shards:
        raise FileNotFoundError(
            f"{path} holds no index ({INDEX_MANIFEST_FILE} of `embedder index`) and no subdirectories with one."
        )
    return ShardedIndex(shards)
