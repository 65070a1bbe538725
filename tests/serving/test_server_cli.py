"""`embedder serve`: tensorflow_model_server's flags, TLS, import hygiene and a clean shutdown."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from embedder.cli import CommandError, build_parser
from embedder.cli.serve import options_from_args
from serving.server.model_server import ServerOptions
from tests.helpers.paths import PROJECT_ROOT
from tests.serving.serve_runner import ALLOWED_EMBEDDER
from tests.serving.server.helpers import Stubs, output, predict_request, rpc_error

RUNNER = Path(__file__).with_name("serve_runner.py")


def _parse(*flags):
    return build_parser().parse_args(["serve", *flags])


def test_a_tensorflow_model_server_command_line_parses_unchanged():
    args = _parse(
        "--port=8500",
        "--rest_api_port=8501",
        "--model_config_file=/models/models.config",
        "--model_config_file_poll_wait_seconds=60",
        "--enable_batching=true",
        "--batching_parameters_file=/config/batching.config",
        "--file_system_poll_wait_seconds=5",
        "--monitoring_config_file=/config/monitoring.config",
        "--grpc_channel_arguments=grpc.max_connection_age_ms=60000",
        "--tensorflow_session_parallelism=2",
        "--rest_api_timeout_in_ms=30000",
        "--enable_model_warmup=false",
        "--max_num_load_retries",
        "2",
    )
    assert options_from_args(args) == ServerOptions(
        port=8500,
        rest_api_port=8501,
        model_config_file="/models/models.config",
        model_config_file_poll_wait_seconds=60,
        enable_batching=True,
        batching_parameters_file="/config/batching.config",
        file_system_poll_wait_seconds=5,
        monitoring_config_file="/config/monitoring.config",
        grpc_channel_arguments="grpc.max_connection_age_ms=60000",
        enable_model_warmup=False,
        max_num_load_retries=2,
    )


def test_defaults_bind_loopback_and_a_bare_boolean_flag_means_true():
    options = options_from_args(_parse("--model_base_path=/m", "--enable_batching"))
    assert (options.host, options.port, options.enable_batching, options.model_name) == (
        "127.0.0.1",
        8500,
        True,
        "default",
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--model_base_path=/m", "--batching_parameters_file=b.config"], "without setting --enable_batching"),
        (["--port=8500"], "Both --model_base_path and --model_config_file are empty"),
        (["--model_base_path=/m", "--port=8500", "--rest_api_port=8500"], "cannot be the same as --port"),
    ],
)
def test_invalid_flag_combinations_are_command_errors(flags, message):
    with pytest.raises(CommandError, match=message):
        options_from_args(_parse(*flags))


def _self_signed_certificate(directory: Path) -> tuple[bytes, bytes]:
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(directory / "key.pem"),
            "-out",
            str(directory / "cert.pem"),
        ],
        check=True,
        capture_output=True,
    )
    return (directory / "key.pem").read_bytes(), (directory / "cert.pem").read_bytes()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_serve_over_tls_with_only_tensorflow_then_shut_down_on_sigterm(exported_models, tmp_path):
    embedder, version_dir = exported_models["structured"]
    key, cert = _self_signed_certificate(tmp_path)
    # Text format strings stay on one line: the PEM's line breaks are written as \n escapes.
    pem = {name: value.decode().replace("\n", "\\n") for name, value in (("key", key), ("cert", cert))}
    (tmp_path / "ssl.config").write_text(f'server_key: "{pem["key"]}"\nserver_cert: "{pem["cert"]}"\n')
    process = subprocess.Popen(
        [
            sys.executable,
            str(RUNNER),
            "--port=0",
            "--model_name=tls",
            f"--model_base_path={version_dir.parent}",
            f"--ssl_config_file={tmp_path / 'ssl.config'}",
            "--enable_batching",
            "--rest_api_num_threads=4",
        ],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(PROJECT_ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        log = []
        for line in process.stderr:
            log.append(line)
            if match := re.search(r"Running gRPC ModelServer at 127\.0\.0\.1:(\d+)", line):
                port = int(match[1])
                break
        else:
            pytest.fail("server did not start:\n" + "".join(log))
        assert any("--rest_api_num_threads is accepted for compatibility" in line for line in log)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        with grpc.secure_channel(f"localhost:{port}", credentials) as channel:
            response = Stubs(channel).prediction.Predict(predict_request("tls", ["a good film"]), timeout=30)
            assert response.model_spec.name == "tls"
            assert output(response).shape == (1, embedder.embedding_dim)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert rpc_error(Stubs(channel).prediction.Predict, predict_request("tls", ["a"]), timeout=10).code() == (
                grpc.StatusCode.UNAVAILABLE
            )
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "Server stopped" in stderr
    modules = stdout.split("project modules:", 1)[1].split()
    assert not [m for m in modules if m.split(".")[0] == "training"]
    assert {m for m in modules if m.startswith("embedder")} <= ALLOWED_EMBEDDER
