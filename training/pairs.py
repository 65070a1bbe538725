"""Training on scored sentence pairs: the siamese model, its two objectives, and the dev Spearman that selects.

`embedder finetune --pairs` (a trained model's encoder) and `embedder train --pairs` (a new one) share these: the
same encoder reads both sentences of a pair (`siamese_model`), their cosine similarity is trained towards the
pair's score (`pair_loss`: the mean squared error onto ``score / max_score``, or `CoSENTLoss`'s ranking of the
batch's pairs), and `DevSpearman` logs ``val_spearman``, the score that early stopping and the kept epoch follow.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from training.batching import encode_texts
from training.data import ScoredPairs, read_pairs, split_holdout
from training.evaluate import cosine_similarities, spearman

MONITOR = "val_spearman"


@keras.saving.register_keras_serializable(package="embedder")
class CosineSimilarity(keras.layers.Layer):
    """Row-wise cosine similarity of two (batch, dim) tensors, in float32: (batch,)."""

    def call(self, first, second):
        first = ops.cast(first, "float32")
        second = ops.cast(second, "float32")
        first = first / ops.maximum(ops.norm(first, axis=-1, keepdims=True), 1e-12)  # (B, D)
        second = second / ops.maximum(ops.norm(second, axis=-1, keepdims=True), 1e-12)  # (B, D)
        return ops.sum(first * second, axis=-1)  # (B,)


def siamese_model(encoder) -> keras.Model:
    """Two token-id inputs through one shared encoder, out the cosine similarity of their embeddings."""
    first = keras.Input(shape=(None,), dtype="int32", name="first_token_ids")
    second = keras.Input(shape=(None,), dtype="int32", name="second_token_ids")
    first_embedding, _ = encoder(first)
    second_embedding, _ = encoder(second)
    similarity = CosineSimilarity(dtype="float32", name="cosine_similarity")(first_embedding, second_embedding)
    return keras.Model([first, second], similarity, name="siamese")


@keras.saving.register_keras_serializable(package="embedder")
class CoSENTLoss(keras.losses.Loss):
    """CoSENT (Su, 2022): for every two pairs (i, j) of a batch with score_i > score_j, the cosine of i should exceed
    that of j; the loss is ``log(1 + Σ exp(scale · (cos_j − cos_i)))`` over those ordered pairs. Only the order of
    the scores matters, not their scale, unlike the cosine's mean squared error. One value per batch.

    Args:
        scale: the factor on cosine differences (Su's 20). Defaults to 20.0.
    """

    def __init__(self, scale: float = 20.0, name: str = "cosent", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        scores = ops.reshape(ops.cast(y_true, "float32"), (-1,))  # (B,)
        cosines = ops.reshape(ops.cast(y_pred, "float32"), (-1,))  # (B,)
        differences = self.scale * (cosines[None, :] - cosines[:, None])  # [i, j] = scale · (cos_j − cos_i)
        ordered = scores[:, None] > scores[None, :]  # (B, B): pair i scored above pair j
        differences = ops.where(ordered, differences, ops.full_like(differences, -1e4))  # exp(-1e4) = 0
        terms = ops.concatenate([ops.zeros((1,), "float32"), ops.reshape(differences, (-1,))], axis=0)
        return ops.logsumexp(terms)  # log(1 + Σ exp(...)); a batch without ordered pairs gives log 1 = 0

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def pair_loss(name: str) -> keras.losses.Loss:
    """The Keras loss of `FinetuneConfig.pair_loss` on (scores / max_score, cosine similarities)."""
    return CoSENTLoss() if name == "cosent" else keras.losses.MeanSquaredError()


class DevSpearman(keras.callbacks.Callback):
    """Logs ``val_spearman``: Spearman's correlation of dev-pair cosine similarities with the gold scores."""

    def __init__(self, encoder, first_ids: np.ndarray, second_ids: np.ndarray, scores, batch_size: int = 128):
        super().__init__()
        self.encoder = encoder
        self.first_ids, self.second_ids = first_ids, second_ids
        self.scores = np.asarray(scores)
        self.batch_size = batch_size

    def _embed(self, ids: np.ndarray) -> np.ndarray:
        lengths = (ids != 0).sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        result = None
        for start in range(0, len(ids), self.batch_size):
            index = order[start : start + self.batch_size]
            batch = ids[index][:, : max(1, lengths[index].max())]
            embedding = ops.convert_to_numpy(ops.cast(self.encoder(batch, training=False)[0], "float32"))
            if result is None:
                result = np.zeros((len(ids), embedding.shape[1]), np.float32)
            result[index] = embedding
        return result

    def on_epoch_end(self, epoch, logs=None):
        similarities = cosine_similarities(self._embed(self.first_ids), self._embed(self.second_ids))
        if logs is not None:
            logs[MONITOR] = spearman(similarities, self.scores)


def load_pair_data(config) -> tuple[ScoredPairs, ScoredPairs]:
    """The run's (train, dev) scored pairs: the dev file, or a seeded hold-out of the training file."""
    columns = dict(
        score_column=config.score_column,
        first_column=config.first_column,
        second_column=config.second_column,
        file_format=config.file_format,
    )
    train_pairs = read_pairs(config.train_path, **columns)
    if config.dev_path:
        return train_pairs, read_pairs(config.dev_path, **columns)
    return split_holdout(train_pairs, config.dev_fraction, config.seed)


def pair_ids(preprocessor, pairs: ScoredPairs) -> list[np.ndarray]:
    """Both columns' token ids: [first, second]."""
    return [encode_texts(preprocessor, pairs.first), encode_texts(preprocessor, pairs.second)]


def pair_arrays(preprocessor, pairs: ScoredPairs, max_score: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The training arrays of `pairs`: both columns' token ids, and the targets ``score / max_score`` (float32)."""
    return pair_ids(preprocessor, pairs), (np.asarray(pairs.scores, np.float32) / max_score).astype(np.float32)


def dev_spearman(encoder, preprocessor, pairs: ScoredPairs) -> DevSpearman:
    """The callback that logs `MONITOR` on the dev `pairs`."""
    return DevSpearman(encoder, *pair_ids(preprocessor, pairs), pairs.scores)
