"""Growing a trained model's vocabulary: new words covered, old rows and weights untouched, exports TF-only."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedder.encoders import build_model
from embedder.sentence_embedder import SentenceEmbedder
from embedder.text_preprocessor import UNK_ID
from tests.helpers.models import TINY_TEXTS, make_tiny_embedder, run_in_tensorflow_only_process
from training.vocabulary_growth import frequent_unknown_words, grow_vocabulary, unknown_rate
from training.word_vectors import WordVectors

#: New-domain texts: "zebra" and "cello" (twice each) have pretrained vectors, "qwzx" (twice) has none, "lone" is
#: seen once (below the default min_count of 2).
NEW_TEXTS = ["a zebra film", "the cello and the zebra", "a qwzx cello", "qwzx story", "a lone film"]
WIDTH = 4  # of the synthetic pretrained vectors


@pytest.fixture()
def tiny(tiny_vocabulary):
    return make_tiny_embedder("structured", tiny_vocabulary, dropout=0.0)


def synthetic_vectors(embedder, seed=0):
    """Pretrained vectors P for the vocabulary's words (and zebra, cello) with embedding = P M + b exactly."""
    rng = np.random.default_rng(seed)
    words = [w for w in embedder.preprocessor.vocabulary[3:]] + ["zebra", "cello"]
    vectors = rng.normal(size=(len(words), WIDTH)).astype("float32")
    weights, bias = (
        rng.normal(size=(WIDTH, embedder.encoder.embedding_dim)),
        rng.normal(size=embedder.encoder.embedding_dim),
    )
    table = embedder.encoder.token_embedding.embeddings
    matrix = np.asarray(table).copy()
    matrix[3:] = vectors[:-2] @ weights + bias  # the model's rows: an affine image of the pretrained vectors
    table.assign(matrix)
    return WordVectors(tuple(words), vectors), weights, bias


def test_frequent_unknown_words_and_unknown_rate(tiny):
    assert frequent_unknown_words(tiny.preprocessor, NEW_TEXTS, max_words=10) == ["cello", "qwzx", "zebra"]
    assert frequent_unknown_words(tiny.preprocessor, NEW_TEXTS, max_words=1) == ["cello"]
    assert "lone" in frequent_unknown_words(tiny.preprocessor, NEW_TEXTS, max_words=10, min_count=1)
    # Of the 16 tokens, zebra ×2, cello ×2, qwzx ×2 and lone are unknown to the tiny vocabulary.
    ids = tiny.preprocessor(tf.constant(NEW_TEXTS)).numpy()
    expected = np.sum(ids == UNK_ID) / np.sum(ids != 0)
    assert np.sum(ids == UNK_ID) == 7 and np.sum(ids != 0) == 16
    assert unknown_rate(tiny.preprocessor, NEW_TEXTS) == pytest.approx(expected)


