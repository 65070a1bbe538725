"""Structured self-attention (Lin et al. 2017): several attention hops over a sequence, and their penalty."""

from __future__ import annotations

import keras
from keras import ops

from embedder.layers.masked_softmax import masked_softmax
from embedder.validation import check_choice, check_number, check_positive_int

HOP_POOLINGS = ("flatten", "mean")
#: "frobenius": ‖AAᵀ − I‖_F as Lin et al.'s released code computes it; "squared": ‖AAᵀ − I‖²_F.
PENALTY_NORMS = ("frobenius", "squared")
#: What a saved layer or encoder whose config has no `penalty_norm` was trained with (every model saved before
#: the argument existed squared the norm); `from_config` fills it in, so such a model keeps its training loss.
LEGACY_PENALTY_NORM = "squared"
#: Added under the square root of the Frobenius norm, as the authors' code does (1e-10): without it the gradient
#: is 0/0 where AAᵀ = I.
PENALTY_EPSILON = 1e-10


def attention_penalty(attention, norm: str = "frobenius"):
    """The redundancy penalty of Lin et al. (2017) on AAᵀ − I, averaged over the batch.

    Args:
        attention: A of shape (batch, hops, length), each row a distribution over the length.
        norm: "frobenius", the authors' released code: the Frobenius norm ‖AAᵀ − I‖_F of each sentence (with
            ``PENALTY_EPSILON`` under the square root, as theirs, so the gradient stays finite at 0), averaged
            over the batch; or "squared", the paper's formula as written, ‖AAᵀ − I‖²_F. Defaults to "frobenius".

    Returns:
        A float32 scalar: 0 when the hops are orthogonal one-hot rows; when all r hops are the same one-hot row,
        r² − r ("squared") or its square root ("frobenius").
    """
    check_choice("penalty_norm", norm, PENALTY_NORMS)
    # The name scope lets a test prove that the serving graph never contains these ops.
    with keras.name_scope("attention_penalty"):
        attention = ops.cast(attention, "float32")
        hops = ops.shape(attention)[1]
        gram = ops.matmul(attention, ops.transpose(attention, (0, 2, 1)))  # (B, r, r)
        residual = gram - ops.expand_dims(ops.eye(hops, dtype="float32"), 0)  # (B, r, r)
        squared = ops.sum(ops.square(residual), axis=(1, 2))  # (B,)
        if norm == "frobenius":
            return ops.mean(ops.sqrt(squared + PENALTY_EPSILON))
        return ops.mean(squared)


#: The settings that the layer and the structured encoder both take and save (config keys = attribute names).
ATTENTION_SETTINGS = ("attention_hops", "attention_units", "penalty_coefficient", "hop_pooling", "penalty_norm")


def attention_settings(owner) -> dict:
    """`owner`'s structured-attention settings, for its config."""
    return {name: getattr(owner, name) for name in ATTENTION_SETTINGS}


def with_legacy_penalty_norm(config: dict) -> dict:
    """A saved config; one saved before `penalty_norm` existed was trained with the squared norm: keep it so."""
    return {"penalty_norm": LEGACY_PENALTY_NORM, **config}


