"""Softmax over the last axis that gives exactly zero weight to masked positions."""

from __future__ import annotations

from keras import ops


def masked_softmax(scores, mask=None):
    """Softmax of ``scores`` (..., T) over T, computed in float32, with ``mask`` (..., T) (True = keep).

    Masked positions get weight exactly 0 and the rest sum to 1. A row with no valid position (which the text
    preprocessor never produces) gets all zeros instead of NaN.
    """
    scores = ops.cast(scores, "float32")
    if mask is None:
        return ops.softmax(scores, axis=-1)
    mask = ops.cast(mask, "float32")
    scores = scores - ops.max(scores - 1e9 * (1.0 - mask), axis=-1, keepdims=True)  # stable: valid max is 0
    weights = ops.exp(ops.minimum(scores, 0.0)) * mask
    return weights / ops.maximum(ops.sum(weights, axis=-1, keepdims=True), 1e-30)
