"""Which model a corpus job embeds with, as plain settings that can be pickled to Beam workers.

`BackendSpec.create()` makes the backend (`SavedModelBackend` in-process, `GrpcBackend` through a server).
`BackendSpec.pinned(info)` is the same spec fixed to the version a backend resolved, so that every Beam worker (or
a later process) uses exactly that version: the version directory in-process, the version number over gRPC.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from embedder.validation import check_choice, invalid, is_int

SAVED_MODEL = "saved_model"
GRPC = "grpc"


@dataclass(frozen=True, kw_only=True)
class BackendSpec:
    """The settings of a corpus job's model.

    Args:
        kind: "saved_model" (in-process) or "grpc".
        saved_model: the SavedModel version directory or model base path (kind "saved_model").
        target: the server's ``host:port`` (kind "grpc").
        model: the served model's name (kind "grpc").
        version: the version number; None: the latest (in-process: under the base path; gRPC: the newest
            AVAILABLE). Defaults to None.
        batch_size: sentences per model call (in-process) or per request (gRPC; keep it at or under the server's
            batching ``max_batch_size``, 256 in our batching config). Defaults to 128.
        requests_in_flight: gRPC requests sent at the same time. Defaults to 4.
        timeout: gRPC: seconds one chunk may take, retries included. Defaults to 600.
        tls: gRPC over TLS. Defaults to False.
        root_certificates: gRPC: a PEM file of the CA to trust (implies TLS).
    """

    kind: str
    saved_model: str | None = None
    target: str | None = None
    model: str | None = None
    version: int | None = None
    batch_size: int = 128
    requests_in_flight: int = 4
    timeout: float | None = 600.0
    tls: bool = False
    root_certificates: str | None = None

    def __post_init__(self):
        check_choice("kind", self.kind, (SAVED_MODEL, GRPC))
        if self.kind == SAVED_MODEL:
            if not self.saved_model:
                raise ValueError("An in-process model needs `saved_model`, a SavedModel directory.")
        elif self.kind == GRPC:
            if not self.target or not self.model:
                raise ValueError(
                    f"A served model needs `target` (host:port) and `model` (its name). "
                    f"Received: target={self.target!r}, model={self.model!r}"
                )
        if self.version is not None and not is_int(self.version):
            raise invalid("version", "None or an integer", self.version)

    def create(self):
        """The backend (an `EmbeddingBackend`), with its version resolved."""
        if self.kind == SAVED_MODEL:
            from serving.corpus.saved_model_backend import SavedModelBackend

            return SavedModelBackend(self._saved_model_path(), batch_size=self.batch_size)
        from serving.corpus.grpc_backend import GrpcBackend

        return GrpcBackend(
            self.target,
            self.model,
            self.version,
            batch_size=self.batch_size,
            requests_in_flight=self.requests_in_flight,
            timeout=self.timeout,
            tls=self.tls,
            root_certificates=self.root_certificates,
        )

    def _saved_model_path(self) -> str:
        path = str(self.saved_model).rstrip("/")
        if self.version is None:
            return path
        if "://" not in path and os.path.isfile(os.path.join(path, "saved_model.pb")):
            if os.path.basename(path) != str(self.version):
                raise ValueError(
                    f"{path} is a SavedModel version directory, not version {self.version}; give the model base "
                    "path with a version number, or the version directory alone."
                )
            return path
        return f"{path}/{self.version}"

    def pinned(self, backend) -> BackendSpec:
        """This spec fixed to the version `backend` (created from it) resolved."""
        if self.kind == SAVED_MODEL:
            return dataclasses.replace(self, saved_model=backend.version_dir, version=None)
        return dataclasses.replace(self, version=backend.info.version)
