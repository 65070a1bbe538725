"""`Servable`: one loaded version of one model, its signatures, and the requests running on it.

Loaded with plain ``tf.saved_model.load``: the server needs TensorFlow and the contract's file names, never
Keras or training code. The signature definitions are read from ``saved_model.pb`` as TF Serving reads them,
so request checks and ``GetModelMetadata`` see exactly what TF Serving sees.

A servable counts the requests using it, so the model manager can unload an old version only after the
requests that started on it have finished.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from serving.server.batcher import BatchQueue, BatchScheduler
from serving.server.errors import data_loss, not_found
from serving.server.tensors import proto_shape

#: The key TF2 SavedModels add to the signature map for their initialiser; listed in metadata, not callable.
INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """A signature input or output: its dtype enum and shape (-1 for any size, None for unknown rank)."""

    dtype: int
    shape: list[int] | None


@dataclasses.dataclass(frozen=True)
class Signature:
    """One callable signature of a servable."""

    name: str
    method_name: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


def _specs(tensor_infos) -> dict[str, TensorSpec]:
    return {alias: TensorSpec(info.dtype, proto_shape(info.tensor_shape)) for alias, info in tensor_infos.items()}


def read_meta_graph(version_dir: Path, tags: tuple[str, ...]) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraphDef of `version_dir`/saved_model.pb whose tags include all of `tags`."""
    saved_model = saved_model_pb2.SavedModel.FromString((version_dir / "saved_model.pb").read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if set(tags) <= set(meta_graph.meta_info_def.tags):
            return meta_graph
    found = [list(m.meta_info_def.tags) for m in saved_model.meta_graphs]
    raise ValueError(f"No MetaGraphDef with tags {list(tags)} in {version_dir}; found {found}.")


def _load_error(error: Exception, path: Path) -> Exception:
    """TF Serving's status for a SavedModel whose variables cannot be read: NOT_FOUND for a missing file,
    DATA_LOSS for a truncated one (TensorFlow raises FileNotFoundError, IndexError or a bare OpError for these)."""
    message = str(error).split("\n", 1)[0]
    if isinstance(error, FileNotFoundError) or (
        isinstance(error, tf.errors.OpError) and "No such file or directory" in message
    ):
        return not_found(f"A variables file of the SavedModel in {path} is missing: {message}")
    if isinstance(error, tf.errors.DataLossError) or (
        isinstance(error, IndexError) and "Read less bytes than requested" in message
    ):
        return data_loss(f"A variables file of the SavedModel in {path} is truncated or corrupt: {message}")
    return error


class Servable:
    """A loaded SavedModel version, ready to run its signatures.

    Args:
        model_name: the model's name in the server's config.
        version: the version number (the directory name).
        path: the version directory.
        tags: the MetaGraphDef tags to load (``--saved_model_tags``). Defaults to ("serve",).
        scheduler: a `BatchScheduler` to batch requests with, or None to run each request on its own.
        on_batch: called as ``on_batch(servable, signature, rows_run, rows_requested)`` after each model call.
    """

    def __init__(
        self,
        model_name: str,
        version: int,
        path: str | Path,
        tags: tuple[str, ...] = ("serve",),
        scheduler: BatchScheduler | None = None,
        on_batch: Callable | None = None,
    ):
        self.model_name = model_name
        self.version = version
        self.path = Path(path)
        self.tags = tuple(tags)
        self.meta_graph = read_meta_graph(self.path, self.tags)
        try:
            self._loaded = tf.saved_model.load(str(self.path), tags=list(self.tags))
        except Exception as error:  # noqa: BLE001 - mapped to TF Serving's codes where it has one, else re-raised
            raise _load_error(error, self.path) from error
        self._functions = dict(self._loaded.signatures)
        self.signatures: dict[str, Signature] = {
            name: Signature(name, definition.method_name, _specs(definition.inputs), _specs(definition.outputs))
            for name, definition in self.meta_graph.signature_def.items()
            if name in self._functions
        }
        self._on_batch = on_batch
        #: Model calls per signature: {signature: Counter(rows run → calls)}; what batching actually did.
        self.batch_sizes: dict[str, collections.Counter] = {name: collections.Counter() for name in self.signatures}
        self._stats_lock = threading.Lock()
        self._scheduler = scheduler
        self._queues: dict[str, BatchQueue] = {}
        if scheduler is not None:
            for name in self.signatures:
                self._queues[name] = scheduler.add_queue(
                    self._make_process(name),
                    on_batch=self._make_batch_observer(name),
                    name=f"model '{model_name}' version {version} signature '{name}'",
                )
        self._in_flight = 0
        self._idle = threading.Condition()

    def __repr__(self) -> str:
        return f"Servable({self.model_name!r}, version={self.version}, path={str(self.path)!r})"

    @property
    def signature_def_map(self):
        """The SavedModel's signature map, as TF Serving returns it from GetModelMetadata."""
        return self.meta_graph.signature_def

    # ------------------------------------------------------------------------------------------ running
    def _call(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        signature = self.signatures[signature_name]
        tensors = {
            alias: tf.constant(inputs[alias], dtype=tf.dtypes.as_dtype(spec.dtype))
            for alias, spec in signature.inputs.items()
        }
        outputs = self._functions[signature_name](**tensors)
        return {alias: value.numpy() for alias, value in outputs.items()}

    def _make_process(self, signature_name: str):
        return lambda inputs: self._call(signature_name, inputs)

    def _make_batch_observer(self, signature_name: str):
        return lambda rows_run, rows_requested: self._observe(signature_name, rows_run, rows_requested)

    def _observe(self, signature_name: str, rows_run: int, rows_requested: int) -> None:
        with self._stats_lock:
            self.batch_sizes[signature_name][rows_run] += 1
        if self._on_batch is not None:
            self._on_batch(self, signature_name, rows_run, rows_requested)

    def run(
        self, signature_name: str, inputs: dict[str, np.ndarray], batch_size: int, timeout: float | None = None
    ) -> dict[str, np.ndarray]:
        """Runs a signature on checked inputs (all with `batch_size` rows), batched with other requests when the
        server batches. Raises `ServingError` (see `BatchQueue.run`) or TensorFlow's error."""
        queue = self._queues.get(signature_name)
        if queue is not None:
            return queue.run(inputs, batch_size, timeout)
        outputs = self._call(signature_name, inputs)
        self._observe(signature_name, batch_size, batch_size)
        return outputs

    # ------------------------------------------------------------------------------- in-flight tracking
    def acquire(self) -> None:
        """Counts a request in; called by the model manager while it holds its routing lock."""
        with self._idle:
            self._in_flight += 1

    def release(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def wait_until_idle(self, timeout: float | None = None) -> bool:
        """Waits for the requests using this servable to finish; False if `timeout` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def unload(self) -> None:
        """Releases the model (call after `wait_until_idle`): its batch queues and its TensorFlow objects."""
        for queue in self._queues.values():
            self._scheduler.remove_queue(queue)
        self._queues.clear()
        self._functions.clear()
        self._loaded = None
