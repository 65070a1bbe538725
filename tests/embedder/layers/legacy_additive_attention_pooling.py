"""`AdditiveAttentionPooling` as earlier versions wrote it (a learned global query and its projection beside the
bias), to make old-layout weights, `.keras` files and exports in tests: it builds the old variables in the old
order and computes the old formula."""

from __future__ import annotations

from keras import ops

from embedder.layers.additive_attention_pooling import AdditiveAttentionPooling as CurrentPooling
from embedder.layers.masked_softmax import masked_softmax


class AdditiveAttentionPooling(CurrentPooling):
    """The old layout (same class name, so that saved files put its weights where the current layer looks)."""

    def build(self, inputs_shape, query_shape=None):
        units = self.attention_units
        self.state_projection = self.add_weight(name="state_projection", shape=(inputs_shape[-1], units))
        self.bias = self.add_weight(name="bias", shape=(units,), initializer="random_normal")
        self.global_query = self.add_weight(name="global_query", shape=(units,))
        self.global_query_projection = self.add_weight(name="global_query_projection", shape=(units, units))
        if query_shape is not None:
            self.query_features = int(query_shape[-1])
        if self.query_features is not None:
            self.query_projection = self.add_weight(name="query_projection", shape=(self.query_features, units))
        self.score_vector = self.add_weight(name="score_vector", shape=(units,))

    def call(self, inputs, mask=None, query=None):
        if query is None:
            steer = ops.reshape(ops.matmul(self.global_query, self.global_query_projection), (1, 1, -1))
        else:
            steer = ops.expand_dims(ops.matmul(query, self.query_projection), 1)
        hidden = ops.tanh(ops.matmul(inputs, self.state_projection) + steer + self.bias)
        weights = masked_softmax(ops.sum(hidden * self.score_vector, axis=-1), mask)
        context = ops.sum(inputs * ops.cast(ops.expand_dims(weights, -1), inputs.dtype), axis=1)
        return context, weights

    def load_own_variables(self, store):
        super(CurrentPooling, self).load_own_variables(store)

    def get_config(self):
        return {**super().get_config(), "query_dim": None}
