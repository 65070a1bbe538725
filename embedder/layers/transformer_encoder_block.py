"""One Transformer encoder block: multi-head self-attention and a position-wise feed-forward network."""

from __future__ import annotations

import keras
from keras import ops

from embedder.layers.initializers import clone_initializer, get_initializer
from embedder.validation import check_positive_int, check_rate, invalid


@keras.saving.register_keras_serializable(package="embedder")
class TransformerEncoderBlock(keras.layers.Layer):
    """A Transformer encoder block (Vaswani et al. 2017, section 3.1), on `keras.layers.MultiHeadAttention`.

    x → x + Dropout(MultiHeadSelfAttention(x)) → LayerNorm → x + Dropout(FFN(x)) → LayerNorm, where FFN is
    Dense(intermediate_dim, activation) → Dense(hidden_dim). With ``normalize_first=True`` the layer norms move
    before each sub-layer (pre-LN, which trains more stably in deep stacks).

    Args:
        hidden_dim: the model width d_model.
        num_heads: attention heads h; must divide `hidden_dim`.
        intermediate_dim: width of the feed-forward layer d_ff. Defaults to 4 × `hidden_dim`.
        dropout: dropout rate on attention weights and on each sub-layer's output. Defaults to 0.1.
        activation: activation of the feed-forward layer: a name, a function or a serialized activation (see
            `keras.activations.get`). Defaults to "relu".
        normalize_first: pre-LN instead of the paper's post-LN. Defaults to False.
        layer_norm_epsilon: epsilon of the layer norms. Defaults to 1e-6.
        kernel_initializer: initializer of the attention and feed-forward kernels (see `keras.initializers.get`).
            Defaults to "glorot_uniform".
        bias_initializer: initializer of their biases. Defaults to "zeros".
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, length, hidden_dim).
        padding_mask: optional boolean (batch, length); padded positions are never attended to.
        training: whether dropout is active.

    Returns:
        A tuple ``(outputs, attention)``: outputs (batch, length, hidden_dim) and the attention weights
        (batch, num_heads, length, length), each query row summing to 1 over the unmasked keys; both in the
        compute dtype (float16 or bfloat16 under a mixed-precision policy).

    References:
        Vaswani et al. (2017), Attention Is All You Need.
    """

    def __init__(
        self,
        hidden_dim: int,
        num_heads: int,
        intermediate_dim: int | None = None,
        dropout: float = 0.1,
        activation="relu",
        normalize_first: bool = False,
        layer_norm_epsilon: float = 1e-6,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("num_heads", num_heads)
        if hidden_dim % num_heads:
            raise invalid("num_heads", f"a divisor of `hidden_dim`={hidden_dim}", num_heads)
        if intermediate_dim is not None:
            check_positive_int("intermediate_dim", intermediate_dim)
        check_rate("dropout", dropout)
        super().__init__(**kwargs)
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)
        self.supports_masking = True

    def build(self, inputs_shape):
        self.self_attention = keras.layers.MultiHeadAttention(
            num_heads=self.num_heads,
            key_dim=self.hidden_dim // self.num_heads,
            dropout=self.dropout,
            name="self_attention",
            **self._initializer_kwargs(),
        )
        self.self_attention.build(inputs_shape, inputs_shape)
        self.attention_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_norm"
        )
        self.attention_norm.build(inputs_shape)
        self.feedforward_intermediate = keras.layers.Dense(
            self.intermediate_dim or 4 * self.hidden_dim,
            activation=self.activation,
            name="feedforward_intermediate",
            **self._initializer_kwargs(),
        )
        self.feedforward_intermediate.build(inputs_shape)
        self.feedforward_output = keras.layers.Dense(
            self.hidden_dim, name="feedforward_output", **self._initializer_kwargs()
        )
        self.feedforward_output.build((*inputs_shape[:-1], self.intermediate_dim or 4 * self.hidden_dim))
        self.feedforward_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feedforward_norm"
        )
        self.feedforward_norm.build(inputs_shape)
        self.output_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="output_dropout")

    def _initializer_kwargs(self) -> dict:
        return {
            "kernel_initializer": clone_initializer(self.kernel_initializer),
            "bias_initializer": clone_initializer(self.bias_initializer),
            "dtype": self.dtype_policy,
        }

    def call(self, inputs, padding_mask=None, training=None):
        attention_mask = None
        if padding_mask is not None:
            length = ops.shape(inputs)[1]
            keys = ops.expand_dims(ops.cast(padding_mask, "bool"), 1)  # (B, 1, T)
            attention_mask = ops.broadcast_to(keys, (ops.shape(inputs)[0], length, length))  # (B, T, T)

        x = self.attention_norm(inputs) if self.normalize_first else inputs
        attended, attention = self.self_attention(
            x, x, attention_mask=attention_mask, return_attention_scores=True, training=training
        )  # (B, T, D), (B, h, T, T)
        x = inputs + self.output_dropout(attended, training=training)
        if not self.normalize_first:
            x = self.attention_norm(x)

        y = self.feedforward_norm(x) if self.normalize_first else x
        y = self.feedforward_output(self.feedforward_intermediate(y))  # (B, T, D)
        x = x + self.output_dropout(y, training=training)
        if not self.normalize_first:
            x = self.feedforward_norm(x)
        return x, attention

    def compute_output_shape(self, inputs_shape):
        batch, length = inputs_shape[0], inputs_shape[1]
        return inputs_shape, (batch, self.num_heads, length, length)

    def compute_mask(self, inputs, padding_mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "normalize_first": self.normalize_first,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
