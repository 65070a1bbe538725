"""Counts the tokens a served model reads from each text, for the OpenAI-style endpoint's ``usage``.

The model's tokenizer runs inside its graph (embedder/text_preprocessor.py); the server may not import it, so it
repeats the same TensorFlow string ops with the patterns the contract shares: invalid UTF-8 replaced, optional
lower-casing, punctuation and symbols split off, clitics glued back, whitespace split, at most ``max_length``
tokens, and one ``[EMPTY]`` token for a text without any. A test checks the counts against the tokens the model's
own ``attention`` signature returns.

The settings come from the version's metadata asset (``assets.extra/embedder.json``); a SavedModel without one
(not exported by this project) is counted without truncation.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
from pathlib import Path

import numpy as np
import tensorflow as tf

from embedder import contract

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TokenizerSettings:
    """What changes a count: the most tokens the model keeps (None: no limit) and whether it lower-cases."""

    max_length: int | None = None
    lowercase: bool = True


@functools.lru_cache(maxsize=64)
def tokenizer_settings(version_dir: str) -> TokenizerSettings:
    """The tokenizer settings of an exported version, read once from its metadata asset."""
    path = Path(version_dir) / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        log.info("No tokenizer settings for %s (%s): tokens are counted without truncation", version_dir, error)
        return TokenizerSettings()
    preprocessor = metadata.get(contract.META_PREPROCESSOR_CONFIG) or {}
    max_length = preprocessor.get(contract.META_MAX_LENGTH, metadata.get(contract.META_MAX_LENGTH))
    return TokenizerSettings(
        max_length=int(max_length) if max_length else None, lowercase=bool(preprocessor.get("lowercase", True))
    )


@tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.bool)])
def _word_counts(texts: tf.Tensor, lowercase: tf.Tensor) -> tf.Tensor:
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD, replace_control_characters=False
    )  # (B,)
    texts = tf.cond(lowercase, lambda: tf.strings.lower(texts, encoding="utf-8"), lambda: texts)
    texts = tf.strings.regex_replace(texts, contract.TOKEN_PUNCTUATION_PATTERN, r" \1 ")
    texts = tf.strings.regex_replace(texts, contract.TOKEN_NEGATION_PATTERN, " n't")
    texts = tf.strings.regex_replace(texts, contract.TOKEN_CLITIC_PATTERN, r" '\1")
    return tf.strings.split(texts).row_lengths()  # (B,) int64


def count_tokens(texts: list[bytes], settings: TokenizerSettings) -> np.ndarray:
    """int64 (len(texts),): the tokens the model reads from each text (at least 1: ``[EMPTY]``)."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    counts = _word_counts(tf.constant(texts, dtype=tf.string), tf.constant(settings.lowercase)).numpy()
    counts = np.maximum(counts, 1)
    if settings.max_length is not None:
        counts = np.minimum(counts, settings.max_length)
    return counts
