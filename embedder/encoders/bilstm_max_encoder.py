"""BiLSTM with max pooling over time: the baseline of Lin et al. (2017) and InferSent."""

from __future__ import annotations

import keras
from keras import ops

from embedder.encoders.sentence_encoder import RecurrentSentenceEncoder
from embedder.layers.masked_pooling import MaskedMaxPooling


@keras.saving.register_keras_serializable(package="embedder")
class BiLSTMMaxEncoder(RecurrentSentenceEncoder):
    """Word embeddings → BiLSTM (or BiGRU) → max over the unmasked time steps (2u wide).

    It has no attention; its "attention" output is the share of embedding features whose maximum each token
    supplied, which `embedder explain` shows like attention.

    Args:
        vocabulary_size: number of token ids, the reserved ones included.
        **kwargs: `rnn_type`, `rnn_units`, `rnn_layers`, `embedding_dim`, `dropout`, `embeddings_trainable`, and
            `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: int (batch, length), 0 = padding.
        training: whether dropout is active.

    Returns:
        ``(embedding, attention)``: (batch, 2u) and (batch, 1, length).

    References:
        Conneau et al. (2017), Supervised Learning of Universal Sentence Representations (InferSent).
    """

    def build(self, token_ids_shape):
        self.build_recurrent()
        self.max_pooling = MaskedMaxPooling(dtype=self.dtype_policy, name="max_pooling")

    def call(self, token_ids, training=None):
        states, mask = self.encode_states(token_ids, training=training)  # (B, T, 2u), (B, T)
        pooled, shares = self.max_pooling(states, mask=mask)  # (B, 2u), (B, T)
        return pooled, ops.expand_dims(shares, 1)  # (B, 2u), (B, 1, T)

    @property
    def output_dim(self) -> int:
        return self.state_width

    @property
    def attention_rows(self) -> int:
        return 1
