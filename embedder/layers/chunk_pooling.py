"""Pools the vectors of a document's chunks into one document vector: a masked mean, or attention over chunks."""

from __future__ import annotations

import keras
import tensorflow as tf

from embedder.contract import CHUNK_POOLINGS
from embedder.layers.additive_attention_pooling import AdditiveAttentionPooling
from embedder.validation import check_choice, check_positive_int


@keras.saving.register_keras_serializable(package="embedder")
class ChunkPooling(keras.layers.Layer):
    """Puts the chunk vectors of `DocumentChunker`'s batch back per document and pools them into one vector.

    "mean" averages a document's non-empty chunks; "attention" weights them by additive attention with one learned
    vector (`AdditiveAttentionPooling`, the second level of Yang et al.'s hierarchical attention). Either way a
    document of one chunk gets that chunk's vector unchanged. The chunks' token attention is carried through: each
    chunk's rows are scaled by the chunk's weight and laid end to end, so the document's attention rows are again
    distributions over its tokens (summing to 1, 0 on padding).

    Args:
        pooling: "attention" or "mean". Defaults to "attention".
        attention_units: width of the scoring MLP with "attention". Defaults to 128.
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        chunk_embeddings: (chunks, dim), the encoder's vectors of the non-empty chunks, in `chunk_mask`'s
            row-major order.
        chunk_attention: (chunks, rows, width), the encoder's attention over each chunk's tokens.
        chunk_mask: boolean (batch, n) from `DocumentChunker`.
        token_ids: int (batch, length), the documents' ids (only their length is read: the attention's width).

    Returns:
        ``(embedding, attention)``: (batch, dim) in the compute dtype and (batch, rows, length) float32.
    """

    def __init__(self, pooling: str = "attention", attention_units: int = 128, **kwargs):
        check_choice("pooling", pooling, CHUNK_POOLINGS)
        check_positive_int("attention_units", attention_units)
        super().__init__(**kwargs)
        self.pooling = pooling
        self.attention_units = attention_units

    def build(self, chunk_embeddings_shape, chunk_attention_shape=None, chunk_mask_shape=None, token_ids_shape=None):
        if self.pooling == "attention":
            self.chunk_attention_pooling = AdditiveAttentionPooling(
                self.attention_units, dtype=self.dtype_policy, name="chunk_attention_pooling"
            )
            self.chunk_attention_pooling.build((None, None, chunk_embeddings_shape[-1]))

    def call(self, chunk_embeddings, chunk_attention, chunk_mask, token_ids):
        batch, count = tf.shape(chunk_mask)[0], tf.shape(chunk_mask)[1]
        positions = tf.cast(tf.where(chunk_mask), "int32")  # (K, 2): (document, chunk) of each encoded chunk
        dim = tf.shape(chunk_embeddings)[-1]
        grid = tf.scatter_nd(positions, chunk_embeddings, tf.stack([batch, count, dim]))  # (B, n, D), 0 when empty
        if self.pooling == "attention":
            embedding, weights = self.chunk_attention_pooling(grid, mask=chunk_mask)  # (B, D), (B, n) float32
        else:
            present = tf.cast(chunk_mask, "float32")  # (B, n)
            weights = present / tf.maximum(tf.reduce_sum(present, axis=1, keepdims=True), 1.0)  # (B, n)
            embedding = tf.reduce_sum(grid * tf.cast(weights, grid.dtype)[:, :, None], axis=1)  # (B, D)

        rows, width = tf.shape(chunk_attention)[1], tf.shape(chunk_attention)[2]
        attention = tf.scatter_nd(
            positions, tf.cast(chunk_attention, "float32"), tf.stack([batch, count, rows, width])
        )  # (B, n, R, W)
        attention = attention * weights[:, :, None, None]  # (B, n, R, W)
        attention = tf.reshape(tf.transpose(attention, [0, 2, 1, 3]), [batch, rows, count * width])  # (B, R, n·W)
        length = tf.shape(token_ids)[1]
        attention = tf.pad(attention, [[0, 0], [0, 0], [0, tf.maximum(length - count * width, 0)]])
        return embedding, attention[:, :, :length]  # (B, D), (B, R, T)

    def compute_output_spec(self, chunk_embeddings, chunk_attention, chunk_mask, token_ids):
        batch = chunk_mask.shape[0]
        return (
            keras.KerasTensor((batch, chunk_embeddings.shape[-1]), dtype=self.compute_dtype),
            keras.KerasTensor((batch, chunk_attention.shape[1], token_ids.shape[1]), dtype="float32"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(pooling=self.pooling, attention_units=self.attention_units)
        return config
