"""`ServingError`: a failed request as TensorFlow Serving reports it, a gRPC status code and a message.

Every layer of the embedded server (model manager, batcher, services) raises `ServingError` for anything a
client did or asked for; the services turn it into the RPC's status. TensorFlow's own errors carry the same
canonical codes (``tf.errors.InvalidArgumentError.error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0]``), so
`from_exception` maps an error raised inside the graph to the code TF Serving would return for it.
"""

from __future__ import annotations

import grpc

_CODES_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


class ServingError(Exception):
    """A request failure with the gRPC status code and message the client receives.

    Args:
        code: the `grpc.StatusCode`.
        message: what went wrong, naming the model, version, signature or tensor concerned.
    """

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def code_number(self) -> int:
        """The canonical code as an integer (what `tensorflow.serving.StatusProto.error_code` holds)."""
        return self.code.value[0]

    def __repr__(self) -> str:
        return f"ServingError({self.code.name}, {self.message!r})"


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.FAILED_PRECONDITION, message)


def resource_exhausted(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


def data_loss(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.DATA_LOSS, message)


def unavailable(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.UNAVAILABLE, message)


def deadline_exceeded(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.DEADLINE_EXCEEDED, message)


def internal(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INTERNAL, message)


def code_from_number(number: int) -> grpc.StatusCode:
    """The `grpc.StatusCode` of a canonical error code number (UNKNOWN for numbers outside the canon)."""
    return _CODES_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def from_exception(error: BaseException) -> ServingError:
    """A `ServingError` for any exception: itself, TensorFlow's code for an `OpError`, else INTERNAL."""
    if isinstance(error, ServingError):
        return error
    error_code = getattr(error, "error_code", None)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if isinstance(error_code, int) and error_code != 0:
        return ServingError(code_from_number(error_code), message)
    return ServingError(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {message}")
