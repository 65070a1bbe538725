"""Reading records: every format, line ids, line numbers, and each kind of bad line."""

from __future__ import annotations

import pytest

from serving.corpus.records import (
    EMPTY,
    INVALID_JSON,
    MISSING_COLUMN,
    NOT_A_STRING,
    NOT_UTF8,
    RecordFormat,
    detect_format,
    read_records,
)


def records(lines: list[bytes], fmt: RecordFormat, first_line_id: int = 0):
    return [tuple(r) for r in read_records(lines, fmt, first_line_id)]


def test_text_lines_good_and_bad():
    lines = [b"How far is it ?\n", b"\xff\xfe broken\n", b"\n", b"   \t\r\n", b"last line without newline"]
    assert records(lines, RecordFormat("text"), first_line_id=10) == [
        (10, "How far is it ?", None, 1),
        (11, None, NOT_UTF8, 2),
        (12, None, EMPTY, 3),
        (13, None, EMPTY, 4),
        (14, "last line without newline", None, 5),
    ]


def test_crlf_is_stripped_and_inner_whitespace_kept():
    assert records([b" two  spaces \r\n"], RecordFormat("text")) == [(0, " two  spaces ", None, 1)]


def test_tsv_by_header_name_and_by_index():
    lines = [b"label\ttext\n", b"NUM\tHow far ?\n", b"LOC\n", b"HUM\tWho \xc3\xa9crit ?\n"]
    by_name = records(lines, RecordFormat("tsv", column="text"))
    assert by_name == [(0, "How far ?", None, 2), (1, None, MISSING_COLUMN, 3), (2, "Who écrit ?", None, 4)]
    by_index = records(lines[1:], RecordFormat("tsv", column="1"))
    assert [r[1] for r in by_index] == ["How far ?", None, "Who écrit ?"]
    with_header_by_index = records(lines, RecordFormat("tsv", column="1", header=True))
    assert with_header_by_index == by_name


def test_tsv_header_without_the_column_is_an_error_naming_the_columns():
    with pytest.raises(ValueError, match=r"Column 'sentence' is not in the header.*\['label', 'text'\]"):
        records([b"label\ttext\n", b"A\tb\n"], RecordFormat("tsv", column="sentence"))


def test_csv_quoted_field_spanning_lines_is_one_record():
    lines = [b"id,text\n", b'1,"first line\n', b'still the first"\n', b'2,"a, b"\n', b"\n", b"3,\xff\n"]
    assert records(lines, RecordFormat("csv", column="text")) == [
        (0, "first line\nstill the first", None, 2),
        (1, "a, b", None, 4),
        (2, None, EMPTY, 5),
        (3, None, NOT_UTF8, 6),
    ]


def test_jsonl_every_kind_of_bad_line():
    lines = [
        b'{"text": "ok", "id": 1}\n',
        b'{"id": 2}\n',
        b"{not json\n",
        b'["a list"]\n',
        b'{"text": 3}\n',
        b'{"text": "  "}\n',
        b"\n",
        b'{"text": "\\ud800 lone surrogate"}\n',
        b'{"text": "caf\xc3\xa9"}\n',
    ]
    assert [r[1:3] for r in records(lines, RecordFormat("jsonl"))] == [
        ("ok", None),
        (None, MISSING_COLUMN),
        (None, INVALID_JSON),
        (None, INVALID_JSON),
        (None, NOT_A_STRING),
        (None, EMPTY),
        (None, EMPTY),
        (None, NOT_UTF8),
        ("café", None),
    ]


def test_jsonl_with_another_key():
    assert records([b'{"sentence": "hi"}\n'], RecordFormat("jsonl", column="sentence")) == [(0, "hi", None, 1)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(format="xml"), "argument `format`"),
        (dict(format="text", column="text"), "The text format has no columns"),
        (dict(format="tsv", column="text", header=False), "the column must be a 0-based index"),
        (dict(format="jsonl", header=True), "JSONL files have no header"),
    ],
)
def test_invalid_formats_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RecordFormat(**kwargs)


@pytest.mark.parametrize(
    "path, expected",
    [
        ("a/b/corpus.txt", "text"),
        ("corpus", "text"),
        ("train.TSV", "tsv"),
        ("x.csv.gz", "csv"),
        ("gs://bucket/part-0.jsonl.bz2", "jsonl"),
        ("d.ndjson", "jsonl"),
    ],
)
def test_detect_format(path, expected):
    assert detect_format(path) == expected
