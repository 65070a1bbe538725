"""What the blocking and the asyncio client share: settings, request building, response decoding, and the
Predict flow (chunk, send, check that one version answered every chunk, reassemble) written once, without I/O.

`EmbeddingClient` and `AsyncEmbeddingClient` add only the transport: how a list of requests is sent with several in
flight, retries and a deadline. The flow is a generator that yields the requests it needs answered and receives
the responses, so both transports drive the same code.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Generator, Sequence
from typing import Any

import grpc
import numpy as np

from embedder import contract
from embedder.validation import invalid, is_int
from serving.client import schema as pb
from serving.client.errors import EmbeddingError, ServerError, error_for
from serving.client.request_chunks import assemble, plan_chunks
from serving.client.results import (
    Classification,
    ModelMetadata,
    Prediction,
    SignatureInfo,
    TensorSpec,
    VersionStatus,
)
from serving.client.retry_policy import RetryPolicy
from serving.client.targets import channel_target, load_balancing_options
from serving.client.tensor_codec import encode_text, string_tensor, to_numpy

#: gRPC's default limit on a received message, which is what a server (TF Serving's and ours) accepts by default.
DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
#: Largest response the client accepts (attention maps of a big chunk can exceed the 4 MiB default).
MAX_RESPONSE_BYTES = 256 * 1024 * 1024

#: Method path → (request class, response class).
METHODS = {
    pb.PREDICT_METHOD: (pb.PredictRequest, pb.PredictResponse),
    pb.GET_MODEL_METADATA_METHOD: (pb.GetModelMetadataRequest, pb.GetModelMetadataResponse),
    pb.GET_MODEL_STATUS_METHOD: (pb.GetModelStatusRequest, pb.GetModelStatusResponse),
}


class _Default:
    """Marks a keyword the caller left out (so that an explicit None still means "none")."""

    def __repr__(self) -> str:
        return "<client default>"


DEFAULT: Any = _Default()


def _is_int(value) -> bool:
    """`embedder.validation.is_int`, numpy integers included (versions read from arrays, e.g. a response's)."""
    return is_int(value) or isinstance(value, np.integer)


def check_version(value, name: str = "version") -> int | None:
    """`value` as a version number (None: the latest). Version 0 is a valid version."""
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise invalid(name, "None or a non-negative integer", value)
    return int(value)


def check_timeout(value, name: str = "timeout") -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        raise invalid(name, "None or a positive number of seconds", value)
    return float(value)


def check_texts(texts) -> tuple[list[bytes], bool]:
    """UTF-8 encoded texts and whether the caller passed a single string."""
    if isinstance(texts, (str, bytes)):
        return [encode_text(texts)], True
    if isinstance(texts, np.ndarray):
        texts = texts.tolist()
    if not isinstance(texts, Sequence):
        raise TypeError(f"Expected a string or a sequence of strings, received {type(texts).__name__}.")
    encoded = []
    for position, text in enumerate(texts):
        if not isinstance(text, (str, bytes)):
            raise TypeError(f"Expected strings, received {type(text).__name__} at position {position}.")
        encoded.append(encode_text(text))
    return encoded, False


def _decode(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _tensor_spec(info) -> TensorSpec:
    shape = None
    if not info.tensor_shape.unknown_rank:
        shape = tuple(None if dim.size < 0 else int(dim.size) for dim in info.tensor_shape.dim)
    return TensorSpec(pb.DATA_TYPE_NAMES.get(info.dtype, str(info.dtype)), shape)


def _answered_version(spec) -> int | None:
    return int(spec.version.value) if spec.HasField("version") else None


class ClientBase:
    """Settings and transport-independent logic of the gRPC embedding clients (see `EmbeddingClient`)."""

    def __init__(
        self,
        target: str | Sequence[str],
        model: str,
        *,
        signature: str = contract.SIGNATURE_EMBED,
        version: int | None = None,
        version_label: str | None = None,
        timeout: float | None = 60.0,
        tls: bool = False,
        root_certificates: bytes | str | os.PathLike | None = None,
        tls_server_name: str | None = None,
        max_batch_size: int = 64,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_in_flight: int = 4,
        retry: RetryPolicy | None = None,
        channel_options: Sequence[tuple[str, Any]] = (),
        load_balancing: str | None = None,
    ):
        self._target = channel_target(target)
        if not isinstance(model, str) or not model:
            raise invalid("model", "a non-empty model name", model)
        if not isinstance(signature, str) or not signature:
            raise invalid("signature", "a non-empty signature name", signature)
        if version is not None and version_label is not None:
            raise ValueError(
                "Received both `version` and `version_label`; pass at most one. "
                f"Received: version={version!r}, version_label={version_label!r}"
            )
        if version_label is not None and (not isinstance(version_label, str) or not version_label):
            raise invalid("version_label", "None or a non-empty string", version_label)
        for name, value in (
            ("max_batch_size", max_batch_size),
            ("max_message_bytes", max_message_bytes),
            ("max_in_flight", max_in_flight),
        ):
            if not _is_int(value) or value < 1:
                raise invalid(name, "a positive integer", value)
        if max_message_bytes <= 2 * 1024:
            raise invalid("max_message_bytes", "more than 2048 bytes", max_message_bytes)
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise invalid("retry", "None or a RetryPolicy", retry)
        self.target = self._target.display
        self.model = model
        self.signature = signature
        self.version = check_version(version)
        self.version_label = version_label
        self.timeout = check_timeout(timeout)
        self.max_batch_size = int(max_batch_size)
        self.max_message_bytes = int(max_message_bytes)
        self.max_in_flight = int(max_in_flight)
        self.retry = retry if retry is not None else RetryPolicy()
        self._credentials = self._make_credentials(tls, root_certificates)
        self._channel_options = self._make_channel_options(
            tls_server_name, {**load_balancing_options(self._target, load_balancing), **dict(channel_options)}
        )

    def __repr__(self) -> str:
        version = self.version if self.version_label is None else repr(self.version_label)
        return f"{type(self).__name__}(target={self.target!r}, model={self.model!r}, version={version})"

    # ----------------------------------------------------------------------------------------------- channel
    @staticmethod
    def _make_credentials(tls: bool, root_certificates) -> grpc.ChannelCredentials | None:
        if not isinstance(tls, bool):
            raise invalid("tls", "a bool", tls)
        if root_certificates is None:
            return grpc.ssl_channel_credentials() if tls else None
        if isinstance(root_certificates, (str, os.PathLike)):
            with open(root_certificates, "rb") as file:
                root_certificates = file.read()
        if not isinstance(root_certificates, bytes):
            raise invalid("root_certificates", "PEM bytes or a path to a PEM file", root_certificates)
        return grpc.ssl_channel_credentials(root_certificates=root_certificates)

    def _make_channel_options(self, tls_server_name: str | None, extra) -> list[tuple[str, Any]]:
        options = {
            "grpc.max_send_message_length": self.max_message_bytes,
            "grpc.max_receive_message_length": MAX_RESPONSE_BYTES,
            # gRPC waits up to 2 minutes between reconnection attempts by default; a restarted server should be
            # found within the retry budget.
            "grpc.initial_reconnect_backoff_ms": 100,
            "grpc.min_reconnect_backoff_ms": 100,
            "grpc.max_reconnect_backoff_ms": 1000,
        }
        if tls_server_name is not None:
            options["grpc.ssl_target_name_override"] = tls_server_name
        options.update(dict(extra))
        return list(options.items())

    # ----------------------------------------------------------------------------------------- per-call values
    def _deadline(self, timeout) -> float | None:
        timeout = self.timeout if timeout is DEFAULT else check_timeout(timeout)
        return None if timeout is None else time.monotonic() + timeout

    def _version_choice(self, version) -> tuple[int | None, str | None]:
        if version is DEFAULT:
            return self.version, self.version_label
        return check_version(version), None

    def _model_spec(self, signature: str | None, version: int | None, label: str | None) -> pb.ModelSpec:
        spec = pb.ModelSpec(name=self.model)
        if signature is not None:
            spec.signature_name = signature
        if version is not None:
            # Version 0 is a real version: the wrapper must be present even though its value is the default.
            spec.version.SetInParent()
            spec.version.value = version
        elif label is not None:
            spec.version_label = label
        return spec

    def _retry_delay(self, code: grpc.StatusCode, details: str | None, attempt: int, deadline: float | None):
        """Seconds to wait before the next try, or None to give up."""
        if not self.retry.should_retry(code, details, attempt):
            return None
        delay = self.retry.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay

    @staticmethod
    def _remaining(deadline: float | None, method: str, attempts: int) -> float | None:
        if deadline is None:
            return None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise error_for(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded", method=method, attempts=attempts)
        return remaining

    # ------------------------------------------------------------------------------------------ predict flow
    def _predict_flow(
        self, signature: str, texts: list[bytes], version, output_filter: Sequence[str] = ()
    ) -> Generator[list, list, Prediction]:
        """Yields the requests to send and receives their responses (in order); returns the assembled Prediction.

        When the caller did not ask for a version and a new one became available while the chunks were in flight,
        the chunks that an older version answered are sent again, pinned to the newest, so that every row of the
        result comes from one version.
        """
        version, label = self._version_choice(version)
        chunks = plan_chunks(texts, self.max_batch_size, self.max_message_bytes)

        def request(index: np.ndarray, version: int | None, label: str | None) -> pb.PredictRequest:
            message = pb.PredictRequest(model_spec=self._model_spec(signature, version, label))
            message.inputs[contract.INPUT_TEXT].CopyFrom(string_tensor([texts[i] for i in index]))
            message.output_filter.extend(output_filter)
            return message

        responses = yield [request(index, version, label) for index in chunks]
        answered = [_answered_version(response.model_spec) for response in responses]
        newest = max((v for v in answered if v is not None), default=None)
        stale = [i for i, v in enumerate(answered) if v is not None and v != newest]
        if stale and version is None:
            again = yield [request(chunks[i], newest, None) for i in stale]
            for i, response in zip(stale, again):
                responses[i] = response
                answered[i] = _answered_version(response.model_spec)
        if len({v for v in answered if v is not None}) > 1:
            raise ServerError(
                f"Versions {sorted(set(answered) - {None})} answered parts of one call for version "
                f"{version if label is None else label!r}.",
                method=pb.PREDICT_METHOD,
            )
        try:
            outputs = [{name: to_numpy(t) for name, t in response.outputs.items()} for response in responses]
            assembled = assemble(len(texts), chunks, outputs)
        except ValueError as error:
            raise ServerError(f"Malformed Predict response: {error}", method=pb.PREDICT_METHOD) from None
        answered_spec = responses[0].model_spec
        return Prediction(
            outputs=assembled,
            model=answered_spec.name or self.model,
            version=newest,
            signature=answered_spec.signature_name or signature,
        )

    # -------------------------------------------------------------------------------------- result decoding
    @staticmethod
    def _output(prediction: Prediction, name: str) -> np.ndarray:
        if name not in prediction.outputs:
            raise ServerError(
                f"Signature {prediction.signature!r} returned outputs {sorted(prediction.outputs)}, not {name!r}.",
                method=pb.PREDICT_METHOD,
            )
        return prediction.outputs[name]

    @classmethod
    def _embedding_result(cls, prediction: Prediction, single: bool, normalize: bool) -> np.ndarray:
        outputs = prediction.outputs
        if contract.OUTPUT_EMBEDDING not in outputs and len(outputs) == 1:
            # A custom embedding signature (`signature=`) may name its only output differently.
            (vectors,) = outputs.values()
        else:
            vectors = cls._output(prediction, contract.OUTPUT_EMBEDDING)
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            message = f"Expected (n, dim) embeddings, received shape {vectors.shape}."
            raise ServerError(message, method=pb.PREDICT_METHOD)
        if normalize:
            vectors = contract.l2_normalize(vectors)
        return vectors[0] if single else vectors

    @classmethod
    def _classification_result(cls, prediction: Prediction, single: bool) -> Classification:
        probabilities = np.asarray(cls._output(prediction, contract.OUTPUT_PROBABILITIES), dtype=np.float32)
        labels = cls._output(prediction, contract.OUTPUT_LABELS)
        names = tuple(_decode(label) for label in labels[0]) if len(labels) else ()
        return Classification(labels=names, probabilities=probabilities[0] if single else probabilities)

    @classmethod
    def _attention_result(cls, prediction: Prediction) -> tuple[list[list[str]], list[np.ndarray]]:
        all_tokens = cls._output(prediction, contract.OUTPUT_TOKENS)  # (B, max_length) bytes, b"" = padding
        all_weights = np.asarray(cls._output(prediction, contract.OUTPUT_ATTENTION), dtype=np.float32)  # (B, R, L)
        tokens, weights = [], []
        for row_tokens, row_weights in zip(all_tokens, all_weights):
            words = [_decode(token) for token in row_tokens if token]
            tokens.append(words)
            weights.append(row_weights[:, : len(words)])
        return tokens, weights

    @classmethod
    def _metadata_result(cls, prediction: Prediction) -> dict:
        documents = cls._output(prediction, contract.OUTPUT_METADATA)
        try:
            return json.loads(_decode(documents[0]))
        except (IndexError, ValueError) as error:
            raise ServerError(f"Malformed metadata document: {error}", method=pb.PREDICT_METHOD) from None

    # ------------------------------------------------------------------------------------- other RPCs' I/O
    def _model_metadata_request(self, version) -> pb.GetModelMetadataRequest:
        version, label = self._version_choice(version)
        return pb.GetModelMetadataRequest(
            model_spec=self._model_spec(None, version, label), metadata_field=["signature_def"]
        )

    @staticmethod
    def _model_metadata_result(response: pb.GetModelMetadataResponse) -> ModelMetadata:
        method = pb.GET_MODEL_METADATA_METHOD
        if "signature_def" not in response.metadata:
            keys = sorted(response.metadata)
            raise ServerError(f"GetModelMetadata returned no signature_def (keys: {keys}).", method=method)
        packed = response.metadata["signature_def"]
        if packed.type_url != pb.SIGNATURE_DEF_MAP_TYPE_URL:
            raise ServerError(f"Expected a SignatureDefMap, received type {packed.type_url!r}.", method=method)
        signature_map = pb.SignatureDefMap.FromString(packed.value)
        signatures = {
            name: SignatureInfo(
                name=name,
                method_name=definition.method_name,
                inputs={key: _tensor_spec(info) for key, info in sorted(definition.inputs.items())},
                outputs={key: _tensor_spec(info) for key, info in sorted(definition.outputs.items())},
            )
            for name, definition in sorted(signature_map.signature_def.items())
        }
        return ModelMetadata(
            model=response.model_spec.name, version=_answered_version(response.model_spec), signatures=signatures
        )

    def _status_request(self, version) -> pb.GetModelStatusRequest:
        version = None if version is DEFAULT else check_version(version)
        return pb.GetModelStatusRequest(model_spec=self._model_spec(None, version, None))

    @staticmethod
    def _status_result(response: pb.GetModelStatusResponse) -> list[VersionStatus]:
        statuses = [
            VersionStatus(
                version=int(status.version),
                state=pb.MODEL_VERSION_STATE_NAMES.get(status.state, "UNKNOWN"),
                error_code=int(status.status.error_code),
                error_message=status.status.error_message,
            )
            for status in response.model_version_status
        ]
        return sorted(statuses, key=lambda status: status.version)

    def _latest_available(self, statuses: list[VersionStatus]) -> int:
        available = [status.version for status in statuses if status.available]
        if not available:
            states = ", ".join(f"{s.version}: {s.state}" for s in statuses) or "none"
            raise error_for(
                grpc.StatusCode.NOT_FOUND,
                f"Model {self.model!r} has no AVAILABLE version (versions: {states}).",
                method=pb.GET_MODEL_STATUS_METHOD,
            )
        return max(available)


def rpc_error(error: grpc.RpcError, method: str, attempts: int) -> EmbeddingError:
    """The project exception for a gRPC error, keeping its code and message."""
    return error_for(error.code(), error.details(), method=method, attempts=attempts)
