"""The TensorFlow-free client of the TF Serving gRPC API: everything in this folder imports only grpcio, protobuf,
numpy, the standard library and `embedder.contract` (a test reads the folder and enforces it).

    >>> from serving.client import EmbeddingClient   # also `from serving import EmbeddingClient`
"""

from __future__ import annotations


def __getattr__(name: str):
    import serving

    if name in serving.__all__:
        return getattr(serving, name)
    raise AttributeError(f"module 'serving.client' has no attribute {name!r}")
