import numpy as np
import pytest
import tensorflow as tf

from training.pairs import CoSENTLoss, pair_loss


def cosent_reference(scores, cosines, scale=20.0):
    """Su's CoSENT written out: log(1 + Σ over pairs i, j with score_i > score_j of exp(scale (cos_j − cos_i)))."""
    terms = [
        np.exp(scale * (cosines[j] - cosines[i]))
        for i in range(len(scores))
        for j in range(len(scores))
        if scores[i] > scores[j]
    ]
    return np.log1p(np.sum(terms))


def test_cosent_matches_its_definition_and_its_gradient_orders_the_pairs():
    rng = np.random.default_rng(0)
    scores = np.array([0.0, 0.2, 0.2, 0.8, 1.0], np.float32)  # a tie: no term for the two 0.2 pairs
    cosines = rng.uniform(-0.2, 0.9, size=5).astype(np.float32)
    loss = CoSENTLoss()
    assert float(loss(scores, cosines)) == pytest.approx(cosent_reference(scores, cosines), rel=1e-5)
    assert float(CoSENTLoss(scale=5.0)(scores, cosines)) == pytest.approx(
        cosent_reference(scores, cosines, 5.0), rel=1e-5
    )
    # Only the order of the scores matters (squashing them keeps the loss), unlike the mean squared error.
    assert float(loss(scores / 10, cosines)) == pytest.approx(float(loss(scores, cosines)), rel=1e-6)
    # No ordered pair (all scores tied): log 1 = 0.
    assert float(loss(np.full(5, 0.5, np.float32), cosines)) == pytest.approx(0.0, abs=1e-7)

    variable = tf.Variable(cosines)
    with tf.GradientTape() as tape:
        value = loss(scores, variable)
    gradient = tape.gradient(value, variable).numpy()
    assert gradient[-1] < 0 < gradient[0]  # gradient descent raises the best-scored pair's cosine, lowers the worst
    step = 1e-3
    numeric = [
        (
            cosent_reference(scores, cosines + step * np.eye(5)[k])
            - cosent_reference(scores, cosines - step * np.eye(5)[k])
        )
        / (2 * step)
        for k in range(5)
    ]
    np.testing.assert_allclose(gradient, numeric, rtol=1e-2, atol=1e-4)


def test_pair_loss_names_its_losses():
    assert isinstance(pair_loss("cosent"), CoSENTLoss)
    assert type(pair_loss("cosine_mse")).__name__ == "MeanSquaredError"
