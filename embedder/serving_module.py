"""The TensorFlow functions behind every signature: strings in, the contract's outputs out.

One `tf.Module` holds the text preprocessor and the Keras model; its `tf.function`s are exported as the
SavedModel's signatures and are also what `SentenceEmbedder` calls in-process, so the served model and the
in-process one run the same graph (the export's with groups of similar length inside a request, `sub_batch`;
in-process calls, whose batches are already length-sorted, without).
"""

from __future__ import annotations

import json

import keras
import tensorflow as tf

from embedder import contract
from embedder.text_preprocessor import TextPreprocessor

TEXT_SPEC = tf.TensorSpec(shape=[None], dtype=tf.string, name=contract.INPUT_TEXT)
IDS_SPEC = tf.TensorSpec(shape=[None, None], dtype=tf.int32, name="token_ids")

#: Rows per model call inside a request to `embed` and `classify`: a request of more texts than this has its texts
#: ordered by length and run this many at a time, each group padded only to its own longest text, so one long text
#: no longer makes every row pay for its padding. Outputs come back in request order and equal one whole-request
#: call's up to float rounding (padding is masked). Encoders whose positions run in parallel (the Transformer,
#: attention over word vectors) gain from small groups; recurrent ones take their time steps one after another, so
#: every extra group adds steps, and want larger groups. Chosen by bench/serving_sub_batches.py (docs/SERVING.md).
SUB_BATCH_PARALLEL = 16
SUB_BATCH_RECURRENT = 32


def sub_batch_for(architecture: str, encoder_config: dict) -> int:
    """The group size `ServingModule` uses for an encoder (see `SUB_BATCH_PARALLEL`)."""
    recurrent = architecture != "transformer" and encoder_config.get("rnn_layers", 1) > 0
    return SUB_BATCH_RECURRENT if recurrent else SUB_BATCH_PARALLEL


