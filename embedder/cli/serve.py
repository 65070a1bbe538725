"""`embedder serve`: the embedded model server, with ``tensorflow_model_server``'s flags.

A command line written for TF Serving works here unchanged (flags are spelled ``--flag=value`` or
``--flag value``; booleans also as ``--flag`` or ``--flag=false``)::

    embedder serve --port=8500 --model_name=default --model_base_path=models/default
    embedder serve --model_config_file=models.config --enable_batching \\
        --batching_parameters_file=serving/config/batching.config

Flags are grouped in the help as applied, accepted-without-effect, and the embedded server's own additions.
This module does not import TensorFlow until the command runs.
"""

from __future__ import annotations

import argparse
import logging

from serving.server.request_limits import (
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_MAX_ROWS_PER_REQUEST,
    DEFAULT_MAX_TEXT_BYTES,
    TEXT_LENGTH_MODES,
    TRUNCATE,
)

log = logging.getLogger(__name__)

#: TF Serving flags that are parsed so command lines stay portable, but change nothing here.
NO_EFFECT_FLAGS = {
    "rest_api_num_threads": int,
    "rest_api_enable_cors_support": "bool",
    "flush_filesystem_caches": "bool",
    "num_load_threads": int,
    "num_unload_threads": int,
    "tensorflow_session_parallelism": int,
    "per_process_gpu_memory_fraction": float,
    "allow_version_labels_for_unavailable_models": "bool",
    "enable_signature_method_name_check": "bool",
    "remove_unused_fields_from_bundle_metagraph": "bool",
    "xla_cpu_compilation_enabled": "bool",
}


def parse_bool(text: str) -> bool:
    """TF Serving's boolean flag values: true/false, 1/0 (any case)."""
    value = text.strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def _add_bool(group, name: str, default: bool, help_text: str) -> None:
    group.add_argument(
        f"--{name}", type=parse_bool, nargs="?", const=True, default=default, metavar="BOOL", help=help_text
    )


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve SavedModels over TensorFlow Serving's gRPC API (tensorflow_model_server's flags)",
        description="The embedded model server: TensorFlow Serving's gRPC API (PredictionService, ModelService, "
        "grpc.health.v1) in Python, taking tensorflow_model_server's flags. For production, docker-compose.yml "
        "runs the real TensorFlow Serving with the same config files.",
    )
    tf_flags = parser.add_argument_group("tensorflow_model_server flags (applied)")
    tf_flags.add_argument("--port", type=int, default=8500, help="gRPC port (default %(default)s; 0: any free port)")
    tf_flags.add_argument("--grpc_socket_path", default="", help="also listen on this UNIX socket")
    tf_flags.add_argument(
        "--rest_api_port",
        type=int,
        default=0,
        help="HTTP port (0: off): TF Serving's REST API (status, metadata, predict), OpenAI-style "
        "POST /v1/embeddings, and Prometheus metrics",
    )
    tf_flags.add_argument(
        "--rest_api_timeout_in_ms",
        type=int,
        default=None,
        metavar="MS",
        help="how long a REST request may take to arrive (else 408) and to run (default 30000)",
    )
    tf_flags.add_argument("--model_name", default="default", help="model name (ignored with --model_config_file)")
    tf_flags.add_argument("--model_base_path", default="", help="directory holding numeric version directories")
    tf_flags.add_argument("--model_config_file", default="", help="a ModelServerConfig text file (models.config)")
    tf_flags.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0,
        help="seconds between re-reads of --model_config_file (0: read once)",
    )
    tf_flags.add_argument(
        "--file_system_poll_wait_seconds",
        type=float,
        default=1,
        help="seconds between polls for new versions (default %(default)s; 0: poll once)",
    )
    _add_bool(tf_flags, "enable_batching", False, "batch concurrent requests into one model call")
    tf_flags.add_argument("--batching_parameters_file", default="", help="a BatchingParameters text file")
    tf_flags.add_argument(
        "--monitoring_config_file",
        default="",
        help="a MonitoringConfig text file (Prometheus metrics on the REST port)",
    )
    tf_flags.add_argument("--ssl_config_file", default="", help="an SSLConfig text file: serve gRPC over TLS")
    tf_flags.add_argument(
        "--grpc_channel_arguments",
        default="",
        help="gRPC server arguments key=value,... (e.g. grpc.max_receive_message_length=1048576)",
    )
    tf_flags.add_argument("--grpc_max_threads", type=int, default=64, help="gRPC worker threads (default %(default)s)")
    _add_bool(tf_flags, "enable_model_warmup", True, "replay assets.extra/tf_serving_warmup_requests before serving")
    tf_flags.add_argument("--num_request_iterations_for_warmup", type=int, default=1)
    tf_flags.add_argument("--max_num_load_retries", type=int, default=5, help="retries of a failed version load")
    tf_flags.add_argument("--load_retry_interval_micros", type=int, default=60_000_000)
    tf_flags.add_argument("--saved_model_tags", default="serve", help="MetaGraphDef tags to load (comma-separated)")
    tf_flags.add_argument("--tensorflow_intra_op_parallelism", type=int, default=0)
    tf_flags.add_argument("--tensorflow_inter_op_parallelism", type=int, default=0)
    _add_bool(tf_flags, "version", False, "print the version and exit")

    ignored = parser.add_argument_group("tensorflow_model_server flags (accepted, no effect here)")
    for name, kind in NO_EFFECT_FLAGS.items():
        if kind == "bool":
            _add_bool(ignored, name, None, argparse.SUPPRESS)
        else:
            ignored.add_argument(f"--{name}", type=kind, default=None, help=argparse.SUPPRESS)
    ignored.description = ", ".join(f"--{n}" for n in NO_EFFECT_FLAGS)

    own = parser.add_argument_group("embedded server only")
    own.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default %(default)s; 0.0.0.0 or :: for all interfaces, as TF Serving)",
    )
    own.add_argument(
        "--grpc_max_message_size",
        type=int,
        default=None,
        metavar="BYTES",
        help="largest gRPC message received or sent (default 2147483647, TF Serving's)",
    )
    own.add_argument(
        "--rest_api_max_body_bytes",
        type=int,
        default=None,
        metavar="BYTES",
        help="largest REST request body accepted; larger ones get 413 unread (default 33554432: 32 MiB)",
    )
    _add_bool(
        own,
        "enable_reload_config_api",
        None,
        "let ModelService.HandleReloadConfigRequest change the served models (unauthenticated: anyone who reaches "
        "the port can). Default: true when --host is loopback, false otherwise",
    )
    limits = parser.add_argument_group(
        "request limits (embedded server only; checked before a request's tensors are built)"
    )
    limits.add_argument(
        "--max_rows_per_request",
        type=int,
        default=DEFAULT_MAX_ROWS_PER_REQUEST,
        metavar="N",
        help=f"rows one request may hold; more: INVALID_ARGUMENT (default {DEFAULT_MAX_ROWS_PER_REQUEST})",
    )
    limits.add_argument(
        "--max_text_bytes",
        type=int,
        default=DEFAULT_MAX_TEXT_BYTES,
        metavar="BYTES",
        help=f"bytes one text may hold; longer ones are truncated or refused (default {DEFAULT_MAX_TEXT_BYTES})",
    )
    limits.add_argument(
        "--text_length_mode",
        choices=TEXT_LENGTH_MODES,
        default=TRUNCATE,
        help="a text over --max_text_bytes: cut it at a character boundary (truncate, the default) or answer "
        "INVALID_ARGUMENT (refuse)",
    )
    limits.add_argument(
        "--max_request_bytes",
        type=int,
        default=DEFAULT_MAX_REQUEST_BYTES,
        metavar="BYTES",
        help="bytes all values of one request may hold; more: RESOURCE_EXHAUSTED "
        f"(default {DEFAULT_MAX_REQUEST_BYTES})",
    )
    parser.set_defaults(handler=run_serve)


