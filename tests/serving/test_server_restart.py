"""The embedded server killed and restarted under load: the client's retries carry every caller through.

A real `embedder serve` process is killed with SIGKILL (no graceful shutdown) while 4 callers embed, then a new
one starts on the same port. Every call must return, with every row equal to the in-process model's vector for
that input, in input order: nothing lost, nothing reordered, nothing mixed up between callers.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from serving import EmbeddingClient, RetryPolicy
from tests.helpers.paths import PROJECT_ROOT
from tests.serving.server.helpers import free_port

CALLERS = 4


def start_server(port: int, model_base_path) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "embedder",
            "serve",
            f"--port={port}",
            "--model_name=default",
            f"--model_base_path={model_base_path}",
            "--enable_batching",
            "--file_system_poll_wait_seconds=0",
        ],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    log = []
    for line in process.stderr:
        log.append(line)
        if re.search(r"Running gRPC ModelServer at 127\.0\.0\.1:\d+", line):
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process
    process.wait()
    raise AssertionError("server did not start:\n" + "".join(log))


@pytest.mark.slow
def test_callers_ride_through_a_killed_and_restarted_server(exported_models):
    embedder, version_dir = exported_models["structured"]
    port = free_port()
    servers = [start_server(port, version_dir.parent)]
    calls: list[list[tuple[float, float, list[str], np.ndarray]]] = [[] for _ in range(CALLERS)]
    errors: list[BaseException] = []
    stop = threading.Event()

    def caller(index: int) -> None:
        retry = RetryPolicy(max_attempts=200, initial_backoff=0.05, max_backoff=0.5)
        with EmbeddingClient(f"127.0.0.1:{port}", "default", timeout=120, retry=retry, max_batch_size=8) as client:
            number = 0
            while not stop.is_set():
                texts = [f"caller {index} call {number} sentence {i} {'good ' * (i % 5)}film" for i in range(20)]
                started = time.monotonic()
                try:
                    vectors = client.embed(texts)
                except Exception as error:  # noqa: BLE001 - recorded and asserted on below
                    errors.append(error)
                    return
                calls[index].append((started, time.monotonic(), texts, vectors))
                number += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(CALLERS)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        servers[0].kill()
        servers[0].wait()
        killed_at = time.monotonic()
        servers.append(start_server(port, version_dir.parent))
        restarted_at = time.monotonic()
        time.sleep(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(180)
        for server in servers:
            server.kill()
            server.wait()

    assert not errors, errors[:3]
    flat = [call for caller_calls in calls for call in caller_calls]
    carried = [c for c in flat if c[0] < killed_at and c[1] > restarted_at]
    assert carried, "no call was in flight across the restart"
    assert all(len(caller_calls) >= 2 for caller_calls in calls)
    texts = [text for call in flat for text in call[2]]
    expected = embedder.encode(texts, batch_size=256)
    np.testing.assert_allclose(np.concatenate([call[3] for call in flat]), expected, atol=1e-5)
