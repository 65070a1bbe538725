"""In-graph text preprocessing: raw strings in, token ids (and the tokens themselves) out.

Built only from core TensorFlow ops (string, regex, ragged and lookup-table ops), so a SavedModel that contains
it needs no custom-op library and the stock TensorFlow Serving image can run it. The same object feeds the
training `tf.data` pipeline and the exported signatures, so training and serving see identical ids.

Standardisation, in order (documented for users in docs/TEXT.md):

1. Bytes that are not valid UTF-8 are replaced by U+FFFD, so no input can fail inside the graph.
2. Lower-casing (Unicode-aware), unless ``lowercase=False``.
3. Every punctuation or symbol character (Unicode classes P and S, emoji included) becomes a token of its own;
   English clitics are kept whole as the Penn Treebank (and GloVe) write them: "don't" → "do n't",
   "it's" → "it 's".
4. Split on whitespace; keep the first ``max_length`` tokens (longer texts are truncated, not rejected).
5. A text with no tokens (empty or whitespace-only) becomes the single reserved token ``[EMPTY]``, so no row is
   all padding: an all-padding row has no defined attention and breaks cuDNN's LSTM kernels.
6. Vocabulary lookup: padding is id 0, unknown words id 1 (``[UNK]``), ``[EMPTY]`` id 2.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import tensorflow as tf

from embedder import contract
from embedder.validation import check_positive_int, invalid

PAD_TOKEN = ""
UNK_TOKEN = "[UNK]"
EMPTY_TOKEN = contract.EMPTY_TEXT_TOKEN
RESERVED_TOKENS = (PAD_TOKEN, UNK_TOKEN, EMPTY_TOKEN)
PAD_ID, UNK_ID, EMPTY_ID = 0, 1, 2

# Punctuation and symbols become separate tokens, then clitics are glued back (patterns shared with the server).
_PUNCTUATION = contract.TOKEN_PUNCTUATION_PATTERN
_NEGATION = contract.TOKEN_NEGATION_PATTERN
_CLITIC = contract.TOKEN_CLITIC_PATTERN


def standardize(texts: tf.Tensor, lowercase: bool = True) -> tf.Tensor:
    """Applies steps 1–3 of the module docstring to a string tensor of any shape."""
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD, replace_control_characters=False
    )
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    texts = tf.strings.regex_replace(texts, _PUNCTUATION, r" \1 ")
    texts = tf.strings.regex_replace(texts, _NEGATION, " n't")
    texts = tf.strings.regex_replace(texts, _CLITIC, r" '\1")
    return texts


def split_words(texts: tf.Tensor, max_length: int, lowercase: bool = True) -> tf.RaggedTensor:
    """Standardises a [batch] string tensor and splits it into at most ``max_length`` tokens a row.

    Rows with no tokens get the single token ``[EMPTY]``. Returns a ragged [batch, (tokens)] string tensor.
    """
    texts = standardize(texts, lowercase)  # (B,)
    # Splitting twice is the simplest way to use exactly the split's own idea of "no tokens".
    empty = tf.equal(tf.strings.split(texts).row_lengths(), 0)  # (B,)
    texts = tf.where(empty, EMPTY_TOKEN, texts)  # (B,)
    return tf.strings.split(texts)[:, :max_length]  # (B, (T))


class TextPreprocessor(tf.Module):
    """Turns raw strings into padded token ids with a fixed vocabulary, inside the TensorFlow graph.

    Args:
        vocabulary: the words, in id order, starting with the reserved tokens ``""``, ``[UNK]``, ``[EMPTY]``
            (use :func:`build_vocabulary`).
        max_length: the most tokens kept from a text; longer texts are truncated. Defaults to 128.
        lowercase: whether to lower-case before splitting. Defaults to True.

    Call arguments:
        texts: string tensor of shape (batch,).

    Returns:
        int32 token ids of shape (batch, longest row in the batch); 0 pads.

    Example:
        >>> pre = TextPreprocessor(build_vocabulary(["a good film", "a bad film"]), max_length=16)
        >>> pre(tf.constant(["A good, good film!", ""])).shape
        TensorShape([2, 6])
    """

    def __init__(self, vocabulary: Sequence[str], max_length: int = 128, lowercase: bool = True, name=None):
        super().__init__(name=name)
        check_positive_int("max_length", max_length)
        vocabulary = list(vocabulary)
        if tuple(vocabulary[: len(RESERVED_TOKENS)]) != RESERVED_TOKENS:
            raise invalid(
                "vocabulary",
                f"a list starting with the reserved tokens {list(RESERVED_TOKENS)}",
                vocabulary[:3],
                shown="vocabulary[:3]",
            )
        if len(set(vocabulary)) != len(vocabulary):
            duplicates = sorted(w for w, c in Counter(vocabulary).items() if c > 1)[:5]
            raise ValueError(f"Received a `vocabulary` with repeated words, e.g. {duplicates!r}")
        self.vocabulary = vocabulary
        self.max_length = max_length
        self.lowercase = lowercase
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(vocabulary[1:], dtype=tf.string),
                tf.range(1, len(vocabulary), dtype=tf.int64),
            ),
            default_value=UNK_ID,
        )

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    def get_config(self) -> dict:
        return {"max_length": self.max_length, "lowercase": self.lowercase}

    def words(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """Ragged (batch, (tokens)) strings: the words the model sees."""
        return split_words(texts, self.max_length, self.lowercase)

    def ids(self, words: tf.RaggedTensor) -> tf.Tensor:
        """int32 (batch, longest row) ids for a ragged word tensor from :meth:`words`; 0 pads."""
        ids = tf.ragged.map_flat_values(self._table.lookup, words)  # (B, (T)) int64
        return tf.cast(ids.to_tensor(default_value=PAD_ID), tf.int32)  # (B, T)

    def __call__(self, texts: tf.Tensor) -> tf.Tensor:
        return self.ids(self.words(texts))

    def padded_words(self, words: tf.RaggedTensor) -> tf.Tensor:
        """(batch, max_length) strings, "" for padding: the fixed-width `tokens` output of the export."""
        return words.to_tensor(default_value=PAD_TOKEN, shape=[None, self.max_length])


def _word_batches(texts: Iterable[str], lowercase: bool, batch_size: int) -> Iterable[tf.RaggedTensor]:
    """The standardised words of ``texts`` (no truncation), `batch_size` texts at a time, by the graph's ops."""
    batch: list[str] = []
    for text in texts:
        batch.append(text)
        if len(batch) == batch_size:
            yield tf.strings.split(standardize(tf.constant(batch, dtype=tf.string), lowercase))
            batch = []
    if batch:
        yield tf.strings.split(standardize(tf.constant(batch, dtype=tf.string), lowercase))


