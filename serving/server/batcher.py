"""Server-side dynamic batching with TF Serving's semantics (its ``SharedBatchScheduler``).

One `BatchScheduler` owns ``num_batch_threads`` threads shared by many `BatchQueue`s (one per served version
and signature). Requests (tasks) join the queue's open batch while it has room; a batch runs when it is full,
or when its oldest task has waited ``batch_timeout_micros`` and a thread is free (with the default timeout of
0, as soon as a thread is free: requests that arrive while the threads are busy form the next batch). The
rows of all tasks are concatenated into one model call and the outputs are split back along dimension 0.

A request larger than ``max_batch_size`` is refused (INVALID_ARGUMENT) unless large batch splitting is on;
a queue already holding ``max_enqueued_batches`` batches refuses new requests with UNAVAILABLE, so a client
backs off instead of piling up latency.

Example:
    >>> scheduler = BatchScheduler(BatchingSettings(max_batch_size=64))
    >>> queue = scheduler.add_queue(lambda inputs: {"y": inputs["x"] * 2}, name="double")
    >>> queue.run({"x": np.arange(3)}, size=3)["y"]
    array([0, 2, 4])
"""

from __future__ import annotations

import bisect
import collections
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from serving.server.config_files import BatchingSettings
from serving.server.errors import (
    ServingError,
    deadline_exceeded,
    from_exception,
    internal,
    invalid_argument,
    unavailable,
)

log = logging.getLogger(__name__)

Arrays = dict[str, np.ndarray]


class _Task:
    """Rows of one request (or one piece of a split request) waiting for their outputs."""

    __slots__ = ("inputs", "size", "outputs", "error", "done")

    def __init__(self, inputs: Arrays, size: int):
        self.inputs = inputs
        self.size = size
        self.outputs: Arrays | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class _Batch:
    __slots__ = ("tasks", "size", "created", "closed")

    def __init__(self):
        self.tasks: list[_Task] = []
        self.size = 0
        self.created = time.monotonic()
        self.closed = False


class BatchQueue:
    """The queue of one (model version, signature). Created by `BatchScheduler.add_queue`.

    Args:
        scheduler: the scheduler whose threads run this queue's batches.
        process: runs one batch: inputs (each with the batch's rows along dimension 0) → outputs (same rows).
        on_batch: called after each model call with (rows run including padding, rows requested).
        name: for logs and messages.
    """

    def __init__(self, scheduler: BatchScheduler, process: Callable[[Arrays], Arrays], on_batch, name: str):
        self.scheduler = scheduler
        self.process = process
        self.on_batch = on_batch
        self.name = name
        self._batches: collections.deque[_Batch] = collections.deque()

    # Called with the scheduler's lock held.
    def _enqueue(self, pieces: list[_Task]) -> None:
        settings = self.scheduler.settings
        limit = settings.execution_batch_size
        open_batch = self._batches[-1] if self._batches and not self._batches[-1].closed else None
        # Count the batches these pieces would open before touching the queue, so a refusal changes nothing.
        open_size, new_batches = (open_batch.size if open_batch else None), 0
        for piece in pieces:
            if open_size is None or open_size + piece.size > limit:
                new_batches, open_size = new_batches + 1, 0
            open_size += piece.size
            if open_size >= limit:
                open_size = None
        if len(self._batches) + new_batches > settings.max_enqueued_batches:
            raise unavailable(
                f"The batch scheduling queue to which this task was submitted is full ({self.name}: "
                f"{len(self._batches)} batches enqueued, max_enqueued_batches={settings.max_enqueued_batches})."
            )
        for piece in pieces:
            if open_batch is None or open_batch.size + piece.size > limit:
                if open_batch is not None:
                    open_batch.closed = True
                open_batch = _Batch()
                self._batches.append(open_batch)
            open_batch.tasks.append(piece)
            open_batch.size += piece.size
            if open_batch.size >= limit:
                open_batch.closed = True
                open_batch = None

    def _split(self, inputs: Arrays, size: int) -> list[_Task]:
        settings = self.scheduler.settings
        if size > settings.max_batch_size:
            raise invalid_argument(
                f"Task size {size} is larger than maximum input batch size {settings.max_batch_size} "
                f"({self.name}); send at most {settings.max_batch_size} rows per request."
            )
        limit = settings.execution_batch_size
        if size <= limit:
            return [_Task(inputs, size)]
        # Large batch splitting: the first piece fills the open batch, the others are full batches.
        with self.scheduler._lock:
            open_batch = self._batches[-1] if self._batches and not self._batches[-1].closed else None
            first = limit - open_batch.size if open_batch and open_batch.size < limit else limit
        bounds = [0, *range(first, size, limit), size]
        return [_Task({k: v[a:b] for k, v in inputs.items()}, b - a) for a, b in zip(bounds, bounds[1:]) if b > a]

    def run(self, inputs: Arrays, size: int, timeout: float | None = None) -> Arrays:
        """Runs `size` rows through the model within a batch and returns their outputs.

        Raises:
            ServingError: INVALID_ARGUMENT for a request over ``max_batch_size``, UNAVAILABLE when the queue is
                full or the scheduler stopped, DEADLINE_EXCEEDED after `timeout` seconds, or the model's error.
        """
        pieces = self._split(inputs, size)
        self.scheduler._submit(self, pieces)
        deadline = None if timeout is None else time.monotonic() + timeout
        for piece in pieces:
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not piece.done.wait(remaining):
                raise deadline_exceeded(f"Deadline exceeded waiting for a batch in {self.name}.")
            if piece.error is not None:
                raise from_exception(piece.error)
        if len(pieces) == 1:
            return pieces[0].outputs
        return {key: np.concatenate([p.outputs[key] for p in pieces]) for key in pieces[0].outputs}

    @property
    def pending_batches(self) -> int:
        with self.scheduler._lock:
            return len(self._batches)


