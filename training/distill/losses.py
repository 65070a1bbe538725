"""The distillation loss: how far the student's vector is from the teacher's unit vector.

With t the teacher's vector scaled to unit length and s the student's:

- ``cosine``: 1 - cos(s, t), blind to the student's norm (what cosine-similarity search uses);
- ``mse``: ||s - t||², the squared distance (the mean squared error times the dimension, so that it is on the
  cosine loss's scale: for a unit s it equals 2 - 2 cos(s, t)); it also pulls the student's norm to 1;
- ``cosine+mse``: their sum.

Teacher vectors may arrive as float16 (the cache's dtype); everything is computed in float32.
"""

from __future__ import annotations

import keras
from keras import ops

from embedder.validation import check_choice
from training.distill.config import LOSSES


def _unit(x):
    return x / ops.maximum(ops.norm(x, axis=-1, keepdims=True), 1e-12)


@keras.saving.register_keras_serializable(package="embedder")
class DistillationLoss(keras.losses.Loss):
    """``loss(teacher_vectors, student_vectors)``: (batch, dim) each → per-example loss (batch,).

    Args:
        kind: "cosine", "mse" or "cosine+mse". Defaults to "cosine".
        **kwargs: passed to `keras.losses.Loss`.
    """

    def __init__(self, kind: str = "cosine", name: str = "distillation_loss", **kwargs):
        check_choice("kind", kind, LOSSES)
        super().__init__(name=name, **kwargs)
        self.kind = kind

    def call(self, y_true, y_pred):
        teacher = _unit(ops.cast(y_true, "float32"))  # (B, D)
        student = ops.cast(y_pred, "float32")  # (B, D)
        loss = 0.0
        if "cosine" in self.kind:
            loss = loss + 1.0 - ops.sum(_unit(student) * teacher, axis=-1)  # (B,)
        if "mse" in self.kind:
            loss = loss + ops.sum(ops.square(student - teacher), axis=-1)  # (B,)
        return loss

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


class MeanCosine(keras.metrics.Mean):
    """The mean cosine similarity between student and teacher vectors (logged as ``cosine``)."""

    def __init__(self, name: str = "cosine", **kwargs):
        super().__init__(name=name, **kwargs)

    def update_state(self, y_true, y_pred, sample_weight=None):
        similarity = ops.sum(_unit(ops.cast(y_pred, "float32")) * _unit(ops.cast(y_true, "float32")), axis=-1)
        return super().update_state(similarity, sample_weight=sample_weight)
