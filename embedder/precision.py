"""Exports that compute in bfloat16: the same model, rebuilt under Keras's ``mixed_bfloat16`` policy.

Under that policy every layer keeps float32 variables and computes in bfloat16; the layers of this package
compute their attention softmax and the pooled sums in float32 (see `masked_softmax`, `MaskedMeanPooling`; Keras's
own MultiHeadAttention, in the transformer, keeps its softmax in bfloat16), and the serving functions cast every
output to float32, so a bfloat16 export has the float32 export's signatures exactly. On a CPU with bfloat16
matrix units (AVX512-BF16, AMX) the matmuls run several times faster; elsewhere they may run slower: measure
(`bench/precision.py`).

Example:
    >>> fast = with_precision(embedder.model, "bfloat16")     # a copy; `embedder.model` is unchanged
"""

from __future__ import annotations

import keras

from embedder import contract
from embedder.validation import check_choice

#: The Keras dtype policy that each export precision builds its layers with.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def _with_policy(config, policy: str):
    """`config` (a serialized Keras object) with every float32 dtype policy replaced by `policy`."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") == "float32":
            return {**config, "config": {**config["config"], "name": policy}}
        return {key: _with_policy(value, policy) for key, value in config.items()}
    if isinstance(config, list):
        return [_with_policy(value, policy) for value in config]
    return config


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """`model` itself for "float32"; for "bfloat16", a copy with the same weights that computes in bfloat16."""
    check_choice("precision", precision, contract.EXPORT_PRECISIONS)
    if precision == "float32":
        return model
    policy = POLICIES[precision]
    config = _with_policy(keras.saving.serialize_keras_object(model), policy)
    # Sublayers that a layer creates without passing its own policy on take the global one: set it too.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        copy = keras.saving.deserialize_keras_object(config)
    finally:
        keras.config.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    return copy
