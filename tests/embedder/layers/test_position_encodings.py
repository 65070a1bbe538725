import numpy as np
import pytest

from embedder.layers.position_embedding import PositionEmbedding
from embedder.layers.sine_position_encoding import SinePositionEncoding
from tests.embedder.layers.layer_test_helper import run_layer_test


def test_sine_position_encoding_matches_the_paper_formula():
    length, width = 7, 6
    encoding = np.asarray(SinePositionEncoding()(np.zeros((2, length, width), "float32")))
    assert encoding.shape == (1, length, width)
    positions = np.arange(length)[:, None]
    i = np.arange(width // 2)[None, :]
    angles = positions / np.power(10000.0, 2 * i / width)
    reference = np.zeros((length, width))
    reference[:, 0::2] = np.sin(angles)
    reference[:, 1::2] = np.cos(angles)
    np.testing.assert_allclose(encoding[0], reference, atol=1e-5)


def test_sine_position_encoding_basics():
    run_layer_test(
        SinePositionEncoding,
        {"max_wavelength": 500.0},
        np.zeros((2, 4, 6), "float32"),
        expected_output_shapes=(1, 4, 6),
        expected_num_trainable_weights=0,
    )


def test_position_embedding_basics_and_slicing():
    run_layer_test(
        PositionEmbedding,
        {"sequence_length": 10},
        np.zeros((2, 4, 6), "float32"),
        expected_output_shapes=(1, 4, 6),
        expected_num_trainable_weights=1,
    )
    layer = PositionEmbedding(sequence_length=10)
    short = np.asarray(layer(np.zeros((1, 3, 5), "float32")))
    longer = np.asarray(layer(np.zeros((1, 8, 5), "float32")))
    np.testing.assert_array_equal(short[0], longer[0, :3])
    np.testing.assert_array_equal(longer[0], np.asarray(layer.position_embeddings)[:8])


def test_bad_arguments():
    with pytest.raises(ValueError, match="argument `sequence_length`, expected a positive integer"):
        PositionEmbedding(sequence_length=0)
    with pytest.raises(
        ValueError, match="argument `max_wavelength`, expected a number > 1. Received: max_wavelength=1"
    ):
        SinePositionEncoding(max_wavelength=1)
