"""`SentenceEmbedder`: an encoder, its vocabulary and (optionally) a classification head, used in-process.

It is what training produces, what `embedder.export` writes as a versioned SavedModel, and what
`SentenceEmbedder.load` reads back from a version directory for fine-tuning or in-process inference.

Example:
    >>> embedder = SentenceEmbedder.load("models/trec")          # latest version
    >>> embedder.encode(["How far is the moon?", "Who wrote Hamlet?"]).shape
    (2, 1024)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from embedder import contract
from embedder.encoders.factory import architecture_of, build_encoder, build_model, get_chunking, get_encoder
from embedder.serving_module import ServingModule, sub_batch_for
from embedder.text_preprocessor import TextPreprocessor
from embedder.validation import check_choice, check_positive_int

_MISSING = object()


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("sentence-embedder")
    except Exception:  # noqa: BLE001 - running from a source tree without installing
        return "0+unknown"


def _check_texts(sentences) -> tuple[list[str], bool]:
    if isinstance(sentences, (str, bytes)):
        return [sentences], True
    if isinstance(sentences, np.ndarray):
        sentences = sentences.tolist()
    if not isinstance(sentences, Sequence):
        raise TypeError(f"Expected a string or a sequence of strings, received {type(sentences).__name__}.")
    for i, s in enumerate(sentences):
        if not isinstance(s, (str, bytes)):
            raise TypeError(f"Expected strings, received {type(s).__name__} at position {i}.")
    return list(sentences), False


class SentenceEmbedder:
    """A sentence embedding model: raw strings in, fixed-size float32 vectors out.

    Args:
        model: a Keras model from `embedder.encoders.build_model` (token ids → dict of outputs).
        preprocessor: the `TextPreprocessor` holding the vocabulary and `max_length`.
        labels: class names for a model with a classification head, in the order of its outputs.
    """

    def __init__(self, model: keras.Model, preprocessor: TextPreprocessor, labels: Sequence[str] | None = None):
        self.model = model
        self.preprocessor = preprocessor
        self.labels = list(labels) if labels else []
        has_head = contract.OUTPUT_PROBABILITIES in model.output
        if has_head != bool(self.labels):
            raise ValueError(
                "A model with a classification head needs its `labels`, and a model without one takes none. "
                f"Received: head={has_head}, labels={self.labels!r}"
            )
        if has_head and model.output[contract.OUTPUT_PROBABILITIES].shape[-1] != len(self.labels):
            raise ValueError(
                f"The head has {model.output['probabilities'].shape[-1]} classes but {len(self.labels)} labels "
                "were given."
            )
        self._module = None

    # ----------------------------------------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        architecture: str,
        vocabulary: Sequence[str],
        max_length: int = 128,
        labels: Sequence[str] | None = None,
        head: dict | None = None,
        lowercase: bool = True,
        chunk_length: int | None = None,
        chunk_pooling: str = "attention",
        **encoder_kwargs,
    ) -> SentenceEmbedder:
        """Builds a new, untrained embedder.

        Args:
            architecture: "classic", "structured", "transformer" or "bilstm_max".
            vocabulary: from `embedder.text_preprocessor.build_vocabulary`.
            max_length: the most tokens read from a text. Defaults to 128.
            labels: class names; adds a classification head when given.
            head: keyword arguments of `ClassificationHead` (hidden_units, hidden_layers, dropout, activation,
                kernel_initializer, bias_initializer).
            lowercase: lower-case texts before tokenising. Defaults to True.
            chunk_length: read each text as consecutive chunks of this many tokens, up to
                ``ceil(max_length / chunk_length)`` of them, each encoded as a sentence and pooled into the text's
                vector (see `build_model`); None reads the first `max_length` tokens as one sequence.
                Defaults to None.
            chunk_pooling: how the chunk vectors are pooled with `chunk_length`: "attention" or "mean".
                Defaults to "attention".
            **encoder_kwargs: the encoder's keyword arguments.
        """
        preprocessor = TextPreprocessor(vocabulary, max_length=max_length, lowercase=lowercase)
        chunking = None
        if chunk_length is not None:
            check_positive_int("chunk_length", chunk_length)
            max_chunks = -(-max_length // chunk_length)
            chunking = {"chunk_length": chunk_length, "max_chunks": max_chunks, "pooling": chunk_pooling}
        if architecture == "transformer":
            encoder_kwargs.setdefault("max_length", max_length if chunking is None else chunk_length)
        encoder = build_encoder(architecture, vocabulary_size=len(vocabulary), **encoder_kwargs)
        model = build_model(encoder, num_classes=len(labels) if labels else None, chunking=chunking, **(head or {}))
        return cls(model, preprocessor, labels)

    @classmethod
    def load(cls, path: str | Path) -> SentenceEmbedder:
        """Loads an exported version directory, or the latest version under a model base path."""
        from embedder.versions import resolve_version_dir

        version_dir = resolve_version_dir(path)
        extra = version_dir / contract.ASSETS_EXTRA_DIR
        metadata = json.loads((extra / contract.METADATA_FILE).read_text(encoding="utf-8"))
        vocabulary = (extra / contract.VOCABULARY_FILE).read_text(encoding="utf-8").split("\n")
        preprocessor = TextPreprocessor(vocabulary, **metadata[contract.META_PREPROCESSOR_CONFIG])
        model = keras.saving.load_model(extra / contract.KERAS_MODEL_FILE)
        return cls(model, preprocessor, metadata[contract.META_LABELS])

    # ------------------------------------------------------------------------------------------- properties
    @property
    def encoder(self):
        return get_encoder(self.model)

    @property
    def architecture(self) -> str:
        return architecture_of(self.encoder)

    @property
    def embedding_dim(self) -> int:
        return int(self.model.output[contract.OUTPUT_EMBEDDING].shape[-1])

    @property
    def attention_rows(self) -> int:
        return self.encoder.attention_rows

    @property
    def serving_sub_batch(self) -> int:
        """Rows per model call within a served request (`embedder.serving_module.SUB_BATCH_PARALLEL`)."""
        return sub_batch_for(self.architecture, self.encoder.get_config())

    @property
    def max_length(self) -> int:
        return self.preprocessor.max_length

    @property
    def chunking(self) -> dict | None:
        """``{"chunk_length", "max_chunks", "pooling"}`` for a model that reads texts in chunks, else None."""
        return get_chunking(self.model)

    def metadata(self) -> dict:
        """The metadata document that the export stores and the `metadata` signature returns."""
        encoder_config = {k: v for k, v in self.encoder.get_config().items() if k not in ("name", "dtype", "trainable")}
        # Only chunked models carry the key, so that an unchunked model's metadata is what it always was.
        chunking = self.chunking
        chunking = {contract.META_CHUNKING: chunking} if chunking else {}
        return {
            contract.META_FORMAT_VERSION: contract.EXPORT_FORMAT_VERSION,
            contract.META_ARCHITECTURE: self.architecture,
            contract.META_EMBEDDING_DIM: self.embedding_dim,
            contract.META_LABELS: self.labels,
            contract.META_MAX_LENGTH: self.max_length,
            contract.META_ATTENTION_ROWS: self.attention_rows,
            contract.META_VOCABULARY_SIZE: self.preprocessor.vocabulary_size,
            contract.META_ENCODER_CONFIG: encoder_config,
            contract.META_PREPROCESSOR_CONFIG: self.preprocessor.get_config(),
            contract.META_PACKAGE_VERSION: package_version(),
            **chunking,
        }

    def serving_module(self) -> ServingModule:
        """The `tf.Module` whose functions are the signatures, for in-process calls (built once, rebuilt after
        `reset`). Each call is one model call: `encode` and `classify` already form their batches from
        length-sorted texts, so the export's in-graph groups (`serving_sub_batch`) would only add tracing time."""
        if self._module is None:
            self._module = ServingModule(self.model, self.preprocessor, self.metadata(), self.labels)
        return self._module

    def reset(self) -> None:
        """Drops the traced functions, e.g. after the model's weights or layers were replaced."""
        self._module = None

    # -------------------------------------------------------------------------------------------- inference
    def _batches(self, texts: list, batch_size: int, show_progress_bar: bool | None, desc: str):
        """Yields (indices, texts) batches, longest texts first (less padding), with an optional progress bar."""
        order = np.argsort([-len(t) for t in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if show_progress_bar is None:
            show_progress_bar = len(texts) > 10 * batch_size
        if show_progress_bar:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=desc, unit="batch")
        for start in starts:
            index = order[start : start + batch_size]
            yield index, [texts[i] for i in index]

    def encode(
        self,
        sentences: str | Sequence[str],
        batch_size: int = 32,
        show_progress_bar: bool | None = None,
        normalize_embeddings: bool = False,
        precision: str = "float32",
    ) -> np.ndarray:
        """Embeds sentences, as `sentence_transformers.SentenceTransformer.encode` does.

        Args:
            sentences: a string or a list of strings.
            batch_size: sentences per model call; batches are formed from length-sorted sentences and the input
                order is restored. Defaults to 32.
            show_progress_bar: show a progress bar; None shows one for inputs over ten batches.
            normalize_embeddings: scale each vector to unit L2 norm. Defaults to False.
            precision: "float32" or "float16". Defaults to "float32".

        Returns:
            (n, dim) array, or (dim,) for a single string.
        """
        check_choice("precision", precision, ("float32", "float16"))
        check_positive_int("batch_size", batch_size)
        texts, single = _check_texts(sentences)
        result = np.zeros((len(texts), self.embedding_dim), dtype=np.float32)
        module = self.serving_module()
        for index, batch in self._batches(texts, batch_size, show_progress_bar, "encode"):
            result[index] = module.embed(tf.constant(batch, dtype=tf.string))[contract.OUTPUT_EMBEDDING].numpy()
        if normalize_embeddings:
            result = contract.l2_normalize(result)
        result = result.astype(precision, copy=False)
        return result[0] if single else result

    def predict_proba(self, sentences: str | Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Class probabilities, (n, classes) (or (classes,) for one string), in the order of `labels`."""
        if not self.labels:
            raise ValueError("This model has no classification head; fine-tune it on labelled data first.")
        check_positive_int("batch_size", batch_size)
        texts, single = _check_texts(sentences)
        result = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        module = self.serving_module()
        for index, batch in self._batches(texts, batch_size, False, "classify"):
            outputs = module.classify(tf.constant(batch, dtype=tf.string))
            result[index] = outputs[contract.OUTPUT_PROBABILITIES].numpy()
        return result[0] if single else result

    def predict(self, sentences: str | Sequence[str], batch_size: int = 32):
        """The most probable label of each sentence (a string for one sentence, else a list)."""
        probabilities = self.predict_proba(sentences, batch_size)
        if probabilities.ndim == 1:
            return self.labels[int(np.argmax(probabilities))]
        return [self.labels[i] for i in np.argmax(probabilities, axis=1)]

    def attention(self, sentences: str | Sequence[str]) -> tuple[list[list[str]], list[np.ndarray]]:
        """The tokens the model saw and its attention over them, per sentence, without padding.

        Returns:
            ``(tokens, weights)``: per sentence, its list of tokens and a (rows, len(tokens)) array.
        """
        texts, _ = _check_texts(sentences)
        outputs = self.serving_module().attention(tf.constant(texts, dtype=tf.string))
        all_tokens = outputs[contract.OUTPUT_TOKENS].numpy()
        all_weights = outputs[contract.OUTPUT_ATTENTION].numpy()
        tokens, weights = [], []
        for row_tokens, row_weights in zip(all_tokens, all_weights):
            words = [t.decode("utf-8", errors="replace") for t in row_tokens if t]
            tokens.append(words)
            weights.append(row_weights[:, : len(words)])
        return tokens, weights

    def export(self, model_base_path: str | Path, version: int | None = None, **kwargs) -> Path:
        """Exports a SavedModel version under `model_base_path`; see `embedder.export.export_saved_model`."""
        from embedder.export import export_saved_model

        return export_saved_model(self, model_base_path, version=version, **kwargs)
