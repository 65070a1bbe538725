"""Semantic search over `embed-corpus` outputs: build an index, query it, find near-duplicates.

    from serving.search import IndexBuildConfig, build_index, open_index

    build_index(IndexBuildConfig(vectors="vectors/", output="index/", kind="hnsw", quantize="int8"))
    index = open_index("index/")
    index.search(query_vectors, top_k=10, model=backend.info)   # [[{"corpus_id": 812, "score": 0.91}, ...]]

The CLI over it is `embedder index`, `embedder search` and `embedder dedupe` (embedder/cli/search.py); the details
are in docs/SEARCH.md. This package imports numpy, FAISS (the `search` extra; not needed for exact search),
pyarrow for Parquet inputs, and the corpus package's readers: no TensorFlow and no training code.
"""

from serving.search.ann import KINDS, QUANTIZATIONS, AnnParams
from serving.search.dedupe import duplicate_clusters, find_duplicates
from serving.search.exact_search import semantic_search
from serving.search.index_builder import BuildRefused, IndexBuildConfig, IndexExists, build_index
from serving.search.index_manifest import ModelMismatch
from serving.search.search_index import Hits, SearchIndex, ShardedIndex, open_index

__all__ = [
    "KINDS",
    "QUANTIZATIONS",
    "AnnParams",
    "BuildRefused",
    "Hits",
    "IndexBuildConfig",
    "IndexExists",
    "ModelMismatch",
    "SearchIndex",
    "ShardedIndex",
    "build_index",
    "duplicate_clusters",
    "find_duplicates",
    "open_index",
    "semantic_search",
]
