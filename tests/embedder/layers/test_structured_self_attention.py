import keras
import numpy as np
import pytest
import tensorflow as tf

from embedder.layers.structured_self_attention import (
    PENALTY_EPSILON,
    StructuredSelfAttention,
    attention_penalty,
)
from tests.embedder.layers.layer_test_helper import numpy_softmax, run_layer_test

RNG = np.random.default_rng(2)


def numpy_penalty(attention: np.ndarray, norm: str = "frobenius") -> float:
    """Batch mean of ‖AAᵀ − I‖_F (the authors' code, epsilon under the root) or of ‖AAᵀ − I‖²_F."""
    attention = attention.astype(np.float64)
    gram = attention @ attention.transpose(0, 2, 1)
    squared = np.sum((gram - np.eye(attention.shape[1])) ** 2, axis=(1, 2))
    return float(np.mean(np.sqrt(squared + PENALTY_EPSILON) if norm == "frobenius" else squared))


def numpy_penalty_gradient(attention: np.ndarray, norm: str) -> np.ndarray:
    """∂P/∂A by hand: with R = AAᵀ − I (symmetric), ∂‖R‖²_F/∂A = 4RA, and ∂‖R‖_F/∂A = 2RA / ‖R‖_F."""
    attention = attention.astype(np.float64)
    residual = attention @ attention.transpose(0, 2, 1) - np.eye(attention.shape[1])  # (B, r, r)
    squared_gradient = 4.0 * residual @ attention  # (B, r, n), per sentence
    if norm == "frobenius":
        norms = np.sqrt(np.sum(residual**2, axis=(1, 2)) + PENALTY_EPSILON)  # (B,)
        squared_gradient = squared_gradient / (2.0 * norms[:, None, None])
    return squared_gradient / len(attention)  # the batch mean


def test_layer_basics():
    run_layer_test(
        StructuredSelfAttention,
        {"attention_hops": 3, "attention_units": 4},
        RNG.normal(size=(2, 5, 6)).astype("float32"),
        expected_output_shapes=((2, 18), (2, 3, 5)),
        expected_num_trainable_weights=2,
        float32_outputs=(1,),  # the attention matrix
    )


def test_mean_hop_pooling_shape():
    embedding, _ = StructuredSelfAttention(attention_hops=3, attention_units=4, hop_pooling="mean")(
        RNG.normal(size=(2, 5, 6)).astype("float32")
    )
    assert embedding.shape == (2, 6)


def test_golden_values_with_peaked_attention():
    # Its own seeded stream: the module's RNG draws what earlier tests left, which depends on how they were split
    # among pytest-xdist's workers (with some splits the weights drawn did not make attention peaked).
    rng = np.random.default_rng(8)
    layer = StructuredSelfAttention(attention_hops=3, attention_units=4)
    states = rng.normal(size=(2, 6, 5)).astype("float32")
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0]], bool)
    layer.build(states.shape)
    w_s1 = rng.normal(size=(4, 5)) * 3.0  # the paper's W_s1 (d_a × 2u)
    w_s2 = rng.normal(size=(3, 4)) * 4.0  # W_s2 (r × d_a)
    layer.first_projection.assign(w_s1.T.astype("float32"))
    layer.second_projection.assign(w_s2.T.astype("float32"))
    embedding, attention = layer(states, mask=mask)

    # A = softmax(W_s2 tanh(W_s1 Hᵀ)), M = AH, per sentence.
    scores = np.stack([w_s2 @ np.tanh(w_s1 @ h.T) for h in states])  # (B, r, n)
    ref_attention = numpy_softmax(scores, mask[:, None, :])
    ref_matrix = ref_attention @ states
    assert ref_attention.max(axis=-1).min() > 0.6, "weights chosen must make attention peaked"
    np.testing.assert_allclose(attention, ref_attention, atol=1e-5)
    np.testing.assert_allclose(embedding, ref_matrix.reshape(2, -1), atol=1e-5)


def test_rows_sum_to_one_and_are_zero_on_padding():
    states = RNG.normal(size=(2, 6, 4)).astype("float32")
    mask = np.array([[1] * 6, [1, 1, 0, 0, 0, 0]], bool)
    _, attention = StructuredSelfAttention(attention_hops=4, attention_units=3)(states, mask=mask)
    np.testing.assert_allclose(np.sum(attention, axis=-1), 1.0, atol=1e-6)
    assert np.all(np.asarray(attention)[1, :, 2:] == 0.0)


@pytest.mark.parametrize("norm, all_same", [("squared", 12.0), ("frobenius", np.sqrt(12.0))])
def test_penalty_matches_numpy_reference(norm, all_same):
    identical = np.zeros((2, 4, 5), "float32")
    identical[:, :, 1] = 1.0  # every hop on the same word: ‖AAᵀ − I‖²_F = r² − r
    orthogonal = np.zeros((2, 4, 5), "float32")
    for hop in range(4):
        orthogonal[:, hop, hop] = 1.0
    random = numpy_softmax(RNG.normal(size=(3, 4, 7)) * 2).astype("float32")
    assert float(attention_penalty(identical, norm)) == pytest.approx(all_same, abs=1e-5)
    assert float(attention_penalty(orthogonal, norm)) == pytest.approx(0.0, abs=1e-4)
    assert float(attention_penalty(random, norm)) == pytest.approx(numpy_penalty(random, norm), rel=1e-5)


