"""Structured self-attentive sentence embedding (Lin et al. 2017): BiLSTM states pooled by r attention hops."""

from __future__ import annotations

import keras

from embedder.encoders.sentence_encoder import RecurrentSentenceEncoder
from embedder.layers.structured_self_attention import (
    StructuredSelfAttention,
    attention_settings,
    with_legacy_penalty_norm,
)


@keras.saving.register_keras_serializable(package="embedder")
class StructuredSelfAttentiveEncoder(RecurrentSentenceEncoder):
    """Word embeddings → BiLSTM (H, n × 2u) → A = softmax(W_s2 tanh(W_s1 Hᵀ)) (r × n) → M = AH.

    The embedding is M flattened (r·2u) or, with ``hop_pooling="mean"``, its mean over hops (2u). During training
    the penalty ``penalty_coefficient · ‖AAᵀ − I‖_F`` (squared with ``penalty_norm="squared"``) is added to the
    model's losses; serving never computes it.

    Args:
        vocabulary_size: number of token ids, the reserved ones included.
        attention_hops: r. Defaults to 4.
        attention_units: d_a. Defaults to 128.
        penalty_coefficient: weight of the redundancy penalty. Defaults to 1.0.
        hop_pooling: "flatten" or "mean". Defaults to "flatten".
        penalty_norm: "frobenius" (‖AAᵀ − I‖_F, as Lin et al.'s released code) or "squared" (‖AAᵀ − I‖²_F; what
            a saved encoder without the key was trained with, and is loaded with). Defaults to "frobenius".
        word_residual: H = BiLSTM(X) + X W instead of the paper's H = BiLSTM(X), so that each hop's attention
            points at words rather than at states that merely carry them (see `RecurrentSentenceEncoder`);
            False gives the paper's model exactly. Defaults to True.
        **kwargs: `rnn_type`, `rnn_units`, `rnn_layers`, `embedding_dim`, `dropout`, `embeddings_trainable`, and
            `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: int (batch, length), 0 = padding.
        training: whether dropout and the penalty are active.

    Returns:
        ``(embedding, attention)``: (batch, r·2u) or (batch, 2u), and A (batch, r, length).

    Example:
        >>> encoder = StructuredSelfAttentiveEncoder(vocabulary_size=100, rnn_units=8, attention_hops=3)
        >>> embedding, attention = encoder(np.array([[5, 6, 7, 0]]))
        >>> embedding.shape, attention.shape
        ((1, 48), (1, 3, 4))

    References:
        Lin et al. (2017), A Structured Self-Attentive Sentence Embedding, ICLR.
    """

    def __init__(
        self,
        vocabulary_size: int,
        attention_hops: int = 4,
        attention_units: int = 128,
        penalty_coefficient: float = 1.0,
        hop_pooling: str = "flatten",
        word_residual: bool = True,
        penalty_norm: str = "frobenius",
        **kwargs,
    ):
        # Validate through the layer itself so that the messages are the same wherever the argument is given.
        StructuredSelfAttention(attention_hops, attention_units, penalty_coefficient, hop_pooling, penalty_norm)
        super().__init__(vocabulary_size, word_residual=word_residual, **kwargs)
        self.attention_hops = attention_hops
        self.attention_units = attention_units
        self.penalty_coefficient = float(penalty_coefficient)
        self.hop_pooling = hop_pooling
        self.penalty_norm = penalty_norm

    def build(self, token_ids_shape):
        self.build_recurrent()
        self.self_attention = StructuredSelfAttention(
            attention_hops=self.attention_hops,
            attention_units=self.attention_units,
            penalty_coefficient=self.penalty_coefficient,
            hop_pooling=self.hop_pooling,
            penalty_norm=self.penalty_norm,
            dtype=self.dtype_policy,
            name="structured_self_attention",
        )
        self.self_attention.build((None, None, self.state_width))

    def call(self, token_ids, training=None):
        states, mask = self.encode_states(token_ids, training=training)  # (B, T, 2u), (B, T)
        return self.self_attention(states, mask=mask, training=training)  # (B, r·2u), (B, r, T)

    def set_penalty_coefficient(self, penalty_coefficient: float) -> None:
        """Changes the redundancy penalty's weight (e.g. for fine-tuning); `get_config` and training both follow."""
        StructuredSelfAttention(
            self.attention_hops, self.attention_units, penalty_coefficient, self.hop_pooling, self.penalty_norm
        )
        self.penalty_coefficient = float(penalty_coefficient)
        if self.built:
            self.self_attention.penalty_coefficient = self.penalty_coefficient

    @property
    def output_dim(self) -> int:
        width = self.state_width
        return width if self.hop_pooling == "mean" else self.attention_hops * width

    @property
    def attention_rows(self) -> int:
        return self.attention_hops

    def get_config(self):
        config = super().get_config()
        config.update(attention_settings(self))
        return config

    @classmethod
    def from_config(cls, config):
        # A model saved before `penalty_norm` existed was trained with the squared norm: fine-tuning it goes on so.
        return super().from_config(with_legacy_penalty_norm(config))