def count_words(texts: Iterable[str], lowercase: bool = True, batch_size: int = 4096) -> Counter:
    """Counts the standardised words of ``texts`` with the same ops the graph uses (no truncation)."""
    counts: Counter = Counter()
    for words in _word_batches(texts, lowercase, batch_size):
        counts.update(w.decode("utf-8") for w in words.flat_values.numpy())
    return counts


def text_lengths(texts: Iterable[str], lowercase: bool = True, batch_size: int = 4096) -> list[int]:
    """The number of tokens of each text, as the graph splits it (no truncation; an empty text counts 0)."""
    lengths: list[int] = []
    for words in _word_batches(texts, lowercase, batch_size):
        lengths.extend(int(n) for n in words.row_lengths().numpy())
    return lengths


def build_vocabulary(
    texts: Iterable[str] | Counter,
    max_size: int | None = 30000,
    min_count: int = 1,
    lowercase: bool = True,
    extra_words: Iterable[str] = (),
) -> list[str]:
    """Builds a vocabulary list: the reserved tokens, then words by falling frequency (ties alphabetical).

    Args:
        texts: training texts, or a `Counter` from :func:`count_words`.
        max_size: the most entries in total (reserved tokens included); None for no limit. Defaults to 30000.
        min_count: words seen fewer times are left out. Defaults to 1.
        lowercase: must match the preprocessor's setting. Defaults to True.
        extra_words: words to append after the counted ones while room remains (e.g. frequent words of a
            pretrained embedding, so that test-time words the training data never saw still have a vector).
    """
    if max_size is not None and max_size <= len(RESERVED_TOKENS):
        raise invalid("max_size", f"an integer above {len(RESERVED_TOKENS)}", max_size)
    counts = texts if isinstance(texts, Counter) else count_words(texts, lowercase)
    vocabulary = list(RESERVED_TOKENS)
    seen = set(vocabulary)
    ranked = sorted((w for w, c in counts.items() if c >= min_count and w not in seen), key=lambda w: (-counts[w], w))
    for word in [*ranked, *extra_words]:
        if max_size is not None and len(vocabulary) >= max_size:
            break
        if word not in seen:
            seen.add(word)
            vocabulary.append(word)
    return vocabulary
