"""Every place this project reaches into Keras's private API, each for a documented upstream bug, in one module.

Three private hooks of Keras 3 (TensorFlow backend) are replaced, and only for training:

1. ``Optimizer._clip_gradients``: ``clipnorm`` clips each replica's partial gradient before the all-reduce; ours
   clips the summed gradient, as on one device (`clipping_after_all_reduce`).
2. ``Model._maybe_symbolic_build`` (calling ``Model._symbolic_build``): the symbolic build reduces one batch across
   replicas, which fails for batches of different widths; ours builds from one local batch (`prepare_fit`).
3. ``keras.src.backend.tensorflow.trainer.reduce_per_replica``: `fit`'s logs fail to reduce under
   ``MultiWorkerMirroredStrategy`` (tensorflow/tensorflow#72388); ours leaves the already-global values alone.

They were written for and tested on the Keras versions in `KERAS_VERSIONS`. `check_keras` runs before any of them
is installed and fails loudly on another version, or when a hook is gone or has changed its parameters, instead
of training silently wrong. ``EMBEDDER_UNCHECKED_KERAS=1`` turns the version check into a warning (the hooks
are still checked) for whoever tests a newer Keras.
"""

from __future__ import annotations

import inspect
import logging
import os

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)

#: The (major, minor) Keras versions these patches were written for and tested on, inclusive.
KERAS_VERSIONS = ((3, 10), (3, 15))
UNCHECKED_ENV = "EMBEDDER_UNCHECKED_KERAS"


def _trainer_module():
    from keras.src.backend.tensorflow import trainer

    return trainer


def _hooks() -> dict[str, tuple[object, tuple[str, ...]]]:
    """Each private hook as name -> (the object or None when missing, the parameters it must take)."""

    def find(get):
        try:
            return get()
        except (AttributeError, ImportError):
            return None

    return {
        "keras.optimizers.Optimizer._clip_gradients": (
            find(lambda: keras.optimizers.Optimizer._clip_gradients),  # noqa: SLF001
            ("self", "grads"),
        ),
        "keras.Model._maybe_symbolic_build": (
            find(lambda: keras.Model._maybe_symbolic_build),  # noqa: SLF001
            ("self", "iterator", "data_batch"),
        ),
        "keras.Model._symbolic_build": (
            find(lambda: keras.Model._symbolic_build),  # noqa: SLF001
            ("self", "iterator", "data_batch"),
        ),
        "keras.src.backend.tensorflow.trainer.reduce_per_replica": (
            find(lambda: _trainer_module().reduce_per_replica),
            ("values", "strategy", "reduction"),
        ),
    }


def check_keras(version: str | None = None) -> None:
    """Raises RuntimeError unless the installed Keras is one these patches were written for, hooks included."""
    version = version or keras.__version__
    try:
        major_minor = tuple(int(part) for part in version.split(".")[:2])
    except ValueError:
        major_minor = None
    low, high = KERAS_VERSIONS
    if major_minor is None or not low <= major_minor <= high:
        message = (
            f"training/keras_patches.py replaces private Keras functions and was written for Keras "
            f"{low[0]}.{low[1]} to {high[0]}.{high[1]}; this is Keras {version}. Install a Keras in that range, "
            f"or check the patches against this version and widen KERAS_VERSIONS ({UNCHECKED_ENV}=1 tries anyway)."
        )
        if os.environ.get(UNCHECKED_ENV) != "1":
            raise RuntimeError(message)
        logger.warning("%s", message)
    for name, (hook, parameters) in _hooks().items():
        if hook is None:
            raise RuntimeError(f"Keras {version} has no {name}, which training/keras_patches.py replaces.")
        found = tuple(inspect.signature(hook).parameters)
        if found != parameters:
            raise RuntimeError(
                f"Keras {version}'s {name} takes {found}; training/keras_patches.py was written for {parameters}."
            )


