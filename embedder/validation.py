"""Argument checks with the messages Keras's own layers use, for every library of the project.

Standard library only: the layers, the training settings (checked before TensorFlow loads), the server and the
TensorFlow-free client all raise through these, so that every bad argument reads the same way:

    Received an invalid value for argument `batch_size`, expected a positive integer. Received: batch_size=0

Example:
    >>> check_int("batch_size", 32)
    >>> check_choice("kind", "hnsw", ("exact", "hnsw"))
    >>> check_number("fraction", 0.1, minimum=0, maximum=1, strict=True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def invalid(argument: str, expected: str, value: object, shown: str | None = None) -> ValueError:
    """The error for `argument`, which should have been `expected`; `shown` names the value when it is not the
    argument itself (e.g. "vocabulary[:3]")."""
    return ValueError(
        f"Received an invalid value for argument `{argument}`, expected {expected}. "
        f"Received: {shown or argument}={value!r}"
    )


def is_int(value: object) -> bool:
    """An int that is not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: object) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_expectation(minimum: int) -> str:
    return {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")


def check_int(argument: str, value: object, minimum: int = 1, optional: bool = False) -> None:
    """`value` is an integer >= `minimum` (1: "a positive integer"), or None when `optional`."""
    if optional and value is None:
        return
    if not is_int(value) or value < minimum:
        raise invalid(argument, _int_expectation(minimum) + (" or None" if optional else ""), value)


def check_positive_int(argument: str, value: object) -> None:
    check_int(argument, value, minimum=1)


def check_non_negative_int(argument: str, value: object) -> None:
    check_int(argument, value, minimum=0)


def check_number(
    argument: str,
    value: object,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    optional: bool = False,
) -> None:
    """`value` is a finite number within [`minimum`, `maximum`] (open bounds when `strict`), or None when
    `optional`."""
    if optional and value is None:
        return
    ok = is_number(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if strict else value <= maximum
    if ok:
        return
    if minimum is not None and maximum is not None:
        expected = f"a number {'strictly ' if strict else ''}between {minimum} and {maximum}"
    elif minimum is not None:
        expected = f"a number {'>' if strict else '>='} {minimum}"
    elif maximum is not None:
        expected = f"a number {'<' if strict else '<='} {maximum}"
    else:
        expected = "a finite number"
    raise invalid(argument, expected + (" or None" if optional else ""), value)


def check_rate(argument: str, value: object) -> None:
    """A dropout-like rate in [0, 1)."""
    if not is_number(value) or not 0.0 <= value < 1.0:
        raise invalid(argument, "a float in [0, 1)", value)


def describe_choices(choices: Iterable[object]) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


def check_choice(argument: str, value: object, choices: Iterable[object]) -> None:
    """`value` is one of `choices` (listed in the message as their reprs)."""
    choices = tuple(choices)
    if value not in choices:
        raise invalid(argument, describe_choices(choices), value)
