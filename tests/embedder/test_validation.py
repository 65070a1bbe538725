"""`embedder.validation`: the one set of argument checks, with Keras's message form."""

from __future__ import annotations

import math

import pytest

from embedder.validation import check_choice, check_int, check_number, check_rate, invalid


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: check_int("batch_size", 0), "expected a positive integer. Received: batch_size=0"),
        (lambda: check_int("batch_size", True), "expected a positive integer. Received: batch_size=True"),
        (lambda: check_int("patience", -1, minimum=0), "expected a non-negative integer. Received: patience=-1"),
        (lambda: check_int("rows", 1, minimum=2, optional=True), "expected an integer >= 2 or None. Received: rows=1"),
        (lambda: check_number("lr", -1.0, minimum=0), "expected a number >= 0. Received: lr=-1.0"),
        (lambda: check_number("lr", 0, minimum=0, strict=True), "expected a number > 0. Received: lr=0"),
        (lambda: check_number("lr", math.nan, minimum=0), "expected a number >= 0. Received: lr=nan"),
        (
            lambda: check_number("fraction", 1, minimum=0, maximum=1, strict=True),
            "expected a number strictly between 0 and 1. Received: fraction=1",
        ),
        (lambda: check_number("x", "1"), "expected a finite number. Received: x='1'"),
        (lambda: check_rate("dropout", 1.0), "expected a float in [0, 1). Received: dropout=1.0"),
        (
            lambda: check_choice("kind", "ivf", ("exact", "hnsw")),
            "expected one of 'exact', 'hnsw'. Received: kind='ivf'",
        ),
    ],
)
def test_bad_values_are_named_with_what_was_expected(call, message):
    with pytest.raises(ValueError, match="Received an invalid value for argument") as caught:
        call()
    assert str(caught.value).endswith(message)


def test_good_values_pass():
    check_int("batch_size", 1)
    check_int("rows", None, optional=True)
    check_number("fraction", 0.5, minimum=0, maximum=1, strict=True)
    check_number("lr", None, minimum=0, optional=True)
    check_rate("dropout", 0)
    check_choice("kind", "hnsw", ("exact", "hnsw"))


def test_a_value_shown_under_another_name():
    error = invalid("vocabulary", "a list starting with [PAD]", ["a"], shown="vocabulary[:3]")
    assert str(error).endswith("Received: vocabulary[:3]=['a']")
