import numpy as np
import pytest

from embedder.layers.classification_head import ClassificationHead
from tests.embedder.layers.layer_test_helper import run_layer_test

RNG = np.random.default_rng(5)


def test_basics():
    run_layer_test(
        ClassificationHead,
        {"num_classes": 3, "hidden_units": 4},
        RNG.normal(size=(4, 6)).astype("float32"),
        expected_output_shapes=(4, 3),
        expected_num_trainable_weights=4,
        float32_outputs=(0,),  # the probabilities
    )


def test_golden_values():
    head = ClassificationHead(num_classes=3, hidden_units=4, hidden_layers=1, dropout=0.5)
    x = RNG.normal(size=(5, 6)).astype("float32")
    probabilities = np.asarray(head(x, training=False))
    (w1, b1), (w2, b2) = (
        (np.asarray(w) for w in head.hidden[0].weights),
        (np.asarray(w) for w in head.output_layer.weights),
    )
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    reference = np.exp(logits - logits.max(1, keepdims=True))
    reference /= reference.sum(1, keepdims=True)
    np.testing.assert_allclose(probabilities, reference, atol=1e-6)
    assert probabilities.dtype == np.float32


def test_logistic_regression_variant():
    head = ClassificationHead(num_classes=2, hidden_layers=0)
    assert head(np.ones((1, 3), "float32")).shape == (1, 2)
    assert len(head.trainable_weights) == 2


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="argument `num_classes`, expected a positive integer. Received: num_classes=0"
    ):
        ClassificationHead(num_classes=0)
    with pytest.raises(ValueError, match="argument `hidden_layers`, expected a non-negative integer"):
        ClassificationHead(num_classes=2, hidden_layers=-1)
