"""Learned absolute position embeddings (the alternative to sinusoids that BERT uses)."""

from __future__ import annotations

import keras
from keras import ops

from embedder.layers.initializers import clone_initializer, get_initializer
from embedder.validation import check_positive_int


@keras.saving.register_keras_serializable(package="embedder")
class PositionEmbedding(keras.layers.Layer):
    """A trainable vector per position, for sequences up to `sequence_length` long.

    Args:
        sequence_length: the longest sequence the layer accepts.
        initializer: initializer of the table: a name, a config or an instance (see `keras.initializers.get`).
            Defaults to "glorot_uniform".
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, length, hidden_dim) with length ≤ sequence_length; only its shape is used.

    Returns:
        (1, length, hidden_dim) position vectors, to add to the token embeddings.
    """

    def __init__(self, sequence_length: int, initializer="glorot_uniform", **kwargs):
        check_positive_int("sequence_length", sequence_length)
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.initializer = get_initializer(initializer)

    def build(self, inputs_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=clone_initializer(self.initializer),
        )

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        return ops.expand_dims(ops.cast(self.position_embeddings[:length], self.compute_dtype), 0)  # (1, T, D)

    def compute_output_shape(self, inputs_shape):
        return (1, inputs_shape[1], inputs_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update(
            {"sequence_length": self.sequence_length, "initializer": keras.initializers.serialize(self.initializer)}
        )
        return config
