"""TensorFlow Serving's configuration files, parsed as TF Serving parses them (protobuf text format).

One module for the embedded server and for the docker-compose checks, so the files the real TF Serving reads
and the files our server reads are checked by the same code:

- ``--model_config_file``: a ``ModelServerConfig``, parsed with the real message from ``tensorflow_serving.config``.
- ``--batching_parameters_file``: a ``BatchingParameters`` message.
- ``--monitoring_config_file``: a ``MonitoringConfig`` message (Prometheus export).
- ``--ssl_config_file``: an ``SSLConfig`` message (PEM contents inline, as TF Serving expects).

The API wheel does not ship the last three messages, so they are declared here, in a private descriptor pool,
with TF Serving's message and field names. Text format matches fields by name, so a file TF Serving accepts
parses here to the same values, and a misspelt or unknown field is rejected, as TF Serving rejects it.

This module imports protobuf and ``tensorflow_serving.config`` only, never TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2
from tensorflow_serving.config import model_server_config_pb2

from embedder.validation import check_int, check_non_negative_int, check_positive_int

#: TF Serving's platform name for SavedModels; the only one the embedded server serves.
TENSORFLOW_PLATFORM = "tensorflow"
#: Where TF Serving exports Prometheus metrics when ``prometheus_config.path`` is empty.
DEFAULT_PROMETHEUS_PATH = "/monitoring/prometheus/metrics"


class ConfigError(ValueError):
    """A configuration file that cannot be read, does not parse, or holds an invalid value."""


# ----------------------------------------------------------------------------------------- private messages
_PACKAGE = "tensorflow.serving"
_F = descriptor_pb2.FieldDescriptorProto

# (message, [(field, number, type, type_name or None, repeated)]); names as in TF Serving's .proto files.
_MESSAGES = (
    (
        "BatchingParameters",
        [
            ("max_batch_size", 1, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
            ("batch_timeout_micros", 2, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
            ("max_enqueued_batches", 3, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
            ("num_batch_threads", 4, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
            ("thread_pool_name", 5, _F.TYPE_MESSAGE, ".google.protobuf.StringValue", False),
            ("allowed_batch_sizes", 6, _F.TYPE_INT64, None, True),
            ("pad_variable_length_inputs", 7, _F.TYPE_BOOL, None, False),
            ("enable_large_batch_splitting", 9, _F.TYPE_MESSAGE, ".google.protobuf.BoolValue", False),
            ("max_execution_batch_size", 10, _F.TYPE_MESSAGE, ".google.protobuf.Int64Value", False),
        ],
    ),
    ("PrometheusConfig", [("enable", 1, _F.TYPE_BOOL, None, False), ("path", 2, _F.TYPE_STRING, None, False)]),
    ("MonitoringConfig", [("prometheus_config", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.PrometheusConfig", False)]),
    (
        "SSLConfig",
        [
            ("server_key", 1, _F.TYPE_STRING, None, False),
            ("server_cert", 2, _F.TYPE_STRING, None, False),
            ("custom_ca", 3, _F.TYPE_STRING, None, False),
            ("client_verify", 4, _F.TYPE_BOOL, None, False),
        ],
    ),
)


def _build_message_classes() -> dict[str, type]:
    # A private pool: these names cannot clash with TF Serving's own messages if a process has both.
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="embedder/serving/config_files.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[wrappers_pb2.DESCRIPTOR.name],
    )
    for message_name, fields in _MESSAGES:
        message = file_proto.message_type.add(name=message_name)
        for name, number, field_type, type_name, repeated in fields:
            field = message.field.add(name=name, number=number, type=field_type)
            field.label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
            if type_name:
                field.type_name = type_name
    pool.AddSerializedFile(file_proto.SerializeToString())
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}")) for name, _ in _MESSAGES
    }


_CLASSES = _build_message_classes()
BatchingParameters = _CLASSES["BatchingParameters"]
MonitoringConfig = _CLASSES["MonitoringConfig"]
SSLConfig = _CLASSES["SSLConfig"]


def parse_text_proto(text: str, message, source: str = "<string>"):
    """Parses protobuf text format into `message` (a new instance of it when given a class), rejecting unknown
    fields; raises `ConfigError` naming `source` and the parser's line and column."""
    if isinstance(message, type):
        message = message()
    try:
        text_format.Parse(text, message)
    except text_format.ParseError as error:
        raise ConfigError(f"Invalid {message.DESCRIPTOR.name} in {source}: {error}") from None
    return message


