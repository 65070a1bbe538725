"""Embeddings from a served model, through `serving.EmbeddingClient` (gRPC; no TensorFlow in this process).

The version is resolved once, when the backend is created (the newest AVAILABLE one, unless a number is given),
and every request names that number: a server that loads a new version during the job keeps answering the job
with the pinned one, as long as its version policy keeps it loaded, and a server that dropped it answers
NOT_FOUND, which stops the job at a chunk boundary instead of mixing embedding spaces. The client splits each
chunk into requests of at most `batch_size` sentences and at most the message limit in bytes, and keeps
`requests_in_flight` of them in flight; `max_text_bytes` tells the job which lines cannot fit in any request, so
it records them as bad lines instead of stopping at them.

Example:
    >>> backend = GrpcBackend("localhost:8500", "default")
    >>> backend.info.version, backend.embed(["How far is the moon?"]).shape
    (3, (1, 256))
"""

from __future__ import annotations

import numpy as np

from embedder import contract
from serving.client.request_chunks import REQUEST_OVERHEAD_BYTES
from serving.corpus.model_info import ModelInfo


class GrpcBackend:
    """Embeds through TF Serving's (or `embedder serve`'s) gRPC API with one pinned model version.

    Args:
        target: the server's ``host:port``.
        model: the served model's name.
        version: the version number to use; None pins the newest AVAILABLE version. Defaults to None.
        batch_size: sentences per request (at or under the server's ``max_batch_size``). Defaults to 128.
        requests_in_flight: requests sent at the same time. Defaults to 4.
        timeout: seconds one chunk may take, retries included. Defaults to 600.
        **client_kwargs: more `EmbeddingClient` arguments (``tls``, ``root_certificates``, ``retry``…).
    """

    def __init__(
        self,
        target: str,
        model: str,
        version: int | None = None,
        *,
        batch_size: int = 128,
        requests_in_flight: int = 4,
        timeout: float | None = 600.0,
        **client_kwargs,
    ):
        from serving.client.embedding_client import EmbeddingClient

        self._client = EmbeddingClient(
            target,
            model,
            max_batch_size=batch_size,
            max_in_flight=requests_in_flight,
            timeout=timeout,
            **client_kwargs,
        )
        try:
            self.version = self._client.resolve_version() if version is None else version
            metadata = self._client.metadata(version=self.version)
        except BaseException:
            self._client.close()
            raise
        #: The longest sentence one request can carry under the client's message limit (the job's bad-line limit).
        self.max_text_bytes = self._client.max_message_bytes - REQUEST_OVERHEAD_BYTES - 16
        self.info = ModelInfo(
            name=model,
            version=self.version,
            embedding_dim=int(metadata[contract.META_EMBEDDING_DIM]),
            created=metadata.get(contract.META_CREATED),
            architecture=metadata.get(contract.META_ARCHITECTURE),
            source=f"grpc://{target}",
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), dim) embeddings from the pinned version."""
        if not texts:
            return np.zeros((0, self.info.embedding_dim), np.float32)
        return self._client.embed(list(texts), version=self.version)

    def close(self) -> None:
        self._client.close()
