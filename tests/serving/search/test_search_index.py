"""Building and searching indexes: every kind × quantization against exact search, adding rows, shards, models."""

from __future__ import annotations

import numpy as np
import pytest

from serving.search import (
    AnnParams,
    BuildRefused,
    IndexBuildConfig,
    IndexExists,
    ModelMismatch,
    ShardedIndex,
    build_index,
    open_index,
    semantic_search,
)
from tests.helpers.corpus_outputs import MODEL, clustered_vectors, write_corpus_output

ROWS = 600
TOP_K = 10
#: Settings under which every kind searches everything: each result set must then equal exact search's.
EXHAUSTIVE = AnnParams(hnsw_m=16, ef_construction=40, ef_search=ROWS, nlist=8, nprobe=8, rescore_multiplier=ROWS)


def reference(queries, corpus, top_k=TOP_K, ids=None):
    """Exact search by brute force in numpy: (corpus ids (n, k), scores (n, k))."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = corpus / np.linalg.norm(corpus, axis=1, keepdims=True)
    scores = q @ c.T
    order = np.argsort(-scores, axis=1)[:, :top_k]
    ids = np.arange(len(corpus)) if ids is None else np.asarray(ids)
    return ids[order], np.take_along_axis(scores, order, 1)


def as_arrays(results):
    return np.array([[h["corpus_id"] for h in r] for r in results]), np.array(
        [[h["score"] for h in r] for r in results]
    )


@pytest.fixture(scope="module")
def data():
    return clustered_vectors(ROWS, dim=32), clustered_vectors(25, dim=32, seed=1)


@pytest.fixture(scope="module")
def vectors_dir(tmp_path_factory, data):
    return write_corpus_output(tmp_path_factory.mktemp("vectors") / "npy", data[0])


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf-pq"])
@pytest.mark.parametrize("quantize", ["none", "int8", "binary"])
def test_every_kind_and_quantization_equals_exact_search_when_it_searches_everything(
    kind, quantize, data, vectors_dir, tmp_path
):
    corpus, queries = data
    build_index(IndexBuildConfig(str(vectors_dir), str(tmp_path / "index"), kind, quantize, params=EXHAUSTIVE))
    results = open_index(tmp_path / "index").search(queries, TOP_K, model=MODEL)
    ids, scores = as_arrays(results)
    expected_ids, expected_scores = reference(queries, corpus)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_exact_search_has_the_sentence_transformers_shape_and_values(data, vectors_dir, tmp_path):
    corpus, queries = data
    build_index(IndexBuildConfig(str(vectors_dir), str(tmp_path / "index"), chunk_rows=128))  # several chunks
    index = open_index(tmp_path / "index")
    results = index.search(queries, 5)
    assert len(results) == len(queries) and all(len(r) == 5 for r in results)
    assert all(set(hit) == {"corpus_id", "score"} for r in results for hit in r)
    assert all(type(hit["corpus_id"]) is int and type(hit["score"]) is float for r in results for hit in r)
    assert all(r[i]["score"] >= r[i + 1]["score"] for r in results for i in range(4))
    expected_ids, expected_scores = reference(queries, corpus, top_k=5)  # numpy, not the blocks both share
    ids, scores = as_arrays(results)
    np.testing.assert_array_equal(ids, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)
    in_memory = semantic_search(queries, corpus, top_k=5)  # the in-memory function gives the same hits
    assert [[h["corpus_id"] for h in r] for r in in_memory] == ids.tolist()
    # One query as a 1-D vector; more results asked for than rows exist.
    single = index.search(queries[0], 3)[0]
    assert [h["corpus_id"] for h in single] == [h["corpus_id"] for h in results[0][:3]]
    assert [h["score"] for h in single] == pytest.approx([h["score"] for h in results[0][:3]], abs=1e-6)
    assert len(index.search(queries[:1], ROWS + 50)[0]) == ROWS


def test_default_settings_find_most_of_the_exact_neighbours(data, vectors_dir, tmp_path):
    corpus, queries = data
    expected, _ = reference(queries, corpus)
    for kind, quantize in [("hnsw", "none"), ("hnsw", "int8"), ("ivf-pq", "none")]:
        out = tmp_path / f"{kind}-{quantize}"
        build_index(IndexBuildConfig(str(vectors_dir), str(out), kind, quantize))
        ids, _ = as_arrays(open_index(out).search(queries, TOP_K))
        recall = np.mean([len(set(a) & set(b)) / TOP_K for a, b in zip(ids, expected)])
        assert recall >= 0.9, (kind, quantize, recall)


def test_queries_from_another_model_version_are_refused_naming_both(vectors_dir, data, tmp_path):
    build_index(IndexBuildConfig(str(vectors_dir), str(tmp_path / "index")))
    index = open_index(tmp_path / "index")
    queries = data[1]
    with pytest.raises(ModelMismatch, match=r"built from model 'tiny' version 1 .* embedded by model 'tiny' version 2"):
        index.search(queries, model=dict(MODEL, version=2))
    with pytest.raises(ModelMismatch, match="version 1"):  # same number, another export
        index.search(queries, model=dict(MODEL, created="2026-02-02T00:00:00+00:00"))
    # The same export served under another name is the same model.
    assert index.search(queries, 1, model=dict(MODEL, name="default"))
    with pytest.raises(ValueError, match=r"holds 32-dimensional vectors; received queries of shape \(25, 8\)"):
        index.search(queries[:, :8])
    with pytest.raises(ValueError, match="expected a positive integer. Received: top_k=0"):
        index.search(queries, 0)


def test_adding_rows_continues_the_corpus_ids_and_searches_both(data, vectors_dir, tmp_path):
    corpus, queries = data
    more = clustered_vectors(150, dim=32, seed=7)
    texts = [f"sentence {i}" for i in range(150)]
    more_dir = write_corpus_output(tmp_path / "more", more, output_format="parquet", texts=texts, name="more")
    out = str(tmp_path / "index")
    build_index(IndexBuildConfig(str(vectors_dir), out, "ivf-pq", "int8", params=EXHAUSTIVE))
    manifest = build_index(IndexBuildConfig(str(more_dir), out, add=True))
    assert [s.id_offset for s in manifest.segments] == [0, ROWS] and manifest.rows == ROWS + 150
    index = open_index(out)
    results = index.search(queries, TOP_K, with_text=True)
    expected_ids, _ = reference(queries, np.concatenate([corpus, more]))
    np.testing.assert_array_equal(as_arrays(results)[0], expected_ids)
    for hit in (hit for r in results for hit in r):
        assert hit.get("text") == (f"sentence {hit['corpus_id'] - ROWS}" if hit["corpus_id"] >= ROWS else None)
    # The same rows again, or vectors of another model version, are refused.
    with pytest.raises(BuildRefused, match="already indexed"):
        build_index(IndexBuildConfig(str(more_dir), out, add=True))
    other = write_corpus_output(tmp_path / "other", more, model=dict(MODEL, version=2), name="other")
    with pytest.raises(ModelMismatch, match="the vectors to add were embedded by model 'tiny' version 2"):
        build_index(IndexBuildConfig(str(other), out, add=True))
    with pytest.raises(IndexExists, match="already holds an index"):
        build_index(IndexBuildConfig(str(other), out))


@pytest.mark.parametrize("output_format", ["npy", "parquet"])
def test_two_shard_indexes_answer_as_one_index_over_the_same_rows(output_format, data, tmp_path):
    corpus, queries = data
    texts = [f"line {i}" for i in range(ROWS)] if output_format == "parquet" else None
    source = write_corpus_output(tmp_path / "vectors", corpus, output_format=output_format, texts=texts)
    whole, shards = tmp_path / "whole", tmp_path / "shards"
    build_index(IndexBuildConfig(str(source), str(whole), "hnsw", "int8", params=EXHAUSTIVE))
    for shard in ("0/2", "1/2"):
        directory = str(shards / shard.replace("/", "-of-"))
        config = IndexBuildConfig(str(source), directory, "hnsw", "int8", shard=shard, params=EXHAUSTIVE)
        build_index(config)
    sharded = open_index(shards)
    assert isinstance(sharded, ShardedIndex) and sharded.rows == ROWS
    assert all(0 < shard.rows < ROWS for shard in sharded.shards)
    one = open_index(whole).search(queries, TOP_K, with_text=True)
    merged = sharded.search(queries, TOP_K, with_text=True, model=MODEL)
    assert [[h["corpus_id"] for h in r] for r in merged] == [[h["corpus_id"] for h in r] for r in one]
    np.testing.assert_allclose(as_arrays(merged)[1], as_arrays(one)[1], atol=1e-6)
    if texts:
        assert all(h["text"] == f"line {h['corpus_id']}" for r in merged for h in r)
    # The same shard twice would find its rows twice.
    with pytest.raises(ValueError, match="both hold rows of the corpus"):
        ShardedIndex([shards / "0-of-2", whole])


def test_an_index_directory_is_not_replaced_silently(vectors_dir, tmp_path):
    out = tmp_path / "index"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(IndexExists, match="already holds 1 entries"):
        build_index(IndexBuildConfig(str(vectors_dir), str(out)))
    with pytest.raises(IndexExists, match=r"holds others too: \['notes.txt'\]"):
        build_index(IndexBuildConfig(str(vectors_dir), str(out), overwrite=True))
    with pytest.raises(BuildRefused, match="holds no index"):
        build_index(IndexBuildConfig(str(vectors_dir), str(tmp_path / "absent"), resume=True))
    with pytest.raises(ValueError, match="expected one of 'exact', 'hnsw', 'ivf-pq'. Received: kind='flat'"):
        IndexBuildConfig(str(vectors_dir), str(out), kind="flat")
    with pytest.raises(ValueError, match="expected I/N with 0 <= I < N"):
        IndexBuildConfig(str(vectors_dir), str(out), shard="2/2")
