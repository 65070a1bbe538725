"""Fixed sinusoidal position encoding (Vaswani et al. 2017)."""

from __future__ import annotations

import keras
from keras import ops

from embedder.validation import check_number


@keras.saving.register_keras_serializable(package="embedder")
class SinePositionEncoding(keras.layers.Layer):
    """The sinusoidal position encoding of "Attention Is All You Need", section 3.5.

    PE(pos, 2i) = sin(pos / max_wavelength^(2i/d)) and PE(pos, 2i+1) = cos(pos / max_wavelength^(2i/d)). It has no
    weights and works for any sequence length.

    Args:
        max_wavelength: the longest wavelength. Defaults to 10000.
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, length, hidden_dim); only its shape is used.

    Returns:
        The encoding, (1, length, hidden_dim), to add to the token embeddings.

    References:
        Vaswani et al. (2017), Attention Is All You Need.
    """

    def __init__(self, max_wavelength: float = 10000.0, **kwargs):
        check_number("max_wavelength", max_wavelength, minimum=1, strict=True)
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def call(self, inputs):
        length, hidden_dim = ops.shape(inputs)[1], inputs.shape[-1]
        positions = ops.expand_dims(ops.cast(ops.arange(length), "float32"), 1)  # (T, 1)
        pair_index = ops.cast(ops.arange(hidden_dim) // 2 * 2, "float32")  # (D,): 0, 0, 2, 2, ...
        angles = positions / ops.power(self.max_wavelength, pair_index / hidden_dim)  # (T, D)
        even = ops.equal(ops.arange(hidden_dim) % 2, 0)  # (D,)
        encoding = ops.where(even, ops.sin(angles), ops.cos(angles))  # (T, D)
        return ops.cast(ops.expand_dims(encoding, 0), self.compute_dtype)  # (1, T, D)

    def compute_output_shape(self, inputs_shape):
        return (1, inputs_shape[1], inputs_shape[2])

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
