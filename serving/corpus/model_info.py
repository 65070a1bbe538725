"""What a corpus job records about its model, and what it needs from whatever computes the embeddings.

A backend is the in-process SavedModel (`serving.corpus.saved_model_backend`) or the gRPC endpoint
(`serving.corpus.grpc_backend`). Each resolves the model version once, when it is created, and then computes every
embedding with that version: its `ModelInfo` is written to the manifest and compared on `--resume`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Protocol

import numpy as np

from embedder import contract


@dataclass(frozen=True)
class ModelInfo:
    """The model a job embeds with.

    Attributes:
        name: the model name (TF Serving's model name; the base directory's name in-process).
        version: the version number every chunk is computed with (None for a SavedModel directory that is not a
            numbered version).
        embedding_dim: the embedding dimension.
        created: the export's creation time from its metadata: tells a re-exported version apart.
        architecture: the encoder architecture, from the metadata.
        source: where the model was reached (``grpc://host:port`` or the version directory), for the record.
    """

    name: str
    version: int | None
    embedding_dim: int
    created: str | None = None
    architecture: str | None = None
    source: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddingBackend(Protocol):
    """Computes embeddings with one pinned model version."""

    info: ModelInfo

    def embed(self, texts: list[str]) -> np.ndarray:
        """float32 (len(texts), info.embedding_dim) embeddings of valid UTF-8 strings, in order."""

    def close(self) -> None:
        """Releases the model or the channel."""


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (all-zero rows stay zero), as float32: the contract's `l2_normalize`."""
    return contract.l2_normalize(np.asarray(vectors, dtype=np.float32))
