"""The embedded server's HTTP port (``--rest_api_port``): TF Serving's REST API and OpenAI-style embeddings.

Served with TF Serving's URLs and JSON layout, so clients, health checks and dashboards written for TF Serving work:

- ``GET /v1/models/<name>[/versions/<v> | /labels/<label>]``: GetModelStatus as JSON.
- ``GET /v1/models/<name>[...]/metadata``: GetModelMetadata (the signature_def map) as JSON.
- ``POST /v1/models/<name>[...]:predict``: Predict, row or columnar JSON (`rest_predict`).
- ``POST /v1/embeddings``: OpenAI's embeddings API (`openai_embeddings`).
- ``GET <prometheus path>``: metrics, when ``--monitoring_config_file`` enables Prometheus.

Errors are TF Serving's ``{"error": "<message>"}`` (OpenAI's error object on ``/v1/embeddings``) with the HTTP
status of the canonical code. Requests are bounded: a body over ``--rest_api_max_body_bytes`` is refused (413)
before it is read, a POST without a usable ``Content-Length`` gets 400 or 411, and a request (headers and body)
not received within ``--rest_api_timeout_in_ms`` gets 408 and its connection closed, so slow or half-sent
requests hold a thread for at most that long; idle keep-alive connections are closed after the same time.
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable

import grpc
from google.protobuf import json_format

from embedder.validation import check_positive_int, invalid
from serving.server.errors import ServingError, from_exception, invalid_argument

log = logging.getLogger(__name__)

_MODEL_URL = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
    r"(?P<rest>/metadata|:[a-z]+)?/?$"
)
EMBEDDINGS_PATH = "/v1/embeddings"
_DIGITS = re.compile(r"^[0-9]+$")

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


class HttpError(Exception):
    """A request refused by the HTTP layer (before any model is involved), with its status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _DeadlineReader(socket.SocketIO):
    """The socket's reading side with a deadline for the whole request, not only for each ``recv``.

    A per-``recv`` timeout lets a client that sends one byte a second hold a thread forever; here every read
    waits at most until `deadline`, then raises `TimeoutError`. `received` counts the bytes read so far.
    """

    def __init__(self, sock: socket.socket):
        super().__init__(sock, "rb")
        self.deadline: float | None = None
        self.received = 0

    def readinto(self, buffer) -> int | None:
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("request deadline passed")
            self._sock.settimeout(remaining)
        count = super().readinto(buffer)
        self.received += count or 0
        return count


class _HTTPServer(http.server.ThreadingHTTPServer):
    #: socketserver's default backlog of 5 drops connections in a burst (each retried by the client a second later).
    request_queue_size = 128


