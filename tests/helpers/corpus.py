"""Corpus files for the `embed-corpus` tests: generated sentences of varied lengths, some lines bad on purpose."""

from __future__ import annotations

#: Words for generated sentences of varied lengths (in the tiny vocabulary or not: unknown words are fine).
WORDS = (
    "a good film bad what wonderful moving story the plot was dull acting worse who wrote hamlet how far moon".split()
)


def sentence(i: int) -> str:
    length = 1 + (i * 7) % 11
    return " ".join(WORDS[(i * 3 + k) % len(WORDS)] for k in range(length)) + f" {i}"


def write_corpus(path, lines: int, bad_every: int = 0) -> list[bytes]:
    """A text corpus of `lines` lines; every `bad_every`-th line is bad (alternately non-UTF-8 and empty)."""
    raw = []
    for i in range(lines):
        if bad_every and i % bad_every == bad_every - 1:
            raw.append(b"\xff\xfe not utf-8" if (i // bad_every) % 2 == 0 else b"   ")
        else:
            raw.append(sentence(i).encode("utf-8"))
    path.write_bytes(b"\n".join(raw) + b"\n")
    return raw
