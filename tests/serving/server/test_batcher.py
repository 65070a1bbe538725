"""The batch scheduler: merging, splitting back, queue limits and TF Serving's batching knobs.

The "model" here is a numpy function that records the batches it ran: these tests are about scheduling, and
the served-model tests (test_prediction_service.py) run the same scheduler on real SavedModels.
"""

from __future__ import annotations

import threading
import time

import grpc
import numpy as np
import pytest

from serving.server.batcher import BatchScheduler
from serving.server.config_files import BatchingSettings
from serving.server.errors import ServingError


class RecordingModel:
    """y = 10·x, sleeping `delay` seconds per call so that concurrent requests pile up meanwhile."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.batch_sizes: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, inputs):
        with self.lock:
            self.batch_sizes.append(len(inputs["x"]))
        time.sleep(self.delay)
        return {"y": inputs["x"] * 10, "first": np.repeat(inputs["x"][:1], len(inputs["x"]))}


def run_concurrently(fn, count: int) -> list:
    results: list = [None] * count
    barrier = threading.Barrier(count)

    def call(i):
        barrier.wait()
        try:
            results[i] = fn(i)
        except ServingError as error:
            results[i] = error

    threads = [threading.Thread(target=call, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


@pytest.fixture
def make_queue():
    schedulers = []

    def make(model, **settings):
        scheduler = BatchScheduler(BatchingSettings(**settings))
        schedulers.append(scheduler)
        return scheduler.add_queue(model, name="test queue")

    yield make
    for scheduler in schedulers:
        scheduler.shutdown()


def test_concurrent_requests_run_as_fewer_larger_batches_and_get_their_own_rows(make_queue):
    model = RecordingModel(delay=0.02)
    queue = make_queue(model, max_batch_size=16, batch_timeout_micros=5000, num_batch_threads=1)
    results = run_concurrently(lambda i: queue.run({"x": np.array([i, i + 100])}, size=2), 24)
    for i, outputs in enumerate(results):
        np.testing.assert_array_equal(outputs["y"], [10 * i, 10 * (i + 100)])
    assert sum(model.batch_sizes) == 48
    assert len(model.batch_sizes) <= 6, model.batch_sizes  # 24 requests of 2 rows, at most 16 rows a batch
    assert max(model.batch_sizes) == 16


def test_timeout_zero_batches_what_arrives_while_the_thread_is_busy(make_queue):
    model = RecordingModel(delay=0.05)
    queue = make_queue(model, max_batch_size=64, batch_timeout_micros=0, num_batch_threads=1)
    results = run_concurrently(lambda i: queue.run({"x": np.array([i])}, size=1), 20)
    assert [r["y"][0] for r in results] == [10 * i for i in range(20)]
    assert len(model.batch_sizes) < 20 and max(model.batch_sizes) > 1, model.batch_sizes


def test_an_unfilled_batch_waits_for_the_timeout_then_runs(make_queue):
    model = RecordingModel()
    queue = make_queue(model, max_batch_size=8, batch_timeout_micros=150_000, num_batch_threads=1)
    started = time.monotonic()
    queue.run({"x": np.array([1, 2])}, size=2)
    assert 0.14 <= time.monotonic() - started < 2.0
    assert model.batch_sizes == [2]


def test_a_full_batch_runs_without_waiting_for_the_timeout(make_queue):
    model = RecordingModel()
    queue = make_queue(model, max_batch_size=4, batch_timeout_micros=5_000_000, num_batch_threads=1)
    started = time.monotonic()
    queue.run({"x": np.arange(4)}, size=4)
    assert time.monotonic() - started < 1.0


def test_request_over_max_batch_size_is_invalid_argument(make_queue):
    queue = make_queue(RecordingModel(), max_batch_size=4)
    with pytest.raises(ServingError, match="Task size 5 is larger than maximum input batch size 4") as caught:
        queue.run({"x": np.arange(5)}, size=5)
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_full_queue_is_unavailable_and_the_queued_requests_still_complete(make_queue):
    model = RecordingModel(delay=0.3)
    queue = make_queue(model, max_batch_size=2, max_enqueued_batches=2, num_batch_threads=1)
    results = run_concurrently(lambda i: queue.run({"x": np.array([i, i])}, size=2), 8)
    refused = [r for r in results if isinstance(r, ServingError)]
    served = [r for r in results if not isinstance(r, ServingError)]
    assert refused and all(e.code == grpc.StatusCode.UNAVAILABLE for e in refused)
    assert "queue to which this task was submitted is full" in refused[0].message
    assert len(served) >= 2
    assert sum(model.batch_sizes) == 2 * len(served)


def test_allowed_batch_sizes_pad_with_the_first_row_and_drop_the_padding(make_queue):
    model = RecordingModel()
    queue = make_queue(model, max_batch_size=8, allowed_batch_sizes=(2, 4, 8), num_batch_threads=1)
    outputs = queue.run({"x": np.array([7, 8, 9])}, size=3)
    assert model.batch_sizes == [4]
    np.testing.assert_array_equal(outputs["y"], [70, 80, 90])


def test_large_batch_splitting_runs_pieces_and_reassembles_them_in_order(make_queue):
    model = RecordingModel()
    queue = make_queue(
        model, max_batch_size=100, enable_large_batch_splitting=True, max_execution_batch_size=8, num_batch_threads=2
    )
    outputs = queue.run({"x": np.arange(30)}, size=30)
    np.testing.assert_array_equal(outputs["y"], np.arange(30) * 10)
    assert max(model.batch_sizes) <= 8 and sum(model.batch_sizes) == 30


def test_empty_request_gets_empty_outputs(make_queue):
    queue = make_queue(RecordingModel(), max_batch_size=4)
    assert queue.run({"x": np.zeros(0, dtype=np.int64)}, size=0)["y"].shape == (0,)


def test_model_error_reaches_every_request_of_the_batch(make_queue):
    def failing(inputs):
        time.sleep(0.05)
        raise ServingError(grpc.StatusCode.INVALID_ARGUMENT, "bad rows")

    queue = make_queue(failing, max_batch_size=16, batch_timeout_micros=20_000, num_batch_threads=1)
    results = run_concurrently(lambda i: queue.run({"x": np.array([i])}, size=1), 6)
    assert all(isinstance(r, ServingError) and r.message == "bad rows" for r in results)


def test_outputs_that_cannot_be_split_are_an_internal_error_not_a_hang(make_queue):
    queue = make_queue(lambda inputs: {"y": np.zeros(1)}, max_batch_size=8)
    with pytest.raises(ServingError, match="cannot be split back") as caught:
        queue.run({"x": np.arange(3)}, size=3, timeout=5)
    assert caught.value.code == grpc.StatusCode.INTERNAL


def test_deadline_exceeded_while_waiting(make_queue):
    queue = make_queue(RecordingModel(delay=0.5), max_batch_size=1, num_batch_threads=1)
    threading.Thread(target=queue.run, args=({"x": np.array([1])}, 1)).start()
    time.sleep(0.05)
    with pytest.raises(ServingError) as caught:
        queue.run({"x": np.array([2])}, size=1, timeout=0.1)
    assert caught.value.code == grpc.StatusCode.DEADLINE_EXCEEDED


def test_queues_share_the_scheduler_threads():
    scheduler = BatchScheduler(BatchingSettings(max_batch_size=4, num_batch_threads=1))
    try:
        first, second = RecordingModel(), RecordingModel()
        queue_a = scheduler.add_queue(first, name="a")
        queue_b = scheduler.add_queue(second, name="b")
        assert queue_a.run({"x": np.array([1])}, 1)["y"][0] == 10
        assert queue_b.run({"x": np.array([2])}, 1)["y"][0] == 20
        assert first.batch_sizes == [1] and second.batch_sizes == [1]
        scheduler.remove_queue(queue_a)
        assert queue_b.run({"x": np.array([3])}, 1)["y"][0] == 30
    finally:
        scheduler.shutdown()
    with pytest.raises(ServingError) as caught:
        queue_b.run({"x": np.array([4])}, 1)
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
