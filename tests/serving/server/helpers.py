"""Helpers for the embedded-server tests: requests built from TF Serving's own messages, and waiting."""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from pathlib import Path

import grpc
import numpy as np
import tensorflow as tf
from grpc_health.v1 import health_pb2_grpc
from tensorflow.core.framework import tensor_pb2, types_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from embedder import contract


def string_tensor(texts) -> tensor_pb2.TensorProto:
    """A rank-1 DT_STRING TensorProto (str items are UTF-8 encoded, bytes pass as they are)."""
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING)
    proto.tensor_shape.dim.add(size=len(texts))
    proto.string_val.extend(t.encode("utf-8") if isinstance(t, str) else t for t in texts)
    return proto


def predict_request(model: str, texts, signature: str = "", version: int | None = None, label: str = ""):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    request.inputs[contract.INPUT_TEXT].CopyFrom(string_tensor(texts))
    return request


def output(response, name: str = contract.OUTPUT_EMBEDDING) -> np.ndarray:
    return tf.make_ndarray(response.outputs[name])


class Stubs:
    """The three gRPC services of a server, on one channel."""

    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.prediction = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        self.model = model_service_pb2_grpc.ModelServiceStub(channel)
        self.health = health_pb2_grpc.HealthStub(channel)

    def status(self, model: str, timeout: float = 10.0) -> dict[int, tuple[str, str]]:
        """{version: (state name, error message)} from GetModelStatus."""
        request = get_model_status_pb2.GetModelStatusRequest()
        request.model_spec.name = model
        response = self.model.GetModelStatus(request, timeout=timeout)
        return {
            s.version: (get_model_status_pb2.ModelVersionStatus.State.Name(s.state), s.status.error_message)
            for s in response.model_version_status
        }


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    """The RpcError `call` raises (fails the test if it returns)."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{call} returned instead of failing")


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Polls `predicate` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def install_version(source_version_dir: Path, model_base_path: Path, version: int) -> Path:
    """Copies an exported version in as `version`, atomically (copy beside it, then rename), as export does."""
    staging = model_base_path / f".tmp-copy-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source_version_dir, staging)
    target = model_base_path / str(version)
    os.rename(staging, target)
    return target
