"""Model versions under a running server: swaps under load, broken versions, warm-up, config reloads.

One server (in this process) watches two model base paths in temporary directories that the tests write
versions into, as a training job or a deployment would.
"""

from __future__ import annotations

import collections
import os
import shutil
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2
from tensorflow_serving.apis import model_management_pb2, predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from embedder import contract
from serving.server.model_server import ModelServer, ServerOptions
from tests.helpers.models import make_tiny_embedder
from tests.serving.server.helpers import Stubs, install_version, output, predict_request, rpc_error, wait_for

POLL_SECONDS = 0.2
TEXTS = [["a good film", "who wrote hamlet ?"], ["the plot was dull", ""], ["how far is the moon from the earth ?"]]


@pytest.fixture(scope="module")
def second_model(exported_models):
    """Another exported model to install as later versions: (embedder, version_dir)."""
    return exported_models["classic"]


@pytest.fixture(scope="module")
def lifecycle(exported_models, tmp_path_factory):
    root = tmp_path_factory.mktemp("lifecycle")
    first_dir = exported_models["structured"][1]
    for name in ("swap", "faulty"):
        (root / name).mkdir()
        install_version(first_dir, root / name, 1)
    (root / "models.config").write_text(
        'model_config_list { config { name: "swap" base_path: "swap" } config { name: "faulty" base_path: "faulty" } }'
    )
    options = ServerOptions(
        port=0,
        model_config_file=str(root / "models.config"),
        file_system_poll_wait_seconds=POLL_SECONDS,
        max_num_load_retries=1,
        load_retry_interval_micros=100_000,
        enable_batching=True,
    )
    server = ModelServer(options).start()
    channel = grpc.insecure_channel(server.target)
    yield server, Stubs(channel), root
    channel.close()
    server.stop()


def _expected(embedder) -> list[np.ndarray]:
    return [embedder.encode(texts) for texts in TEXTS]


