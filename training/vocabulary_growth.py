"""New words for fine-tuning: grow a trained model's vocabulary with a new domain's frequent unknown words.

A model keeps the vocabulary it was trained with, so on a new domain every word it never saw becomes ``[UNK]``.
`grow_vocabulary` appends the fine-tuning data's frequent unknown words to the vocabulary (old ids unchanged) and
rows for them to the token embedding (old rows unchanged, bit for bit). A new row starts as:

- the word's pretrained vector (GloVe-50d by default) carried into the model's embedding space by an affine map
  fitted, by least squares, on the words that both the model and the pretrained vectors know. For a model trained
  from those vectors the map is close to the identity (its rows moved a little in training); it also serves a
  model trained from scratch or with another embedding width, where copying GloVe rows would be meaningless;
- else the ``[UNK]`` row, which is what the model used for that word until now: before fine-tuning, the grown
  model computes exactly what the old one did on such words, and fine-tuning gives each its own vector.

The vocabulary stays a plain string → id table in the graph (`TextPreprocessor`), so the export needs nothing but
core TensorFlow ops and stock TF Serving loads it.

Example:
    >>> growth = grow_vocabulary(encoder, preprocessor, train_texts, max_words=20000, word_vectors="glove-50d")
    >>> growth.encoder, growth.preprocessor        # use these for fine-tuning and export
    >>> growth.unknown_rate_before, growth.unknown_rate_after
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass
class VocabularyGrowth:
    """What `grow_vocabulary` did: the grown encoder and preprocessor, and the measurements of the change.

    Attributes:
        encoder: the encoder with the grown token embedding (the source's when nothing was added).
        preprocessor: the `TextPreprocessor` with the grown vocabulary.
        new_words: the words appended, in id order.
        from_vectors: how many of them started from a pretrained vector (the rest from the [UNK] row).
        map_r2: the share of the shared words' embedding variance that the affine map explains (None: no map).
        unknown_rate_before: the share of the texts' tokens that the source vocabulary maps to [UNK].
        unknown_rate_after: the same with the grown vocabulary.
    """

    encoder: object
    preprocessor: object
    new_words: list[str]
    from_vectors: int
    map_r2: float | None
    unknown_rate_before: float
    unknown_rate_after: float

    #: The keys of `summary`, which a run's result records (`TrainResult.extra`).
    SUMMARY_KEYS = (
        "new_words",
        "new_words_from_vectors",
        "word_vector_map_r2",
        "unknown_rate_before",
        "unknown_rate_after",
    )

    def summary(self) -> dict:
        return {
            "new_words": len(self.new_words),
            "new_words_from_vectors": self.from_vectors,
            "word_vector_map_r2": self.map_r2,
            "unknown_rate_before": self.unknown_rate_before,
            "unknown_rate_after": self.unknown_rate_after,
        }


def unknown_rate(preprocessor, texts: Sequence[str], batch_size: int = 1024) -> float:
    """The share of the tokens the model sees (after truncation to `max_length`) that are [UNK]."""
    import tensorflow as tf

    from embedder.text_preprocessor import PAD_ID, UNK_ID

    unknown = total = 0
    for start in range(0, len(texts), batch_size):
        ids = preprocessor(tf.constant(list(texts[start : start + batch_size]), dtype=tf.string)).numpy()
        unknown += int(np.sum(ids == UNK_ID))
        total += int(np.sum(ids != PAD_ID))
    return unknown / total if total else 0.0


def frequent_unknown_words(preprocessor, texts: Sequence[str], max_words: int, min_count: int = 2) -> list[str]:
    """The texts' words that the vocabulary lacks, seen at least `min_count` times: the `max_words` most frequent."""
    from embedder.text_preprocessor import RESERVED_TOKENS, count_words

    known = set(preprocessor.vocabulary) | set(RESERVED_TOKENS)
    counts = count_words(texts, preprocessor.lowercase)
    candidates = [w for w, c in counts.items() if c >= min_count and w not in known]
    return sorted(candidates, key=lambda w: (-counts[w], w))[:max_words]


def new_rows(
    embeddings: np.ndarray, vocabulary: Sequence[str], new_words: Sequence[str], word_vectors=None
) -> tuple[np.ndarray, int, float | None]:
    """Initial embedding rows for `new_words`: mapped pretrained vectors where there are some, else the [UNK] row.

    Args:
        embeddings: the model's token embedding, (len(vocabulary), e).
        vocabulary: the model's vocabulary, in id order.
        new_words: the words to add.
        word_vectors: a `training.word_vectors.WordVectors`, or None for [UNK] rows only.

    Returns:
        ``(rows, from_vectors, r2)``: float32 (len(new_words), e), how many rows came from a vector, and the map's R²
        (None when no map was fitted).
    """
    from embedder.text_preprocessor import RESERVED_TOKENS, UNK_ID

    rows = np.repeat(embeddings[UNK_ID : UNK_ID + 1], len(new_words), axis=0).astype(np.float32)  # (N, e)
    if word_vectors is None or not len(new_words):
        return rows, 0, None
    from training.word_vectors import mapped_vectors

    reserved = len(RESERVED_TOKENS)
    mapped = mapped_vectors(vocabulary[reserved:], embeddings[reserved:], new_words, word_vectors)
    if mapped is None:
        return rows, 0, None
    positions, vectors, r2 = mapped
    rows[positions] = vectors
    return rows, len(positions), r2


def _to_numpy(variable) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable))


