"""The `tf.data` input of training: texts tokenised once, then length-bucketed batches in a seeded order per epoch.

Texts go through the model's own `TextPreprocessor` once (the same in-graph ops the export runs), into a padded
int32 matrix. Each epoch's batches are planned in numpy from ``(seed, epoch)`` alone: a shuffle, then sorting
within windows of a few dozen batches by length (less padding, much faster recurrent layers), then a shuffle of
the batch order. Because the plan depends on nothing but the seed and the epoch number, a run resumed at epoch k
reads exactly the batches the uninterrupted run would have read.

With several replicas every global batch is cut into one slice per replica, and each input pipeline (one per
worker) yields the slices of its own replicas, through `tf.distribute.Strategy.distribute_datasets_from_function`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

#: Batches sorted together by length; larger windows pad less but shuffle less.
BUCKET_WINDOW = 32


def encode_texts(preprocessor, texts: Sequence[str], chunk: int = 2048) -> np.ndarray:
    """Token ids of `texts`: int32 (n, longest), padded with 0 (each row has at least one token)."""
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(preprocessor(tf.constant(list(texts[start : start + chunk]), dtype=tf.string)).numpy())
    width = max(p.shape[1] for p in parts)
    return np.concatenate([np.pad(p, [(0, 0), (0, width - p.shape[1])]) for p in parts]).astype(np.int32)


def token_lengths(ids: np.ndarray) -> np.ndarray:
    return (ids != 0).sum(axis=1)


def plan_epoch(
    lengths: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    drop_remainder: bool = False,
) -> list[np.ndarray]:
    """The batches of one epoch, as arrays of example indices.

    Args:
        lengths: tokens per example.
        batch_size: examples per (global) batch.
        seed: the run's seed.
        epoch: the epoch number; with the seed it fixes the order.
        shuffle: False keeps the file order (evaluation).
        drop_remainder: drop the last, smaller batch (several replicas need equal slices).
    """
    n = len(lengths)
    if not shuffle:
        order = np.arange(n)
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    else:
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(n)
        window = BUCKET_WINDOW * batch_size
        batches = []
        for start in range(0, n, window):
            chunk = order[start : start + window]
            chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
            batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
        # Only the last batch of the epoch may be short, so move the short one there before shuffling the rest.
        short = [b for b in batches if len(b) < batch_size]
        full = [b for b in batches if len(b) == batch_size]
        batches = [full[i] for i in rng.permutation(len(full))]
        if short:
            merged = np.concatenate(short)
            batches.extend(merged[i : i + batch_size] for i in range(0, len(merged), batch_size))
    if drop_remainder:
        batches = [b for b in batches if len(b) == batch_size]
    return batches


def steps(num_examples: int, batch_size: int, drop_remainder: bool = False) -> int:
    """Batches per epoch."""
    return num_examples // batch_size if drop_remainder else -(-num_examples // batch_size)


def _local_slices(batches: list[np.ndarray], replicas: int, pipelines: int, pipeline_id: int) -> list[np.ndarray]:
    """The per-replica slices this input pipeline yields, replica by replica within each global batch."""
    per_pipeline = replicas // pipelines
    mine = range(pipeline_id * per_pipeline, (pipeline_id + 1) * per_pipeline)
    slices = []
    for batch in batches:
        parts = np.array_split(batch, replicas)
        slices.extend(parts[r] for r in mine)
    return slices


def _dataset(
    columns: Sequence[np.ndarray], targets: np.ndarray, index_batches: list[np.ndarray], repeat: bool = False
) -> tf.data.Dataset:
    """Yields ``(inputs, targets)`` per index batch; each id column is cut to its longest row in the batch."""
    flat = np.concatenate(index_batches).astype(np.int64) if index_batches else np.zeros([0], np.int64)
    row_lengths = np.array([len(b) for b in index_batches], np.int64)
    indices = tf.RaggedTensor.from_row_lengths(flat, row_lengths)
    id_tables = [tf.constant(c) for c in columns]
    lengths = [tf.constant(token_lengths(c).astype(np.int32)) for c in columns]
    target_table = tf.constant(targets)

    def gather(index):  # index: (B,) int64
        inputs = []
        for table, length in zip(id_tables, lengths):
            width = tf.reduce_max(tf.gather(length, index))
            inputs.append(tf.gather(table, index)[:, :width])  # (B, T)
        features = inputs[0] if len(inputs) == 1 else tuple(inputs)
        return features, tf.gather(target_table, index)

    dataset = tf.data.Dataset.from_tensor_slices(indices)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    # The batches are already split per worker; auto-sharding would split them again.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)


def make_input(
    strategy: tf.distribute.Strategy,
    columns: Sequence[np.ndarray],
    targets: np.ndarray,
    batch_size: int,
    seed: int,
    first_epoch: int = 0,
    last_epoch: int = 1,
    shuffle: bool = True,
):
    """The input for `keras.Model.fit` (or `evaluate`) over epochs ``first_epoch .. last_epoch - 1``.

    Args:
        strategy: the run's strategy; with one replica a plain `tf.data.Dataset` is returned.
        columns: one or more id matrices from `encode_texts` (two for sentence pairs), row-aligned.
        targets: label ids or scores, row-aligned with the columns.
        batch_size: the global batch size.
        seed: the run's seed.
        first_epoch, last_epoch: the epochs to plan (pass ``steps`` per epoch to `fit`).
        shuffle: False for evaluation: passes in file order (the last batch kept), repeated without end, so
            read ``steps`` batches per evaluation (Keras, under a distribution strategy, reads one batch ahead
            of each evaluation from the previous iterator, which a single finite pass would not have).

    Returns:
        ``(input, steps_per_epoch)``.
    """
    replicas = strategy.num_replicas_in_sync
    lengths = token_lengths(columns[0])
    for column in columns[1:]:
        lengths = np.maximum(lengths, token_lengths(column))
    drop = shuffle and replicas > 1
    plan = []
    for epoch in range(first_epoch, last_epoch):
        plan.extend(plan_epoch(lengths, batch_size, seed, epoch, shuffle=shuffle, drop_remainder=drop))
    if not shuffle and replicas > 1:
        plan = [b for b in plan if len(b) >= replicas]  # every replica needs at least one example
    per_epoch = len(plan) // max(1, last_epoch - first_epoch)
    if per_epoch == 0:
        raise ValueError(
            f"{len(lengths)} examples make no batch of {batch_size} over {replicas} replica(s); lower batch_size."
        )
    if replicas == 1:
        return _dataset(columns, targets, plan, repeat=not shuffle), per_epoch

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        slices = _local_slices(plan, replicas, context.num_input_pipelines, context.input_pipeline_id)
        return _dataset(columns, targets, slices, repeat=not shuffle)

    return strategy.distribute_datasets_from_function(dataset_fn), per_epoch