@keras.saving.register_keras_serializable(package="embedder")
class StructuredSelfAttention(keras.layers.Layer):
    """Structured self-attention: r attention hops, A = softmax(W_s2 tanh(W_s1 Hᵀ)), and M = AH.

    Each hop is a distribution over the tokens; together they give an r-row matrix embedding M that can attend to
    several parts of a sentence. There is no external query. During training (and only then) the layer adds
    ``penalty_coefficient * ‖AAᵀ − I‖_F`` (batch mean; squared with ``penalty_norm="squared"``) to the model's
    losses, which keeps the hops from all attending to the same words; the serving graph never computes it.

    Args:
        attention_hops: number of hops (r). Defaults to 4.
        attention_units: hidden width of the scoring MLP (d_a). Defaults to 128.
        penalty_coefficient: weight of the redundancy penalty (the paper's coefficient); 0 turns it off.
            Defaults to 1.0.
        penalty_norm: "frobenius", the Frobenius norm ‖AAᵀ − I‖_F as the authors' released code computes it, or
            "squared", ‖AAᵀ − I‖²_F (this project's behaviour before the argument existed, and what a saved layer
            without the key is loaded with). Defaults to "frobenius".
        hop_pooling: "flatten" gives the r·features matrix embedding flattened, "mean" the mean over hops.
            Defaults to "flatten".
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: H, states of shape (batch, length, features), typically BiLSTM outputs (features = 2u).
        mask: optional boolean (batch, length); False marks padding.
        training: whether to add the penalty to the layer's losses.

    Returns:
        A tuple ``(embedding, attention)``: embedding (batch, r·features) or (batch, features) with
        ``hop_pooling="mean"``, and A (batch, r, length), rows summing to 1 and 0 on padding. The embedding is in
        the compute dtype, A float32 (also under a mixed-precision policy).

    Example:
        >>> layer = StructuredSelfAttention(attention_hops=3, attention_units=16)
        >>> embedding, attention = layer(np.ones((2, 7, 10)))
        >>> embedding.shape, attention.shape
        ((2, 30), (2, 3, 7))

    References:
        Lin et al. (2017), A Structured Self-Attentive Sentence Embedding, ICLR.
    """

    def __init__(
        self,
        attention_hops: int = 4,
        attention_units: int = 128,
        penalty_coefficient: float = 1.0,
        hop_pooling: str = "flatten",
        penalty_norm: str = "frobenius",
        **kwargs,
    ):
        check_positive_int("attention_hops", attention_hops)
        check_positive_int("attention_units", attention_units)
        check_number("penalty_coefficient", penalty_coefficient, minimum=0)
        check_choice("hop_pooling", hop_pooling, HOP_POOLINGS)
        check_choice("penalty_norm", penalty_norm, PENALTY_NORMS)
        super().__init__(**kwargs)
        self.attention_hops = attention_hops
        self.attention_units = attention_units
        self.penalty_coefficient = float(penalty_coefficient)
        self.hop_pooling = hop_pooling
        self.penalty_norm = penalty_norm
        self.supports_masking = True

    def build(self, inputs_shape):
        features = inputs_shape[-1]
        # No biases: the paper's A = softmax(W_s2 tanh(W_s1 Hᵀ)).
        self.first_projection = self.add_weight(
            name="first_projection", shape=(features, self.attention_units), initializer="glorot_uniform"
        )  # W_s1ᵀ
        self.second_projection = self.add_weight(
            name="second_projection", shape=(self.attention_units, self.attention_hops), initializer="glorot_uniform"
        )  # W_s2ᵀ

    def call(self, inputs, mask=None, training=None):
        hidden = ops.tanh(ops.matmul(inputs, self.first_projection))  # (B, T, d_a)
        scores = ops.transpose(ops.matmul(hidden, self.second_projection), (0, 2, 1))  # (B, r, T)
        hop_mask = None if mask is None else ops.expand_dims(mask, 1)  # (B, 1, T)
        attention = masked_softmax(scores, hop_mask)  # (B, r, T) float32
        if training and self.penalty_coefficient > 0:
            self.add_loss(self.penalty_coefficient * attention_penalty(attention, self.penalty_norm))
        matrix = ops.matmul(ops.cast(attention, inputs.dtype), inputs)  # (B, r, 2u): M = AH
        if self.hop_pooling == "mean":
            embedding = ops.mean(matrix, axis=1)  # (B, 2u)
        else:
            embedding = ops.reshape(matrix, (-1, self.attention_hops * inputs.shape[-1]))  # (B, r·2u)
        return embedding, attention

    def compute_output_shape(self, inputs_shape):
        batch, length, features = inputs_shape
        width = features if self.hop_pooling == "mean" else self.attention_hops * features
        return (batch, width), (batch, self.attention_hops, length)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config.update(attention_settings(self))
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(with_legacy_penalty_norm(config))
