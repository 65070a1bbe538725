"""Argument checks shared by the layers, with messages in the form Keras's own layers use."""

from __future__ import annotations


def invalid(argument: str, expected: str, value: object) -> ValueError:
    return ValueError(
        f"Received an invalid value for argument `{argument}`, expected {expected}. Received: {argument}={value!r}"
    )


def check_positive_int(argument: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise invalid(argument, "a positive integer", value)


def check_non_negative_int(argument: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise invalid(argument, "a non-negative integer", value)


def check_rate(argument: str, value: object) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise invalid(argument, "a float in [0, 1)", value)


def check_choice(argument: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise invalid(argument, "one of " + ", ".join(repr(c) for c in choices), value)
