"""The TensorFlow functions behind every signature: strings in, the contract's outputs out.

One `tf.Module` holds the text preprocessor and the Keras model; its `tf.function`s are exported as the
SavedModel's signatures and are also what `SentenceEmbedder` calls in-process, so the served model and the
in-process one run the same graph.
"""

from __future__ import annotations

import json

import keras
import tensorflow as tf

from embedder import contract
from embedder.text_preprocessor import TextPreprocessor

TEXT_SPEC = tf.TensorSpec(shape=[None], dtype=tf.string, name=contract.INPUT_TEXT)


class ServingModule(tf.Module):
    """Signatures over a model made by `embedder.encoders.build_model` and its preprocessor.

    Args:
        model: the functional Keras model (token ids → {"embedding", "attention"[, "probabilities"]}).
        preprocessor: the `TextPreprocessor` the model was trained with.
        metadata: the JSON-serialisable metadata document returned by the `metadata` signature.
        labels: class names, in the order of the model's probabilities, for models with a head.
    """

    def __init__(self, model: keras.Model, preprocessor: TextPreprocessor, metadata: dict, labels=None):
        super().__init__(name="embedder")
        self.model = model
        self.preprocessor = preprocessor
        self.labels = list(labels) if labels else []
        self._metadata_json = json.dumps(metadata, sort_keys=True)
        self._labels_tensor = tf.constant(self.labels or [""], dtype=tf.string)
        # Wrapped here rather than decorated: saving traces every tf.function attribute, and `classify` must not
        # exist (nor be traced) for a model without a head.
        self.embed = tf.function(self._embed, input_signature=[TEXT_SPEC])
        self.attention = tf.function(self._attention, input_signature=[TEXT_SPEC])
        self.metadata = tf.function(self._metadata, input_signature=[TEXT_SPEC])
        if self.labels:
            self.classify = tf.function(self._classify, input_signature=[TEXT_SPEC])

    def _run(self, text):
        # Keras RNN layers fail on an empty batch ("slice index 0 of dimension 0 out of bounds"), and TF Serving
        # passes empty requests straight to the graph: run one placeholder row instead and drop it again.
        batch = tf.shape(text)[0]
        text = tf.concat([text, [""]], axis=0)[: tf.maximum(batch, 1)]  # (max(B, 1),)
        words = self.preprocessor.words(text)  # (max(B, 1), (T)) strings
        token_ids = self.preprocessor.ids(words)  # (max(B, 1), T) int32
        outputs = self.model(token_ids, training=False)
        return words[:batch], {key: value[:batch] for key, value in outputs.items()}

    def _embed(self, text):
        _, outputs = self._run(text)
        return {contract.OUTPUT_EMBEDDING: tf.cast(outputs[contract.OUTPUT_EMBEDDING], tf.float32)}  # (B, dim)

    def _classify(self, text):
        _, outputs = self._run(text)
        probabilities = tf.cast(outputs[contract.OUTPUT_PROBABILITIES], tf.float32)  # (B, C)
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
