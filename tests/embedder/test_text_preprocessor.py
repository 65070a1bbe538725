from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from embedder.text_preprocessor import (
    EMPTY_ID,
    EMPTY_TOKEN,
    PAD_ID,
    UNK_ID,
    TextPreprocessor,
    build_vocabulary,
    count_words,
)


def words_of(texts, max_length=64, lowercase=True):
    pre = TextPreprocessor(build_vocabulary(["x"]), max_length=max_length, lowercase=lowercase)
    return [[w.decode("utf-8") for w in row] for row in pre.words(tf.constant(texts)).to_list()]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("A good, GOOD film!", ["a", "good", ",", "good", "film", "!"]),
        ("I don't think it's bad", ["i", "do", "n't", "think", "it", "'s", "bad"]),
        ("they wo n't sit still", ["they", "wo", "n't", "sit", "still"]),  # already PTB-tokenised text
        ("celebrities ' real names", ["celebrities", "'", "real", "names"]),
        ("re-imagining (1930s)", ["re", "-", "imagining", "(", "1930s", ")"]),
        ("Ünïcode ÉCOLE café", ["ünïcode", "école", "café"]),
        ("love it 😀👍", ["love", "it", "😀", "👍"]),
        ("tabs\tand\nnewlines", ["tabs", "and", "newlines"]),
    ],
)
def test_standardisation(text, expected):
    assert words_of([text]) == [expected]


def test_lowercase_can_be_turned_off():
    assert words_of(["Paris IS"], lowercase=False) == [["Paris", "IS"]]


@pytest.mark.parametrize("text", ["", "   ", "\t\n "])
def test_empty_and_whitespace_texts_become_the_reserved_token(text):
    pre = TextPreprocessor(build_vocabulary(["x"]), max_length=5)
    assert words_of([text]) == [[EMPTY_TOKEN]]
    ids = pre(tf.constant([text, "x x"])).numpy()
    assert ids[0].tolist() == [EMPTY_ID, PAD_ID]


def test_invalid_utf8_is_replaced_not_an_error():
    pre = TextPreprocessor(build_vocabulary(["bad"]), max_length=8)
    words = pre.words(tf.constant([b"caf\xc3\xa9 \xff\xfe bad"])).to_list()[0]
    assert words[0] == "café".encode() and words[-1] == b"bad"
    assert all(w.decode("utf-8") for w in words)  # every token is valid UTF-8 now


def test_truncation_to_max_length_and_long_texts():
    pre = TextPreprocessor(build_vocabulary(["w"]), max_length=4)
    huge = "w " * 500_000  # a 1 MB string
    ids = pre(tf.constant(["a b c d e f", huge, "w"])).numpy()
    assert ids.shape == (3, 4)
    assert ids[1].tolist() == [3, 3, 3, 3]
    assert ids[2].tolist() == [3, 0, 0, 0]


def test_lookup_ids_reserved_and_unknown():
    vocabulary = build_vocabulary(["b a a", "c"])
    assert vocabulary[:6] == ["", "[UNK]", "[EMPTY]", "a", "b", "c"]
    pre = TextPreprocessor(vocabulary, max_length=6)
    ids = pre(tf.constant(["a zzz c", "b"])).numpy()
    np.testing.assert_array_equal(ids, [[3, UNK_ID, 5], [4, PAD_ID, PAD_ID]])


def test_padded_words_are_max_length_wide():
    pre = TextPreprocessor(build_vocabulary(["x"]), max_length=5)
    padded = pre.padded_words(pre.words(tf.constant(["x y", ""]))).numpy()
    assert padded.tolist() == [[b"x", b"y", b"", b"", b""], [b"[EMPTY]", b"", b"", b"", b""]]


def test_build_vocabulary_limits_and_extra_words():
    texts = ["a a a b b c", "d"]
    assert build_vocabulary(texts, max_size=5) == ["", "[UNK]", "[EMPTY]", "a", "b"]
    assert build_vocabulary(texts, min_count=2) == ["", "[UNK]", "[EMPTY]", "a", "b"]
    assert build_vocabulary(texts, min_count=3, extra_words=["zebra", "a"]) == ["", "[UNK]", "[EMPTY]", "a", "zebra"]
    assert count_words(["Don't!"]) == {"do": 1, "n't": 1, "!": 1}
    with pytest.raises(ValueError, match="argument `max_size`, expected an integer above 3"):
        build_vocabulary(texts, max_size=3)


def test_count_words_counts_the_tokens_the_model_sees():
    text = "It's a GREAT, great day (isn't it?)"
    counted = count_words([text])
    # Lower-cased, punctuation split off, clitics and negations as their own tokens.
    expected = {"it": 2, "'s": 1, "a": 1, "great": 2, ",": 1, "day": 1, "(": 1, "is": 1, "n't": 1, "?": 1, ")": 1}
    assert counted == expected
    seen = TextPreprocessor(build_vocabulary(["x"]), max_length=50).words(tf.constant([text])).to_list()[0]
    assert counted == Counter(w.decode() for w in seen)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_length": 0}, "argument `max_length`, expected a positive integer. Received: max_length=0"),
        ({"vocabulary": ["a", "b", "c"]}, "argument `vocabulary`, expected a list starting with the reserved tokens"),
        ({"vocabulary": ["", "[UNK]", "[EMPTY]", "a", "a"]}, "repeated words"),
    ],
)
def test_bad_arguments(kwargs, message):
    args = {"vocabulary": ["", "[UNK]", "[EMPTY]", "a"], "max_length": 4, **kwargs}
    with pytest.raises(ValueError, match=message):
        TextPreprocessor(**args)
