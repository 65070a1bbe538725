"""The exceptions the light client raises: one base class, one subclass per kind of failure a caller handles.

Every exception keeps the server's status code (`code`, a `grpc.StatusCode`) and message (`details`) unchanged,
so a caller can log what the server said, and subclasses also derive from the matching builtin (`ValueError`,
`LookupError`, `ConnectionError`, `TimeoutError`) so generic handlers keep working::

    try:
        vectors = client.embed(texts)
    except ModelNotFound as error:      # NOT_FOUND: no such model or version
        ...
    except Unavailable:                 # UNAVAILABLE after the retries ran out
        ...
"""

from __future__ import annotations

import grpc


class EmbeddingError(Exception):
    """Base class of the client's errors.

    Attributes:
        code: the gRPC status code (None for errors found before any call was made).
        details: the server's (or gRPC's) message, unchanged.
        method: the RPC's full path, e.g. ``/tensorflow.serving.PredictionService/Predict``.
        attempts: how many times the call was tried.
    """

    def __init__(
        self, details: str, code: grpc.StatusCode | None = None, *, method: str | None = None, attempts: int = 1
    ):
        super().__init__(details)
        self.details = details
        self.code = code
        self.method = method
        self.attempts = attempts

    def __str__(self) -> str:
        if self.code is None:
            return self.details
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        return f"{self.code.name}: {self.details}{tries}"


class InvalidInput(EmbeddingError, ValueError):
    """The request was rejected as malformed (INVALID_ARGUMENT, OUT_OF_RANGE), or the client refused to send it."""


class ModelNotFound(EmbeddingError, LookupError):
    """The model or the requested version is not served (NOT_FOUND)."""


class FailedPrecondition(EmbeddingError):
    """The model cannot answer this request, e.g. an unknown signature (FAILED_PRECONDITION)."""


class Unavailable(EmbeddingError, ConnectionError):
    """The server could not be reached or is shutting down (UNAVAILABLE), after the retries."""


class ResourceExhausted(EmbeddingError):
    """The server is overloaded or a message is over a size limit (RESOURCE_EXHAUSTED), after the retries."""


class DeadlineExceeded(EmbeddingError, TimeoutError):
    """The call's deadline passed before the server answered (DEADLINE_EXCEEDED)."""


class AccessDenied(EmbeddingError, PermissionError):
    """The server refused the caller's credentials (UNAUTHENTICATED, PERMISSION_DENIED)."""


class ServerError(EmbeddingError):
    """The server failed while handling the request (INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS…)."""


_BY_CODE: dict[grpc.StatusCode, type[EmbeddingError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
    grpc.StatusCode.OUT_OF_RANGE: InvalidInput,
    grpc.StatusCode.NOT_FOUND: ModelNotFound,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPrecondition,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.UNAUTHENTICATED: AccessDenied,
    grpc.StatusCode.PERMISSION_DENIED: AccessDenied,
}


def error_for(code: grpc.StatusCode, details: str | None, *, method: str | None = None, attempts: int = 1):
    """The project exception for a failed RPC with status `code` and message `details`."""
    cls = _BY_CODE.get(code, ServerError if code is not grpc.StatusCode.CANCELLED else EmbeddingError)
    return cls(details or "", code, method=method, attempts=attempts)
