"""Scanning the input: globs, line ids across files, checksums, compressed files, resuming mid-corpus."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from serving.corpus.corpus_input import iter_records, match_inputs, scan_corpus
from serving.corpus.records import EMPTY, NOT_UTF8


@pytest.fixture()
def three_files(tmp_path):
    # Named so that sorting differs from creation order: the corpus order is the sorted order.
    contents = {
        "part-b.txt": b"b one\nb two\n",
        "part-a.txt": b"a one\n\xff\na three\n",
        "part-c.txt": b"c one\n\nc three\nc four",
    }
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path, contents


def test_glob_of_three_files_numbers_lines_across_files_in_sorted_order(three_files):
    directory, contents = three_files
    corpus = scan_corpus([str(directory / "part-*.txt")])
    assert [f.path.rsplit("/", 1)[1] for f in corpus.files] == ["part-a.txt", "part-b.txt", "part-c.txt"]
    assert [(f.first_line_id, f.records) for f in corpus.files] == [(0, 3), (3, 2), (5, 4)]
    assert corpus.records == 9
    assert corpus.bad_by_reason == {EMPTY: 1, NOT_UTF8: 1}
    assert [f.sha256 for f in corpus.files] == [
        hashlib.sha256(contents[name]).hexdigest() for name in ("part-a.txt", "part-b.txt", "part-c.txt")
    ]
    assert [(d["line_id"], d["line"], d["reason"]) for d in corpus.bad_examples] == [(1, 2, NOT_UTF8), (6, 2, EMPTY)]
    assert corpus.bad_examples[1]["file"].endswith("part-c.txt")
    texts = [r.text for r in iter_records(corpus)]
    assert texts == ["a one", None, "a three", "b one", "b two", "c one", None, "c three", "c four"]
    assert [r.line_id for r in iter_records(corpus)] == list(range(9))


def test_iter_records_from_a_line_id_skips_earlier_files_unopened(three_files):
    directory, _ = three_files
    corpus = scan_corpus([str(directory / "part-*.txt")])
    (directory / "part-a.txt").unlink()  # never opened when the resume point is past it
    assert [r.line_id for r in iter_records(corpus, start=4)] == [4, 5, 6, 7, 8]
    assert [r.text for r in iter_records(corpus, start=4)][:2] == ["b two", "c one"]


def test_checksum_follows_content_not_paths(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"one\ntwo\n")
    first = scan_corpus([str(tmp_path / "x.txt")]).sha256
    (tmp_path / "x.txt").rename(tmp_path / "y.txt")
    assert scan_corpus([str(tmp_path / "y.txt")]).sha256 == first
    (tmp_path / "y.txt").write_bytes(b"one\ntwo!\n")
    assert scan_corpus([str(tmp_path / "y.txt")]).sha256 != first


def test_gzip_input_is_read_decompressed(tmp_path):
    with gzip.open(tmp_path / "c.tsv.gz", "wb") as handle:
        handle.write(b"label\ttext\nA\tfirst\nB\tsecond\n")
    corpus = scan_corpus([str(tmp_path / "c.tsv.gz")], column="text")
    assert corpus.format.format == "tsv"
    assert [r.text for r in iter_records(corpus)] == ["first", "second"]


def test_missing_input_and_mixed_formats_are_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No input file matches"):
        match_inputs([str(tmp_path / "nothing-*.txt")])
    (tmp_path / "a.txt").write_text("x\n")
    (tmp_path / "b.tsv").write_text("text\nx\n")
    with pytest.raises(ValueError, match="different formats"):
        scan_corpus([str(tmp_path / "a.txt"), str(tmp_path / "b.tsv")])
    (tmp_path / "c.tsv").write_text("label\tsentence\nA\tx\n")
    with pytest.raises(ValueError, match=r"c\.tsv: Column 'text' is not in the header"):
        scan_corpus([str(tmp_path / "c.tsv")])