def read_text_proto(path: str | os.PathLike, message_class):
    """Reads and parses a text-format file; raises `ConfigError` when it is missing or does not parse."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"Cannot read {message_class.DESCRIPTOR.name} file {path}: {error.strerror}") from None
    return parse_text_proto(text, message_class, str(path))


# ------------------------------------------------------------------------------------------ model config
def single_model_config(
    model_name: str, model_base_path: str | os.PathLike
) -> model_server_config_pb2.ModelServerConfig:
    """The config TF Serving builds from ``--model_name`` and ``--model_base_path``."""
    config = model_server_config_pb2.ModelServerConfig()
    model = config.model_config_list.config.add()
    model.name = model_name
    model.base_path = str(model_base_path)
    model.model_platform = TENSORFLOW_PLATFORM
    return config


def read_model_server_config(path: str | os.PathLike) -> model_server_config_pb2.ModelServerConfig:
    """Reads a ``models.config`` file (ModelServerConfig text format) and validates it.

    A relative ``base_path`` (which TF Serving rejects) is resolved against the file's directory, so a config
    valid for TF Serving means the same here.
    """
    config = read_text_proto(path, model_server_config_pb2.ModelServerConfig)
    root = Path(path).resolve().parent
    for model in config.model_config_list.config:
        if model.base_path and not os.path.isabs(model.base_path):
            model.base_path = str(root / model.base_path)
    validate_model_server_config(config, str(path))
    return config


def validate_model_server_config(config: model_server_config_pb2.ModelServerConfig, source: str = "config") -> None:
    """Raises `ConfigError` for what TF Serving would refuse, and for what the embedded server cannot serve."""
    if config.WhichOneof("config") == "custom_model_config":
        raise ConfigError(f"{source}: custom_model_config is not supported; use model_config_list.")
    names = set()
    for model in config.model_config_list.config:
        if not model.name:
            raise ConfigError(f"{source}: a model config has no name.")
        if model.name in names:
            raise ConfigError(f"{source}: model name {model.name!r} appears more than once.")
        names.add(model.name)
        if not model.base_path:
            raise ConfigError(f"{source}: model {model.name!r} has no base_path.")
        if model.model_platform not in ("", TENSORFLOW_PLATFORM):
            raise ConfigError(
                f"{source}: model {model.name!r} has model_platform {model.model_platform!r}; "
                f"only {TENSORFLOW_PLATFORM!r} is served."
            )
        policy = model.model_version_policy
        if policy.WhichOneof("policy_choice") == "latest" and policy.latest.num_versions < 0:
            raise ConfigError(f"{source}: model {model.name!r} asks for {policy.latest.num_versions} latest versions.")
        for label, version in model.version_labels.items():
            if version < 0:
                raise ConfigError(f"{source}: version label {label!r} of model {model.name!r} names version {version}.")


# ---------------------------------------------------------------------------------------------- batching
@dataclasses.dataclass(frozen=True)
class BatchingSettings:
    """TF Serving's batching knobs with its defaults (those of ``SharedBatchScheduler::QueueOptions``).

    Args:
        max_batch_size: the largest batch the model runs, and the largest request accepted (in rows), unless
            large batch splitting is on. Defaults to 1000.
        batch_timeout_micros: how long the oldest request of an unfilled batch may wait for company before the
            batch runs anyway. Defaults to 0 (run as soon as a batch thread is free).
        max_enqueued_batches: the most batches waiting per queue; more requests get UNAVAILABLE. Defaults to 10.
        num_batch_threads: batches run at the same time. Defaults to the number of CPUs.
        allowed_batch_sizes: batch sizes the model runs; a batch is padded up to the next one. Empty: any size.
        enable_large_batch_splitting: split requests larger than `max_execution_batch_size` across batches.
        max_execution_batch_size: the largest batch run when splitting is on. Defaults to `max_batch_size`.
        thread_pool_name: kept for TF Serving's files; has no effect.
        pad_variable_length_inputs: kept for TF Serving's files; string inputs of rank 1 need no padding.
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    max_enqueued_batches: int = 10
    num_batch_threads: int = dataclasses.field(default_factory=lambda: os.cpu_count() or 1)
    allowed_batch_sizes: tuple[int, ...] = ()
    enable_large_batch_splitting: bool = False
    max_execution_batch_size: int | None = None
    thread_pool_name: str = "model_server_batch_threads"
    pad_variable_length_inputs: bool = False

    def __post_init__(self):
        try:
            for name in ("max_batch_size", "max_enqueued_batches", "num_batch_threads"):
                check_positive_int(name, getattr(self, name))
            check_non_negative_int("batch_timeout_micros", self.batch_timeout_micros)
            check_int("max_execution_batch_size", self.max_execution_batch_size, optional=True)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        sizes = self.allowed_batch_sizes
        if sizes:
            if any(b <= a for a, b in zip(sizes, sizes[1:])) or sizes[0] <= 0:
                raise ConfigError(f"allowed_batch_sizes must be positive and increasing. Received: {list(sizes)}")
            if sizes[-1] != self.execution_batch_size:
                raise ConfigError(
                    f"The last entry of allowed_batch_sizes ({sizes[-1]}) must equal the largest batch run "
                    f"({'max_execution_batch_size' if self.enable_large_batch_splitting else 'max_batch_size'}"
                    f" = {self.execution_batch_size})."
                )

    @property
    def execution_batch_size(self) -> int:
        """The largest batch the model runs."""
        if self.enable_large_batch_splitting and self.max_execution_batch_size:
            return min(self.max_execution_batch_size, self.max_batch_size)
        return self.max_batch_size

    @classmethod
    def from_proto(cls, proto) -> BatchingSettings:
        """Settings from a `BatchingParameters` message; unset fields keep TF Serving's defaults."""
        values = {}
        for name in (
            "max_batch_size",
            "batch_timeout_micros",
            "max_enqueued_batches",
            "num_batch_threads",
            "max_execution_batch_size",
            "thread_pool_name",
            "enable_large_batch_splitting",
        ):
            if proto.HasField(name):
                values[name] = getattr(proto, name).value
        values["allowed_batch_sizes"] = tuple(proto.allowed_batch_sizes)
        values["pad_variable_length_inputs"] = proto.pad_variable_length_inputs
        return cls(**values)


