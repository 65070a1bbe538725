"""`run_rpc`: how every RPC of the embedded server ends: a response, or an error status with its message.

No exception escapes to gRPC's own handler (which would answer UNKNOWN with no useful message): a
`ServingError` becomes its status, a TensorFlow error keeps its canonical code, and anything else is logged
with its traceback and answered INTERNAL.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import grpc

from serving.server.errors import from_exception
from serving.server.metrics import ServingMetrics

log = logging.getLogger(__name__)


def run_rpc(api: str, model_name: str, context: grpc.ServicerContext, metrics: ServingMetrics | None, body: Callable):
    """Runs ``body()`` for the RPC `api` on `model_name`, recording its status and latency in `metrics`."""
    started = time.perf_counter()
    try:
        response = body()
    except Exception as error:  # noqa: BLE001 - turned into the RPC's status below
        failure = from_exception(error)
        if failure.code == grpc.StatusCode.INTERNAL:
            log.exception("%s on model %r failed", api, model_name)
        else:
            log.debug("%s on model %r: %s %s", api, model_name, failure.code.name, failure.message)
    else:
        if metrics is not None:
            metrics.record_request(api, model_name, "OK", time.perf_counter() - started)
        return response
    if metrics is not None:
        metrics.record_request(api, model_name, failure.code.name, time.perf_counter() - started)
    context.abort(failure.code, failure.message)
