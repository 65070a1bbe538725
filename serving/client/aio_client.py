"""`AsyncEmbeddingClient`: the asyncio (``grpc.aio``) twin of `serving.EmbeddingClient`, with the same methods.

    >>> async with AsyncEmbeddingClient("localhost:8500", "default") as client:
    ...     vectors = await client.embed(["a good film", "a bad film"])

Create and use it inside one running event loop: a ``grpc.aio`` channel belongs to the loop it was first used in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import grpc
import numpy as np

from embedder import contract
from serving.client import schema as pb
from serving.client.base import DEFAULT, METHODS, ClientBase, check_texts, rpc_error
from serving.client.results import Classification, ModelMetadata, Prediction, VersionStatus


class AsyncEmbeddingClient(ClientBase):
    """An asyncio client of one served embedding model; owns one ``grpc.aio`` channel.

    Takes the same arguments as `serving.EmbeddingClient`; every method is a coroutine with the same arguments
    and results.
    """

    def __init__(self, target: str | Sequence[str], model: str, **kwargs):
        super().__init__(target, model, **kwargs)
        self._channel: grpc.aio.Channel | None = None
        self._callables: dict = {}
        self._closed = False

    # -------------------------------------------------------------------------------------------- lifecycle
    def _callable(self, method: str):
        if self._closed:
            raise ValueError("This AsyncEmbeddingClient is closed.")
        if self._channel is None:
            # Created on first use, so that the channel binds to the loop that runs the calls.
            if self._credentials is None:
                self._channel = grpc.aio.insecure_channel(self._target.uri, options=self._channel_options)
            else:
                self._channel = grpc.aio.secure_channel(
                    self._target.uri, self._credentials, options=self._channel_options
                )
            self._callables = {
                path: self._channel.unary_unary(
                    path, request_serializer=request.SerializeToString, response_deserializer=response.FromString
                )
                for path, (request, response) in METHODS.items()
            }
        return self._callables[method]

    async def close(self) -> None:
        """Closes the channel; calls in progress are cancelled."""
        self._closed = True
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def __aenter__(self) -> AsyncEmbeddingClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self.close()

    # -------------------------------------------------------------------------------------------- transport
    async def _send(self, method: str, requests: list, deadline: float | None) -> list:
        """Sends `requests` to `method`, at most `max_in_flight` at a time, retrying transient failures."""
        call = self._callable(method)
        slots = asyncio.Semaphore(self.max_in_flight)

        async def send_one(request):
            attempt = 1
            while True:
                async with slots:
                    try:
                        return await call(request, timeout=self._remaining(deadline, method, attempt))
                    except grpc.aio.AioRpcError as error:
                        failure = error
                delay = self._retry_delay(failure.code(), failure.details(), attempt, deadline)
                if delay is None:
                    raise rpc_error(failure, method, attempt) from None
                await asyncio.sleep(delay)
                attempt += 1

        tasks = [asyncio.ensure_future(send_one(request)) for request in requests]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _predict(self, signature: str, texts: list[bytes], version, timeout, output_filter=()) -> Prediction:
        deadline = self._deadline(timeout)
        flow = self._predict_flow(signature, texts, version, output_filter)
        requests = next(flow)
        while True:
            responses = await self._send(pb.PREDICT_METHOD, requests, deadline)
            try:
                requests = flow.send(responses)
            except StopIteration as done:
                return done.value

    # ------------------------------------------------------------------------------------------ public API
    async def embed(
        self, texts: str | Sequence[str], normalize: bool = False, *, timeout=DEFAULT, version=DEFAULT
    ) -> np.ndarray:
        """See `EmbeddingClient.embed`."""
        encoded, single = check_texts(texts)
        prediction = await self._predict(self.signature, encoded, version, timeout)
        return self._embedding_result(prediction, single, normalize)

    async def predict(
        self,
        texts: str | Sequence[str],
        signature: str | None = None,
        *,
        output_filter: Sequence[str] = (),
        timeout=DEFAULT,
        version=DEFAULT,
    ) -> Prediction:
        """See `EmbeddingClient.predict`."""
        encoded, _ = check_texts(texts)
        return await self._predict(signature or self.signature, encoded, version, timeout, tuple(output_filter))

    async def classify(self, texts: str | Sequence[str], *, timeout=DEFAULT, version=DEFAULT) -> Classification:
        """See `EmbeddingClient.classify`."""
        encoded, single = check_texts(texts)
        prediction = await self._predict(contract.SIGNATURE_CLASSIFY, encoded, version, timeout)
        return self._classification_result(prediction, single)

    async def attention(
        self, texts: str | Sequence[str], *, timeout=DEFAULT, version=DEFAULT
    ) -> tuple[list[list[str]], list[np.ndarray]]:
        """See `EmbeddingClient.attention`."""
        encoded, _ = check_texts(texts)
        return self._attention_result(await self._predict(contract.SIGNATURE_ATTENTION, encoded, version, timeout))

    async def metadata(self, *, timeout=DEFAULT, version=DEFAULT) -> dict:
        """See `EmbeddingClient.metadata`."""
        return self._metadata_result(await self._predict(contract.SIGNATURE_METADATA, [b""], version, timeout))

    async def model_metadata(self, *, timeout=DEFAULT, version=DEFAULT) -> ModelMetadata:
        """See `EmbeddingClient.model_metadata`."""
        request = self._model_metadata_request(version)
        (response,) = await self._send(pb.GET_MODEL_METADATA_METHOD, [request], self._deadline(timeout))
        return self._model_metadata_result(response)

    async def status(self, *, timeout=DEFAULT, version=DEFAULT) -> list[VersionStatus]:
        """See `EmbeddingClient.status`."""
        request = self._status_request(version)
        (response,) = await self._send(pb.GET_MODEL_STATUS_METHOD, [request], self._deadline(timeout))
        return self._status_result(response)

    async def resolve_version(self, *, timeout=DEFAULT) -> int:
        """See `EmbeddingClient.resolve_version`."""
        return self._latest_available(await self.status(timeout=timeout))
