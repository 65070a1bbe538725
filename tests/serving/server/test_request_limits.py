"""Request limits of the embedded server: declared shapes checked against the values sent and against the
limits before anything is allocated, long texts truncated or refused, and memory that stays flat under a stream
of tiny requests declaring huge shapes.

The stream test runs 2 s by default; the issue's full version (16 callers for 30 s) is
``EMBEDDER_OVERSIZED_LOAD_SECONDS=30 pytest tests/serving/server/test_request_limits.py -k stream``.
"""

from __future__ import annotations

import os
import threading
import time

import grpc
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2, types_pb2

from embedder import contract
from serving.server.config_files import BatchingSettings, ConfigError
from serving.server.errors import ServingError
from serving.server.model_server import ModelServer, ServerOptions
from serving.server.request_limits import REFUSE, TRUNCATE, RequestLimits, truncate_utf8
from serving.server.tensors import to_ndarray
from tests.serving.server.helpers import Stubs, output, predict_request, rpc_error, string_tensor

#: The bound the stream test holds the process's resident memory to, above its level before the stream.
RSS_BOUND_BYTES = 100 * 1024 * 1024
SMALL_LIMITS = dict(max_rows_per_request=16, max_text_bytes=100, max_request_bytes=1000)


# ------------------------------------------------------------------------------------------------- units
def test_truncate_utf8_never_splits_a_character():
    text = "ab\u00e9\u20ac\U0001f600".encode()  # 1, 1, 2, 3 and 4 bytes
    assert [len(truncate_utf8(text, n)) for n in range(12)] == [0, 1, 2, 2, 4, 4, 4, 7, 7, 7, 7, 11]
    assert truncate_utf8(b"\xff\xfe\xfd", 2) == b"\xff\xfe"  # not UTF-8 at all: cut where asked
    assert truncate_utf8(b"short", 100) == b"short"


def test_invalid_limits_name_the_flag():
    with pytest.raises(ValueError, match="expected a positive integer. Received: max_text_bytes=0"):
        RequestLimits(max_text_bytes=0)
    with pytest.raises(ValueError, match="expected one of 'truncate', 'refuse'. Received: text_length_mode='cut'"):
        RequestLimits(text_length_mode="cut")
    with pytest.raises(ConfigError, match="flag `--max_rows_per_request`"):
        ServerOptions(model_base_path="models/x", max_rows_per_request=-1)


def _float_tensor(shape, values=(), content: bytes = b"") -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_content=content)
    for size in shape:
        proto.tensor_shape.dim.add(size=size)
    proto.float_val.extend(values)
    return proto


def _error(proto, dtype=types_pb2.DT_FLOAT, limits=None) -> ServingError:
    with pytest.raises(ServingError) as caught:
        to_ndarray(proto, "x", "sig", dtype, [-1], limits or RequestLimits())
    return caught.value


def test_numeric_tensors_are_checked_against_the_values_they_carry_before_allocation():
    # 4 bytes of content declaring 2**40 floats: refused by the byte limit, not allocated (4 TiB).
    error = _error(_float_tensor([2**40], content=b"\0" * 4), limits=RequestLimits(max_rows_per_request=2**41))
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"holds {2**42} bytes of values" in error.message and "(--max_request_bytes)" in error.message
    error = _error(_float_tensor([10], content=b"\0" * 8))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "shape [10] holds 10 values (40 bytes) but tensor_content has 8 bytes" in error.message
    error = _error(_float_tensor([5], values=[1.0, 2.0, 3.0]))
    assert "shape [5] holds 5 values but the request sent 3" in error.message
    # One value fills the shape (what tf.make_tensor_proto sends for a scalar), within the limits.
    filled = to_ndarray(_float_tensor([5], values=[2.5]), "x", "sig", types_pb2.DT_FLOAT, [-1])
    np.testing.assert_array_equal(filled, np.full(5, 2.5, np.float32))


def test_string_tensors_are_checked_against_rows_values_and_bytes():
    limits = RequestLimits(**SMALL_LIMITS, text_length_mode=REFUSE)
    tensor = string_tensor(["a"])
    tensor.tensor_shape.dim[0].size = 2**62
    error = _error(tensor, types_pb2.DT_STRING, limits)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "over the limit of 16 rows per request (--max_rows_per_request)" in error.message
    tensor.tensor_shape.dim[0].size = 16  # 16 rows of one 99-byte value: 1584 bytes once filled
    tensor.string_val[0] = b"x" * 99
    error = _error(tensor, types_pb2.DT_STRING, limits)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "holds 1584 bytes of values (shape [16]), over the limit of 1000 bytes per request" in error.message
    error = _error(string_tensor(["ok", "y" * 101]), types_pb2.DT_STRING, limits)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "value 1 is 101 bytes, over the limit of 100 bytes per text (--max_text_bytes" in error.message
    truncated = to_ndarray(
        string_tensor(["ok", "y" * 101]), "x", "sig", types_pb2.DT_STRING, [-1], RequestLimits(**SMALL_LIMITS)
    )
    assert truncated.tolist() == [b"ok", b"y" * 100]


