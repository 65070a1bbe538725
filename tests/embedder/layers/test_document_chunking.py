"""`DocumentChunker` and `ChunkPooling`: golden chunks and masks, and pooling against a numpy reference."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from embedder.layers import ChunkPooling, DocumentChunker
from embedder.layers.document_chunker import split_into_chunks


def test_known_ids_give_the_expected_chunks_and_mask():
    ids = tf.constant([[5, 6, 7, 8, 9], [3, 4, 0, 0, 0], [2, 0, 0, 0, 0]])
    chunk_ids, chunk_mask = split_into_chunks(ids, chunk_length=2, max_chunks=3)
    # 5 tokens → 3 chunks of 2 (the last padded); empty chunks are left out of the encoder's batch.
    assert chunk_ids.numpy().tolist() == [[5, 6], [7, 8], [9, 0], [3, 4], [2, 0]]
    assert chunk_mask.numpy().tolist() == [[True, True, True], [True, False, False], [True, False, False]]

    chunk_ids, chunk_mask = split_into_chunks(ids, chunk_length=2, max_chunks=2)  # tokens past N·L are dropped
    assert chunk_ids.numpy().tolist() == [[5, 6], [7, 8], [3, 4], [2, 0]]
    assert chunk_mask.numpy().tolist() == [[True, True], [True, False], [True, False]]


def test_a_batch_shorter_than_a_chunk_stays_one_chunk_without_added_padding():
    ids = tf.constant([[5, 6, 7], [3, 0, 0]])
    chunk_ids, chunk_mask = DocumentChunker(chunk_length=8, max_chunks=4)(ids)
    assert chunk_ids.numpy().tolist() == ids.numpy().tolist()
    assert chunk_mask.numpy().tolist() == [[True], [True]]


def _pool(pooling, chunk_embeddings, chunk_attention, chunk_mask, length):
    layer = ChunkPooling(pooling, attention_units=4)
    token_ids = tf.ones([chunk_mask.shape[0], length], tf.int32)
    embedding, attention = layer(tf.constant(chunk_embeddings), tf.constant(chunk_attention), chunk_mask, token_ids)
    return layer, embedding.numpy(), attention.numpy()


def test_mean_pooling_matches_numpy_and_carries_the_token_attention():
    rng = np.random.default_rng(0)
    chunk_mask = np.array([[True, True, True], [True, False, False]])
    chunk_embeddings = rng.normal(size=(4, 5)).astype("float32")  # document 0: chunks 0-2, document 1: chunk 3
    chunk_attention = rng.random(size=(4, 2, 3)).astype("float32")
    chunk_attention /= chunk_attention.sum(-1, keepdims=True)
    _, embedding, attention = _pool("mean", chunk_embeddings, chunk_attention, chunk_mask, length=8)
    np.testing.assert_allclose(embedding[0], chunk_embeddings[:3].mean(0), atol=1e-6)
    np.testing.assert_allclose(embedding[1], chunk_embeddings[3], atol=1e-6)
    assert attention.shape == (2, 2, 8)  # cut to the documents' length
    np.testing.assert_allclose(attention[0, :, 3:6], chunk_attention[1] / 3, atol=1e-6)
    np.testing.assert_allclose(attention[1, :, :3], chunk_attention[3], atol=1e-6)
    np.testing.assert_allclose(attention[1, :, 3:], 0.0)
    # The 9th position is past the documents' length (in a model, padding with no attention): cut off.
    np.testing.assert_allclose(attention[0].sum(-1), 1 - chunk_attention[2, :, 2] / 3, atol=1e-6)


def test_attention_pooling_weights_chunks_and_a_single_chunk_passes_through():
    rng = np.random.default_rng(1)
    chunk_mask = np.array([[True, True], [True, False]])
    chunk_embeddings = rng.normal(size=(3, 5)).astype("float32")
    chunk_attention = np.full((3, 1, 4), 0.25, "float32")
    layer, embedding, attention = _pool("attention", chunk_embeddings, chunk_attention, chunk_mask, length=8)
    np.testing.assert_allclose(embedding[1], chunk_embeddings[2], atol=1e-6)
    np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-6)
    weights = attention[0, 0, ::4] * 4  # each chunk's weight, from its first token's share
    np.testing.assert_allclose(embedding[0], weights @ chunk_embeddings[:2], atol=1e-5)
    assert len(layer.trainable_weights) == 3  # the chunk attention's projection, bias and score vector


@pytest.mark.parametrize(
    "layer_cls, kwargs, message",
    [
        (DocumentChunker, {"chunk_length": 0}, "argument `chunk_length`, expected a positive integer"),
        (DocumentChunker, {"max_chunks": -1}, "argument `max_chunks`, expected a positive integer"),
        (ChunkPooling, {"pooling": "max"}, "argument `pooling`, expected one of 'mean', 'attention'"),
    ],
)
def test_bad_arguments_are_refused(layer_cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        layer_cls(**kwargs)


@pytest.mark.parametrize(
    "layer", [DocumentChunker(chunk_length=16, max_chunks=3), ChunkPooling("attention", attention_units=7)]
)
def test_config_round_trip(layer):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == layer.get_config()
