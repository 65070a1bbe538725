"""A small MLP classifier that sits on any sentence encoder."""

from __future__ import annotations

import keras

from embedder.layers.initializers import clone_initializer, get_initializer
from embedder.validation import check_non_negative_int, check_positive_int, check_rate


@keras.saving.register_keras_serializable(package="embedder")
class ClassificationHead(keras.layers.Layer):
    """Dropout → (Dense(hidden_units, activation) → Dropout) × hidden_layers → Dense(num_classes, softmax).

    The probabilities are computed in float32 even under a mixed-precision policy.

    Args:
        num_classes: number of classes.
        hidden_units: width of each hidden layer. Defaults to 256.
        hidden_layers: number of hidden layers; 0 gives logistic regression on the embedding. Defaults to 1.
        dropout: dropout rate before each Dense layer. Defaults to 0.5.
        activation: activation of the hidden layers: a name, a function or a serialized activation (see
            `keras.activations.get`). Defaults to "relu".
        kernel_initializer: initializer of the Dense kernels (see `keras.initializers.get`). Defaults to
            "glorot_uniform".
        bias_initializer: initializer of the Dense biases. Defaults to "zeros".
        **kwargs: passed to `keras.layers.Layer`.

    Call arguments:
        inputs: sentence embeddings (batch, features).
        training: whether dropout is active.

    Returns:
        Class probabilities (batch, num_classes), float32.
    """

    def __init__(
        self,
        num_classes: int,
        hidden_units: int = 256,
        hidden_layers: int = 1,
        dropout: float = 0.5,
        activation="relu",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        check_positive_int("num_classes", num_classes)
        check_positive_int("hidden_units", hidden_units)
        check_non_negative_int("hidden_layers", hidden_layers)
        check_rate("dropout", dropout)
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.hidden_units = hidden_units
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = get_initializer(kernel_initializer)
        self.bias_initializer = get_initializer(bias_initializer)

    def build(self, inputs_shape):
        self.dropouts = [
            keras.layers.Dropout(self.dropout, dtype=self.dtype_policy, name=f"dropout_{i}")
            for i in range(self.hidden_layers + 1)
        ]
        self.hidden = []
        width = inputs_shape[-1]
        for i in range(self.hidden_layers):
            layer = keras.layers.Dense(
                self.hidden_units, activation=self.activation, name=f"hidden_{i}", **self._dense_kwargs()
            )
            layer.build((inputs_shape[0], width))
            self.hidden.append(layer)
            width = self.hidden_units
        self.output_layer = keras.layers.Dense(self.num_classes, name="logits", **self._dense_kwargs())
        self.output_layer.build((inputs_shape[0], width))
        self.softmax = keras.layers.Softmax(dtype="float32", name="probabilities")

    def _dense_kwargs(self) -> dict:
        return {
            "kernel_initializer": clone_initializer(self.kernel_initializer),
            "bias_initializer": clone_initializer(self.bias_initializer),
            "dtype": self.dtype_policy,
        }

    def call(self, inputs, training=None):
        x = inputs
        for dropout, dense in zip(self.dropouts, self.hidden):
            x = dense(dropout(x, training=training))
        logits = self.output_layer(self.dropouts[-1](x, training=training))
        return self.softmax(logits)

    def compute_output_shape(self, inputs_shape):
        return (inputs_shape[0], self.num_classes)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "hidden_units": self.hidden_units,
                "hidden_layers": self.hidden_layers,
                "dropout": self.dropout,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