class BatchScheduler:
    """Threads that run the batches of many `BatchQueue`s, oldest ready batch first, queues in turn.

    Args:
        settings: the batching knobs (from ``--batching_parameters_file``).
    """

    def __init__(self, settings: BatchingSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queues: list[BatchQueue] = []
        self._next_queue = 0
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{settings.thread_pool_name}-{i}", daemon=True)
            for i in range(settings.num_batch_threads)
        ]
        for thread in self._threads:
            thread.start()

    def add_queue(self, process: Callable[[Arrays], Arrays], on_batch=None, name: str = "queue") -> BatchQueue:
        """A new queue whose batches `process` runs; `on_batch(rows_run, rows_requested)` sees each batch."""
        queue = BatchQueue(self, process, on_batch, name)
        with self._lock:
            self._queues.append(queue)
        return queue

    def remove_queue(self, queue: BatchQueue) -> None:
        """Forgets a queue; its waiting batches still run first."""
        with self._lock:
            while queue._batches and not self._stopping:
                self._ready.wait(0.05)
            if queue in self._queues:
                self._queues.remove(queue)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Runs the batches already queued, then stops the threads; later requests get UNAVAILABLE."""
        with self._lock:
            self._stopping = True
            self._ready.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _submit(self, queue: BatchQueue, pieces: list[_Task]) -> None:
        with self._lock:
            if self._stopping:
                raise unavailable("The batch scheduler is shutting down.")
            queue._enqueue(pieces)
            self._ready.notify()

    def _take(self) -> tuple[BatchQueue | None, _Batch | None, float | None]:
        """The next batch to run, or how long to wait for one (None: until notified). Lock held."""
        now = time.monotonic()
        timeout = self.settings.batch_timeout_micros / 1e6
        wait = None
        count = len(self._queues)
        for i in range(count):
            queue = self._queues[(self._next_queue + i) % count]
            if not queue._batches:
                continue
            batch = queue._batches[0]
            due = batch.created + timeout
            if batch.closed or now >= due or self._stopping:
                queue._batches.popleft()
                self._next_queue = (self._next_queue + i + 1) % count
                return queue, batch, None
            wait = due - now if wait is None else min(wait, due - now)
        return None, None, wait

    def _work(self) -> None:
        while True:
            with self._lock:
                while True:
                    queue, batch, wait = self._take()
                    if batch is not None:
                        # Wake a peer: more batches may be ready, and remove_queue may wait for this one.
                        self._ready.notify_all()
                        break
                    if self._stopping:
                        return
                    self._ready.wait(wait)
            self._run(queue, batch)

    def _run(self, queue: BatchQueue, batch: _Batch) -> None:
        tasks = batch.tasks
        rows = batch.size
        try:
            keys = tasks[0].inputs.keys()
            inputs = {
                k: np.concatenate([t.inputs[k] for t in tasks]) if len(tasks) > 1 else tasks[0].inputs[k] for k in keys
            }
            padded = self._padded_size(rows)
            if padded > rows:
                # TF Serving pads with copies of the first row; the extra outputs are dropped below.
                inputs = {k: np.concatenate([v, np.repeat(v[:1], padded - rows, axis=0)]) for k, v in inputs.items()}
            outputs = queue.process(inputs)
            for key, value in outputs.items():
                if value.ndim == 0 or value.shape[0] != padded:
                    raise internal(
                        f"Output '{key}' of {queue.name} has shape {list(value.shape)}, which cannot be split back "
                        f"into the {len(tasks)} requests of a batch of {padded} rows (batching splits outputs along "
                        "dimension 0)."
                    )
            offset = 0
            for task in tasks:
                task.outputs = {k: v[offset : offset + task.size] for k, v in outputs.items()}
                offset += task.size
        except BaseException as error:  # noqa: BLE001 - every waiting request must hear about the failure
            for task in tasks:
                task.error = error
            if not isinstance(error, ServingError):
                log.debug("batch of %d rows in %s failed: %s", rows, queue.name, error)
        finally:
            for task in tasks:
                task.done.set()
        if queue.on_batch is not None:
            try:
                queue.on_batch(self._padded_size(rows), rows)
            except Exception:  # noqa: BLE001 - statistics must never fail a batch
                log.exception("batch statistics callback failed")

    def _padded_size(self, rows: int) -> int:
        sizes = self.settings.allowed_batch_sizes
        if not sizes or rows == 0:
            return rows
        return sizes[min(bisect.bisect_left(sizes, rows), len(sizes) - 1)]
