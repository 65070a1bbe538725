"""TF Serving's config files: models.config with the real message, the others with the same field names."""

from __future__ import annotations

import pytest
from tensorflow_serving.config import model_server_config_pb2

from serving.server.config_files import (
    DEFAULT_PROMETHEUS_PATH,
    BatchingParameters,
    BatchingSettings,
    ConfigError,
    parse_text_proto,
    read_batching_parameters,
    read_model_server_config,
    read_monitoring_config,
    read_ssl_config,
    single_model_config,
)
from serving.server.version_policy import aspired_versions

MODELS_CONFIG = """
model_config_list {
  config {
    name: "trec"
    base_path: "/models/trec"
    model_platform: "tensorflow"
    model_version_policy { specific { versions: 1 versions: 3 } }
    version_labels { key: "stable" value: 1 }
  }
  config { name: "local" base_path: "models/local" }
}
"""


def test_models_config_is_parsed_with_the_real_message_and_relative_paths_resolve_beside_it(tmp_path):
    path = tmp_path / "conf" / "models.config"
    path.parent.mkdir()
    path.write_text(MODELS_CONFIG)
    config = read_model_server_config(path)
    assert isinstance(config, model_server_config_pb2.ModelServerConfig)
    trec, local = config.model_config_list.config
    assert trec.base_path == "/models/trec"
    assert list(trec.model_version_policy.specific.versions) == [1, 3]
    assert dict(trec.version_labels) == {"stable": 1}
    assert local.base_path == str(tmp_path / "conf" / "models" / "local")


@pytest.mark.parametrize(
    "text, message",
    [
        ('model_config_list { config { name: "a" base_path: "/m/a" basepath: "x" } }', 'no field named "basepath"'),
        (
            'model_config_list { config { name: "a" base_path: "/a" } config { name: "a" base_path: "/b" } }',
            "more than once",
        ),
        ('model_config_list { config { name: "a" } }', "has no base_path"),
        ('model_config_list { config { name: "a" base_path: "/a" model_platform: "onnx" } }', "only 'tensorflow'"),
    ],
)
def test_invalid_models_config_names_the_problem(tmp_path, text, message):
    path = tmp_path / "models.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_model_server_config(path)


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match="nope.config"):
        read_model_server_config(tmp_path / "nope.config")


def test_single_model_config_is_what_the_flags_mean():
    config = single_model_config("default", "/models/default")
    (model,) = config.model_config_list.config
    assert (model.name, model.base_path, model.model_platform) == ("default", "/models/default", "tensorflow")


def test_batching_parameters_file_with_wrapped_values(tmp_path):
    path = tmp_path / "batching.config"
    path.write_text(
        "max_batch_size { value: 64 }\nbatch_timeout_micros { value: 2000 }\nmax_enqueued_batches { value: 100 }\n"
        "num_batch_threads { value: 3 }\nallowed_batch_sizes: 16\nallowed_batch_sizes: 64\n"
        "pad_variable_length_inputs: true\n"
    )
    settings = read_batching_parameters(path)
    assert settings == BatchingSettings(
        max_batch_size=64,
        batch_timeout_micros=2000,
        max_enqueued_batches=100,
        num_batch_threads=3,
        allowed_batch_sizes=(16, 64),
        pad_variable_length_inputs=True,
    )


def test_unset_batching_fields_keep_tf_servings_defaults():
    settings = BatchingSettings.from_proto(parse_text_proto("max_batch_size { value: 32 }", BatchingParameters))
    assert (settings.max_batch_size, settings.batch_timeout_micros, settings.max_enqueued_batches) == (32, 0, 10)


@pytest.mark.parametrize(
    "text, message",
    [
        ("max_batch_sizes { value: 64 }", 'no field named "max_batch_sizes"'),
        ("max_batch_size: 64", "max_batch_size"),  # a wrapper message, not a scalar, as in TF Serving
        ("max_batch_size { value: 0 }", "expected a positive integer"),
        ("max_batch_size { value: 64 } allowed_batch_sizes: 8 allowed_batch_sizes: 32", "must equal"),
        (
            "max_batch_size { value: 64 } allowed_batch_sizes: 32 allowed_batch_sizes: 8 allowed_batch_sizes: 64",
            "increasing",
        ),
    ],
)
def test_invalid_batching_parameters_name_the_problem(tmp_path, text, message):
    path = tmp_path / "batching.config"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        read_batching_parameters(path)


def test_monitoring_config_defaults_the_prometheus_path_and_rejects_unknown_fields(tmp_path):
    path = tmp_path / "monitoring.config"
    path.write_text("prometheus_config { enable: true }")
    assert read_monitoring_config(path).prometheus_config.path == DEFAULT_PROMETHEUS_PATH
    path.write_text('prometheus_config { enable: true path: "/metrics" port: 9090 }')
    with pytest.raises(ConfigError, match='no field named "port"'):
        read_monitoring_config(path)


def test_ssl_config_needs_key_and_certificate(tmp_path):
    path = tmp_path / "ssl.config"
    path.write_text('server_key: "KEY"\nserver_cert: "CERT"\n')
    config = read_ssl_config(path)
    assert (config.server_key, config.server_cert, config.client_verify) == ("KEY", "CERT", False)
    path.write_text('server_cert: "CERT"')
    with pytest.raises(ConfigError, match="needs both server_key and server_cert"):
        read_ssl_config(path)


def _model(policy_text: str = ""):
    config = model_server_config_pb2.ModelConfig(name="m", base_path="/m")
    if policy_text:
        parse_text_proto(policy_text, config.model_version_policy)
    return config


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("", {7}),
        ("latest { num_versions: 2 }", {5, 7}),
        ("all {}", {1, 2, 5, 7}),
        ("specific { versions: 2 versions: 3 }", {2}),
    ],
)
def test_version_policies(policy, expected):
    assert aspired_versions(_model(policy), [1, 2, 5, 7]) == expected


def test_no_versions_on_disk_aspires_nothing():
    assert aspired_versions(_model(), []) == set()
