"""Activations and initializers: serialised through `keras.activations` / `keras.initializers` (as keras-hub does),
so that functions and seeded instances survive a config round trip, and configs of earlier versions (plain strings,
no initializer keys) still load."""

from __future__ import annotations

import json
import random

import keras
import numpy as np
import pytest

from embedder.layers import ClassificationHead, PositionEmbedding, TransformerEncoderBlock

INPUTS = np.random.default_rng(0).normal(size=(2, 5, 8)).astype("float32")

#: (layer class, required arguments, input, the config of an earlier version)
LAYERS = {
    "head": (
        ClassificationHead,
        {"num_classes": 3, "hidden_units": 4},
        INPUTS[:, 0],
        {"num_classes": 3, "hidden_units": 4, "hidden_layers": 1, "dropout": 0.5, "activation": "tanh"},
    ),
    "block": (
        TransformerEncoderBlock,
        {"hidden_dim": 8, "num_heads": 2},
        INPUTS,
        {
            "hidden_dim": 8,
            "num_heads": 2,
            "intermediate_dim": None,
            "dropout": 0.1,
            "activation": "tanh",
            "normalize_first": False,
            "layer_norm_epsilon": 1e-6,
        },
    ),
    "positions": (PositionEmbedding, {"sequence_length": 6}, INPUTS, {"sequence_length": 6, "initializer": "ones"}),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_config_of_an_earlier_version_with_plain_strings_still_loads(kind):
    layer_cls, _, inputs, old = LAYERS[kind]
    serialized = {
        "module": layer_cls.__module__,
        "class_name": layer_cls.__name__,
        "config": {"name": "old", "trainable": True, "dtype": "float32", **old},
        "registered_name": f"embedder>{layer_cls.__name__}",
    }
    layer = keras.saving.deserialize_keras_object(serialized)
    assert type(layer) is layer_cls
    layer(inputs)
    config = layer.get_config()
    if "activation" in old:
        assert config["activation"] == "tanh" and layer.activation is keras.activations.tanh
        assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    else:
        assert config["initializer"]["class_name"] == "Ones"
        np.testing.assert_array_equal(layer.position_embeddings.numpy(), 1.0)
    assert layer_cls.from_config(config).get_config() == config


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_a_function_and_a_seeded_initializer_survive_the_config(kind):
    layer_cls, required, inputs, _ = LAYERS[kind]
    initializer = keras.initializers.TruncatedNormal(stddev=0.02, seed=7)
    extra = {"initializer": initializer}
    if kind != "positions":
        extra = {"activation": keras.activations.gelu, "kernel_initializer": initializer}
    layer = layer_cls(**required, **extra)
    config = json.loads(json.dumps(layer.get_config()))  # plain JSON, as in a .keras file
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(keras.saving.serialize_keras_object(layer))))
    assert restored.get_config() == config == layer_cls.from_config(config).get_config()
    if kind != "positions":
        assert restored.activation is keras.activations.gelu
    layer(inputs)
    restored(inputs)
    kernels = [w for w in layer.weights if w.path.endswith(("kernel", "embeddings"))]
    assert kernels and np.abs(kernels[0].numpy()).max() < 0.05  # stddev 0.02, truncated at 2σ
    for mine, theirs in zip(layer.weights, restored.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_making_a_layer_leaves_the_seed_stream_where_it_was(kind):
    """The initializer is resolved in __init__ but each weight's clone draws in build, where a name used to be
    resolved: a seeded run starts from the weights it did."""
    layer_cls, required, _, _ = LAYERS[kind]
    keras.utils.set_random_seed(0)
    layer_cls(**required)
    after_layer = random.random()
    keras.utils.set_random_seed(0)
    assert random.random() == after_layer


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="nope"):
        TransformerEncoderBlock(hidden_dim=8, num_heads=2, kernel_initializer="nope")
    with pytest.raises(ValueError, match="nope"):
        ClassificationHead(num_classes=2, activation="nope")
