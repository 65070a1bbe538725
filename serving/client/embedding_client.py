"""`EmbeddingClient`: sentence embeddings from TensorFlow Serving (or `embedder serve`) over gRPC, without TensorFlow.

It needs only grpcio, protobuf and numpy: requests are built from the client's own copy of the few TF Serving
messages it uses (`serving.client.schema`), and methods are called by their full path. The same client works
against the official TF Serving image and against the embedded server.

    >>> from serving import EmbeddingClient
    >>> with EmbeddingClient("localhost:8500", "default") as client:
    ...     vectors = client.embed(["a good film", "a bad film"])      # (2, dim) float32
    ...     vector = client.embed("one sentence", normalize=True)     # (dim,)

Large inputs are split into requests under the batch and message limits, several are kept in flight, and the
rows come back in input order. Each method call has one deadline (`timeout`, seconds, covering its chunks and
retries); UNAVAILABLE and RESOURCE_EXHAUSTED are retried with backoff (`retry`); other failures raise the matching
`serving.client.errors` exception with the server's code and message.
"""

from __future__ import annotations

import heapq
import queue
import time
from collections.abc import Sequence

import grpc
import numpy as np

from embedder import contract
from serving.client import schema as pb
from serving.client.base import DEFAULT, METHODS, ClientBase, check_texts, rpc_error
from serving.client.results import Classification, ModelMetadata, Prediction, VersionStatus


