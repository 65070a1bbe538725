"""Serving: the gRPC client (no TensorFlow) and the embedded server.

Importing the package is cheap and never imports TensorFlow; the names below load on first use.

    >>> from serving import EmbeddingClient
    >>> with EmbeddingClient("localhost:8500", "default") as client:
    ...     vectors = client.embed(["a good film", "a bad film"])
"""

from __future__ import annotations

import importlib

_LAZY = {
    "EmbeddingClient": "serving.client.embedding_client",
    "AsyncEmbeddingClient": "serving.client.aio_client",
    "RetryPolicy": "serving.client.retry_policy",
    "EmbeddingError": "serving.client.errors",
    "InvalidInput": "serving.client.errors",
    "ModelNotFound": "serving.client.errors",
    "FailedPrecondition": "serving.client.errors",
    "Unavailable": "serving.client.errors",
    "ResourceExhausted": "serving.client.errors",
    "DeadlineExceeded": "serving.client.errors",
    "AccessDenied": "serving.client.errors",
    "ServerError": "serving.client.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'serving' has no attribute {name!r}")
