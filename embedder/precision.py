"""Models that compute in another precision: the same weights, rebuilt under another Keras dtype policy.

Export (`precision="bfloat16"`): under Keras's ``mixed_bfloat16`` policy every layer keeps float32 variables and
computes in bfloat16; the layers of this package compute their attention softmax and pooled sums in float32 (see
`masked_softmax`, `MaskedMeanPooling`; Keras's own MultiHeadAttention, in the transformer, keeps its softmax in
bfloat16), and the serving functions cast every output to float32, so a bfloat16 export has the float32 export's
signatures exactly. On a CPU with bfloat16 matrix units (AVX512-BF16, AMX) the matmuls run faster; elsewhere they
may run slower: measure (`bench/precision.py`).

Training uses the same rebuild the other way: a model trained in mixed precision is exported as float32, and a
float32 model is fine-tuned in mixed precision.

Example:
    >>> fast = with_precision(embedder.model, "bfloat16")     # a copy; `embedder.model` is unchanged
"""

from __future__ import annotations

import contextlib

import keras

from embedder import contract
from embedder.validation import check_choice

#: The Keras dtype policy that each export precision builds its layers with.
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


@contextlib.contextmanager
def dtype_policy(name: str):
    """Sets Keras's global dtype policy for the duration (layers built inside compute in that precision)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _rewrite_dtype(value, policy: str):
    if isinstance(value, dict):
        if value.get("class_name") == "DTypePolicy" and isinstance(value.get("config"), dict):
            return dict(value, config=dict(value["config"], name=policy))
        return {key: _rewrite_dtype(item, policy) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite_dtype(item, policy) for item in value]
    return value


def with_dtype_policy(model: keras.Model, policy: str) -> keras.Model:
    """A copy of a functional model whose layers compute under `policy`, with the same weights.

    Both the layers' recorded policies and the global one (for sublayers that a layer creates without passing its
    own on) are set to `policy` while the copy is built.
    """
    config = _rewrite_dtype(model.get_config(), policy)
    with dtype_policy(policy):
        copy = keras.Model.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """`model` itself for "float32" when it already computes in float32; otherwise a copy computing in
    `precision` ("float32" or "bfloat16") with the same weights."""
    check_choice("precision", precision, contract.EXPORT_PRECISIONS)
    if model.dtype_policy.name == POLICIES[precision]:
        return model
    return with_dtype_policy(model, POLICIES[precision])