def test_growth_covers_the_new_words_and_keeps_every_old_weight(tiny):
    vectors, weights, bias = synthetic_vectors(tiny)
    old_encoder = tiny.encoder
    old_rows = np.asarray(old_encoder.token_embedding.embeddings).copy()

    growth = grow_vocabulary(old_encoder, tiny.preprocessor, NEW_TEXTS, max_words=100, word_vectors=vectors)

    assert growth.new_words == ["cello", "qwzx", "zebra"] and growth.from_vectors == 2
    vocabulary = growth.preprocessor.vocabulary
    assert vocabulary[: len(tiny.preprocessor.vocabulary)] == tiny.preprocessor.vocabulary  # old ids unchanged
    assert vocabulary[-3:] == ["cello", "qwzx", "zebra"]
    assert growth.unknown_rate_before > 0.3
    ids = growth.preprocessor(tf.constant(NEW_TEXTS)).numpy()
    assert growth.unknown_rate_after == pytest.approx(np.sum(ids == UNK_ID) / np.sum(ids != 0))
    assert np.sum(ids == UNK_ID) == 1  # only "lone" (seen once) remains unknown
    rows = np.asarray(growth.encoder.token_embedding.embeddings)
    assert rows.shape == (len(vocabulary), old_rows.shape[1]) and growth.encoder.vocabulary_size == len(vocabulary)
    np.testing.assert_array_equal(rows[: len(old_rows)], old_rows)  # old words keep their vectors exactly
    # Pretrained words through the fitted affine map (exact here), the word without a vector at the [UNK] row.
    index = {w: i for i, w in enumerate(vocabulary)}
    for word in ("zebra", "cello"):
        expected = vectors.vectors[vectors.words.index(word)] @ weights + bias
        np.testing.assert_allclose(rows[index[word]], expected, atol=1e-3)
    np.testing.assert_array_equal(rows[index["qwzx"]], old_rows[UNK_ID])
    assert growth.map_r2 == pytest.approx(1.0, abs=1e-4)
    summary = growth.summary()  # what a run records; the few-shot stage picks these keys out of its result
    assert (
        tuple(summary) == growth.SUMMARY_KEYS and summary["new_words"] == 3 and summary["new_words_from_vectors"] == 2
    )
    # Every other weight is the same, and on old words the grown encoder computes what the old one did.
    others = [w for w in old_encoder.weights if w is not old_encoder.token_embedding.embeddings]
    grown_others = [w for w in growth.encoder.weights if w is not growth.encoder.token_embedding.embeddings]
    for before, after in zip(others, grown_others, strict=True):
        np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
    old_ids = tiny.preprocessor(tf.constant(TINY_TEXTS))
    for before, after in zip(old_encoder(old_ids), growth.encoder(old_ids)):
        np.testing.assert_allclose(np.asarray(before), np.asarray(after), atol=1e-6)
    # A word without a vector starts where [UNK] was: its sentence embeds exactly as before the growth.
    before = old_encoder(tiny.preprocessor(tf.constant(["a qwzx film"])))[0]
    after = growth.encoder(growth.preprocessor(tf.constant(["a qwzx film"])))[0]
    np.testing.assert_allclose(np.asarray(before), np.asarray(after), atol=1e-6)


def test_no_vectors_or_no_words_to_add(tiny):
    growth = grow_vocabulary(tiny.encoder, tiny.preprocessor, NEW_TEXTS, max_words=100)
    rows = np.asarray(growth.encoder.token_embedding.embeddings)
    np.testing.assert_array_equal(rows[-3:], np.repeat(rows[UNK_ID : UNK_ID + 1], 3, axis=0))
    assert growth.from_vectors == 0 and growth.map_r2 is None

    def never():
        pytest.fail("word vectors loaded with no word to add")

    kept = grow_vocabulary(tiny.encoder, tiny.preprocessor, NEW_TEXTS, max_words=0, word_vectors=never)
    assert kept.encoder is tiny.encoder and kept.preprocessor is tiny.preprocessor and kept.new_words == []
    assert kept.unknown_rate_after == kept.unknown_rate_before > 0
    known = grow_vocabulary(tiny.encoder, tiny.preprocessor, TINY_TEXTS, max_words=100, word_vectors=never)
    assert known.encoder is tiny.encoder and known.unknown_rate_after == known.unknown_rate_before == 0.0


@pytest.mark.slow
def test_grown_export_loads_in_a_tensorflow_only_process(tiny, tmp_path):
    vectors, _, _ = synthetic_vectors(tiny)
    growth = grow_vocabulary(tiny.encoder, tiny.preprocessor, NEW_TEXTS, max_words=100, word_vectors=lambda: vectors)
    assert growth.from_vectors == 2  # a loader is called when there are words to add
    keras.utils.set_random_seed(1)
    grown = SentenceEmbedder(build_model(growth.encoder, num_classes=2), growth.preprocessor, ["a", "b"])
    version_dir = grown.export(tmp_path / "grown", warmup=False)

    batch = ["a zebra film", "the cello", "a qwzx story", ""]
    outputs = run_in_tensorflow_only_process([version_dir], [batch], tmp_path)
    np.testing.assert_allclose(outputs["0/serving_default/0/embedding"], grown.encode(batch), atol=1e-5)
    reloaded = SentenceEmbedder.load(version_dir)
    assert reloaded.preprocessor.vocabulary == growth.preprocessor.vocabulary
    np.testing.assert_array_equal(
        np.asarray(reloaded.encoder.token_embedding.embeddings), np.asarray(growth.encoder.token_embedding.embeddings)
    )
    # "zebra" has its own vector now: the sentence embeds differently from one with a word still unknown.
    embeddings = reloaded.encode(["a zebra film", "a unseenword film"])
    assert not np.allclose(embeddings[0], embeddings[1], atol=1e-4)