def grown_encoder(encoder, rows: np.ndarray):
    """A copy of `encoder` whose token embedding has `rows` appended; every other weight is the same."""
    config = dict(encoder.get_config(), vocabulary_size=encoder.vocabulary_size + len(rows))
    grown = type(encoder).from_config(config)
    grown.build((None, None))
    old, new = encoder.weights, grown.weights
    if [tuple(v.shape) for v in old if v is not encoder.token_embedding.embeddings] != [
        tuple(v.shape) for v in new if v is not grown.token_embedding.embeddings
    ]:
        raise ValueError(f"Rebuilding {type(encoder).__name__} gave other weights; cannot grow its vocabulary.")
    for source, target in zip(old, new):
        if source is encoder.token_embedding.embeddings:
            value = _to_numpy(source)
            target.assign(np.concatenate([value, rows.astype(value.dtype)], axis=0))
        else:
            target.assign(source)
    return grown


def grow_vocabulary(
    encoder, preprocessor, texts: Sequence[str], max_words: int, min_count: int = 2, word_vectors=None
) -> VocabularyGrowth:
    """Appends the frequent unknown words of `texts` to the vocabulary and the encoder's token embedding.

    Call it inside the distribution strategy's scope (it creates the grown encoder's variables).

    Args:
        encoder: a built `SentenceEncoder`.
        preprocessor: its `TextPreprocessor`.
        texts: the fine-tuning texts.
        max_words: the most words to add; 0 adds none (and only measures the unknown rate).
        min_count: a word must occur this often in `texts` to be added. Defaults to 2.
        word_vectors: a `WordVectors` to start new rows from (see the module docstring), a function returning one
            (or None), called only when there are words to add, or None.
    """
    from embedder.text_preprocessor import TextPreprocessor

    before = unknown_rate(preprocessor, texts)
    words = frequent_unknown_words(preprocessor, texts, max_words, min_count) if max_words else []
    if not words:
        return VocabularyGrowth(encoder, preprocessor, [], 0, None, before, before)
    if callable(word_vectors):
        word_vectors = word_vectors()
    embeddings = _to_numpy(encoder.token_embedding.embeddings).astype(np.float32)
    rows, from_vectors, r2 = new_rows(embeddings, preprocessor.vocabulary, words, word_vectors)
    grown_preprocessor = TextPreprocessor(
        [*preprocessor.vocabulary, *words], max_length=preprocessor.max_length, lowercase=preprocessor.lowercase
    )
    growth = VocabularyGrowth(
        grown_encoder(encoder, rows),
        grown_preprocessor,
        words,
        from_vectors,
        r2,
        before,
        unknown_rate(grown_preprocessor, texts),
    )
    logger.info(
        "vocabulary %d → %d words (%d new, %d from pretrained vectors%s); unknown tokens %.2f %% → %.2f %%",
        preprocessor.vocabulary_size,
        grown_preprocessor.vocabulary_size,
        len(words),
        from_vectors,
        "" if r2 is None else f", map R² {r2:.2f}",
        100 * before,
        100 * growth.unknown_rate_after,
    )
    return growth
