import numpy as np
import pytest

from embedder.layers.additive_attention_pooling import AdditiveAttentionPooling, fold_legacy_weights
from tests.embedder.layers.layer_test_helper import numpy_softmax, run_layer_test

RNG = np.random.default_rng(1)


def _set_peaked_weights(layer, features, units, query_features=None):
    weights = {
        "state_projection": RNG.normal(size=(features, units)) * 3.0,
        "bias": RNG.normal(size=(units,)),
        "score_vector": RNG.normal(size=(units,)) * 4.0,
    }
    if query_features:
        weights["query_projection"] = RNG.normal(size=(query_features, units))
    for name, value in weights.items():
        getattr(layer, name).assign(value.astype("float32"))
    return weights


def _reference(states, mask, w, query=None):
    steer = (query @ w["query_projection"])[:, None, :] if query is not None else 0.0
    hidden = np.tanh(states @ w["state_projection"] + steer + w["bias"])
    weights = numpy_softmax(hidden @ w["score_vector"], mask)
    return (weights[..., None] * states).sum(axis=1), weights


def test_layer_basics():
    run_layer_test(
        AdditiveAttentionPooling,
        {"attention_units": 4},
        RNG.normal(size=(3, 5, 6)).astype("float32"),
        expected_output_shapes=((3, 6), (3, 5)),
        expected_num_trainable_weights=3,  # W_h, b, v: no global query beside the bias
        float32_outputs=(1,),  # the attention weights
    )


def test_golden_values_with_peaked_attention():
    layer = AdditiveAttentionPooling(attention_units=4)
    states = RNG.normal(size=(2, 6, 5)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], bool)
    layer.build(states.shape)
    w = _set_peaked_weights(layer, 5, 4)
    context, weights = layer(states, mask=mask)
    ref_context, ref_weights = _reference(states, mask, w)
    assert ref_weights.max(axis=-1).min() > 0.6, "weights chosen must make attention peaked, not uniform"
    np.testing.assert_allclose(weights, ref_weights, atol=1e-5)
    np.testing.assert_allclose(context, ref_context, atol=1e-5)


def test_golden_values_with_query():
    layer = AdditiveAttentionPooling(attention_units=4)
    states = RNG.normal(size=(2, 6, 5)).astype("float32")
    query = RNG.normal(size=(2, 3)).astype("float32")
    layer.build(states.shape, query.shape)
    w = _set_peaked_weights(layer, 5, 4, query_features=3)
    context, weights = layer(states, query=query)
    ref_context, ref_weights = _reference(states, None, w, query=query)
    np.testing.assert_allclose(weights, ref_weights, atol=1e-5)
    np.testing.assert_allclose(context, ref_context, atol=1e-5)
    # The query steers: another query gives other weights.
    _, other = layer(states, query=-query)
    assert np.abs(np.asarray(other) - np.asarray(weights)).max() > 1e-3


def test_weights_sum_to_one_and_are_zero_on_padding():
    layer = AdditiveAttentionPooling(attention_units=4)
    states = RNG.normal(size=(2, 7, 3)).astype("float32")
    mask = np.array([[1] * 7, [1, 1, 0, 0, 0, 0, 0]], bool)
    _, weights = layer(states, mask=mask)
    np.testing.assert_allclose(np.sum(weights, axis=-1), 1.0, atol=1e-6)
    assert np.all(np.asarray(weights)[1, 2:] == 0.0)


def test_padding_does_not_change_output():
    layer = AdditiveAttentionPooling(attention_units=4)
    states = RNG.normal(size=(1, 3, 4)).astype("float32")
    padded = np.concatenate([states, RNG.normal(size=(1, 5, 4)).astype("float32")], axis=1)
    context, _ = layer(states, mask=np.ones((1, 3), bool))
    padded_context, _ = layer(padded, mask=np.array([[1, 1, 1, 0, 0, 0, 0, 0]], bool))
    np.testing.assert_allclose(context, padded_context, atol=1e-6)


@pytest.mark.parametrize("argument", ["attention_units", "query_dim", "query_features"])
def test_bad_arguments(argument):
    with pytest.raises(ValueError, match=f"invalid value for argument `{argument}`, expected a positive integer"):
        AdditiveAttentionPooling(**{"attention_units": 4, argument: 0})


