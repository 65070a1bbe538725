"""One helper that every layer test uses: config round trip, symbolic and eager calls, a fit step that moves every
weight, the weight count, and mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

#: The mixed-precision policies every layer must compute under (float32 variables, 16-bit computation).
MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def run_layer_test(
    layer_cls,
    init_kwargs: dict,
    input_data,
    expected_output_shapes,
    expected_num_trainable_weights: int,
    call_kwargs: dict | None = None,
    input_dtype: str = "float32",
    fit_output: int = 0,
    float32_outputs: tuple[int, ...] = (),
    static_weights: dict[str, str] | None = None,
):
    """Checks what every layer must do; returns the eager outputs.

    - `get_config` → `from_config` → `get_config` is the identity, and keras (de)serialisation round-trips;
    - a symbolic call on `keras.Input` and an eager call give `expected_output_shapes` (batch dim None/known);
    - one `fit` step on a model around the layer (output `fit_output`) changes EVERY trainable weight, but those
      whose path ends with a key of `static_weights` (e.g. "key/bias" → why no step can move it; each key must
      match exactly one weight, and that weight must stay put);
    - the number of trainable weights is as expected;
    - under each of `MIXED_POLICIES` the layer computes finite outputs of the compute dtype (float32 for the
      outputs whose index is in `float32_outputs`, as the layer documents) and keeps its variables in float32.
    """
    call_kwargs = call_kwargs or {}
    layer = layer_cls(**init_kwargs)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is layer_cls and restored.get_config() == config

    symbolic_input = keras.Input(shape=input_data.shape[1:], dtype=input_dtype)
    symbolic = _as_tuple(layer(symbolic_input, **call_kwargs))
    expected = _as_tuple(expected_output_shapes)
    if not isinstance(expected[0], tuple):
        expected = (tuple(expected),)
    assert len(symbolic) == len(expected)
    for tensor, shape in zip(symbolic, expected):
        assert tuple(tensor.shape[1:]) == tuple(shape[1:]), (tensor.shape, shape)

    eager = _as_tuple(layer(input_data, **call_kwargs))
    for tensor, shape in zip(eager, expected):
        assert tuple(np.shape(tensor)) == tuple(shape), (np.shape(tensor), shape)

    assert len(layer.trainable_weights) == expected_num_trainable_weights
    if expected_num_trainable_weights:
        model = keras.Model(symbolic_input, symbolic[fit_output])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.5), loss="mse", run_eagerly=True)
        before = [w.numpy().copy() for w in layer.trainable_weights]
        target = np.random.default_rng(0).normal(size=np.shape(eager[fit_output])).astype("float32")
        rows = target.shape[0]  # 1 for layers whose output does not depend on the batch (position encodings)
        model.fit(tf.constant(input_data[:rows]), target, epochs=1, batch_size=rows, verbose=0)
        static = static_weights or {}
        unchanged = [w.path for b, w in zip(before, layer.trainable_weights) if np.allclose(b, w.numpy())]
        exempt = [w for w in unchanged if w.endswith(tuple(static))]
        assert sorted(set(unchanged) - set(exempt)) == [], f"one fit step left these weights unchanged: {unchanged}"
        assert len(exempt) == len(static), f"exempted as static but moved: {sorted(static)}; unchanged: {unchanged}"
    for policy in MIXED_POLICIES:
        check_mixed_precision(layer_cls, init_kwargs, input_data, call_kwargs, policy, float32_outputs)
    return eager


def check_mixed_precision(
    layer_cls, init_kwargs: dict, input_data, call_kwargs: dict, policy: str, float32_outputs: tuple[int, ...] = ()
):
    """The layer under `policy` computes finite outputs in the compute dtype (float32 for `float32_outputs`) and
    keeps its variables in float32."""
    layer = layer_cls(**init_kwargs, dtype=policy)
    compute_dtype = keras.DTypePolicy(policy).compute_dtype
    outputs = _as_tuple(layer(input_data, **call_kwargs))
    for i, output in enumerate(outputs):
        expected = "float32" if i in float32_outputs else compute_dtype
        assert keras.backend.standardize_dtype(output.dtype) == expected, (policy, i, output.dtype, expected)
        assert np.all(np.isfinite(np.asarray(keras.ops.cast(output, "float32")))), (policy, i)
    for variable in layer.weights:
        if keras.backend.is_float_dtype(variable.dtype):
            assert variable.dtype == "float32", (policy, variable.path, variable.dtype)


def numpy_softmax(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Reference masked softmax over the last axis."""
    scores = scores.astype(np.float64)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=-1, keepdims=True)
