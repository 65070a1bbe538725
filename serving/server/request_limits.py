"""What one Predict request may ask of the embedded server, checked before anything is allocated for it.

A ``TensorProto`` declares its shape apart from the values it carries, and TensorFlow's proto rules fill a short
value list up to the declared size; a 40-byte request declaring 10⁸ rows would otherwise make the server build
and run 10⁸ rows. So every request tensor is checked against what it actually carries and against these limits
first, from the declared shape and the values' lengths alone:

- ``max_rows_per_request``: rows (the first dimension) of one input; INVALID_ARGUMENT over it.
- ``max_text_bytes``: bytes of one string value. Longer texts are cut to it at a UTF-8 character boundary
  (``text_length_mode="truncate"``, the default: the models keep only their first ``max_length`` tokens, so the
  answer changes only for a text whose first ``max_text_bytes`` bytes hold fewer tokens than that) or refused
  with INVALID_ARGUMENT (``"refuse"``), as TEI's ``--auto-truncate`` and its refusal do.
- ``max_request_bytes``: bytes of all the request's values together (as the declared shape expands them);
  RESOURCE_EXHAUSTED over it.

The flags of `embedder serve` of the same names set them; docs/SERVING.md lists the defaults.
"""

from __future__ import annotations

import dataclasses

from embedder.validation import check_choice, check_positive_int

#: Rows one request may hold (its first dimension).
DEFAULT_MAX_ROWS_PER_REQUEST = 8192
#: Bytes one text may hold before it is truncated or refused.
DEFAULT_MAX_TEXT_BYTES = 64 * 1024
#: Bytes all the values of one request may hold together.
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024

TRUNCATE = "truncate"
REFUSE = "refuse"
TEXT_LENGTH_MODES = (TRUNCATE, REFUSE)


@dataclasses.dataclass(frozen=True)
class RequestLimits:
    """The per-request limits (see the module docstring).

    Args:
        max_rows_per_request: rows one input may hold. Defaults to 8192.
        max_text_bytes: bytes one string may hold. Defaults to 65536.
        max_request_bytes: bytes all values of a request may hold. Defaults to 67108864 (64 MiB).
        text_length_mode: "truncate" or "refuse" a text over `max_text_bytes`. Defaults to "truncate".
    """

    max_rows_per_request: int = DEFAULT_MAX_ROWS_PER_REQUEST
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    text_length_mode: str = TRUNCATE

    def __post_init__(self):
        for name in ("max_rows_per_request", "max_text_bytes", "max_request_bytes"):
            check_positive_int(name, getattr(self, name))
        check_choice("text_length_mode", self.text_length_mode, TEXT_LENGTH_MODES)


def truncate_utf8(text: bytes, max_bytes: int) -> bytes:
    """`text` cut to at most `max_bytes` bytes, without splitting a UTF-8 character (other bytes cut as they are)."""
    if len(text) <= max_bytes:
        return text
    end = max_bytes
    # Back off over at most three continuation bytes (10xxxxxx) to the start of the character cut in two.
    for _ in range(3):
        if end > 0 and (text[end] & 0xC0) == 0x80:
            end -= 1
        else:
            break
    return text[:end]
