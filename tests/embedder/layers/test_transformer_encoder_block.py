import numpy as np
import pytest

from embedder.layers.transformer_encoder_block import TransformerEncoderBlock
from tests.embedder.layers.layer_test_helper import numpy_softmax, run_layer_test

RNG = np.random.default_rng(3)


def _layer_norm(x, norm):
    gamma, beta = (np.asarray(w) for w in norm.weights)
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + norm.epsilon) * gamma + beta


def numpy_block(block: TransformerEncoderBlock, x: np.ndarray, mask: np.ndarray):
    """Reference of one post-LN block: attention, residual, norm, FFN, residual, norm."""
    mha = block.self_attention

    def project(dense, x):
        return np.einsum("btd,dhk->bthk", x, np.asarray(dense.kernel)) + np.asarray(dense.bias)

    q, k, v = project(mha.query_dense, x), project(mha.key_dense, x), project(mha.value_dense, x)  # (B, T, h, dk)
    scores = np.einsum("bqhk,bshk->bhqs", q, k) / np.sqrt(q.shape[-1])  # (B, h, T, T)
    attention = numpy_softmax(scores, mask[:, None, None, :])
    context = np.einsum("bhqs,bshk->bqhk", attention, v)
    attended = np.einsum("bqhk,hkd->bqd", context, np.asarray(mha.output_dense.kernel)) + np.asarray(
        mha.output_dense.bias
    )
    x = _layer_norm(x + attended, block.attention_norm)
    hidden = np.maximum(
        x @ np.asarray(block.feedforward_intermediate.kernel) + np.asarray(block.feedforward_intermediate.bias), 0
    )
    y = hidden @ np.asarray(block.feedforward_output.kernel) + np.asarray(block.feedforward_output.bias)
    return _layer_norm(x + y, block.feedforward_norm), attention


def test_layer_basics():
    run_layer_test(
        TransformerEncoderBlock,
        {"hidden_dim": 8, "num_heads": 2, "intermediate_dim": 16},
        RNG.normal(size=(2, 5, 8)).astype("float32"),
        expected_output_shapes=((2, 5, 8), (2, 2, 5, 5)),
        # q, k, v, output (kernel + bias each), 2 layer norms × 2, 2 dense × 2
        expected_num_trainable_weights=16,
        # q · (k + b_k) = q · k + q · b_k is the same for every key, so the softmax never sees b_k: its gradient is 0.
        static_weights={"self_attention/key/bias": "the attention softmax is invariant to the key bias"},
    )


def test_golden_values_with_peaked_attention():
    block = TransformerEncoderBlock(hidden_dim=8, num_heads=2, intermediate_dim=12, dropout=0.0)
    x = RNG.normal(size=(2, 6, 8)).astype("float32")
    mask = np.array([[1] * 6, [1, 1, 1, 0, 0, 0]], bool)
    block.build(x.shape)
    block.self_attention.query_dense.kernel.assign(np.asarray(block.self_attention.query_dense.kernel) * 6.0)
    outputs, attention = block(x, padding_mask=mask)
    ref_outputs, ref_attention = numpy_block(block, x.astype(np.float64), mask)
    assert ref_attention.max(axis=-1).mean() > 0.6, "scaled query weights must make attention peaked"
    np.testing.assert_allclose(attention, ref_attention, atol=1e-5)
    np.testing.assert_allclose(outputs, ref_outputs, atol=1e-4)


def test_padding_keys_get_no_attention_and_do_not_change_real_positions():
    block = TransformerEncoderBlock(hidden_dim=8, num_heads=2, dropout=0.0)
    x = RNG.normal(size=(1, 3, 8)).astype("float32")
    padded = np.concatenate([x, RNG.normal(size=(1, 4, 8)).astype("float32")], axis=1)
    out, _ = block(x, padding_mask=np.ones((1, 3), bool))
    padded_out, attention = block(padded, padding_mask=np.array([[1, 1, 1, 0, 0, 0, 0]], bool))
    np.testing.assert_allclose(out, np.asarray(padded_out)[:, :3], atol=1e-5)
    assert np.all(np.asarray(attention)[..., 3:] == 0.0)
    np.testing.assert_allclose(np.sum(attention, axis=-1), 1.0, atol=1e-6)


def test_pre_layer_norm_variant_runs():
    block = TransformerEncoderBlock(hidden_dim=8, num_heads=4, normalize_first=True)
    outputs, _ = block(RNG.normal(size=(2, 3, 8)).astype("float32"))
    assert outputs.shape == (2, 3, 8)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"hidden_dim": 10, "num_heads": 3},
            r"argument `num_heads`, expected a divisor of `hidden_dim`=10. Received: num_heads=3",
        ),
        ({"hidden_dim": 8, "num_heads": 0}, "argument `num_heads`, expected a positive integer"),
        ({"hidden_dim": 8, "num_heads": 2, "dropout": 1.5}, r"argument `dropout`, expected a float in \[0, 1\)"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TransformerEncoderBlock(**kwargs)
