"""docker-compose.yml, checked without a Docker engine.

The compose service must run the official TensorFlow Serving image with its config files, and everything it
names must resolve: the flags (which `embedder serve` must accept unchanged), the files behind them through the
volume mounts (parsed with the real ModelServerConfig and with the same field names for the others), and the
model base paths (checked against tiny models exported for the test). Finally the embedded server runs that
same command line, and the compose healthcheck's own shell command is run against it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path, PurePosixPath

import grpc
import pytest
import yaml

from embedder.cli import build_parser
from embedder.cli.serve import options_from_args
from embedder.versions import numeric_versions
from serving.server.config_files import (
    read_batching_parameters,
    read_model_server_config,
    read_monitoring_config,
)
from serving.server.model_server import ModelServer
from tests.helpers.paths import PROJECT_ROOT
from tests.serving.server.helpers import Stubs, free_port, install_version, predict_request

SERVICE = "tensorflow-serving"


@pytest.fixture(scope="module")
def project(tmp_path_factory, exported_models):
    """A copy of the compose file and its config files, with a tiny model exported where `make run` puts one."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_ROOT / "docker-compose.yml", root)
    shutil.copytree(PROJECT_ROOT / "serving" / "config", root / "serving" / "config")
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    service = compose["services"][SERVICE]
    models = read_model_server_config(container_to_host(root, service, "/config/models.config"))
    for model in models.model_config_list.config:
        base = container_to_host(root, service, model.base_path)
        base.mkdir(parents=True)
        install_version(exported_models["structured"][1], base, 1)
    return root, compose


def container_to_host(root: Path, service: dict, path: str) -> Path:
    """Where a path inside the container is on the host, through the service's bind mounts."""
    best = None
    for volume in service["volumes"]:
        host, container = volume.split(":")[:2]
        if PurePosixPath(path).is_relative_to(container) and (best is None or len(container) > len(best[1])):
            best = (host, container)
    assert best is not None, f"{path} is not under any volume of {SERVICE}"
    return root / best[0] / PurePosixPath(path).relative_to(best[1])


def flags(service: dict) -> dict[str, str]:
    result = {}
    for item in service["command"]:
        assert item.startswith("--") and "=" in item, f"compose flags are written --name=value: {item!r}"
        name, value = item[2:].split("=", 1)
        result[name] = value
    return result


def test_service_runs_the_official_image_with_grpc_rest_and_the_models_mounted(project):
    _, compose = project
    service = compose["services"][SERVICE]
    assert "tensorflow/serving:" in service["image"]
    assert service["entrypoint"] == ["tensorflow_model_server"]
    assert {"127.0.0.1:8500:8500", "127.0.0.1:8501:8501"} <= set(service["ports"])
    assert "./models:/models:ro" in service["volumes"]
    given = flags(service)
    assert (given["port"], given["rest_api_port"], given["enable_batching"]) == ("8500", "8501", "true")
    assert {"model_config_file", "batching_parameters_file", "monitoring_config_file"} <= set(given)
    assert service["healthcheck"]["test"][0] == "CMD" and "/v1/models/default" in service["healthcheck"]["test"][-1]


def test_every_config_file_resolves_through_the_mounts_and_parses(project):
    root, compose = project
    service = compose["services"][SERVICE]
    given = flags(service)
    models = read_model_server_config(container_to_host(root, service, given["model_config_file"]))
    batching = read_batching_parameters(container_to_host(root, service, given["batching_parameters_file"]))
    monitoring = read_monitoring_config(container_to_host(root, service, given["monitoring_config_file"]))
    assert [m.name for m in models.model_config_list.config] == ["default"]
    assert batching.max_batch_size >= 32 and batching.num_batch_threads >= 1
    assert monitoring.prometheus_config.enable
    scrape = yaml.safe_load((root / "serving" / "config" / "prometheus.yml").read_text())["scrape_configs"][0]
    assert scrape["metrics_path"] == monitoring.prometheus_config.path
    assert scrape["static_configs"][0]["targets"] == [f"{SERVICE}:{given['rest_api_port']}"]


def test_model_base_paths_hold_servable_versions(project):
    root, compose = project
    service = compose["services"][SERVICE]
    models = read_model_server_config(container_to_host(root, service, flags(service)["model_config_file"]))
    for model in models.model_config_list.config:
        assert PurePosixPath(model.base_path).is_absolute()  # TF Serving refuses relative base paths
        base = container_to_host(root, service, model.base_path)
        versions = numeric_versions(base)
        assert versions and (base / str(versions[-1]) / "saved_model.pb").is_file()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="the healthcheck is a bash command")
def test_embedded_server_runs_the_compose_command_and_passes_its_healthcheck(project):
    root, compose = project
    service = compose["services"][SERVICE]
    given = flags(service)
    # The same command line, with each container path replaced by its host path and free ports.
    host_config = root / "host-models.config"
    text = container_to_host(root, service, given["model_config_file"]).read_text()
    for model in read_model_server_config(
        container_to_host(root, service, given["model_config_file"])
    ).model_config_list.config:
        text = text.replace(f'"{model.base_path}"', f'"{container_to_host(root, service, model.base_path)}"')
    host_config.write_text(text)
    rest_port = free_port()
    command = []
    for name, value in given.items():
        if name == "port":
            value = "0"
        elif name == "rest_api_port":
            value = str(rest_port)
        elif name == "model_config_file":
            value = str(host_config)
        elif value.startswith("/"):
            value = str(container_to_host(root, service, value))
        command.append(f"--{name}={value}")
    options = options_from_args(build_parser().parse_args(["serve", *command]))
    with ModelServer(options).start() as server, grpc.insecure_channel(server.target) as channel:
        response = Stubs(channel).prediction.Predict(predict_request("default", ["a good film"]), timeout=30)
        assert response.model_spec.name == "default"
        healthcheck = service["healthcheck"]["test"][-1].replace("127.0.0.1/8501", f"127.0.0.1/{rest_port}")
        assert subprocess.run(["bash", "-c", healthcheck], timeout=30).returncode == 0
        unhealthy = healthcheck.replace("/v1/models/default", "/v1/models/missing")
        assert subprocess.run(["bash", "-c", unhealthy], timeout=30).returncode != 0