def test_new_version_swaps_in_under_load_without_failed_or_mixed_answers(lifecycle, exported_models, tiny_vocabulary):
    server, stubs, root = lifecycle
    expected = {1: _expected(exported_models["structured"][0])}
    new_embedder = make_tiny_embedder("structured", tiny_vocabulary, seed=2)
    expected[2] = _expected(new_embedder)
    answers: list[list[tuple[float, float, int, int, np.ndarray]]] = [[] for _ in range(16)]
    failures: list[BaseException] = []
    stop = threading.Event()

    def caller(index: int) -> None:
        i = index
        while not stop.is_set():
            sent = time.monotonic()
            try:
                response = stubs.prediction.Predict(predict_request("swap", TEXTS[i % len(TEXTS)]), timeout=30)
            except grpc.RpcError as error:
                failures.append(error)
                return
            answers[index].append(
                (sent, time.monotonic(), i % len(TEXTS), response.model_spec.version.value, output(response))
            )
            i += 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(16)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        new_embedder.export(root / "swap", version=2)  # written beside the served version, then renamed in
        wait_for(lambda: any(a[3] == 2 for caller in answers for a in caller), timeout=60, what="version 2 answers")
        time.sleep(1.0)
        # The full version runs 20 s of load: EMBEDDER_SWAP_LOAD_SECONDS=20 pytest -k swaps_in_under_load
        time.sleep(max(0.0, started + float(os.environ.get("EMBEDDER_SWAP_LOAD_SECONDS", "0")) - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    assert not failures, failures[:3]
    flat = [a for caller in answers for a in caller]
    assert len(flat) > 100 and {a[3] for a in flat} == {1, 2}
    for _, _, which, version, vectors in flat:
        np.testing.assert_allclose(vectors, expected[version][which], atol=1e-5)
    # Once a version-2 answer came back, no request sent after it was answered by version 1.
    first_new = min(received for _, received, _, version, _ in flat if version == 2)
    assert all(version == 2 for sent, _, _, version, _ in flat if sent > first_new)
    for caller_answers in answers:
        versions = [a[3] for a in caller_answers]
        assert versions == sorted(versions)  # each caller saw 1 … 1 2 … 2
    wait_for(lambda: stubs.status("swap") == {2: ("AVAILABLE", ""), 1: ("END", "")}, timeout=30, what="v1 unloaded")
    assert rpc_error(stubs.prediction.Predict, predict_request("swap", ["a"], version=1)).code() == (
        grpc.StatusCode.NOT_FOUND
    )


def _write_bad_warmup(version_dir):
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "no_such_signature"
    request.inputs[contract.INPUT_TEXT].CopyFrom(tf.make_tensor_proto(["warm"]))
    path = version_dir / contract.ASSETS_EXTRA_DIR / contract.WARMUP_FILE
    with tf.io.TFRecordWriter(str(path)) as writer:
        log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
        writer.write(log.SerializeToString())


def test_broken_versions_are_reported_while_the_old_one_serves_until_a_good_one_arrives(
    lifecycle, exported_models, second_model, tmp_path
):
    server, stubs, root = lifecycle
    first_embedder, first_dir = exported_models["structured"]
    base = root / "faulty"

    # Version 2: a truncated saved_model.pb (a copy cut short).
    staging = tmp_path / "truncated"
    shutil.copytree(first_dir, staging)
    data = (staging / "saved_model.pb").read_bytes()
    (staging / "saved_model.pb").write_bytes(data[: len(data) // 2])
    staging.rename(base / "2")
    status = wait_for(lambda: (s := stubs.status("faulty")).get(2, ("",))[0] == "END" and s, what="v2 to fail")
    assert status[1] == ("AVAILABLE", "")
    assert "Failed to load servable version {name: faulty version: 2}" in status[2][1]
    response = stubs.prediction.Predict(predict_request("faulty", TEXTS[0]), timeout=30)
    assert response.model_spec.version.value == 1
    np.testing.assert_allclose(output(response), first_embedder.encode(TEXTS[0]), atol=1e-5)

    # Version 3: loads, but its warm-up request fails, so it never becomes AVAILABLE.
    staging = install_version(second_model[1], tmp_path, 3)
    _write_bad_warmup(staging)
    staging.rename(base / "3")
    status = wait_for(lambda: (s := stubs.status("faulty")).get(3, ("",))[0] == "END" and s, what="v3 to fail")
    assert "Warm-up request 1" in status[3][1] and 'Serving signature key "no_such_signature" not found' in status[3][1]
    assert stubs.prediction.Predict(predict_request("faulty", ["a"]), timeout=30).model_spec.version.value == 1

    # Version 4: good; it takes over and version 1 is unloaded.
    install_version(second_model[1], base, 4)
    wait_for(lambda: stubs.status("faulty").get(1, ("",))[0] == "END", timeout=60, what="v4 to replace v1")
    # Before any request reached it, version 4 had run its warm-up file: one request of 3 sentences per signature.
    (servable,) = [s for s in server.manager.loaded_servables() if s.model_name == "faulty"]
    assert servable.version == 4
    assert servable.batch_sizes == {name: collections.Counter({3: 1}) for name in contract.SIGNATURE_OUTPUTS}
    response = stubs.prediction.Predict(predict_request("faulty", TEXTS[0]), timeout=30)
    assert response.model_spec.version.value == 4
    np.testing.assert_allclose(output(response), second_model[0].encode(TEXTS[0]), atol=1e-5)


def test_reload_config_adds_and_removes_models(lifecycle, second_model):
    server, stubs, root = lifecycle
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(name="faulty", base_path=str(root / "faulty"))
    config.model_config_list.config.add(name="added", base_path=str(second_model[1].parent))
    response = stubs.model.HandleReloadConfigRequest(
        model_management_pb2.ReloadConfigRequest(config=config), timeout=60
    )
    assert response.status.error_code == 0, response.status.error_message
    assert stubs.status("added") == {1: ("AVAILABLE", "")}
    assert stubs.prediction.Predict(predict_request("added", ["a"]), timeout=30).model_spec.name == "added"
    error = rpc_error(stubs.prediction.Predict, predict_request("swap", ["a"]))
    assert error.code() == grpc.StatusCode.NOT_FOUND and "models served: ['added', 'faulty']" in error.details()

    bad = model_server_config_pb2.ModelServerConfig()
    bad.model_config_list.config.add(name="x")
    response = stubs.model.HandleReloadConfigRequest(model_management_pb2.ReloadConfigRequest(config=bad), timeout=10)
    assert response.status.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "has no base_path" in response.status.error_message


def test_restart_onto_a_corrupt_newest_version_serves_the_newest_version_that_loads(
    exported_models, second_model, tmp_path, caplog
):
    first_embedder, first_dir = exported_models["structured"]
    base = tmp_path / "restarted"
    base.mkdir()
    install_version(first_dir, base, 1)
    install_version(second_model[1], base, 2)
    (install_version(first_dir, base, 3) / "saved_model.pb").write_bytes(b"")  # corrupt, and the newest
    config = tmp_path / "models.config"
    config.write_text(
        'model_config_list { config { name: "one" base_path: "restarted" } '
        'config { name: "two" base_path: "restarted" model_version_policy { latest { num_versions: 2 } } } }'
    )
    options = ServerOptions(
        port=0, model_config_file=str(config), file_system_poll_wait_seconds=0, enable_model_warmup=False
    )
    with caplog.at_level("ERROR", logger="serving.server.model_manager"), ModelServer(options).start() as server:
        with grpc.insecure_channel(server.target) as channel:
            stubs = Stubs(channel)
            # latest (1): version 3 fails, version 2 stands in for it.
            status = stubs.status("one")
            assert status[3][0] == "END" and "Failed to load servable version {name: one version: 3}" in status[3][1]
            assert status[2] == ("AVAILABLE", "") and 1 not in status
            response = stubs.prediction.Predict(predict_request("one", TEXTS[0]), timeout=30)
            assert response.model_spec.version.value == 2
            np.testing.assert_allclose(output(response), second_model[0].encode(TEXTS[0]), atol=1e-5)
            # latest (2): versions 3 and 2 aspired, 3 fails, so 2 and 1 serve.
            status = stubs.status("two")
            assert (status[3][0], status[2], status[1]) == ("END", ("AVAILABLE", ""), ("AVAILABLE", ""))
            response = stubs.prediction.Predict(predict_request("two", TEXTS[0], version=1), timeout=30)
            np.testing.assert_allclose(output(response), first_embedder.encode(TEXTS[0]), atol=1e-5)
            health = stubs.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert "Model one: version(s) [3] failed to load; serving the newest older version(s) that load, [2]" in (
        caplog.text
    )