def prepare_fit(model: keras.Model) -> None:
    """Installs, on `model` and only where its strategy needs them, the build and logging patches."""
    strategy = model.distribute_strategy
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    replicated = strategy.num_replicas_in_sync > 1
    if not (multi_worker or replicated):
        return
    check_keras()
    if multi_worker:
        _patch_multi_worker_logs()
    if replicated:
        model._maybe_symbolic_build = lambda iterator=None, data_batch=None: _build_from_local_batch(  # noqa: SLF001
            model, iterator, data_batch
        )


def _clip_after_all_reduce(self, grads):
    """``clipnorm`` applied to the gradient summed over all replicas, as on one device.

    Keras 3 (TensorFlow backend) clips each replica's gradient before the all-reduce, so a run over N replicas clips
    N partial gradients (each from its share of the loss) instead of their sum, and trains differently from the
    same run on one device. Here each replica scales its part by the factor that `tf.clip_by_norm` would apply to
    the sum; the all-reduce that follows then adds up to exactly the clipped sum.
    """
    context = tf.distribute.get_replica_context()
    if not self.clipnorm or context is None or context.num_replicas_in_sync == 1:
        return super(type(self), self)._clip_gradients(grads)
    present = [index for index, grad in enumerate(grads) if grad is not None]
    dense = [tf.convert_to_tensor(grads[index]) for index in present]
    totals = context.all_reduce(tf.distribute.ReduceOp.SUM, dense)
    clipped = list(grads)
    for index, total in zip(present, totals):
        norm = tf.norm(total)
        factor = tf.cast(self.clipnorm, norm.dtype) / tf.maximum(norm, tf.cast(self.clipnorm, norm.dtype))
        grad = grads[index]
        if isinstance(grad, tf.IndexedSlices):
            clipped[index] = tf.IndexedSlices(grad.values * factor, grad.indices, grad.dense_shape)
        else:
            clipped[index] = grad * tf.cast(factor, grad.dtype)
    return clipped


_CLIPPING_CLASSES: dict[type, type] = {}


def clipping_after_all_reduce(base: type) -> type:
    """`base` (a Keras optimizer class) with `_clip_after_all_reduce` as its gradient clipping."""
    check_keras()
    if base not in _CLIPPING_CLASSES:
        _CLIPPING_CLASSES[base] = keras.saving.register_keras_serializable(package="sentence_embedder_training")(
            type(base.__name__, (base,), {"_clip_gradients": _clip_after_all_reduce, "__module__": __name__})
        )
    return _CLIPPING_CLASSES[base]


def _local_values(strategy, structure):
    """`structure` with each distributed value replaced by this replica's own (the first local) value."""

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(local, structure)


def _build_from_local_batch(model: keras.Model, iterator=None, data_batch=None) -> None:
    """Replaces Keras's `_maybe_symbolic_build` on a model trained over several replicas.

    Before training Keras reads one batch and reduces it across replicas to build the model symbolically. That
    reduction adds the replicas' batches, which fails when they differ in width, as ours do (each replica's slice is
    cut to its own longest row), and across workers it fails on any ``(inputs, targets)`` tuple (TensorFlow 2.21,
    Keras 3.15). The model only needs the shapes and dtypes of one local batch.
    """
    strategy = model.distribute_strategy
    if iterator is not None:
        for _, _, batches in iterator:
            data_batch = next(batches)
            break
    with strategy.scope():
        model._symbolic_build(data_batch=_local_values(strategy, data_batch))  # noqa: SLF001


def _patch_multi_worker_logs() -> None:
    """Lets Keras 3's `fit` report its logs under `MultiWorkerMirroredStrategy` (tensorflow/tensorflow#72388).

    After each step Keras reduces the logged metric values across workers along axis 0, which fails for the scalar
    values they are. They need no reduction: metric variables are aggregated over all replicas of all workers, so
    every worker already holds the global value. Installed only in multi-worker processes.
    """
    keras_trainer = _trainer_module()

    original = keras_trainer.reduce_per_replica
    if getattr(original, "patched_for_multi_worker", False):
        return

    def reduce_per_replica(values, strategy, reduction):
        if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and reduction in ("auto", "mean"):
            return _local_values(strategy, values)
        return original(values, strategy, reduction)

    reduce_per_replica.patched_for_multi_worker = True
    keras_trainer.reduce_per_replica = reduce_per_replica
