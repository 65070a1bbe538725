import numpy as np

from embedder.layers.masked_pooling import MaskedMaxPooling, MaskedMeanPooling
from tests.embedder.layers.layer_test_helper import run_layer_test

RNG = np.random.default_rng(4)


def test_basics():
    data = RNG.normal(size=(2, 5, 3)).astype("float32")
    run_layer_test(MaskedMeanPooling, {}, data, expected_output_shapes=(2, 3), expected_num_trainable_weights=0)
    run_layer_test(
        MaskedMaxPooling,
        {},
        data,
        expected_output_shapes=((2, 3), (2, 5)),
        expected_num_trainable_weights=0,
        float32_outputs=(1,),  # the shares
    )


def test_mean_and_max_ignore_padding():
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    x[1, 2:] = 100.0  # padding holds large values that must not leak into either pooling
    mask = np.array([[1] * 5, [1, 1, 0, 0, 0]], bool)
    mean = np.asarray(MaskedMeanPooling()(x, mask=mask))
    pooled, shares = (np.asarray(t) for t in MaskedMaxPooling()(x, mask=mask))
    np.testing.assert_allclose(mean[0], x[0].mean(0), atol=1e-6)
    np.testing.assert_allclose(mean[1], x[1, :2].mean(0), atol=1e-6)
    np.testing.assert_allclose(pooled[1], x[1, :2].max(0), atol=1e-6)
    reference_shares = np.bincount(x[1, :2].argmax(0), minlength=5) / 3
    np.testing.assert_allclose(shares[1], reference_shares, atol=1e-6)
    np.testing.assert_allclose(shares.sum(-1), 1.0, atol=1e-6)