def read_batching_parameters(path: str | os.PathLike) -> BatchingSettings:
    """Reads a ``--batching_parameters_file`` into validated `BatchingSettings`."""
    proto = read_text_proto(path, BatchingParameters)
    try:
        return BatchingSettings.from_proto(proto)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


# ------------------------------------------------------------------------------------- monitoring and TLS
def read_monitoring_config(path: str | os.PathLike):
    """Reads a ``--monitoring_config_file``; an enabled Prometheus export with an empty path gets TF Serving's."""
    config = read_text_proto(path, MonitoringConfig)
    prometheus = config.prometheus_config
    if prometheus.enable and not prometheus.path:
        prometheus.path = DEFAULT_PROMETHEUS_PATH
    if prometheus.path and not prometheus.path.startswith("/"):
        raise ConfigError(f"{path}: prometheus_config.path must start with '/'. Received: {prometheus.path!r}")
    return config


def read_ssl_config(path: str | os.PathLike):
    """Reads a ``--ssl_config_file``: PEM key and certificate inline, optional CA and client verification."""
    config = read_text_proto(path, SSLConfig)
    if not config.server_key or not config.server_cert:
        raise ConfigError(f"{path}: an SSLConfig needs both server_key and server_cert (PEM contents).")
    if config.client_verify and not config.custom_ca:
        raise ConfigError(f"{path}: client_verify needs custom_ca, the CA that signs client certificates.")
    return config
