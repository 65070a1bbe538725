import keras
import numpy as np
import pytest

from embedder.layers.structured_self_attention import StructuredSelfAttention, attention_penalty
from tests.embedder.layers.layer_test_helper import numpy_softmax, run_layer_test

RNG = np.random.default_rng(2)


def numpy_penalty(attention: np.ndarray) -> float:
    gram = attention @ attention.transpose(0, 2, 1)
    return float(np.mean(np.sum((gram - np.eye(attention.shape[1])) ** 2, axis=(1, 2))))


def test_layer_basics():
    run_layer_test(
        StructuredSelfAttention,
        {"attention_hops": 3, "attention_units": 4},
        RNG.normal(size=(2, 5, 6)).astype("float32"),
        expected_output_shapes=((2, 18), (2, 3, 5)),
        expected_num_trainable_weights=2,
    )


def test_mean_hop_pooling_shape():
    embedding, _ = StructuredSelfAttention(attention_hops=3, attention_units=4, hop_pooling="mean")(
        RNG.normal(size=(2, 5, 6)).astype("float32")
    )
    assert embedding.shape == (2, 6)


def test_golden_values_with_peaked_attention():
    layer = StructuredSelfAttention(attention_hops=3, attention_units=4)
    states = RNG.normal(size=(2, 6, 5)).astype("float32")
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0]], bool)
    layer.build(states.shape)
    w_s1 = RNG.normal(size=(4, 5)) * 3.0  # the paper's W_s1 (d_a × 2u)
    w_s2 = RNG.normal(size=(3, 4)) * 4.0  # W_s2 (r × d_a)
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


def test_penalty_matches_numpy_reference():
    identical = np.zeros((2, 4, 5), "float32")
    identical[:, :, 1] = 1.0  # every hop on the same word: ‖AAᵀ − I‖² = r² − r
    orthogonal = np.zeros((2, 4, 5), "float32")
    for hop in range(4):
        orthogonal[:, hop, hop] = 1.0
    random = numpy_softmax(RNG.normal(size=(3, 4, 7)) * 2).astype("float32")
    assert float(attention_penalty(identical)) == pytest.approx(12.0, abs=1e-5)
    assert float(attention_penalty(orthogonal)) == pytest.approx(0.0, abs=1e-7)
    assert float(attention_penalty(random)) == pytest.approx(numpy_penalty(random), rel=1e-5)


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
        ({"penalty_coefficient": -1.0}, "argument `penalty_coefficient`, expected a non-negative float"),
        ({"hop_pooling": "max"}, "argument `hop_pooling`, expected one of 'flatten', 'mean'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StructuredSelfAttention(**kwargs)
