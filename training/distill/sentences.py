"""A simple, rule-based sentence splitter for distillation corpora (no model, no download, stdlib only).

Rules, in order:

1. A sentence ends after ``.``, ``!`` or ``?`` (a run of them, e.g. ``?!`` or ``...``), optionally followed by
   closing quotes or brackets, when whitespace follows and the next word does not start with a lower-case letter.
2. No break after a single period that follows a common abbreviation (``Mr.``, ``Dr.``, ``e.g.``, ``etc.``,
   ``vs.`` ... see `ABBREVIATIONS`) or a single letter (initials: ``J. R. R. Tolkien``, ``U.S.``).
3. A piece longer than ``max_words`` whitespace-separated words is cut into consecutive windows of ``max_words``
   (20 Newsgroups headers and run-on reviews have no punctuation to split on).
4. Whitespace is collapsed; empty pieces are dropped.

It is tuned for what the corpora here hold (news posts, reviews, questions), not for every language or style.

Example:
    >>> split_sentences("Dr. Smith arrived. He said hi! Did it work? yes it did.")
    ['Dr. Smith arrived.', 'He said hi!', 'Did it work? yes it did.']
"""

from __future__ import annotations

import re

from embedder.validation import check_int

#: Words (lower case, without the final period) after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st mt vs etc e.g i.e cf al fig no nos vol pp approx dept est inc ltd co corp jan feb
    mar apr jun jul aug sep sept oct nov dec gen gov sen rep rev capt col lt sgt hon u.s u.k a.m p.m""".split()
)

# A candidate end: the terminal punctuation (and closing quotes/brackets), then whitespace, then what follows.
_BOUNDARY = re.compile(r"""([.!?]+["'”’)\]]*)\s+(?=\S)""")
_WORD_BEFORE = re.compile(r"(\S+)$")


def _ends_sentence(text: str, end: int, punctuation: str) -> bool:
    """Whether the punctuation ending at `end` closes a sentence (rules 1 and 2)."""
    following = text[end:].lstrip()
    if not following or following[0].islower():
        return False
    if not punctuation.startswith("."):
        return True
    if len(punctuation.rstrip("\"'”’)]")) > 1:
        return True  # an ellipsis or "?." before a capital: a break
    match = _WORD_BEFORE.search(text, 0, end - len(punctuation))
    if match is None:
        return True
    word = match.group(1).lstrip("\"'“‘([").lower()
    return not (word in ABBREVIATIONS or (len(word) == 1 and word.isalpha()))


def _windows(sentence: str, max_words: int | None) -> list[str]:
    words = sentence.split()
    if not words:
        return []
    if max_words is None or len(words) <= max_words:
        return [" ".join(words)]
    return [" ".join(words[i : i + max_words]) for i in range(0, len(words), max_words)]


def split_sentences(text: str, max_words: int | None = 64) -> list[str]:
    """Splits `text` into sentences by the module's rules.

    Args:
        text: any text; line breaks count as whitespace.
        max_words: the most words in a returned piece; longer sentences are cut into windows. None never cuts.
            Defaults to 64.

    Returns:
        The sentences in order, whitespace collapsed; ``[]`` for a blank text.
    """
    check_int("max_words", max_words, optional=True)
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end(1)
        if _ends_sentence(text, end, match.group(1)):
            sentences.extend(_windows(text[start:end], max_words))
            start = match.end()
    sentences.extend(_windows(text[start:], max_words))
    return sentences