class RestApiServer:
    """A threaded HTTP server answering TF Serving's REST API and OpenAI-style embeddings.

    Args:
        host: the address to bind.
        port: the port (0 for any free one; see `port` after `start`).
        model_status: ``(name, version, label)`` → GetModelStatusResponse, raising `ServingError`.
        model_metadata: ``(name, version, label)`` → GetModelMetadataResponse, raising `ServingError`.
        servable: ``(name, version, label)`` → a context manager holding the servable a request asks for; None
            to serve no predict or embeddings requests.
        predict: ``(servable, PredictRequest, timeout)`` → PredictResponse (the gRPC API's `predict`).
        metrics_text: returns the Prometheus text; None when monitoring is off.
        metrics_path: the URL path of the metrics.
        metrics: records each predict / embeddings request (a `ServingMetrics`), or None.
        timeout: seconds a request may take to arrive, and the deadline of its model call. Defaults to 30
            (``--rest_api_timeout_in_ms``'s default).
        max_body_bytes: the largest request body accepted. Defaults to 32 MiB.
        embeddings_chunk_rows: the most texts of one ``/v1/embeddings`` request run in one model call (the
            batching ``max_batch_size``); None runs them all at once.
    """

    def __init__(
        self,
        host: str,
        port: int,
        model_status: Callable,
        model_metadata: Callable,
        servable: Callable | None = None,
        predict: Callable | None = None,
        metrics_text: Callable[[], str] | None = None,
        metrics_path: str = "",
        metrics=None,
        timeout: float = 30.0,
        max_body_bytes: int = 32 * 1024 * 1024,
        embeddings_chunk_rows: int | None = None,
    ):
        if not timeout > 0:
            raise invalid("timeout", "a positive number of seconds", timeout)
        check_positive_int("max_body_bytes", max_body_bytes)
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                self.connection.settimeout(api.timeout)
                self.rfile.close()  # the stock reader, replaced by one with a whole-request deadline
                self.reader = _DeadlineReader(self.connection)
                self.rfile = io.BufferedReader(self.reader)

            def log_message(self, format, *args):  # noqa: A002 - the base class's signature
                log.debug("%s %s", self.address_string(), format % args)

            def handle_expect_100(self):
                # Refuse a body that will not be accepted before the client sends it.
                try:
                    api._content_length(self)
                except HttpError as error:
                    api._http_error(self, error)
                    return False
                return super().handle_expect_100()

            def handle_one_request(self):
                api._handle_one(self)

        self._model_status = model_status
        self._model_metadata = model_metadata
        self._servable = servable
        self._predict = predict
        self._metrics_text = metrics_text
        self._metrics_path = metrics_path
        self._metrics = metrics
        self.timeout = float(timeout)
        self.max_body_bytes = int(max_body_bytes)
        self.embeddings_chunk_rows = embeddings_chunk_rows
        self._server = _HTTPServer((host, port), Handler)
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

    # ------------------------------------------------------------------------------------------- HTTP layer
    def _handle_one(self, handler) -> None:
        """One request on a connection: read it within the deadline, answer it, or close the connection."""
        reader: _DeadlineReader = handler.reader
        reader.deadline = time.monotonic() + self.timeout
        received_before = reader.received
        try:
            handler.raw_requestline = handler.rfile.readline(65537)
            if len(handler.raw_requestline) > 65536:
                handler.requestline = handler.request_version = handler.command = ""
                handler.send_error(414)
                return
            if not handler.raw_requestline:
                handler.close_connection = True
                return
            if not handler.parse_request():  # reads the headers; answers malformed ones itself
                return
            body = self._read_body(handler)
        except TimeoutError:
            handler.close_connection = True
            if reader.received > received_before:
                log.info("REST request from %s timed out while being received", handler.address_string())
                message = f"The request was not received within {self.timeout:g} s (--rest_api_timeout_in_ms)."
                self._http_error(handler, HttpError(408, message))
            return
        except HttpError as error:
            handler.close_connection = True
            self._http_error(handler, error)
            return
        except OSError:
            handler.close_connection = True
            return
        reader.deadline = None
        handler.connection.settimeout(self.timeout)
        try:
            self._dispatch(handler, handler.command, body)
            handler.wfile.flush()
        except OSError:  # the client went away or stopped reading
            handler.close_connection = True

    def _content_length(self, handler) -> int | None:
        """The declared body length (None: no body); `HttpError` for a missing, malformed or excessive one."""
        values = handler.headers.get_all("Content-Length") or []
        if handler.headers.get("Transfer-Encoding"):
            raise HttpError(411, "Transfer-Encoding is not accepted: send the body with a Content-Length header.")
        if not values:
            if handler.command == "POST":
                raise HttpError(411, "A POST request needs a Content-Length header.")
            return None
        if len({v.strip() for v in values}) > 1:
            raise HttpError(400, f"Conflicting Content-Length headers: {values}.")
        value = values[0].strip()
        if not _DIGITS.match(value):
            raise HttpError(400, f"Content-Length must be a non-negative integer. Received: {value[:40]!r}.")
        length = int(value)
        if length > self.max_body_bytes:
            raise HttpError(
                413,
                f"The request body of {length} bytes is over the limit of {self.max_body_bytes} bytes "
                "(--rest_api_max_body_bytes).",
            )
        return length

    def _read_body(self, handler) -> bytes:
        length = self._content_length(handler)
        if not length:
            return b""
        body = handler.rfile.read(length)
        if len(body) < length:  # the client closed the connection mid-body
            raise OSError("connection closed before the whole body arrived")
        return body

    def _send(self, handler, status: int, body: str, content_type: str = "application/json", close=False) -> None:
        data = body.encode("utf-8")
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        if close:
            handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(data)

    def _http_error(self, handler, error: HttpError) -> None:
        if not getattr(handler, "request_version", None):
            handler.request_version = "HTTP/1.1"
        if not hasattr(handler, "requestline"):
            handler.requestline = ""
        if (handler.path.split("?", 1)[0] if getattr(handler, "path", None) else "") == EMBEDDINGS_PATH:
            from serving.server.openai_embeddings import OpenAIError

            document = OpenAIError(error.status, error.message).to_json()
        else:
            document = {"error": error.message}
        handler.close_connection = True
        try:
            self._send(handler, error.status, json.dumps(document), close=True)
        except OSError:
            pass

    def _error(self, handler, error: ServingError) -> None:
        self._send(handler, _HTTP_STATUS.get(error.code.name, 500), json.dumps({"error": error.message}, indent=1))

    # ------------------------------------------------------------------------------------------- routing
    def _dispatch(self, handler, method: str, body: bytes) -> None:
        path = handler.path.split("?", 1)[0]
        if path == EMBEDDINGS_PATH:
            if method != "POST":
                self._send(handler, 405, json.dumps(self._openai_error(405, f"{EMBEDDINGS_PATH} takes POST.")))
                return
            self._embeddings(handler, body)
            return
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
            if method == "POST":
                if rest == ":predict":
                    self._send(handler, 200, json.dumps(self._rest_predict(name, version, label, body)))
                    return
                if rest in (":classify", ":regress"):
                    self._model_metadata(name, version, label)  # NOT_FOUND for an unknown model comes first
                    kind = "classification" if rest == ":classify" else "regression"
                    raise invalid_argument(
                        f"Expected {kind} signature method_name to be tensorflow/serving/{rest[1:]}. Was: "
                        f"tensorflow/serving/predict. Model {name!r} takes raw strings, not tf.Examples: POST "
                        f'to :predict with "signature_name": "classify" for class probabilities.'
                    )
                self._send(handler, 404, json.dumps({"error": f"Malformed request: POST {path}"}))
                return
            if rest and rest.startswith(":"):
                self._send(handler, 405, json.dumps({"error": f"{rest} takes POST, not {method}."}))
                return
            lookup = self._model_metadata if rest == "/metadata" else self._model_status
            self._send(handler, 200, _to_json(lookup(name, version, label)))
        except Exception as error:  # noqa: BLE001 - an HTTP request never takes the server down
            failure = from_exception(error)
            if failure.code.name == "INTERNAL":
                log.exception("REST request %s %s failed", method, path)
            self._error(handler, failure)

    def _parse_json(self, body: bytes):
        try:
            return json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise invalid_argument(f"The request body is not valid JSON: {error}") from None

    def _record(self, api: str, model: str, status: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.record_request(api, model, status, time.perf_counter() - started)

    def _rest_predict(self, name: str, version: int | None, label: str | None, body: bytes) -> dict:
        from serving.server.rest_predict import predict_request_from_json, predict_response_to_json

        if self._servable is None or self._predict is None:
            raise ServingError(grpc.StatusCode.UNIMPLEMENTED, "Predict is not served on this port.")
        started = time.perf_counter()
        try:
            document = self._parse_json(body)
            with self._servable(name, version, label) as servable:
                request, layout = predict_request_from_json(document, servable)
                response = self._predict(servable, request, self.timeout)
            answer = predict_response_to_json(response, layout)
        except Exception as error:
            self._record("Predict", name, from_exception(error).code.name, started)
            raise
        self._record("Predict", name, "OK", started)
        return answer

    @staticmethod
    def _openai_error(status: int, message: str) -> dict:
        from serving.server.openai_embeddings import OpenAIError

        return OpenAIError(status, message).to_json()

    def _embeddings(self, handler, body: bytes) -> None:
        from serving.server.openai_embeddings import OpenAIError, embed, parse_embeddings_request

        started = time.perf_counter()
        model = ""
        try:
            try:
                document = json.loads(body)
            except (UnicodeDecodeError, ValueError) as error:
                raise OpenAIError(400, f"The request body is not valid JSON: {error}") from None
            request = parse_embeddings_request(document)
            model = request.model
            if self._servable is None or self._predict is None:
                raise OpenAIError(501, "Embeddings are not served on this port.", error_type="server_error")
            with self._servable(request.model, None, None) as servable:
                answer = embed(request, servable, self._predict, self.embeddings_chunk_rows, self.timeout)
        except Exception as error:  # noqa: BLE001 - an HTTP request never takes the server down
            if isinstance(error, OpenAIError):
                failure = error
            else:
                serving_error = from_exception(error)
                if serving_error.code.name == "INTERNAL":
                    log.exception("POST %s failed", EMBEDDINGS_PATH)
                failure = OpenAIError.from_serving_error(serving_error)
            self._record("Embeddings", model, str(failure.status), started)
            self._send(handler, failure.status, json.dumps(failure.to_json()))
            return
        self._record("Embeddings", model, "OK", started)
        self._send(handler, 200, json.dumps(answer))
