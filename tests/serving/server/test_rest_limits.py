"""The HTTP port's bounds, with raw sockets: hostile or broken requests get a clear HTTP answer, never a held
thread, an unbounded read or a dropped connection without a word.

These run the HTTP layer (`RestApiServer`) on its own, with status lookups that need no model, so they take
about a second each; the model behind the port is exercised by test_rest_api.py.
"""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
from tensorflow_serving.apis import get_model_status_pb2

from serving.server.rest_api import RestApiServer

TIMEOUT = 0.6
MAX_BODY = 4096


def _status(name, version, label):
    response = get_model_status_pb2.GetModelStatusResponse()
    response.model_version_status.add(version=1, state=get_model_status_pb2.ModelVersionStatus.AVAILABLE)
    return response


@pytest.fixture
def server():
    rest = RestApiServer(
        "127.0.0.1", 0, model_status=_status, model_metadata=_status, timeout=TIMEOUT, max_body_bytes=MAX_BODY
    ).start()
    yield rest
    rest.stop()


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict, dict]:
    """(status, headers, JSON body) of one response; fails the test if none arrives within 10 s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed without a complete response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, json.loads(body) if body else {}


def _exchange(server, raw: bytes) -> tuple[int, dict, dict]:
    with _connect(server) as sock:
        sock.sendall(raw)
        return _read_response(sock)


def _post_head(path: str, *headers: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize(
    "header, status, message",
    [
        ("Content-Length: -1", 400, "non-negative integer. Received: '-1'"),
        ("Content-Length: abc", 400, "non-negative integer. Received: 'abc'"),
        ("Content-Length: 99999999999999999999999", 413, f"over the limit of {MAX_BODY} bytes"),
        (f"Content-Length: {MAX_BODY + 1}", 413, "--rest_api_max_body_bytes"),
        ("Transfer-Encoding: chunked", 411, "Content-Length"),
        ("X-Nothing: 1", 411, "needs a Content-Length"),
    ],
)
def test_a_bad_content_length_is_answered_at_once_and_the_body_left_unread(server, header, status, message):
    for path in ("/v1/models/m:predict", "/v1/embeddings"):
        started = time.monotonic()
        with _connect(server) as sock:
            sock.sendall(_post_head(path, header))  # no body follows
            code, headers, document = _read_response(sock)
            assert _closed_by_server(sock)
        assert time.monotonic() - started < TIMEOUT  # answered from the headers, not after a timeout
        assert (code, headers["connection"]) == (status, "close")
        error = document["error"]
        assert message in (error["message"] if path == "/v1/embeddings" else error)
    # The server goes on answering.
    assert _exchange(server, b"GET /v1/models/m HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200


def test_expect_100_continue_gets_413_before_the_body_is_sent(server):
    with _connect(server) as sock:
        sock.sendall(_post_head("/v1/models/m:predict", f"Content-Length: {10**9}", "Expect: 100-continue"))
        code, _, document = _read_response(sock)
    assert code == 413 and str(MAX_BODY) in document["error"]


@pytest.mark.parametrize("cut", ["body", "headers"])
def test_a_half_sent_request_gets_408_after_the_timeout(server, cut):
    with _connect(server) as sock:
        if cut == "body":
            sock.sendall(_post_head("/v1/models/m:predict", "Content-Length: 100") + b'{"instances": ')
        else:
            sock.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        code, _, document = _read_response(sock)
        waited = time.monotonic() - started
        assert _closed_by_server(sock)
    assert code == 408 and "--rest_api_timeout_in_ms" in document["error"]
    assert TIMEOUT * 0.8 < waited < TIMEOUT + 2


def test_a_trickled_request_is_cut_off_at_the_deadline_for_the_whole_request(server):
    """One byte every TIMEOUT / 3 never trips a per-read timeout; the whole request's deadline still holds."""
    request = _post_head("/v1/models/m:predict", "Content-Length: 2") + b"{}"
    with _connect(server) as sock:
        started = time.monotonic()
        answer = None
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sock.settimeout(TIMEOUT / 3)
            try:
                answer = sock.recv(65536)
                break
            except TimeoutError:
                continue
        waited = time.monotonic() - started
    assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
    assert waited < TIMEOUT + 1.5


def test_idle_and_half_sent_connections_release_their_threads():
    server = RestApiServer("127.0.0.1", 0, model_status=_status, model_metadata=_status, timeout=2.0).start()
    baseline = threading.active_count()
    sockets = []
    try:
        for index in range(60):
            sock = _connect(server)
            if index % 2:
                sock.sendall(_post_head("/v1/embeddings", "Content-Length: 1000") + b'{"input"')
            sockets.append(sock)
        deadline = time.monotonic() + server.timeout + 5
        while threading.active_count() > baseline + 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert threading.active_count() <= baseline + 2
        for index, sock in enumerate(sockets):
            if index % 2:
                assert _read_response(sock)[0] == 408
            assert _closed_by_server(sock)
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


def test_a_complete_request_within_the_limits_is_served_and_keeps_the_connection(server):
    with _connect(server) as sock:
        for _ in range(3):
            sock.sendall(b"GET /v1/models/m HTTP/1.1\r\nHost: x\r\n\r\n")
            code, headers, document = _read_response(sock)
            assert code == 200 and document["model_version_status"][0]["state"] == "AVAILABLE"
            assert headers.get("connection") != "close"
