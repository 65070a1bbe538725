"""Classic attention encoder: a BiLSTM/BiGRU pooled by one learned attention vector."""

from __future__ import annotations

import keras
from keras import ops

from embedder.encoders.sentence_encoder import RecurrentSentenceEncoder
from embedder.layers.additive_attention_pooling import AdditiveAttentionPooling
from embedder.validation import check_positive_int


@keras.saving.register_keras_serializable(package="embedder")
class ClassicAttentionEncoder(RecurrentSentenceEncoder):
    """Word embeddings → bidirectional LSTM (or GRU) → additive attention with ONE attention vector.

    The scores ``v · tanh(W_h h_t + W_q q + b)`` are softmaxed over the tokens and the states summed with those
    weights into one context vector (2u wide). The query q is the optional `query` call argument (e.g. an external
    state that steers what to look at) or, without one, none: the learned bias b is the global query's term.

    Args:
        vocabulary_size: number of token ids, the reserved ones included.
        attention_units: width of the scoring MLP. Defaults to 128.
        word_residual: add a projection of each word's embedding to its state, so that the attention points at
            the words that matter (see `RecurrentSentenceEncoder`). Defaults to True.
        **kwargs: `rnn_type`, `rnn_units`, `rnn_layers`, `embedding_dim`, `dropout`, `embeddings_trainable`
            (see `RecurrentSentenceEncoder` and `SentenceEncoder`), and `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: int (batch, length), 0 = padding.
        query: optional (batch, query_features) steering vector.
        training: whether dropout is active.

    Returns:
        ``(embedding, attention)``: (batch, 2u) and (batch, 1, length).

    Example:
        >>> encoder = ClassicAttentionEncoder(vocabulary_size=100, rnn_units=8)
        >>> embedding, attention = encoder(np.array([[5, 6, 7, 0]]))
        >>> embedding.shape, attention.shape
        ((1, 16), (1, 1, 4))

    References:
        Bahdanau, Cho & Bengio (2015); Yang et al. (2016), Hierarchical Attention Networks.
    """

    def __init__(self, vocabulary_size: int, attention_units: int = 128, word_residual: bool = True, **kwargs):
        check_positive_int("attention_units", attention_units)
        super().__init__(vocabulary_size, word_residual=word_residual, **kwargs)
        self.attention_units = attention_units

    def build(self, token_ids_shape, query_shape=None):
        self.build_recurrent()
        self.attention_pooling = AdditiveAttentionPooling(
            self.attention_units, dtype=self.dtype_policy, name="attention_pooling"
        )
        self.attention_pooling.build((None, None, self.state_width), query_shape)

    def call(self, token_ids, query=None, training=None):
        states, mask = self.encode_states(token_ids, training=training)  # (B, T, 2u), (B, T)
        context, weights = self.attention_pooling(states, mask=mask, query=query)  # (B, 2u), (B, T)
        return context, ops.expand_dims(weights, 1)  # (B, 2u), (B, 1, T)

    def compute_output_shape(self, token_ids_shape, query_shape=None):
        return super().compute_output_shape(token_ids_shape)

    @property
    def output_dim(self) -> int:
        return self.state_width

    @property
    def attention_rows(self) -> int:
        return 1

    def get_config(self):
        config = super().get_config()
        config.update({"attention_units": self.attention_units})
        return config
