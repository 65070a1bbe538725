"""Serving: the gRPC client (no TensorFlow) and the embedded server.

Importing the package is cheap and never imports TensorFlow; the names below load on first use.

    >>> from serving import EmbeddingClient
    >>> with EmbeddingClient("localhost:8500", "default") as client:
    ...     vectors = client.embed(["a good film", "a bad film"])
"""

from __future__ import annotations

import importlib

_LAZY = {
    "EmbeddingClient": "serving.client",
    "AsyncEmbeddingClient": "serving.aio_client",
    "RetryPolicy": "serving.retry_policy",
    "EmbeddingError": "serving.client_errors",
    "InvalidInput": "serving.client_errors",
    "ModelNotFound": "serving.client_errors",
    "FailedPrecondition": "serving.client_errors",
    "Unavailable": "serving.client_errors",
    "ResourceExhausted": "serving.client_errors",
    "DeadlineExceeded": "serving.client_errors",
    "AccessDenied": "serving.client_errors",
    "ServerError": "serving.client_errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'serving' has no attribute {name!r}")
