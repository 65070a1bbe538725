import numpy as np
import pytest

from embedder.sentence_embedder import SentenceEmbedder
from tests.helpers.models import TINY_TEXTS, make_tiny_embedder


@pytest.fixture(scope="module")
def embedder(tiny_vocabulary):
    return make_tiny_embedder("structured", tiny_vocabulary, labels=("a", "b", "c"))


def test_encode_shapes_dtype_and_single_string(embedder):
    vectors = embedder.encode(TINY_TEXTS)
    assert vectors.shape == (len(TINY_TEXTS), embedder.embedding_dim) and vectors.dtype == np.float32
    single = embedder.encode(TINY_TEXTS[2])
    assert single.shape == (embedder.embedding_dim,)
    np.testing.assert_allclose(single, vectors[2], atol=1e-6)
    assert embedder.encode([]).shape == (0, embedder.embedding_dim)


def test_length_sorted_batches_restore_the_input_order(embedder):
    texts = TINY_TEXTS * 3 + ["", "x " * 40]
    one_by_one = np.stack([embedder.encode(t) for t in texts])
    np.testing.assert_allclose(embedder.encode(texts, batch_size=4), one_by_one, atol=1e-5)


def test_normalize_and_precision(embedder):
    vectors = embedder.encode(TINY_TEXTS, normalize_embeddings=True)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.encode(TINY_TEXTS, precision="float16").dtype == np.float16


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"batch_size": 0}, ValueError, "argument `batch_size`, expected a positive integer. Received: batch_size=0"),
        ({"precision": "int8"}, ValueError, "argument `precision`, expected one of 'float32', 'float16'"),
    ],
)
def test_bad_options_name_the_valid_ones(embedder, kwargs, error, message):
    with pytest.raises(error, match=message):
        embedder.encode(TINY_TEXTS, **kwargs)


def test_bad_inputs(embedder):
    with pytest.raises(TypeError, match="Expected strings, received int at position 1"):
        embedder.encode(["ok", 3])
    with pytest.raises(TypeError, match="Expected a string or a sequence of strings"):
        embedder.encode(42)


def test_classification_and_attention(embedder):
    probabilities = embedder.predict_proba(TINY_TEXTS)
    assert probabilities.shape == (len(TINY_TEXTS), 3)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, atol=1e-5)
    assert embedder.predict(TINY_TEXTS) == [embedder.labels[i] for i in probabilities.argmax(1)]
    tokens, weights = embedder.attention(["A good film!", ""])
    assert tokens == [["a", "good", "film", "!"], ["[EMPTY]"]]
    assert weights[0].shape == (embedder.attention_rows, 4) and weights[1].shape == (embedder.attention_rows, 1)
    np.testing.assert_allclose(weights[0].sum(1), 1.0, atol=1e-5)


def test_no_nan_for_edge_case_inputs(embedder):
    texts = ["", " ", "\n\t", "😀😀😀", "unknownword " * 1000, "\ufffd", "a" * 100_000]
    vectors = embedder.encode(texts)
    assert np.all(np.isfinite(vectors))


def test_a_head_needs_matching_labels(embedder, tiny_vocabulary):
    with pytest.raises(ValueError, match="needs its `labels`"):
        SentenceEmbedder(embedder.model, embedder.preprocessor, labels=None)
    with pytest.raises(ValueError, match="3 classes but 2 labels"):
        SentenceEmbedder(embedder.model, embedder.preprocessor, labels=["x", "y"])
    headless = make_tiny_embedder("classic", tiny_vocabulary, labels=None)
    with pytest.raises(ValueError, match="no classification head"):
        headless.predict_proba(["a"])