class ServingModule(tf.Module):
    """Signatures over a model made by `embedder.encoders.build_model` and its preprocessor.

    Args:
        model: the functional Keras model (token ids → {"embedding", "attention"[, "probabilities"]}).
        preprocessor: the `TextPreprocessor` the model was trained with.
        metadata: the JSON-serialisable metadata document returned by the `metadata` signature.
        labels: class names, in the order of the model's probabilities, for models with a head.
        sub_batch: rows per model call within a request of more texts, after ordering them by length (see
            `SUB_BATCH_PARALLEL`); None runs each request as one call.
    """

    def __init__(self, model: keras.Model, preprocessor: TextPreprocessor, metadata: dict, labels=None, sub_batch=None):
        super().__init__(name="embedder")
        self.model = model
        self.preprocessor = preprocessor
        self.labels = list(labels) if labels else []
        self.sub_batch = sub_batch
        self._metadata_json = json.dumps(metadata, sort_keys=True)
        self._labels_tensor = tf.constant(self.labels or [""], dtype=tf.string)
        # Wrapped here rather than decorated: saving traces every tf.function attribute, and `classify` must not
        # exist (nor be traced) for a model without a head.
        # One traced model call that every signature (and each branch and loop body inside one) calls: the Keras
        # model is traced once per module instead of once per call site, which is most of an export's time.
        self.call_model = tf.function(self._call_model, input_signature=[IDS_SPEC])
        self.embed = tf.function(self._embed, input_signature=[TEXT_SPEC])
        self.attention = tf.function(self._attention, input_signature=[TEXT_SPEC])
        self.metadata = tf.function(self._metadata, input_signature=[TEXT_SPEC])
        if self.labels:
            self.classify = tf.function(self._classify, input_signature=[TEXT_SPEC])

    def _call_model(self, token_ids):
        return self.model(token_ids, training=False)

    def _run(self, text):
        # Keras RNN layers fail on an empty batch ("slice index 0 of dimension 0 out of bounds"), and TF Serving
        # passes empty requests straight to the graph: run one placeholder row instead and drop it again.
        batch = tf.shape(text)[0]
        text = tf.concat([text, [""]], axis=0)[: tf.maximum(batch, 1)]  # (max(B, 1),)
        words = self.preprocessor.words(text)  # (max(B, 1), (T)) strings
        token_ids = self.preprocessor.ids(words)  # (max(B, 1), T) int32
        outputs = self.call_model(token_ids)
        return words[:batch], {key: value[:batch] for key, value in outputs.items()}

    def _output(self, text, key):
        """Output `key` of every text as float32: one model call, or `sub_batch`-row groups of similar length."""

        def whole():
            _, outputs = self._run(text)
            return tf.cast(outputs[key], tf.float32)

        if self.sub_batch is None:
            return whole()
        batch = tf.shape(text)[0]
        return tf.cond(batch <= self.sub_batch, whole, lambda: self._by_length(text, key, self.sub_batch))

    def _by_length(self, text, key, size):
        batch = tf.shape(text)[0]
        text = tf.concat([text, [""]], axis=0)[: tf.maximum(batch, 1)]  # (N,) with N = max(B, 1), as in _run
        words = self.preprocessor.words(text)  # (N, (T)) strings
        order = tf.argsort(words.row_lengths(), stable=True)  # (N,) shortest first
        words = tf.gather(words, order)  # (N, (T))
        groups = (tf.shape(text)[0] + size - 1) // size

        def body(i, values):
            rows = words[i * size : (i + 1) * size]  # (<= size, (T))
            output = self.call_model(self.preprocessor.ids(rows))[key]  # (rows, ...)
            return i + 1, values.write(i, tf.cast(output, tf.float32))

        values = tf.TensorArray(tf.float32, size=groups, infer_shape=False)
        _, values = tf.while_loop(lambda i, _: i < groups, body, (tf.constant(0), values))
        by_length = tf.ensure_shape(values.concat(), [None, *self.model.output[key].shape[1:]])  # (N, ...) by length
        return tf.gather(by_length, tf.math.invert_permutation(order))[:batch]  # (B, ...) in request order

    def _embed(self, text):
        return {contract.OUTPUT_EMBEDDING: self._output(text, contract.OUTPUT_EMBEDDING)}  # (B, dim)

    def _classify(self, text):
        probabilities = self._output(text, contract.OUTPUT_PROBABILITIES)  # (B, C)
        labels = tf.tile(tf.expand_dims(self._labels_tensor, 0), [tf.shape(text)[0], 1])  # (B, C)
        return {contract.OUTPUT_PROBABILITIES: probabilities, contract.OUTPUT_LABELS: labels}

    def _attention(self, text):
        words, outputs = self._run(text)
        weights = tf.cast(outputs[contract.OUTPUT_ATTENTION], tf.float32)  # (B, rows, T)
        width = self.preprocessor.max_length
        weights = tf.pad(weights, [[0, 0], [0, 0], [0, width - tf.shape(weights)[2]]])  # (B, rows, max_length)
        weights = tf.ensure_shape(weights, [None, None, width])
        return {contract.OUTPUT_TOKENS: self.preprocessor.padded_words(words), contract.OUTPUT_ATTENTION: weights}

    def _metadata(self, text):
        return {contract.OUTPUT_METADATA: tf.fill(tf.shape(text), self._metadata_json)}  # (B,)

    def signatures(self) -> dict:
        """The concrete functions to export, keyed by signature name."""
        signatures = {
            contract.SIGNATURE_EMBED: self.embed.get_concrete_function(),
            contract.SIGNATURE_ATTENTION: self.attention.get_concrete_function(),
            contract.SIGNATURE_METADATA: self.metadata.get_concrete_function(),
        }
        if self.labels:
            signatures[contract.SIGNATURE_CLASSIFY] = self.classify.get_concrete_function()
        return signatures
