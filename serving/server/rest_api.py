"""The embedded server's HTTP port (``--rest_api_port``): model status, metadata and Prometheus metrics.

Served with TF Serving's URLs and JSON layout, so health checks and dashboards written for TF Serving work:

- ``GET /v1/models/<name>[/versions/<v> | /labels/<label>]``: GetModelStatus as JSON.
- ``GET /v1/models/<name>[...]/metadata``: GetModelMetadata (the signature_def map) as JSON.
- ``GET <prometheus path>``: metrics, when ``--monitoring_config_file`` enables Prometheus.

Predict, Classify and Regress over REST are *not* served here (they answer 501 with a pointer to the gRPC
port); the TensorFlow Serving container of docker-compose.yml serves them.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
from collections.abc import Callable

from google.protobuf import json_format

from serving.server.errors import ServingError, from_exception

log = logging.getLogger(__name__)

_MODEL_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<rest>/metadata|:[a-z]+)?/?$"
)

# Canonical code → HTTP status, as TF Serving maps them.
_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "OUT_OF_RANGE": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}


def _to_json(message) -> str:
    """JSON with default-valued fields printed (TF Serving prints ``"error_code": "OK"``); the keyword changed
    name across protobuf releases."""
    for keyword in ("always_print_fields_with_no_presence", "including_default_value_fields"):
        try:
            return json_format.MessageToJson(message, preserving_proto_field_name=True, **{keyword: True})
        except TypeError:
            continue
    return json_format.MessageToJson(message, preserving_proto_field_name=True)


class RestApiServer:
    """A threaded HTTP server answering status, metadata and metrics requests.

    Args:
        host: the address to bind.
        port: the port (0 for any free one; see `port` after `start`).
        model_status: ``(name, version, label)`` → GetModelStatusResponse, raising `ServingError`.
        model_metadata: ``(name, version, label)`` → GetModelMetadataResponse, raising `ServingError`.
        metrics_text: returns the Prometheus text; None when monitoring is off.
        metrics_path: the URL path of the metrics.
        grpc_target: shown in the 501 answer to POST requests.
    """

    def __init__(
        self,
        host: str,
        port: int,
        model_status: Callable,
        model_metadata: Callable,
        metrics_text: Callable[[], str] | None = None,
        metrics_path: str = "",
        grpc_target: str = "",
    ):
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format, *args):  # noqa: A002 - the base class's signature
                log.debug("%s %s", self.address_string(), format % args)

            def do_GET(self):  # noqa: N802 - http.server's naming
                api._handle(self, "GET")

            def do_POST(self):  # noqa: N802
                api._handle(self, "POST")

        self._model_status = model_status
        self._model_metadata = model_metadata
        self._metrics_text = metrics_text
        self._metrics_path = metrics_path
        self._grpc_target = grpc_target
        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> RestApiServer:
        self._thread = threading.Thread(target=self._server.serve_forever, name="rest-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _send(self, handler, status: int, body: str, content_type: str = "application/json") -> None:
        data = body.encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _error(self, handler, error: ServingError) -> None:
        self._send(handler, _HTTP_STATUS.get(error.code.name, 500), json.dumps({"error": error.message}, indent=1))

    def _handle(self, handler, method: str) -> None:
        if method == "POST":
            # Drain the body so the connection stays usable.
            handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        path = handler.path.split("?", 1)[0]
        try:
            if method == "GET" and self._metrics_text is not None and path == self._metrics_path:
                self._send(handler, 200, self._metrics_text(), "text/plain; version=0.0.4")
                return
            match = _MODEL_URL.match(path)
            if match is None:
                self._send(handler, 404, json.dumps({"error": f"Malformed request: {method} {path}"}))
                return
            name, label, rest = match["name"], match["label"], match["rest"]
            version = int(match["version"]) if match["version"] else None
            if method == "POST" or (rest and rest.startswith(":")):
                self._send(
                    handler,
                    501,
                    json.dumps(
                        {
                            "error": f"The embedded server answers {rest or 'POST'} over gRPC only "
                            f"({self._grpc_target}, tensorflow.serving.PredictionService); the "
                            "TensorFlow Serving container serves the REST API."
                        }
                    ),
                )
                return
            lookup = self._model_metadata if rest == "/metadata" else self._model_status
            response = lookup(name, version, label)
            self._send(handler, 200, _to_json(response))
        except Exception as error:  # noqa: BLE001 - an HTTP request never takes the server down
            failure = from_exception(error)
            if failure.code.name == "INTERNAL":
                log.exception("REST request %s %s failed", method, path)
            self._error(handler, failure)
