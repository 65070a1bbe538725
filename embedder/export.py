"""Writes a `SentenceEmbedder` as a versioned, string-in SavedModel that stock TensorFlow Serving can serve.

Layout (contract 1, names in `embedder.contract`)::

    <model_base_path>/<version>/saved_model.pb, variables/    the signatures, core TensorFlow ops only
    <model_base_path>/<version>/assets.extra/embedder.json    metadata (also served by the `metadata` signature)
    <model_base_path>/<version>/assets.extra/model.keras      the Keras model, for fine-tuning
    <model_base_path>/<version>/assets.extra/vocabulary.txt   one token a line, in id order
    <model_base_path>/<version>/assets.extra/tf_serving_warmup_requests   TF Serving's warm-up format

The version is written into a hidden temporary directory beside the versions and renamed into place, so a server
polling the base path never sees a half-written version.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import uuid
from pathlib import Path

import tensorflow as tf

from embedder import contract
from embedder.precision import with_precision
from embedder.serving_module import ServingModule
from embedder.validation import check_choice, check_non_negative_int
from embedder.versions import numeric_versions

#: Sentences replayed by the warm-up file, so the first real request does not pay for tracing.
WARMUP_SENTENCES = (
    "A short sentence.",
    "",
    "Which words does a sentence embedding model attend to, and how long does a longer request take to answer?",
)


def _rnn_layers(model):
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if hasattr(layer, "use_cudnn"):
            yield layer


def _write_warmup(path: Path, model_name: str, signatures: list[str]) -> None:
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature in signatures:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            request.inputs[contract.INPUT_TEXT].CopyFrom(tf.make_tensor_proto(list(WARMUP_SENTENCES), dtype=tf.string))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def export_saved_model(
    embedder,
    model_base_path: str | Path,
    version: int | None = None,
    run_config: dict | None = None,
    warmup: bool = True,
    precision: str = "float32",
) -> Path:
    """Exports `embedder` as version `version` (default: the next free number) under `model_base_path`.

    Args:
        embedder: the `SentenceEmbedder` to export.
        model_base_path: the model's directory, e.g. ``models/trec`` (TF Serving's `--model_base_path`).
        version: the version number; defaults to one above the highest present (1 for a new model).
        run_config: the training run's settings, saved as ``assets.extra/run_config.json``.
        warmup: write TF Serving's warm-up requests file. Defaults to True.
        precision: what the signatures compute in: "float32", or "bfloat16" (matmuls in bfloat16; softmax,
            normalisation and outputs in float32; see `embedder.precision`). The signatures' inputs and outputs
            and the stored Keras model (float32, for fine-tuning) are the same for both. Defaults to "float32".

    Returns:
        The path of the new version directory.
    """
    check_choice("precision", precision, contract.EXPORT_PRECISIONS)
    base = Path(model_base_path)
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = (numeric_versions(base) or [0])[-1] + 1
    check_non_negative_int("version", version)
    target = base / str(version)
    if target.exists():
        raise FileExistsError(f"Version {version} already exists at {target}; pick another version.")

    metadata = dict(
        embedder.metadata(),
        **{contract.META_CREATED: datetime.datetime.now(datetime.UTC).isoformat(), contract.META_PRECISION: precision},
    )
    computing = with_precision(embedder.model, precision)
    staging = base / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    # On a GPU, Keras's LSTM/GRU would put a cuDNN-only op into the traced graph, which CPU serving cannot run.
    rnn_layers = list(_rnn_layers(computing))
    saved_flags = [layer.use_cudnn for layer in rnn_layers]
    try:
        for layer in rnn_layers:
            layer.use_cudnn = False
        with tf.device("/CPU:0"):
            module = ServingModule(
                computing, embedder.preprocessor, metadata, embedder.labels, embedder.serving_sub_batch
            )
            signatures = module.signatures()
            tf.saved_model.save(module, str(staging), signatures=signatures)
        extra = staging / contract.ASSETS_EXTRA_DIR
        extra.mkdir()
        (extra / contract.METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True), encoding="utf-8")
        (extra / contract.VOCABULARY_FILE).write_text("\n".join(embedder.preprocessor.vocabulary), encoding="utf-8")
        embedder.model.save(extra / contract.KERAS_MODEL_FILE)
        if run_config is not None:
            (extra / contract.RUN_CONFIG_FILE).write_text(json.dumps(run_config, indent=2, sort_keys=True), "utf-8")
        if warmup:
            _write_warmup(extra / contract.WARMUP_FILE, base.name, sorted(signatures))
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        for layer, flag in zip(rnn_layers, saved_flags):
            layer.use_cudnn = flag
    return target
