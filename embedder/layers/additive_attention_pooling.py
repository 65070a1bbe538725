"""Classic (Bahdanau-style) attention pooling: one learned attention vector over a sequence."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from embedder.layers.masked_softmax import masked_softmax
from embedder.validation import check_int, check_positive_int

#: The weights that earlier versions kept beside the bias: a learned global query and its projection.
LEGACY_WEIGHTS = ("global_query", "global_query_projection")


def fold_legacy_weights(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights of an `AdditiveAttentionPooling` of an earlier version (name → array, e.g. ``bias``,
    ``global_query``) as this version's: ``bias + global_query @ global_query_projection`` becomes the bias, which
    computes the same scores without a query. A layer with a query projection used the global query only when
    called without a query; its bias stays as it was (the query path computes what it did).

    Returns a new dict without the `LEGACY_WEIGHTS`; weights in the current layout come back unchanged.
    """
    weights = dict(weights)
    if not any(name in weights for name in LEGACY_WEIGHTS):
        return weights
    query, projection = (np.asarray(weights.pop(name), np.float64) for name in LEGACY_WEIGHTS)
    if "query_projection" not in weights:
        bias = np.asarray(weights["bias"])
        weights["bias"] = (bias.astype(np.float64) + query @ projection).astype(bias.dtype)
    return weights


@keras.saving.register_keras_serializable(package="embedder")
class AdditiveAttentionPooling(keras.layers.Layer):
    """Pools a sequence into one context vector with additive attention (Bahdanau et al. 2015).

    For states h_t and a query q, the score of position t is ``v · tanh(W_h h_t + W_q q + b)``; the weights are
    the softmax of the scores over the unmasked positions, and the output is the weighted sum of the states.
    Without an external query the score is ``v · tanh(W_h h_t + b)``: a learned global query (Yang et al. 2016)
    would only add the constant ``W_q q`` to ``b``, so the bias is that query, and the same layer serves both the
    steered and the self-contained case.

    Weights saved by earlier versions, which kept the global query ``q`` and its projection ``W_q`` beside ``b``,
    still load: `load_own_variables` folds them into the bias (``b + q W_q``, see `fold_legacy_weights`) and the
    layer computes what it did.

    Args:
        attention_units: width of the scoring MLP (d_a). Defaults to 128.
        query_dim: accepted and ignored, so that configs of earlier versions (which had a learned global query
            of this size) still load. Defaults to None.
        query_features: width of the external query the layer is steered by, or None for a layer without one.
            Set from the query on the first call; recorded in the config so that a saved layer reloads with its
            query projection. Defaults to None.
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: states of shape (batch, length, features).
        mask: optional boolean (batch, length); False marks padding.
        query: optional (batch, query_features) vector that steers the scores.

    Returns:
        A tuple ``(context, weights)``: context (batch, features) and weights (batch, length), which sum to 1 over
        the unmasked positions and are 0 on padding. The context is in the compute dtype, the weights float32
        (also under a mixed-precision policy).

    Example:
        >>> pool = AdditiveAttentionPooling(attention_units=16)
        >>> context, weights = pool(np.ones((2, 5, 8)), mask=np.array([[1, 1, 1, 0, 0]] * 2, bool))
        >>> context.shape, weights.shape
        ((2, 8), (2, 5))

    References:
        Bahdanau, Cho & Bengio (2015), Neural Machine Translation by Jointly Learning to Align and Translate.
        Yang et al. (2016), Hierarchical Attention Networks for Document Classification.
    """

    def __init__(
        self, attention_units: int = 128, query_dim: int | None = None, query_features: int | None = None, **kwargs
    ):
        check_positive_int("attention_units", attention_units)
        check_int("query_dim", query_dim, optional=True)
        check_int("query_features", query_features, optional=True)
        super().__init__(**kwargs)
        self.attention_units = attention_units
        self.query_features = query_features
        self.supports_masking = True

    def build(self, inputs_shape, query_shape=None):
        features = inputs_shape[-1]
        self.state_projection = self.add_weight(
            name="state_projection", shape=(features, self.attention_units), initializer="glorot_uniform"
        )
        self.bias = self.add_weight(name="bias", shape=(self.attention_units,), initializer="zeros")
        if query_shape is not None:
            if self.query_features is not None and query_shape[-1] != self.query_features:
                raise ValueError(
                    f"`AdditiveAttentionPooling` was configured for queries of {self.query_features} features; "
                    f"received a query of shape {tuple(query_shape)}."
                )
            self.query_features = int(query_shape[-1])
        if self.query_features is not None:  # also on reload, where Keras builds from the states' shape alone
            self.query_projection = self.add_weight(
                name="query_projection", shape=(self.query_features, self.attention_units), initializer="glorot_uniform"
            )
        self.score_vector = self.add_weight(
            name="score_vector", shape=(self.attention_units,), initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None, query=None):
        hidden = ops.matmul(inputs, self.state_projection) + self.bias  # (B, T, d_a)
        if query is not None:
            if not hasattr(self, "query_projection"):
                raise ValueError(
                    "`AdditiveAttentionPooling` was built without a query; pass `query` on its first call to use one."
                )
            hidden = hidden + ops.expand_dims(ops.matmul(query, self.query_projection), 1)  # + (B, 1, d_a)
        hidden = ops.tanh(hidden)
        scores = ops.sum(hidden * self.score_vector, axis=-1)  # (B, T)
        weights = masked_softmax(scores, mask)  # (B, T) float32
        context = ops.sum(inputs * ops.cast(ops.expand_dims(weights, -1), inputs.dtype), axis=1)  # (B, D)
        return context, weights

    def compute_output_shape(self, inputs_shape, query_shape=None):
        return (inputs_shape[0], inputs_shape[-1]), (inputs_shape[0], inputs_shape[1])

    def compute_mask(self, inputs, mask=None, query=None):
        return None

    def load_own_variables(self, store):
        """Loads this layer's weights, also in the layout of earlier versions (two more: the global query and its
        projection, after the bias), which `fold_legacy_weights` turns into this one."""
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) != len(own) + len(LEGACY_WEIGHTS):
            return super().load_own_variables(store)
        names = ["state_projection", "bias", *LEGACY_WEIGHTS]
        names += ["query_projection"] if self.query_features is not None else []
        names.append("score_vector")
        values = fold_legacy_weights({name: np.asarray(store[str(i)]) for i, name in enumerate(names)})
        for variable in own:
            variable.assign(values[variable.name])

    def get_config(self):
        config = super().get_config()
        config.update(attention_units=self.attention_units, query_features=self.query_features)
        return config
