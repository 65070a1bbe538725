"""Warm-up replay: the requests in ``assets.extra/tf_serving_warmup_requests``, run before a version serves.

The file is TF Serving's: a TFRecord of ``PredictionLog`` protos, at most 1000 records. Each record is run
through the same path as a real Predict request, so the first real request does not pay for tracing or lazy
initialisation, and a version whose warm-up fails never becomes AVAILABLE (as in TF Serving).
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from embedder import contract
from serving.server.errors import ServingError, from_exception
from serving.server.predictor import predict
from serving.server.servable import Servable

#: TF Serving refuses warm-up files with more records than this.
MAX_WARMUP_RECORDS = 1000


def replay_warmup_requests(servable: Servable, iterations: int = 1) -> int:
    """Replays a version's warm-up file on it `iterations` times per record; returns the records replayed.

    Raises:
        ValueError: for a file with too many records or a record that is not a ``predict_log``.
        ServingError: when a replayed request fails.
    """
    path = servable.path / contract.ASSETS_EXTRA_DIR / contract.WARMUP_FILE
    if not path.is_file():
        return 0
    count = 0
    for record in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        count += 1
        if count > MAX_WARMUP_RECORDS:
            raise ValueError(f"Warm-up file {path} has more than {MAX_WARMUP_RECORDS} records.")
        log = prediction_log_pb2.PredictionLog.FromString(record)
        kind = log.WhichOneof("log_type")
        if kind != "predict_log":
            raise ValueError(
                f"Warm-up record {count} of {path} is a {kind}; the models here are served through Predict, so "
                "their warm-up files hold predict_log records."
            )
        for _ in range(max(iterations, 1)):
            try:
                predict(servable, log.predict_log.request)
            except Exception as error:  # noqa: BLE001 - say which record failed, keep the status code
                failure = from_exception(error)
                raise ServingError(
                    failure.code, f"Warm-up request {count} of {path} failed: {failure.message}"
                ) from None
    return count