# -------------------------------------------------------------------------------------------- over gRPC
def _serve(version_dir, **options) -> ModelServer:
    return ModelServer(
        ServerOptions(
            port=0,
            model_name="limited",
            model_base_path=str(version_dir.parent),
            file_system_poll_wait_seconds=0,
            enable_model_warmup=False,
            **options,
        )
    ).start()


@pytest.mark.parametrize("mode", [TRUNCATE, REFUSE])
def test_long_texts_are_truncated_or_refused_as_configured(exported_models, mode):
    embedder, version_dir = exported_models["structured"]
    # Under 12 tokens in the first 100 bytes, so cutting the text there changes its embedding.
    head = "a good film" + " " * 89
    text = head + "the plot was dull and the acting worse"
    with _serve(version_dir, **SMALL_LIMITS, text_length_mode=mode) as server:
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs(channel)
            request = predict_request("limited", ["who wrote hamlet ?", text])
            if mode == TRUNCATE:
                vectors = output(stubs.prediction.Predict(request, timeout=30))
                np.testing.assert_allclose(vectors, embedder.encode(["who wrote hamlet ?", head]), atol=1e-5)
                assert not np.allclose(vectors[1], embedder.encode([text])[0], atol=1e-3)
            else:
                error = rpc_error(stubs.prediction.Predict, request, timeout=30)
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "value 1 is 138 bytes, over the limit of 100 bytes per text (--max_text_bytes" in (
                    error.details()
                )
            error = rpc_error(stubs.prediction.Predict, predict_request("limited", ["word " * 40] * 10), timeout=30)
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "over the limit of 1000 bytes per request (--max_request_bytes)" in error.details()
            error = rpc_error(stubs.prediction.Predict, predict_request("limited", ["a"] * 17), timeout=30)
            assert "Input 'text' has 17 rows (shape [17]), over the limit of 16 rows per request" in error.details()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _oversized_requests():
    """Tiny requests (under 60 bytes of tensor) that declare millions of rows, or 2**62."""
    requests = []
    for rows, texts in ((4_000_000, ["a"]), (4_000_000, ["a", "b"]), (2**62, [])):
        request = predict_request("limited", texts)
        request.inputs[contract.INPUT_TEXT].tensor_shape.dim[0].size = rows
        requests.append(request)
    return requests


def test_stream_of_oversized_shape_requests_keeps_memory_flat_and_others_answered(exported_models):
    embedder, version_dir = exported_models["structured"]
    seconds = float(os.environ.get("EMBEDDER_OVERSIZED_LOAD_SECONDS", "2"))
    texts = ["a good film", "who wrote hamlet ?"]
    expected = embedder.encode(texts)
    batching = BatchingSettings(max_batch_size=64, batch_timeout_micros=1000, num_batch_threads=2)
    with _serve(version_dir, enable_batching=True, batching_settings=batching) as server:
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs(channel)
            oversized = _oversized_requests()
            for request in oversized:  # warm the threads and channels before measuring
                assert rpc_error(stubs.prediction.Predict, request, timeout=30).code() == (
                    grpc.StatusCode.INVALID_ARGUMENT
                )
            stubs.prediction.Predict(predict_request("limited", texts), timeout=30)
            baseline = peak = _rss_bytes()
            stop = threading.Event()
            refused, answered, failures = [0] * 16, [], []

            def attacker(index: int) -> None:
                while not stop.is_set():
                    try:
                        stubs.prediction.Predict(oversized[(index + refused[index]) % len(oversized)], timeout=30)
                        failures.append("an oversized request was answered")
                    except grpc.RpcError as error:
                        if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                            failures.append(f"{error.code()}: {error.details()}")
                    refused[index] += 1

            def caller() -> None:
                while not stop.is_set():
                    try:
                        response = stubs.prediction.Predict(predict_request("limited", texts), timeout=5)
                        answered.append(output(response))
                    except grpc.RpcError as error:
                        failures.append(f"well-formed request: {error.code()}: {error.details()}")

            threads = [threading.Thread(target=attacker, args=(i,)) for i in range(16)]
            threads.append(threading.Thread(target=caller))
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                peak = max(peak, _rss_bytes())
                time.sleep(0.01)
            stop.set()
            for thread in threads:
                thread.join(60)
    growth = peak - baseline
    print(f"{sum(refused)} oversized requests refused, {len(answered)} answered, RSS growth {growth / 2**20:.1f} MiB")
    assert not failures, failures[:3]
    assert sum(refused) > 16 and len(answered) >= 3
    for vectors in answered:
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
    assert growth < RSS_BOUND_BYTES, f"RSS grew by {growth / 2**20:.0f} MiB"
