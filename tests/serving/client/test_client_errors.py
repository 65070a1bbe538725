"""gRPC status → project exception, with the code and message kept."""

from __future__ import annotations

import grpc
import pytest

from serving.client import errors


@pytest.mark.parametrize(
    "code, cls, builtin",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidInput, ValueError),
        (grpc.StatusCode.OUT_OF_RANGE, errors.InvalidInput, ValueError),
        (grpc.StatusCode.NOT_FOUND, errors.ModelNotFound, LookupError),
        (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition, errors.EmbeddingError),
        (grpc.StatusCode.UNAVAILABLE, errors.Unavailable, ConnectionError),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted, errors.EmbeddingError),
        (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded, TimeoutError),
        (grpc.StatusCode.UNAUTHENTICATED, errors.AccessDenied, PermissionError),
        (grpc.StatusCode.INTERNAL, errors.ServerError, errors.EmbeddingError),
        (grpc.StatusCode.UNIMPLEMENTED, errors.ServerError, errors.EmbeddingError),
    ],
)
def test_each_code_maps_to_its_class_and_keeps_the_message(code, cls, builtin):
    error = errors.error_for(code, "the server said so", method="/x/Y", attempts=2)
    assert type(error) is cls and isinstance(error, builtin) and isinstance(error, errors.EmbeddingError)
    assert (error.code, error.details, error.method, error.attempts) == (code, "the server said so", "/x/Y", 2)
    assert str(error) == f"{code.name}: the server said so (after 2 attempts)"


def test_client_side_errors_have_no_code():
    error = errors.InvalidInput("too long")
    assert error.code is None and str(error) == "too long"