class EmbeddingClient(ClientBase):
    """A blocking client of one served embedding model; owns one gRPC channel. Thread-safe.

    Args:
        target: the server's ``host:port`` (TF Serving's gRPC port, 8500 by default); or several replicas, as a list
            of ``host:port`` or a ``dns:///name:port`` that resolves to them, balanced round-robin (see
            `serving.client.targets`; with TLS, pass `tls_server_name` too).
        model: the model name (TF Serving's ``--model_name`` or a ``models.config`` entry).
        signature: the signature `embed` runs. Defaults to ``serving_default``.
        version: the version number every call asks for; None asks for the latest the server has (0 is a
            valid version). Defaults to None.
        version_label: a version label from the server's config (``stable``, ``canary``), instead of `version`.
        timeout: seconds each method call may take in all, chunks and retries included; None waits forever.
            Defaults to 60. Every method also takes ``timeout=``.
        tls: connect with TLS, checking the server's certificate against the system's roots. Defaults to False.
        root_certificates: PEM bytes, or a path to a PEM file, of the CA to trust (implies TLS).
        tls_server_name: the name the server's certificate must carry, when it differs from the target's host.
        max_batch_size: texts per request; keep it at or under the server's ``max_batch_size``. Defaults to 64.
        max_message_bytes: bytes per request; keep it at or under the server's message limit. Defaults to 4 MiB.
        max_in_flight: requests of one call sent at the same time. Defaults to 4.
        retry: the `RetryPolicy` for UNAVAILABLE and RESOURCE_EXHAUSTED. Defaults to `RetryPolicy()` (5 tries).
        channel_options: extra gRPC channel options, e.g. ``[("grpc.keepalive_time_ms", 10000)]``.
        load_balancing: "round_robin" or "pick_first"; None balances round-robin over replicas and leaves one
            server's channel at gRPC's default. Defaults to None.

    Raises:
        ValueError: an argument is invalid (the message names it).
    """

    def __init__(self, target: str | Sequence[str], model: str, **kwargs):
        super().__init__(target, model, **kwargs)
        if self._credentials is None:
            self._channel = grpc.insecure_channel(self._target.uri, options=self._channel_options)
        else:
            self._channel = grpc.secure_channel(self._target.uri, self._credentials, options=self._channel_options)
        self._callables = {
            path: self._channel.unary_unary(
                path, request_serializer=request.SerializeToString, response_deserializer=response.FromString
            )
            for path, (request, response) in METHODS.items()
        }
        self._closed = False

    # -------------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        if not self._closed:
            self._closed = True
            self._channel.close()

    def __enter__(self) -> EmbeddingClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -------------------------------------------------------------------------------------------- transport
    def _send(self, method: str, requests: list, deadline: float | None) -> list:
        """Sends `requests` to `method`, at most `max_in_flight` at a time, retrying transient failures.

        Returns the responses in the order of `requests`; on the first failure that is not retried, cancels the
        requests still in flight and raises.
        """
        if self._closed:
            raise ValueError("This EmbeddingClient is closed.")
        call = self._callables[method]
        if len(requests) == 1:
            return [self._send_one(call, method, requests[0], deadline)]
        responses: list = [None] * len(requests)
        ready: list[tuple[float, int, int]] = [(0.0, index, 1) for index in range(len(requests))]  # (when, i, try)
        in_flight: dict[int, tuple[grpc.Future, int]] = {}
        finished: queue.SimpleQueue = queue.SimpleQueue()
        try:
            while ready or in_flight:
                now = time.monotonic()
                while ready and len(in_flight) < self.max_in_flight and ready[0][0] <= now:
                    _, index, attempt = heapq.heappop(ready)
                    future = call.future(requests[index], timeout=self._remaining(deadline, method, attempt))
                    in_flight[index] = (future, attempt)
                    future.add_done_callback(lambda _, index=index: finished.put(index))
                wait = None
                if ready and len(in_flight) < self.max_in_flight:
                    wait = max(0.0, ready[0][0] - now)
                if deadline is not None:
                    wait = max(0.0, deadline - now) if wait is None else min(wait, max(0.0, deadline - now))
                try:
                    index = finished.get(timeout=wait)
                except queue.Empty:
                    self._remaining(deadline, method, 1)  # raises once the deadline has passed
                    continue  # a retry is due
                future, attempt = in_flight.pop(index)
                try:
                    responses[index] = future.result()
                except grpc.RpcError as error:
                    delay = self._retry_delay(error.code(), error.details(), attempt, deadline)
                    if delay is None:
                        raise rpc_error(error, method, attempt) from None
                    heapq.heappush(ready, (time.monotonic() + delay, index, attempt + 1))
        finally:
            for future, _ in in_flight.values():
                future.cancel()
        return responses

    def _send_one(self, call, method: str, request, deadline: float | None):
        """One request as a plain blocking call: no future, callback thread or queue on the common small call."""
        attempt = 1
        while True:
            try:
                return call(request, timeout=self._remaining(deadline, method, attempt))
            except grpc.RpcError as error:
                delay = self._retry_delay(error.code(), error.details(), attempt, deadline)
                if delay is None:
                    raise rpc_error(error, method, attempt) from None
                time.sleep(delay)
                attempt += 1

    def _predict(self, signature: str, texts: list[bytes], version, timeout, output_filter=()) -> Prediction:
        deadline = self._deadline(timeout)
        flow = self._predict_flow(signature, texts, version, output_filter)
        requests = next(flow)
        while True:
            try:
                requests = flow.send(self._send(pb.PREDICT_METHOD, requests, deadline))
            except StopIteration as done:
                return done.value

    # ------------------------------------------------------------------------------------------ public API
    def embed(
        self, texts: str | Sequence[str], normalize: bool = False, *, timeout=DEFAULT, version=DEFAULT
    ) -> np.ndarray:
        """Embeds `texts` with the client's signature.

        Args:
            texts: a string, or a sequence of strings (str, or bytes passed through as they are).
            normalize: scale each vector to unit L2 norm. Defaults to False.
            timeout: seconds for the whole call; defaults to the client's.
            version: the version to ask for (None: the latest); defaults to the client's.

        Returns:
            float32 (n, dim), or (dim,) for a single string. All rows come from one model version.
        """
        encoded, single = check_texts(texts)
        prediction = self._predict(self.signature, encoded, version, timeout)
        return self._embedding_result(prediction, single, normalize)

    def predict(
        self,
        texts: str | Sequence[str],
        signature: str | None = None,
        *,
        output_filter: Sequence[str] = (),
        timeout=DEFAULT,
        version=DEFAULT,
    ) -> Prediction:
        """Runs any signature on `texts` and returns all its outputs and the version that answered.

        A batch job that must not mix versions can also resolve one first (`resolve_version`) and pass it.
        """
        encoded, _ = check_texts(texts)
        return self._predict(signature or self.signature, encoded, version, timeout, tuple(output_filter))

    def classify(self, texts: str | Sequence[str], *, timeout=DEFAULT, version=DEFAULT) -> Classification:
        """Class probabilities from the ``classify`` signature (models with a classification head)."""
        encoded, single = check_texts(texts)
        prediction = self._predict(contract.SIGNATURE_CLASSIFY, encoded, version, timeout)
        return self._classification_result(prediction, single)

    def attention(
        self, texts: str | Sequence[str], *, timeout=DEFAULT, version=DEFAULT
    ) -> tuple[list[list[str]], list[np.ndarray]]:
        """The tokens the model saw and its attention over them, per text, without padding.

        Returns:
            ``(tokens, weights)``: per text, its list of tokens and a float32 (rows, len(tokens)) array.
        """
        encoded, _ = check_texts(texts)
        return self._attention_result(self._predict(contract.SIGNATURE_ATTENTION, encoded, version, timeout))

    def metadata(self, *, timeout=DEFAULT, version=DEFAULT) -> dict:
        """The model's metadata document (architecture, embedding_dim, labels, max_length…)."""
        return self._metadata_result(self._predict(contract.SIGNATURE_METADATA, [b""], version, timeout))

    def model_metadata(self, *, timeout=DEFAULT, version=DEFAULT) -> ModelMetadata:
        """GetModelMetadata: the answering version and its signatures' input and output specs."""
        request = self._model_metadata_request(version)
        (response,) = self._send(pb.GET_MODEL_METADATA_METHOD, [request], self._deadline(timeout))
        return self._model_metadata_result(response)

    def status(self, *, timeout=DEFAULT, version=DEFAULT) -> list[VersionStatus]:
        """GetModelStatus: the state of every version the server knows (or of `version`), by version number."""
        request = self._status_request(version)
        (response,) = self._send(pb.GET_MODEL_STATUS_METHOD, [request], self._deadline(timeout))
        return self._status_result(response)

    def resolve_version(self, *, timeout=DEFAULT) -> int:
        """The newest AVAILABLE version, for jobs that pin one version for all their calls.

        Raises:
            ModelNotFound: no version is available.
        """
        return self._latest_available(self.status(timeout=timeout))