def test_a_layer_built_with_a_query_survives_save_and_reload(tmp_path):
    import keras

    states_in, query_in = keras.Input((6, 5)), keras.Input((3,))
    context, weights = AdditiveAttentionPooling(attention_units=4, name="pool")(states_in, query=query_in)
    model = keras.Model([states_in, query_in], [context, weights])
    assert model.get_layer("pool").get_config()["query_features"] == 3
    states = RNG.normal(size=(2, 6, 5)).astype("float32")
    query = RNG.normal(size=(2, 3)).astype("float32")
    model.save(tmp_path / "pool.keras")
    reloaded = keras.saving.load_model(tmp_path / "pool.keras")
    for mine, theirs in zip(model.predict([states, query], verbose=0), reloaded.predict([states, query], verbose=0)):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_a_query_of_another_width_is_refused():
    layer = AdditiveAttentionPooling(attention_units=4, query_features=3)
    with pytest.raises(ValueError, match="configured for queries of 3 features"):
        layer(RNG.normal(size=(2, 6, 5)).astype("float32"), query=RNG.normal(size=(2, 7)).astype("float32"))


def _legacy_model(query_features=None, units=4):
    """A model around the old layout's layer, with random weights (a bias included)."""
    import keras

    from tests.embedder.layers.legacy_additive_attention_pooling import AdditiveAttentionPooling as Legacy

    keras.utils.set_random_seed(3)
    states_in = keras.Input((6, 5))
    inputs, call = [states_in], {}
    if query_features:
        inputs.append(keras.Input((query_features,)))
        call["query"] = inputs[-1]
    layer = Legacy(attention_units=units, name="pool")
    context, weights = layer(states_in, **call)
    assert len(layer.weights) == 5 + bool(query_features)  # the old layout: global query and projection
    for variable in layer.weights:
        variable.assign(RNG.normal(size=variable.shape).astype("float32"))
    return keras.Model(inputs, [context, weights])


@pytest.mark.parametrize("query_features", [None, 3])
def test_a_keras_file_of_the_old_layout_loads_and_computes_the_same(tmp_path, query_features):
    import keras

    old = _legacy_model(query_features)
    old.save(tmp_path / "old.keras")
    inputs = [RNG.normal(size=(2, 6, 5)).astype("float32")]
    if query_features:
        inputs.append(RNG.normal(size=(2, query_features)).astype("float32"))
    expected = old.predict(inputs, verbose=0)
    loaded = keras.saving.load_model(
        tmp_path / "old.keras", custom_objects={"AdditiveAttentionPooling": AdditiveAttentionPooling}
    )
    layer = loaded.get_layer("pool")
    assert type(layer) is AdditiveAttentionPooling
    assert sorted(w.name for w in layer.weights) == sorted(
        ["state_projection", "bias", "score_vector"] + (["query_projection"] if query_features else [])
    )
    for mine, theirs in zip(loaded.predict(inputs, verbose=0), expected):
        np.testing.assert_allclose(mine, theirs, atol=1e-6)


def test_folding_keeps_a_query_layers_bias_and_changes_a_plain_ones():
    weights = {name: RNG.normal(size=shape) for name, shape in [("bias", (4,)), ("global_query", (4,))]}
    weights["global_query_projection"] = RNG.normal(size=(4, 4))
    folded = fold_legacy_weights(weights)
    assert sorted(folded) == ["bias"]
    steer = weights["global_query"] @ weights["global_query_projection"]
    np.testing.assert_allclose(folded["bias"], weights["bias"] + steer)
    with_query = fold_legacy_weights({**weights, "query_projection": np.ones((3, 4))})
    assert sorted(with_query) == ["bias", "query_projection"]
    np.testing.assert_array_equal(with_query["bias"], weights["bias"])
    assert fold_legacy_weights(folded) == folded


def test_an_old_config_with_query_dim_still_deserializes():
    import keras

    old = {
        "module": "embedder.layers.additive_attention_pooling",
        "class_name": "AdditiveAttentionPooling",
        "config": {"name": "pool", "trainable": True, "dtype": "float32", "attention_units": 4, "query_dim": 8},
        "registered_name": "embedder>AdditiveAttentionPooling",
    }
    layer = keras.saving.deserialize_keras_object(old)
    assert type(layer) is AdditiveAttentionPooling and layer.attention_units == 4
    assert "query_dim" not in layer.get_config()
    context, _ = layer(RNG.normal(size=(2, 6, 5)).astype("float32"))
    assert context.shape == (2, 5) and len(layer.weights) == 3
