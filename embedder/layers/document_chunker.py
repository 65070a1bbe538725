"""Cuts each document's token ids into consecutive chunks, so that a sentence encoder can read a long document."""

from __future__ import annotations

import keras
import tensorflow as tf

from embedder.validation import check_positive_int


def split_into_chunks(token_ids, chunk_length: int, max_chunks: int):
    """Cuts padded token ids into up to `max_chunks` consecutive chunks of `chunk_length` tokens.

    A batch whose longest row is shorter than `chunk_length` stays one chunk of that row's width (no padding is
    added). Tokens past ``max_chunks * chunk_length`` are dropped.

    Args:
        token_ids: int (batch, length), 0 = padding after each row's tokens.
        chunk_length: tokens per chunk (L).
        max_chunks: the most chunks per document (N).

    Returns:
        ``(chunk_ids, chunk_mask)``: chunk_ids (chunks, width), the non-empty chunks of every document in row-major
        order (document 0's first, then document 1's, ...), width = min(L, length); chunk_mask, boolean
        (batch, n) with n = ceil(min(length, N·L) / L), True where a document's chunk has at least one token.
    """
    token_ids = token_ids[:, : chunk_length * max_chunks]  # (B, T), T ≤ N·L
    batch, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
    width = tf.minimum(length, chunk_length)  # one short chunk when every row fits into one
    count = (length + chunk_length - 1) // chunk_length  # n
    token_ids = tf.pad(token_ids, [[0, 0], [0, count * width - length]])  # (B, n·W)
    chunks = tf.reshape(token_ids, [batch, count, width])  # (B, n, W)
    chunk_mask = tf.reduce_any(tf.not_equal(chunks, 0), axis=-1)  # (B, n)
    return tf.boolean_mask(chunks, chunk_mask), chunk_mask  # (K, W), (B, n)


@keras.saving.register_keras_serializable(package="embedder")
class DocumentChunker(keras.layers.Layer):
    """Splits documents' token ids into the non-empty chunks a sentence encoder reads as if they were sentences.

    The chunks of all documents are stacked into one batch, (batch · n) × L with the empty ones left out, so the
    encoder's cost follows the tokens actually present; `ChunkPooling` puts the chunk vectors back per document.
    Core TensorFlow ops only (pad, reshape, boolean_mask), so an exported model needs nothing else; the layer
    runs on the TensorFlow backend only (the number of chunks is data-dependent).

    Args:
        chunk_length: tokens per chunk (L). Defaults to 64.
        max_chunks: the most chunks per document (N); tokens past N·L are dropped. Defaults to 8.
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        token_ids: int (batch, length), 0 = padding.

    Returns:
        ``(chunk_ids, chunk_mask)``, see `split_into_chunks`: int (chunks, min(L, length)) and boolean (batch, n).

    Example:
        >>> chunk_ids, chunk_mask = DocumentChunker(chunk_length=2, max_chunks=3)(np.array([[5, 6, 7], [8, 0, 0]]))
        >>> chunk_ids.numpy().tolist(), chunk_mask.numpy().tolist()
        ([[5, 6], [7, 0], [8, 0]], [[True, True], [True, False]])

    References:
        Yang et al. (2016), Hierarchical Attention Networks for Document Classification (sentences encoded one by
        one, then pooled into the document).
    """

    def __init__(self, chunk_length: int = 64, max_chunks: int = 8, **kwargs):
        check_positive_int("chunk_length", chunk_length)
        check_positive_int("max_chunks", max_chunks)
        super().__init__(**kwargs)
        self.chunk_length = chunk_length
        self.max_chunks = max_chunks

    def call(self, token_ids):
        return split_into_chunks(token_ids, self.chunk_length, self.max_chunks)

    def compute_output_spec(self, token_ids):
        return (
            keras.KerasTensor((None, None), dtype=token_ids.dtype),
            keras.KerasTensor((token_ids.shape[0], None), dtype="bool"),
        )

    def get_config(self):
        config = super().get_config()
        config.update(chunk_length=self.chunk_length, max_chunks=self.max_chunks)
        return config
