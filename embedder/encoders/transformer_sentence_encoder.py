"""Transformer sentence encoder (Vaswani et al. 2017): self-attention over all positions in parallel."""

from __future__ import annotations

import math

import keras
from keras import ops

from embedder.encoders.sentence_encoder import SentenceEncoder
from embedder.layers.masked_pooling import MaskedMeanPooling
from embedder.layers.position_embedding import PositionEmbedding
from embedder.layers.sine_position_encoding import SinePositionEncoding
from embedder.layers.transformer_encoder_block import TransformerEncoderBlock
from embedder.validation import check_choice, check_positive_int, invalid

POSITION_ENCODINGS = ("sinusoidal", "learned")
POOLINGS = ("mean", "cls")


@keras.saving.register_keras_serializable(package="embedder")
class TransformerSentenceEncoder(SentenceEncoder):
    """Token embeddings + position encodings → N Transformer encoder blocks → a pooled sentence vector.

    The token embeddings are scaled by √hidden_dim (section 3.4 of the paper) or, when `embedding_dim` differs
    from `hidden_dim` (e.g. 50-d GloVe vectors), projected to `hidden_dim`. Padded positions are masked in every
    block. The sentence vector is the mean of the last block's states over the real tokens, or, with
    ``pooling="cls"``, the state of a learned [CLS] vector put in front of the sentence.

    Its attention output is, for each head of the last block, the attention each token receives, averaged over
    the real (non-padding) query positions (with "cls" pooling: the [CLS] query's row, renormalised over the
    words).

    Args:
        vocabulary_size: number of token ids, the reserved ones included.
        hidden_dim: model width d_model. Defaults to 256.
        num_layers: number of encoder blocks N. Defaults to 2.
        num_heads: attention heads h; must divide `hidden_dim`. Defaults to 4.
        intermediate_dim: feed-forward width d_ff. Defaults to 4 × `hidden_dim`.
        max_length: longest sequence; sizes the learned position table. Defaults to 512.
        position_encoding: "sinusoidal" or "learned". Defaults to "sinusoidal".
        pooling: "mean" or "cls". Defaults to "mean".
        normalize_first: pre-LN blocks instead of the paper's post-LN. Defaults to False.
        embedding_dim: width of the word embeddings. Defaults to `hidden_dim`.
        **kwargs: `dropout`, `embeddings_trainable` and `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: int (batch, length), 0 = padding.
        training: whether dropout is active.

    Returns:
        ``(embedding, attention)``: (batch, hidden_dim) and (batch, num_heads, length).

    Example:
        >>> encoder = TransformerSentenceEncoder(vocabulary_size=100, hidden_dim=16, num_heads=2)
        >>> embedding, attention = encoder(np.array([[5, 6, 7, 0]]))
        >>> embedding.shape, attention.shape
        ((1, 16), (1, 2, 4))

    References:
        Vaswani et al. (2017), Attention Is All You Need.
    """

    def __init__(
        self,
        vocabulary_size: int,
        hidden_dim: int = 256,
        num_layers: int = 2,
        num_heads: int = 4,
        intermediate_dim: int | None = None,
        max_length: int = 512,
        position_encoding: str = "sinusoidal",
        pooling: str = "mean",
        normalize_first: bool = False,
        embedding_dim: int | None = None,
        **kwargs,
    ):
        check_positive_int("hidden_dim", hidden_dim)
        check_positive_int("num_layers", num_layers)
        check_positive_int("num_heads", num_heads)
        if hidden_dim % num_heads:
            raise invalid("num_heads", f"a divisor of `hidden_dim`={hidden_dim}", num_heads)
        check_positive_int("max_length", max_length)
        check_choice("position_encoding", position_encoding, POSITION_ENCODINGS)
        check_choice("pooling", pooling, POOLINGS)
        super().__init__(vocabulary_size, embedding_dim=embedding_dim or hidden_dim, **kwargs)
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.max_length = max_length
        self.position_encoding = position_encoding
        self.pooling = pooling
        self.normalize_first = normalize_first

    def build(self, token_ids_shape):
        self.build_token_embedding()
        if self.embedding_dim != self.hidden_dim:
            self.embedding_projection = keras.layers.Dense(
                self.hidden_dim, dtype=self.dtype_policy, name="embedding_projection"
            )
            self.embedding_projection.build((None, None, self.embedding_dim))
        if self.position_encoding == "learned":
            # One extra position for the [CLS] vector.
            self.position_layer = PositionEmbedding(
                self.max_length + 1, dtype=self.dtype_policy, name="position_embedding"
            )
            self.position_layer.build((None, None, self.hidden_dim))
        else:
            self.position_layer = SinePositionEncoding(dtype=self.dtype_policy, name="position_encoding")
        if self.pooling == "cls":
            self.cls_vector = self.add_weight(name="cls_vector", shape=(self.hidden_dim,), initializer="glorot_uniform")
        self.blocks = []
        for i in range(self.num_layers):
            block = TransformerEncoderBlock(
                hidden_dim=self.hidden_dim,
                num_heads=self.num_heads,
                intermediate_dim=self.intermediate_dim,
                dropout=self.dropout,
                normalize_first=self.normalize_first,
                dtype=self.dtype_policy,
                name=f"transformer_block_{i}",
            )
            block.build((None, None, self.hidden_dim))
            self.blocks.append(block)
        if self.normalize_first:
            self.final_norm = keras.layers.LayerNormalization(epsilon=1e-6, dtype=self.dtype_policy, name="final_norm")
            self.final_norm.build((None, None, self.hidden_dim))
        self.mean_pooling = MaskedMeanPooling(dtype=self.dtype_policy, name="mean_pooling")

    def call(self, token_ids, training=None):
        x, mask = self.embed_tokens(token_ids, training=training)  # (B, T, E), (B, T)
        if self.embedding_dim != self.hidden_dim:
            x = self.embedding_projection(x)  # (B, T, D)
        else:
            x = x * ops.cast(math.sqrt(self.hidden_dim), x.dtype)  # (B, T, D)
        if self.pooling == "cls":
            cls = ops.cast(ops.reshape(self.cls_vector, (1, 1, -1)), x.dtype)  # (1, 1, D)
            x = ops.concatenate([ops.tile(cls, (ops.shape(x)[0], 1, 1)), x], axis=1)  # (B, 1+T, D)
            mask = ops.concatenate([ops.ones_like(mask[:, :1]), mask], axis=1)  # (B, 1+T)
        x = x + self.position_layer(x)  # (B, T', D)
        attention = None
        for block in self.blocks:
            x, attention = block(x, padding_mask=mask, training=training)  # (B, T', D), (B, h, T', T')
        if self.normalize_first:
            x = self.final_norm(x)
        attention = ops.cast(attention, "float32")
        if self.pooling == "cls":
            embedding = x[:, 0, :]  # (B, D)
            received = attention[:, :, 0, 1:]  # (B, h, T): the [CLS] query's row, over the words
            received = received / ops.maximum(ops.sum(received, axis=-1, keepdims=True), 1e-30)
        else:
            embedding = self.mean_pooling(x, mask=mask)  # (B, D)
            queries = ops.cast(ops.reshape(mask, (ops.shape(mask)[0], 1, -1, 1)), "float32")  # (B, 1, T, 1)
            received = ops.sum(attention * queries, axis=2) / ops.maximum(ops.sum(queries, axis=2), 1.0)  # (B, h, T)
        return embedding, received

    @property
    def output_dim(self) -> int:
        return self.hidden_dim

    @property
    def attention_rows(self) -> int:
        return self.num_heads

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "max_length": self.max_length,
                "position_encoding": self.position_encoding,
                "pooling": self.pooling,
                "normalize_first": self.normalize_first,
            }
        )
        return config
