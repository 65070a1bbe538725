"""Choosing the `tf.distribute` strategy of a run: one device, all local GPUs, or several workers from TF_CONFIG.

- ``none``: TensorFlow's default strategy (one device).
- ``mirrored``: `tf.distribute.MirroredStrategy` over every local GPU; on a machine without GPUs, over every
  logical CPU device (several exist only when `tf.config.set_logical_device_configuration` made them, which is
  how the tests run data parallelism without a GPU).
- ``multi_worker``: `tf.distribute.MultiWorkerMirroredStrategy`, its cluster read from the ``TF_CONFIG``
  environment variable; every worker runs the same command and the chief exports.
- ``auto``: ``multi_worker`` when TF_CONFIG names more than one task, else ``mirrored`` when there are several
  GPUs, else ``none``.

The multi-worker strategy must be created before TensorFlow runs any op, so a run selects its strategy first.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf

from embedder.validation import check_choice
from training.config import DISTRIBUTIONS


def _cluster_tasks() -> int:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 0
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (json.JSONDecodeError, AttributeError):
        raise ValueError(f"TF_CONFIG is not a JSON object with a 'cluster': {raw[:200]!r}") from None
    return sum(len(tasks) for role, tasks in cluster.items() if role in ("chief", "worker"))


def resolve_distribution(distribution: str = "auto") -> str:
    """The concrete choice ("none", "mirrored" or "multi_worker") that `distribution` stands for here."""
    check_choice("distribution", distribution, DISTRIBUTIONS)
    if distribution != "auto":
        return distribution
    if _cluster_tasks() > 1:
        return "multi_worker"
    if len(tf.config.list_physical_devices("GPU")) > 1:
        return "mirrored"
    return "none"


def select_strategy(distribution: str = "auto") -> tf.distribute.Strategy:
    """Creates the strategy for `distribution` (see the module docstring).

    Raises:
        ValueError: "multi_worker" without a TF_CONFIG cluster, or an unknown `distribution`.
    """
    choice = resolve_distribution(distribution)
    if choice == "multi_worker":
        if _cluster_tasks() < 1:
            raise ValueError(
                "distribution='multi_worker' needs the TF_CONFIG environment variable to describe the cluster, "
                'e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}.'
            )
        return tf.distribute.MultiWorkerMirroredStrategy()
    if choice == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return tf.distribute.MirroredStrategy(devices=devices)
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, logs and the export (always, except on non-chief workers)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief" or task_type is None:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def describe(strategy: tf.distribute.Strategy) -> str:
    """A short line for the log: the strategy and its replicas."""
    name = type(strategy).__name__
    if name == "_DefaultDistributionStrategy":
        return "one device"
    return f"{name} with {strategy.num_replicas_in_sync} replica(s)"
