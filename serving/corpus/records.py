"""Records of a corpus file: how raw lines become (line id, sentence) pairs, and which lines are bad.

A corpus file is one of four formats. Every record gets a line id, its position in the whole corpus (0-based,
counted over the files in order, headers excluded), whether or not it is usable, so ids stay the same however
often a job is resumed and whichever runner reads the file:

- ``text``: one sentence a line.
- ``tsv``: tab-separated fields, no quoting; the sentence is one column (a header name, or a 0-based index).
- ``csv``: RFC 4180 (quoted fields may span lines: one record, one id).
- ``jsonl``: one JSON object a line; the sentence is the value of one key.

A bad record (`Record.reason` set) is one whose sentence cannot be embedded as written: bytes that are not UTF-8,
an empty or blank sentence, a missing column or key, a JSON line that does not parse (nested too deep included)
or whose value is not a string, a sentence over the format's ``max_text_bytes`` or a CSV field over csv's field
size limit, a CSV record csv cannot parse. What happens to it is the job's bad-line policy (`serving.corpus.bad_lines`).

Example:
    >>> fmt = RecordFormat("tsv", column="text", header=True)
    >>> [r.text for r in read_records([b"label\\ttext\\n", b"NUM\\tHow far ?\\n"], fmt)]
    ['How far ?']
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import NamedTuple

from embedder.validation import check_choice, invalid

FORMATS = ("text", "tsv", "csv", "jsonl")
_SUFFIX_FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_COMPRESSION_SUFFIXES = (".gz", ".bz2")

# Why a record is bad: these strings are written to the manifest and the bad-lines file.
NOT_UTF8 = "not-utf8"
EMPTY = "empty"
MISSING_COLUMN = "missing-column"
INVALID_JSON = "invalid-json"
NOT_A_STRING = "not-a-string"
TOO_LONG = "too-long"
INVALID_CSV = "invalid-csv"
REASONS = (NOT_UTF8, EMPTY, MISSING_COLUMN, INVALID_JSON, NOT_A_STRING, TOO_LONG, INVALID_CSV)
# The longest CSV field a corpus job reads (csv's own default); a longer one is a `too-long` bad line. csv keeps its
# limit in one process-wide setting that other readers raise (training/data.py does, for long posts), so the corpus
# reader sets its own before every record rather than inherit whatever ran before it.
CSV_FIELD_LIMIT = 128 * 1024


class Record(NamedTuple):
    """One record of the corpus.

    Attributes:
        line_id: the record's position in the corpus, 0-based.
        text: the sentence, or None for a bad record.
        reason: None, or why the record is bad (one of `REASONS`).
        line: the 1-based physical line of the file where the record starts (for messages and the bad-lines file).
    """

    line_id: int
    text: str | None
    reason: str | None
    line: int


@dataclass(frozen=True)
class RecordFormat:
    """How to read sentences out of a file.

    Args:
        format: "text", "tsv", "csv" or "jsonl".
        column: for tsv/csv a header name or a 0-based column index (as a string of digits); for jsonl a key.
            Defaults to "text" (unused for the text format).
        header: whether the first line of a tsv/csv file names the columns. Defaults to True when `column` is a
            name and False when it is an index.
        max_text_bytes: a sentence of more UTF-8 bytes is a bad record (`TOO_LONG`); None: no limit. Not part of
            `to_dict` (the job records it with its options). Defaults to None.
    """

    format: str
    column: str | None = None
    header: bool | None = None
    max_text_bytes: int | None = None

    def __post_init__(self):
        check_choice("format", self.format, FORMATS)
        if self.format == "text":
            if self.column is not None:
                raise ValueError(f"The text format has no columns. Received: column={self.column!r}")
            object.__setattr__(self, "header", False)
            return
        column = "text" if self.column is None else str(self.column)
        if not column:
            raise invalid("column", "a name or an index", self.column)
        object.__setattr__(self, "column", column)
        if self.format == "jsonl":
            if self.header:
                raise ValueError("JSONL files have no header line. Received: header=True")
            object.__setattr__(self, "header", False)
        elif self.header is None:
            object.__setattr__(self, "header", not column.isdigit())
        if self.format in ("tsv", "csv") and not self.header and not column.isdigit():
            raise ValueError(
                f"Without a header line the column must be a 0-based index. Received: column={column!r}, header=False"
            )

    def to_dict(self) -> dict:
        return {"format": self.format, "column": self.column, "header": self.header}


def detect_format(path: str) -> str:
    """The format a file's suffix names (``.tsv``, ``.csv``, ``.jsonl``/``.ndjson``/``.json``; else text).

    A compression suffix (``.gz``, ``.bz2``) is looked through: ``part-0.tsv.gz`` is a TSV file.
    """
    name = PurePosixPath(str(path).replace("\\", "/")).name.lower()
    for suffix in _COMPRESSION_SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return _SUFFIX_FORMATS.get(PurePosixPath(name).suffix, "text")


def _decode(raw: bytes) -> str:
    # Undecodable bytes become lone surrogates instead of an exception, so one bad line cannot stop a file and
    # a CSV field spanning lines stays together; `_check_text` then marks the record that holds them.
    return raw.decode("utf-8", errors="surrogateescape")


def _check_text(text, max_bytes: int | None = None) -> tuple[str | None, str | None]:
    if not isinstance(text, str):
        return None, NOT_A_STRING
    if max_bytes is not None and len(text) > max_bytes:  # at least one byte a character: too long already
        return None, TOO_LONG
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        return None, NOT_UTF8
    if max_bytes is not None and len(encoded) > max_bytes:
        return None, TOO_LONG
    if not text.strip():
        return None, EMPTY
    return text, None


def _strip_newline(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw


def _column_index(header_fields: list[str], column: str) -> int:
    if column.isdigit():
        return int(column)
    if column not in header_fields:
        raise ValueError(f"Column {column!r} is not in the header; the columns are {header_fields!r}.")
    return header_fields.index(column)


def read_records(lines: Iterable[bytes], fmt: RecordFormat, first_line_id: int = 0) -> Iterator[Record]:
    """The records of one file, from its raw lines (bytes, each with or without its line terminator).

    Args:
        lines: the file's lines, as iterating a binary file yields them.
        fmt: the file's `RecordFormat`.
        first_line_id: the line id of the file's first record.

    Yields:
        One `Record` per record, bad ones included.

    Raises:
        ValueError: the header lacks the requested column or is not UTF-8 (a problem with the whole file, found
            before any record is read).
    """
    lines = iter(lines)
    line_id = first_line_id
    if fmt.format == "csv":
        yield from _read_csv(lines, fmt, line_id)
        return
    column = None
    physical = 0
    if fmt.header:
        header = next(lines, None)
        physical = 1
        if header is None:
            return
        try:
            header_text = _strip_newline(header).decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("The header line is not UTF-8.") from None
        column = _column_index(header_text.split("\t"), fmt.column)
    elif fmt.format == "tsv":
        column = int(fmt.column)
    for raw in lines:
        physical += 1
        text = _decode(_strip_newline(raw))
        if fmt.format == "text":
            value, reason = _check_text(text, fmt.max_text_bytes)
        elif fmt.format == "tsv":
            fields = text.split("\t")
            value, reason = (
                _check_text(fields[column], fmt.max_text_bytes) if column < len(fields) else (None, MISSING_COLUMN)
            )
        else:
            value, reason = _jsonl_value(text, fmt.column, fmt.max_text_bytes)
        yield Record(line_id, value, reason, physical)
        line_id += 1


def _jsonl_value(text: str, key: str, max_bytes: int | None) -> tuple[str | None, str | None]:
    if not text.strip():
        return None, EMPTY
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes ("[[[[…")
        return None, INVALID_JSON
    if not isinstance(document, dict):
        return None, INVALID_JSON
    if key not in document:
        return None, MISSING_COLUMN
    return _check_text(document[key], max_bytes)


def _read_csv(lines: Iterator[bytes], fmt: RecordFormat, line_id: int) -> Iterator[Record]:
    # csv.reader pulls exactly the lines of one record (it never reads ahead), so its line_num is exact.
    reader = csv.reader(_decode(_strip_newline(raw)) + "\n" for raw in lines)
    csv.field_size_limit(CSV_FIELD_LIMIT)
    column = None
    if fmt.header:
        header = next(reader, None)
        if header is None:
            return
        if any(_check_text(name)[1] == NOT_UTF8 for name in header):
            raise ValueError("The header line is not UTF-8.")
        column = _column_index(header, fmt.column)
    else:
        column = int(fmt.column)
    start = reader.line_num + 1
    while True:
        try:
            csv.field_size_limit(CSV_FIELD_LIMIT)
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            # A field over csv's field_size_limit, or a malformed quote: the reader goes on at the next line.
            fields, reason = None, TOO_LONG if "field limit" in str(error) else INVALID_CSV
        if fields is None:
            value = None
        elif not fields:
            value, reason = None, EMPTY
        elif column < len(fields):
            value, reason = _check_text(fields[column], fmt.max_text_bytes)
        else:
            value, reason = None, MISSING_COLUMN
        yield Record(line_id, value, reason, start)
        line_id += 1
        start = reader.line_num + 1
