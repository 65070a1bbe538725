"""The base of every encoder: token ids in, a sentence embedding and attention weights out."""

from __future__ import annotations

import keras
from keras import ops

from embedder.validation import check_choice, check_non_negative_int, check_positive_int, check_rate

RNN_TYPES = ("lstm", "gru")


class SentenceEncoder(keras.layers.Layer):
    """Base class: maps int token ids (batch, length), 0 = padding, to ``(embedding, attention)``.

    ``embedding`` is (batch, output_dim); ``attention`` is (batch, attention_rows, length): for each row (a hop,
    a head, or the single attention vector) a distribution over the tokens, 0 on padding. Padding never changes
    either output. Subclasses set `output_dim` and `attention_rows` and implement `call`.

    Args:
        vocabulary_size: number of token ids, the reserved ones included.
        embedding_dim: width of the word embeddings. Defaults to 128.
        dropout: dropout rate on the embeddings and inside the encoder. Defaults to 0.1.
        embeddings_trainable: whether the word embeddings are trained (False keeps pretrained vectors fixed).
            Defaults to True.
        **kwargs: passed to `keras.layers.Layer`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        embedding_dim: int = 128,
        dropout: float = 0.1,
        embeddings_trainable: bool = True,
        **kwargs,
    ):
        check_positive_int("vocabulary_size", vocabulary_size)
        check_positive_int("embedding_dim", embedding_dim)
        check_rate("dropout", dropout)
        super().__init__(**kwargs)
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.embeddings_trainable = embeddings_trainable

    def build_token_embedding(self):
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.embedding_dim,
            trainable=self.embeddings_trainable,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        self.token_embedding.build((None, None))
        self.embedding_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="embedding_dropout")

    def embed_tokens(self, token_ids, training=None):
        """Returns ``(vectors, mask)``: (batch, length, embedding_dim) and boolean (batch, length)."""
        mask = ops.not_equal(token_ids, 0)  # (B, T)
        vectors = self.embedding_dropout(self.token_embedding(token_ids), training=training)  # (B, T, E)
        return vectors, mask

    @property
    def output_dim(self) -> int:
        raise NotImplementedError

    @property
    def attention_rows(self) -> int:
        raise NotImplementedError

    def compute_output_shape(self, token_ids_shape):
        batch, length = token_ids_shape[0], token_ids_shape[1]
        return (batch, self.output_dim), (batch, self.attention_rows, length)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "dropout": self.dropout,
                "embeddings_trainable": self.embeddings_trainable,
            }
        )
        return config


class RecurrentSentenceEncoder(SentenceEncoder):
    """Base of the recurrent encoders: word embeddings → stacked bidirectional LSTM or GRU states H.

    Args:
        rnn_type: "lstm" or "gru". Defaults to "lstm".
        rnn_units: units per direction (u); the states are 2u wide. Defaults to 128.
        rnn_layers: number of stacked bidirectional layers. Defaults to 1. 0 means no recurrence at all: the
            states ARE the word vectors (H = X, `embedding_dim` wide), so attention pools static word vectors, the
            fast tier of the distilled models (like Model2Vec's weighted mean, but with learned attention).
        word_residual: add a linear projection of each word's embedding to its state (H = BiRNN(X) + X W).
            Without it, every state after a word carries that word, and attention over the states need not sit
            on the word that matters (Jain & Wallace 2019); with it, the heatmaps point at the words themselves.
            Defaults to False here; the attention encoders default to True.
        **kwargs: passed to `SentenceEncoder`.
    """

    def __init__(
        self,
        vocabulary_size: int,
        rnn_type: str = "lstm",
        rnn_units: int = 128,
        rnn_layers: int = 1,
        word_residual: bool = False,
        **kwargs,
    ):
        check_choice("rnn_type", rnn_type, RNN_TYPES)
        check_positive_int("rnn_units", rnn_units)
        check_non_negative_int("rnn_layers", rnn_layers)
        super().__init__(vocabulary_size, **kwargs)
        self.rnn_type = rnn_type
        self.rnn_units = rnn_units
        self.rnn_layers = rnn_layers
        self.word_residual = word_residual

    @property
    def state_width(self) -> int:
        """Width of the states H: 2u after a bidirectional RNN, the embedding width without one."""
        return 2 * self.rnn_units if self.rnn_layers else self.embedding_dim

    def build_recurrent(self):
        self.build_token_embedding()
        cell = keras.layers.LSTM if self.rnn_type == "lstm" else keras.layers.GRU
        self.recurrent = []
        width = self.embedding_dim
        for i in range(self.rnn_layers):
            layer = keras.layers.Bidirectional(
                cell(self.rnn_units, return_sequences=True, dtype=self.dtype_policy),
                dtype=self.dtype_policy,
                name=f"bidirectional_{self.rnn_type}_{i}",
            )
            layer.build((None, None, width))
            self.recurrent.append(layer)
            width = 2 * self.rnn_units
        if self.word_residual and self.rnn_layers:  # without an RNN the states already are the words
            self.word_projection = keras.layers.Dense(
                2 * self.rnn_units, use_bias=False, dtype=self.dtype_policy, name="word_projection"
            )
            self.word_projection.build((None, None, self.embedding_dim))
        self.state_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name="state_dropout")

    def encode_states(self, token_ids, training=None):
        """Returns ``(states, mask)``: H (batch, length, 2u) and boolean (batch, length)."""
        words, mask = self.embed_tokens(token_ids, training=training)  # (B, T, E), (B, T)
        x = words
        for layer in self.recurrent:
            x = layer(x, mask=mask, training=training)  # (B, T, 2u)
        if self.word_residual and self.rnn_layers:
            x = x + self.word_projection(words)  # (B, T, 2u): each state also says which word it sits on
        return self.state_dropout(x, training=training), mask

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rnn_type": self.rnn_type,
                "rnn_units": self.rnn_units,
                "rnn_layers": self.rnn_layers,
                "word_residual": self.word_residual,
            }
        )
        return config
