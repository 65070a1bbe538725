"""`ModelServer`: the embedded TensorFlow Serving replacement, assembled from its parts.

    config files ──► ModelManager (versions, polling, swaps) ──► Servable (SavedModel) ◄── BatchScheduler
                                   ▲
    gRPC: PredictionService, ModelService, grpc.health.v1.Health      HTTP: status, metadata, metrics

Example:
    >>> options = ServerOptions(model_name="default", model_base_path="models/default", port=0)
    >>> with ModelServer(options).start() as server:
    ...     print(server.target)   # 127.0.0.1:<port>
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import os
import threading
from pathlib import Path

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

from serving.server.batcher import BatchScheduler
from serving.server.config_files import (
    BatchingSettings,
    ConfigError,
    read_batching_parameters,
    read_model_server_config,
    read_monitoring_config,
    read_ssl_config,
    single_model_config,
)
from serving.server.metrics import ServingMetrics
from serving.server.model_manager import ModelManager
from serving.server.model_service import ModelService, model_status
from serving.server.prediction_service import PredictionService, model_metadata
from serving.server.predictor import predict
from serving.server.request_limits import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_ROWS_PER_REQUEST,
    DEFAULT_MAX_TEXT_BYTES,
    TRUNCATE,
    RequestLimits,
)
from serving.server.servable import Servable
from serving.server.warmup import replay_warmup_requests

log = logging.getLogger(__name__)

#: TF Serving's gRPC message size limit (``SetMaxMessageSize(INT_MAX)``), for both directions.
DEFAULT_MAX_MESSAGE_SIZE = 2**31 - 1
#: ``--rest_api_timeout_in_ms``'s default (TF Serving's): how long a REST request may take to arrive and to run.
DEFAULT_REST_API_TIMEOUT_MS = 30_000
#: The largest REST request body accepted (``--rest_api_max_body_bytes``): 2048 texts of 8 KiB, JSON-escaped, fit.
DEFAULT_REST_API_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Health-checking service names set to SERVING once every model has an available version.
HEALTH_SERVICES = ("", "tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")


@dataclasses.dataclass(frozen=True)
class ServerOptions:
    """The embedded server's settings; field names are ``tensorflow_model_server``'s flags.

    `host`, `grpc_max_message_size`, `rest_api_max_body_bytes` and the request limits (`max_rows_per_request`,
    `max_text_bytes`, `max_request_bytes`, `text_length_mode`: see `serving.server.request_limits`) are the
    embedded server's own (TF Serving binds 0.0.0.0, sets its message limit through ``--grpc_channel_arguments``,
    which works here too, and does not bound REST bodies).
    """

    port: int = 8500
    host: str = "127.0.0.1"
    grpc_socket_path: str = ""
    rest_api_port: int = 0
    rest_api_timeout_in_ms: int = DEFAULT_REST_API_TIMEOUT_MS
    rest_api_max_body_bytes: int = DEFAULT_REST_API_MAX_BODY_BYTES
    model_name: str = "default"
    model_base_path: str = ""
    model_config_file: str = ""
    model_config_file_poll_wait_seconds: float = 0
    file_system_poll_wait_seconds: float = 1
    enable_batching: bool = False
    batching_parameters_file: str = ""
    monitoring_config_file: str = ""
    ssl_config_file: str = ""
    grpc_channel_arguments: str = ""
    grpc_max_threads: int = 64
    grpc_max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    enable_model_warmup: bool = True
    num_request_iterations_for_warmup: int = 1
    max_num_load_retries: int = 5
    load_retry_interval_micros: int = 60_000_000
    saved_model_tags: str = "serve"
    tensorflow_intra_op_parallelism: int = 0
    tensorflow_inter_op_parallelism: int = 0
    max_rows_per_request: int = DEFAULT_MAX_ROWS_PER_REQUEST
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    text_length_mode: str = TRUNCATE
    #: Whether ModelService.HandleReloadConfigRequest may change the served models; None: only when bound to
    #: loopback (the RPC is unauthenticated: any client that reaches the port could unload every model).
    enable_reload_config_api: bool | None = None
    #: Batching settings given directly (tests, benchmarks); used instead of the file when set.
    batching_settings: BatchingSettings | None = None

    def __post_init__(self):
        if not self.model_base_path and not self.model_config_file:
            raise ConfigError("Both --model_base_path and --model_config_file are empty: name the model(s) to serve.")
        if self.batching_parameters_file and not self.enable_batching:
            raise ConfigError("--batching_parameters_file is set without setting --enable_batching to true.")
        if self.rest_api_port and self.rest_api_port == self.port:
            raise ConfigError("--rest_api_port cannot be the same as --port.")
        if self.grpc_max_message_size <= 0:
            raise ConfigError(f"--grpc_max_message_size must be positive. Received: {self.grpc_max_message_size}")
        if self.rest_api_timeout_in_ms <= 0:
            raise ConfigError(f"--rest_api_timeout_in_ms must be positive. Received: {self.rest_api_timeout_in_ms}")
        if self.rest_api_max_body_bytes <= 0:
            raise ConfigError(f"--rest_api_max_body_bytes must be positive. Received: {self.rest_api_max_body_bytes}")
        if self.grpc_max_threads <= 0:
            raise ConfigError(f"--grpc_max_threads must be positive. Received: {self.grpc_max_threads}")
        try:
            self.request_limits()
        except ValueError as error:
            raise ConfigError(str(error).replace("argument `", "flag `--")) from None

    @property
    def reload_config_api_enabled(self) -> bool:
        """`enable_reload_config_api`, or when unset: whether the gRPC port is bound to loopback only."""
        if self.enable_reload_config_api is not None:
            return self.enable_reload_config_api
        return self.host == "localhost" or self.host == "::1" or self.host.startswith("127.")

    def request_limits(self) -> RequestLimits:
        """The `RequestLimits` these options set."""
        return RequestLimits(
            max_rows_per_request=self.max_rows_per_request,
            max_text_bytes=self.max_text_bytes,
            max_request_bytes=self.max_request_bytes,
            text_length_mode=self.text_length_mode,
        )


def parse_grpc_channel_arguments(text: str) -> list[tuple[str, int | str]]:
    """``"key=value,key=value"`` (TF Serving's ``--grpc_channel_arguments``) → gRPC options, ints as ints."""
    options = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--grpc_channel_arguments entries are key=value; received {item!r}.")
        try:
            options.append((key, int(value)))
        except ValueError:
            options.append((key, value))
    return options


def configure_tensorflow_threads(intra_op: int, inter_op: int) -> None:
    """Applies ``--tensorflow_intra_op_parallelism`` / ``--tensorflow_inter_op_parallelism`` (0: automatic)."""
    import tensorflow as tf

    try:
        if intra_op:
            tf.config.threading.set_intra_op_parallelism_threads(intra_op)
        if inter_op:
            tf.config.threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as error:  # TensorFlow already ran an op in this process
        log.warning("TensorFlow thread settings not applied: %s", error)


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ModelServer:
    """Serves SavedModels over TF Serving's gRPC API (and status, metadata and metrics over HTTP).

    Args:
        options: the settings (see `ServerOptions`).
    """

    def __init__(self, options: ServerOptions):
        self.options = options
        if options.model_config_file:
            self.config_path = Path(options.model_config_file)
            config = read_model_server_config(self.config_path)
        else:
            self.config_path = None
            config = single_model_config(options.model_name, Path(options.model_base_path).resolve())
        if options.enable_batching:
            self.batching = options.batching_settings or (
                read_batching_parameters(options.batching_parameters_file)
                if options.batching_parameters_file
                else BatchingSettings()
            )
        else:
            self.batching = None
        self.monitoring = (
            read_monitoring_config(options.monitoring_config_file) if options.monitoring_config_file else None
        )
        self.ssl = read_ssl_config(options.ssl_config_file) if options.ssl_config_file else None
        self.channel_options = [
            ("grpc.max_send_message_length", options.grpc_max_message_size),
            ("grpc.max_receive_message_length", options.grpc_max_message_size),
            # Refuse to share a port with another process instead of silently splitting its traffic.
            ("grpc.so_reuseport", 0),
            *parse_grpc_channel_arguments(options.grpc_channel_arguments),
        ]
        configure_tensorflow_threads(options.tensorflow_intra_op_parallelism, options.tensorflow_inter_op_parallelism)
        self.metrics = ServingMetrics()
        self.scheduler = BatchScheduler(self.batching) if self.batching else None
        self.health = health.HealthServicer(experimental_non_blocking=True)
        self.manager = ModelManager(
            config,
            loader=self._load,
            file_system_poll_wait_seconds=options.file_system_poll_wait_seconds,
            max_num_load_retries=options.max_num_load_retries,
            load_retry_interval=options.load_retry_interval_micros / 1e6,
            on_change=self._update_health,
        )
        self._grpc: grpc.Server | None = None
        self._rest = None
        self._stop = threading.Event()
        self._config_thread: threading.Thread | None = None
        self.port: int | None = None

    # -------------------------------------------------------------------------------------------- loading
    def _load(self, name: str, version: int, path: Path) -> Servable:
        tags = tuple(t.strip() for t in self.options.saved_model_tags.split(",") if t.strip())
        servable = Servable(name, version, path, tags=tags, scheduler=self.scheduler, on_batch=self._observe_batch)
        try:
            if self.options.enable_model_warmup:
                count = replay_warmup_requests(servable, self.options.num_request_iterations_for_warmup)
                log.info("Replayed %d warm-up requests on {name: %s version: %d}", count, name, version)
        except BaseException:
            servable.unload()
            raise
        return servable

    def _observe_batch(self, servable: Servable, signature: str, rows_run: int, rows_requested: int) -> None:
        self.metrics.record_batch(servable.model_name, servable.version, signature, rows_run, rows_requested)

    def _update_health(self) -> None:
        if self._stop.is_set():
            return
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if self.manager.all_models_available()
            else (health_pb2.HealthCheckResponse.NOT_SERVING)
        )
        for service in HEALTH_SERVICES:
            self.health.set(service, status)

    # ---------------------------------------------------------------------------------------------- start
    @property
    def target(self) -> str:
        """``host:port`` of the gRPC port, for clients."""
        return _address("127.0.0.1" if self.options.host in ("0.0.0.0", "::") else self.options.host, self.port)

    def start(self) -> ModelServer:
        """Loads the models (waiting for their first versions, as TF Serving does), then listens."""
        self.manager.start()
        self._update_health()
        server = grpc.server(
            concurrent.futures.ThreadPoolExecutor(self.options.grpc_max_threads, thread_name_prefix="grpc"),
            options=self.channel_options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            PredictionService(self.manager, self.metrics, self.options.request_limits()), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            ModelService(self.manager, self.metrics, self.options.reload_config_api_enabled), server
        )
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        if self.options.port or not self.options.grpc_socket_path:
            address = _address(self.options.host, self.options.port)
            if self.ssl is not None:
                credentials = grpc.ssl_server_credentials(
                    [(self.ssl.server_key.encode(), self.ssl.server_cert.encode())],
                    root_certificates=self.ssl.custom_ca.encode() or None,
                    require_client_auth=self.ssl.client_verify,
                )
                self.port = server.add_secure_port(address, credentials)
            else:
                self.port = server.add_insecure_port(address)
            if not self.port:
                raise OSError(f"Could not bind the gRPC port {address}.")
        if self.options.grpc_socket_path:
            server.add_insecure_port(f"unix:{os.path.abspath(self.options.grpc_socket_path)}")
        server.start()
        self._grpc = server
        if self.options.rest_api_port:
            self._start_rest()
        if self.config_path is not None and self.options.model_config_file_poll_wait_seconds > 0:
            self._config_thread = threading.Thread(target=self._poll_config, name="model-config-poller", daemon=True)
            self._config_thread.start()
        # Logged last, once every port answers: scripts wait for this line (TF Serving prints the same one).
        if self.options.grpc_socket_path:
            log.info("Running gRPC ModelServer at unix:%s ...", self.options.grpc_socket_path)
        if self.port:
            log.info("Running gRPC ModelServer at %s ...", _address(self.options.host, self.port))
        return self

    def _start_rest(self) -> None:
        from serving.server.rest_api import RestApiServer

        prometheus = self.monitoring.prometheus_config if self.monitoring else None
        enabled = prometheus is not None and prometheus.enable

        def metadata(name, version, label):
            with self.manager.servable(name, version, label) as servable:
                return model_metadata(servable)

        batching = self.batching
        self._rest = RestApiServer(
            self.options.host,
            self.options.rest_api_port,
            model_status=lambda name, version, label: model_status(self.manager, name, version, label),
            model_metadata=metadata,
            servable=self.manager.servable,
            predict=predict,
            metrics_text=self.metrics.prometheus_text if enabled else None,
            metrics_path=prometheus.path if enabled else "",
            metrics=self.metrics,
            timeout=self.options.rest_api_timeout_in_ms / 1000,
            max_body_bytes=self.options.rest_api_max_body_bytes,
            embeddings_chunk_rows=(
                batching.max_batch_size if batching and not batching.enable_large_batch_splitting else None
            ),
        ).start()
        log.info(
            "Exporting HTTP/REST API (status, metadata, predict, /v1/embeddings%s) at %s ...",
            ", metrics" if enabled else "",
            _address(self.options.host, self._rest.port),
        )

    def _poll_config(self) -> None:
        last = self.config_path.read_bytes() if self.config_path.is_file() else b""
        while not self._stop.wait(self.options.model_config_file_poll_wait_seconds):
            try:
                current = self.config_path.read_bytes()
                if current != last:
                    self.manager.reload_config(read_model_server_config(self.config_path))
                    last = current
            except Exception as error:  # noqa: BLE001 - keep serving the last good config
                log.error("Model config %s not reloaded: %s", self.config_path, error)

    # ----------------------------------------------------------------------------------------------- stop
    @property
    def rest_port(self) -> int | None:
        return self._rest.port if self._rest is not None else None

    def wait(self) -> None:
        """Blocks until the server stops."""
        if self._grpc is not None:
            self._grpc.wait_for_termination()

    def stop(self, grace: float = 5.0) -> None:
        """Stops listening, lets running requests finish (up to `grace` seconds), then unloads the models."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.health.enter_graceful_shutdown()
        if self._grpc is not None:
            self._grpc.stop(grace).wait()
        if self._rest is not None:
            self._rest.stop()
        self.manager.stop()
        if self.scheduler is not None:
            self.scheduler.shutdown()
        log.info("Server stopped")

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
