"""Mean and max pooling over the unmasked positions of a sequence."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="embedder")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of a sequence's states over its unmasked positions (padding never changes the result).

    Call arguments:
        inputs: (batch, length, features).
        mask: optional boolean (batch, length); False marks padding.

    Returns:
        (batch, features).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)  # (B, T, 1)
        total = ops.sum(inputs * weights, axis=1)  # (B, D)
        return total / ops.maximum(ops.sum(weights, axis=1), 1.0)  # (B, D)

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], inputs_shape[-1])

    def compute_mask(self, inputs, mask=None):
        return None


@keras.saving.register_keras_serializable(package="embedder")
class MaskedMaxPooling(keras.layers.Layer):
    """Max of a sequence's states over its unmasked positions, and which positions supplied the maxima.

    The second output makes max pooling explainable like attention: for each position, the fraction of the
    features whose maximum it supplied (a distribution over positions, 0 on padding).

    Call arguments:
        inputs: (batch, length, features).
        mask: optional boolean (batch, length); False marks padding.

    Returns:
        A tuple ``(pooled, shares)``: pooled (batch, features), in the compute dtype, and shares (batch, length),
        float32.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        values = ops.cast(inputs, "float32")
        if mask is not None:
            values = ops.where(ops.expand_dims(mask, -1), values, -3.0e38)  # (B, T, D)
        pooled = ops.max(values, axis=1)  # (B, D)
        winners = ops.one_hot(ops.argmax(values, axis=1), ops.shape(values)[1], axis=1)  # (B, T, D)
        shares = ops.mean(winners, axis=-1)  # (B, T)
        return ops.cast(pooled, inputs.dtype), shares

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], inputs_shape[-1]), (inputs_shape[0], inputs_shape[1])

    def compute_mask(self, inputs, mask=None):
        return None