# Pinned: a small A whose sentences differ in redundancy, so the Frobenius norm's per-sentence 1/‖R‖ weighting
# (what separates it from the squared norm's gradient beyond a constant) is visible.
PINNED_ATTENTION = np.array(
    [
        [[0.7, 0.2, 0.1, 0.0], [0.6, 0.3, 0.05, 0.05], [0.1, 0.1, 0.1, 0.7]],
        [[0.25, 0.25, 0.25, 0.25], [0.9, 0.05, 0.05, 0.0], [0.0, 0.0, 0.2, 0.8]],
    ],
    "float32",
)  # (B=2, r=3, n=4)


@pytest.mark.parametrize("norm", ["frobenius", "squared"])
def test_penalty_value_and_gradient_match_numpy(norm):
    attention = tf.Variable(PINNED_ATTENTION)
    with tf.GradientTape() as tape:
        penalty = attention_penalty(attention, norm)
    gradient = tape.gradient(penalty, attention).numpy()

    assert float(penalty) == pytest.approx(numpy_penalty(PINNED_ATTENTION, norm), rel=1e-5)
    np.testing.assert_allclose(gradient, numpy_penalty_gradient(PINNED_ATTENTION, norm), rtol=1e-4, atol=1e-6)
    # The two norms differ in value and in the direction of the gradient, not only by a constant factor.
    other = "squared" if norm == "frobenius" else "frobenius"
    assert not np.isclose(numpy_penalty(PINNED_ATTENTION, norm), numpy_penalty(PINNED_ATTENTION, other))
    ours, theirs = gradient.ravel(), numpy_penalty_gradient(PINNED_ATTENTION, other).ravel()
    assert np.dot(ours, theirs) / (np.linalg.norm(ours) * np.linalg.norm(theirs)) < 0.999


def test_frobenius_gradient_is_finite_where_the_hops_are_orthogonal():
    orthogonal = tf.Variable(np.eye(3, 5, dtype="float32")[None])  # (1, 3, 5): AAᵀ = I exactly
    with tf.GradientTape() as tape:
        penalty = attention_penalty(orthogonal, "frobenius")
    assert np.all(np.isfinite(tape.gradient(penalty, orthogonal).numpy()))


@pytest.mark.parametrize("norm", ["frobenius", "squared"])
def test_layer_adds_the_penalty_of_its_norm(norm):
    states = RNG.normal(size=(3, 6, 4)).astype("float32")
    layer = StructuredSelfAttention(attention_hops=3, attention_units=5, penalty_coefficient=0.5, penalty_norm=norm)
    _, attention = layer(states, training=False)
    layer(states, training=True)
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * numpy_penalty(np.asarray(attention), norm), rtol=1e-5)
    assert layer.get_config()["penalty_norm"] == norm


def test_default_norm_is_the_authors_and_a_config_without_it_loads_squared():
    assert StructuredSelfAttention().penalty_norm == "frobenius"
    config = StructuredSelfAttention(attention_hops=2).get_config()
    assert StructuredSelfAttention.from_config(config).penalty_norm == "frobenius"
    del config["penalty_norm"]  # as saved before the argument existed
    assert StructuredSelfAttention.from_config(config).penalty_norm == "squared"


def test_penalty_is_added_in_training_only_and_scaled():
    states = RNG.normal(size=(3, 6, 4)).astype("float32")
    layer = StructuredSelfAttention(attention_hops=3, attention_units=5, penalty_coefficient=0.5)
    _, attention = layer(states, training=False)
    assert layer.losses == []
    layer(states, training=True)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * numpy_penalty(np.asarray(attention)), rtol=1e-5)
    silent = StructuredSelfAttention(attention_hops=3, attention_units=5, penalty_coefficient=0.0)
    silent(states, training=True)
    assert silent.losses == []


def test_penalty_reaches_the_training_loss():
    states = keras.Input((6, 4))
    embedding, _ = StructuredSelfAttention(attention_hops=3, attention_units=5, penalty_coefficient=100.0)(states)
    model = keras.Model(states, embedding)
    model.compile(optimizer="sgd", loss="mse")
    x = RNG.normal(size=(4, 6, 4)).astype("float32")
    y = np.asarray(model(x))  # target = current output, so the data loss is zero
    loss = model.evaluate(x, y, verbose=0)
    assert loss == pytest.approx(0.0, abs=1e-6), "evaluation runs in inference mode: no penalty"
    history = model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert history.history["loss"][0] > 1.0, "the penalty must be part of the training loss"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"attention_hops": 0}, "argument `attention_hops`, expected a positive integer. Received: attention_hops=0"),
        ({"attention_hops": -2}, "argument `attention_hops`, expected a positive integer"),
        ({"attention_units": 0}, "argument `attention_units`, expected a positive integer"),
        ({"penalty_coefficient": -1.0}, "argument `penalty_coefficient`, expected a number >= 0"),
        ({"hop_pooling": "max"}, "argument `hop_pooling`, expected one of 'flatten', 'mean'"),
        (
            {"penalty_norm": "l1"},
            "argument `penalty_norm`, expected one of 'frobenius', 'squared'. Received: penalty_norm='l1'",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StructuredSelfAttention(**kwargs)
