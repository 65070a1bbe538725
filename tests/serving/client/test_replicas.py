"""Several replicas behind one client: targets, round-robin balancing, and a replica stopped under load."""

from __future__ import annotations

import socket
import threading
import time

import numpy as np
import pytest

from serving import EmbeddingClient, RetryPolicy
from serving.client.targets import ChannelTarget, channel_target, load_balancing_options
from tests.serving.fake_prediction_service import (
    MODEL_NAME,
    FakePredictionService,
    expected_embeddings,
    start_server,
)


def test_one_target_is_passed_through_unbalanced():
    target = channel_target("localhost:8500")
    assert target == ChannelTarget("localhost:8500", "localhost:8500", False)
    assert load_balancing_options(target, None) == {}
    assert load_balancing_options(target, "round_robin") == {"grpc.lb_policy_name": "round_robin"}


def test_a_dns_target_is_balanced_over_what_it_resolves_to():
    target = channel_target("dns:///embedder.default.svc:8500")
    assert target.replicas and target.uri == "dns:///embedder.default.svc:8500"
    assert load_balancing_options(target, None) == {"grpc.lb_policy_name": "round_robin"}
    assert channel_target("ipv4:10.0.0.1:8500,10.0.0.2:8500").replicas
    assert not channel_target("ipv4:10.0.0.1:8500").replicas


def test_a_list_of_replicas_becomes_one_address_list():
    target = channel_target(["127.0.0.1:8500", "127.0.0.2:8501", "127.0.0.1:8500"])
    assert target.uri == "ipv4:127.0.0.1:8500,127.0.0.2:8501"
    assert target.display == "127.0.0.1:8500,127.0.0.2:8501,127.0.0.1:8500"
    assert channel_target(["[::1]:1", "::2:2"]).uri == "ipv6:[::1]:1,[::2]:2"
    assert channel_target(["localhost:8500"]).uri == "localhost:8500"  # a one-item list is one server
    if socket.AF_INET in {info[0] for info in socket.getaddrinfo("localhost", 1)}:
        assert channel_target(["localhost:1", "127.0.0.3:2"]).uri.startswith("ipv4:127.0.0.1:1,")


@pytest.mark.parametrize(
    "target, message",
    [
        ([], "expected a 'host:port' string or a list of them"),
        ("  ", "expected a 'host:port' string or a list of them"),
        (["a:1", 5], "expected a 'host:port' string or a list of them"),
        (["127.0.0.1:1", "127.0.0.1"], "expected 'host:port' strings. Received: target='127.0.0.1'"),
        (["127.0.0.1:1", "127.0.0.1:99999"], "Received: target='127.0.0.1:99999'"),
        (["127.0.0.1:1", "::1:2"], "no address family in common"),
        (["127.0.0.1:1", "no-such-host.invalid:2"], "Cannot resolve the replica no-such-host.invalid:2"),
    ],
)
def test_bad_targets_are_refused_by_name(target, message):
    with pytest.raises(ValueError, match="target") as caught:
        EmbeddingClient(target, MODEL_NAME)
    assert message in str(caught.value)


def test_bad_load_balancing_is_refused():
    with pytest.raises(ValueError, match="expected one of 'round_robin', 'pick_first'. Received: load_balancing="):
        EmbeddingClient("127.0.0.1:1", MODEL_NAME, load_balancing="random")


def test_calls_are_spread_over_the_replicas(messages):
    services = [FakePredictionService(messages), FakePredictionService(messages)]
    servers = [start_server(service.handlers()) for service in services]
    try:
        targets = [f"127.0.0.1:{port}" for _, port in servers]
        with EmbeddingClient(targets, MODEL_NAME, timeout=20) as client:
            assert client.target == ",".join(targets)
            for number in range(40):
                np.testing.assert_allclose(client.embed([f"call {number}"]), expected_embeddings([f"call {number}"]))
        counts = [len(service.requests) for service in services]
        assert sum(counts) == 40 and min(counts) >= 10, counts  # round-robin: about half each
    finally:
        for server, _ in servers:
            server.stop(grace=None)


def test_a_replica_stopped_under_load_loses_no_call(messages):
    """16 callers on two replicas; one replica stops (no grace) mid-run. Every call returns the right rows."""
    services = [FakePredictionService(messages), FakePredictionService(messages)]
    for service in services:
        service.delay = 0.005
    servers = [start_server(service.handlers()) for service in services]
    targets = [f"127.0.0.1:{port}" for _, port in servers]
    stop, errors, done = threading.Event(), [], [0] * 16

    def caller(index: int) -> None:
        policy = RetryPolicy(max_attempts=20, initial_backoff=0.02, max_backoff=0.2)
        with EmbeddingClient(targets, MODEL_NAME, timeout=30, retry=policy, max_batch_size=4) as client:
            while not stop.is_set():
                texts = [f"caller {index} call {done[index]} row {row}" for row in range(6)]
                try:
                    np.testing.assert_allclose(client.embed(texts), expected_embeddings(texts))
                except Exception as error:  # noqa: BLE001 - asserted on below
                    errors.append(error)
                    return
                done[index] += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(16)]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        before = sum(done)
        servers[0][0].stop(grace=None)
        served_by_first = len(services[0].requests)
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        for server, _ in servers:
            server.stop(grace=None)
    assert errors == []
    assert before > 0 and sum(done) > before  # calls went on after the stop, on the remaining replica
    assert served_by_first > 0 and len(services[1].requests) > 0