def _or_default(value, default):
    return default if value is None else value


def options_from_args(args: argparse.Namespace):
    """`ServerOptions` from parsed flags (raises `CommandError` for invalid combinations)."""
    from embedder.cli import CommandError
    from serving.server.config_files import ConfigError
    from serving.server.model_server import (
        DEFAULT_MAX_MESSAGE_SIZE,
        DEFAULT_REST_API_MAX_BODY_BYTES,
        DEFAULT_REST_API_TIMEOUT_MS,
        ServerOptions,
    )

    try:
        return ServerOptions(
            port=args.port,
            host=args.host,
            grpc_socket_path=args.grpc_socket_path,
            rest_api_port=args.rest_api_port,
            rest_api_timeout_in_ms=_or_default(args.rest_api_timeout_in_ms, DEFAULT_REST_API_TIMEOUT_MS),
            rest_api_max_body_bytes=_or_default(args.rest_api_max_body_bytes, DEFAULT_REST_API_MAX_BODY_BYTES),
            model_name=args.model_name,
            model_base_path=args.model_base_path,
            model_config_file=args.model_config_file,
            model_config_file_poll_wait_seconds=args.model_config_file_poll_wait_seconds,
            file_system_poll_wait_seconds=args.file_system_poll_wait_seconds,
            enable_batching=args.enable_batching,
            batching_parameters_file=args.batching_parameters_file,
            monitoring_config_file=args.monitoring_config_file,
            ssl_config_file=args.ssl_config_file,
            grpc_channel_arguments=args.grpc_channel_arguments,
            grpc_max_threads=args.grpc_max_threads,
            grpc_max_message_size=args.grpc_max_message_size or DEFAULT_MAX_MESSAGE_SIZE,
            enable_model_warmup=args.enable_model_warmup,
            num_request_iterations_for_warmup=args.num_request_iterations_for_warmup,
            max_num_load_retries=args.max_num_load_retries,
            load_retry_interval_micros=args.load_retry_interval_micros,
            saved_model_tags=args.saved_model_tags,
            tensorflow_intra_op_parallelism=args.tensorflow_intra_op_parallelism,
            tensorflow_inter_op_parallelism=args.tensorflow_inter_op_parallelism,
            max_rows_per_request=args.max_rows_per_request,
            max_text_bytes=args.max_text_bytes,
            max_request_bytes=args.max_request_bytes,
            text_length_mode=args.text_length_mode,
            enable_reload_config_api=args.enable_reload_config_api,
        )
    except ConfigError as error:
        raise CommandError(str(error)) from None


def run_serve(args: argparse.Namespace) -> int:
    import signal
    import threading

    from embedder.cli import CommandError

    if args.version:
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("sentence-embedder")
        except PackageNotFoundError:
            package = "unknown"
        print(f"embedder serve (sentence-embedder {package}): TensorFlow Serving's gRPC API")
        return 0
    for name in NO_EFFECT_FLAGS:
        if getattr(args, name) is not None:
            log.warning("--%s is accepted for compatibility with tensorflow_model_server and has no effect", name)
    options = options_from_args(args)

    from serving.server.config_files import ConfigError
    from serving.server.model_server import ModelServer

    try:
        server = ModelServer(options)
        server.start()
    except (ConfigError, OSError, RuntimeError) as error:
        raise CommandError(str(error)) from None
    stopped = threading.Event()

    def shut_down(signum, _frame):
        if not stopped.is_set():
            log.info("Received %s, shutting down", signal.Signals(signum).name)
            stopped.set()

    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    while not stopped.wait(1.0):
        pass
    server.stop()
    return 0
