"""Data parallelism for real, without a GPU: MirroredStrategy over two logical CPU devices, and two
MultiWorkerMirroredStrategy workers on loopback, each agreeing with a single-device run."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.keyword_task import keyword_config
from training.distribution import resolve_distribution, select_strategy

RUNNER = str(Path(__file__).with_name("distributed_runner.py"))
PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


def test_auto_choice_reads_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_distribution("auto") == "none"  # no GPU here
    cluster = {"cluster": {"worker": ["localhost:1", "localhost:2"]}, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(cluster))
    assert resolve_distribution("auto") == "multi_worker"
    assert resolve_distribution("none") == "none"
    with pytest.raises(ValueError, match=r"argument `distribution`.*Received: distribution='tpu'"):
        resolve_distribution("tpu")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ValueError, match="TF_CONFIG is not a JSON object"):
        resolve_distribution("auto")
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="needs the TF_CONFIG environment variable"):
        select_strategy("multi_worker")


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _weights(archive, prefix):
    return [archive[f"{prefix}/w{i}"] for i in range(sum(k.startswith(f"{prefix}/w") for k in archive.files))]


@pytest.mark.slow
def test_mirrored_and_multi_worker_runs_agree_with_one_device(small_keyword_files, tmp_path):
    # No dropout: the replicas' random streams differ from a single device's, everything else must agree. The
    # encoder does not matter to the strategies; the Transformer traces several times faster than an LSTM. SGD with
    # a large rate: its gradients exceed `clipnorm` (1.0), and clipping must act on the sum over replicas (Keras
    # clips each replica's part; see training.loop), and, unlike Adam's g / sqrt(v), SGD's step shows a gradient's
    # scale, so a wrong sum or average over replicas cannot hide.
    config = keyword_config(
        small_keyword_files,
        "transformer",
        epochs=2,
        batch_size=32,
        optimizer="sgd",
        learning_rate=0.3,
        encoder=dict(hidden_dim=8, num_heads=2, num_layers=1, intermediate_dim=16, dropout=0.0),
    )
    probe = [text for _, text, _ in small_keyword_files["test"][:16]]
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"config": config.to_dict(), "probe": probe}))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=PROJECT_ROOT)
    env.pop("TF_CONFIG", None)
    logical = subprocess.Popen(
        [sys.executable, RUNNER, "logical", str(settings), str(tmp_path / "logical.npz")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        worker_env = dict(env, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    RUNNER,
                    "worker",
                    str(settings),
                    str(tmp_path / f"worker{index}.npz"),
                    str(tmp_path / f"worker{index}.run"),
                ],
                env=worker_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    outputs = []
    try:
        for process in [logical, *workers]:
            output, _ = process.communicate(timeout=300)
            outputs.append(output.decode(errors="replace")[-3000:])
    finally:
        for process in [logical, *workers]:
            if process.poll() is None:
                process.kill()
    for process, output in zip([logical, *workers], outputs):
        assert process.returncode == 0, output

    logical_out = np.load(tmp_path / "logical.npz")
    assert int(logical_out["replicas"]) == 2
    single = _weights(logical_out, "single")
    runs = {"mirrored": _weights(logical_out, "mirrored")}
    for index in range(2):
        runs[f"worker {index}"] = _weights(np.load(tmp_path / f"worker{index}.npz"), "multi_worker")
    for name, weights in runs.items():
        assert len(weights) == len(single), name
        for a, b in zip(weights, single):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4, err_msg=name)
    np.testing.assert_allclose(logical_out["mirrored/probabilities"], logical_out["single/probabilities"], atol=1e-4)
    worker_probabilities = np.load(tmp_path / "worker0.npz")["multi_worker/probabilities"]
    np.testing.assert_allclose(worker_probabilities, logical_out["single/probabilities"], atol=1e-4)
    assert not np.allclose(single[0], 0)  # the runs did train something
