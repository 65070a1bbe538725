"""The input of a corpus job: which files, in which order, what they hold, and a checksum that names them.

`scan_corpus` expands the input patterns, reads every file once (streaming) and returns a `CorpusInput`: per file
its SHA-256, its record count and the line id of its first record, plus the bad records by reason. The job uses
it to size its output before embedding anything, to number lines stably (so `--resume` and every Beam worker agree
on ids), and to refuse to resume against a different input. `iter_records` then streams the records from any line
id on, skipping whole files that end before it.

Files are opened through a `FileAccess` (local paths by default; the Beam pipeline passes one over Beam's
filesystems, so ``gs://`` and the like work there). ``.gz`` and ``.bz2`` files are read decompressed, and the
checksum is over the decompressed bytes.
"""

from __future__ import annotations

import bisect
import bz2
import glob
import gzip
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

from embedder.validation import check_choice
from serving.corpus.bad_lines import bad_line_document
from serving.corpus.records import FORMATS, Record, RecordFormat, detect_format, read_records

#: How many bad lines the manifest lists (all of them are in the bad-lines file).
MAX_BAD_EXAMPLES = 20


class FileAccess(Protocol):
    """How the job finds and opens input files."""

    def match(self, pattern: str) -> list[str]:
        """The paths a pattern (a path or a glob) names, sorted."""

    def open(self, path: str) -> BinaryIO:
        """The file's bytes, decompressed."""


class LocalFiles:
    """`FileAccess` for local paths: `glob` patterns, transparent gzip/bz2."""

    def match(self, pattern: str) -> list[str]:
        if glob.has_magic(pattern):
            return sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        return [pattern] if os.path.isfile(pattern) else []

    def open(self, path: str) -> BinaryIO:
        if path.endswith(".gz"):
            return gzip.open(path, "rb")
        if path.endswith(".bz2"):
            return bz2.open(path, "rb")
        return open(path, "rb")


@dataclass(frozen=True)
class InputFile:
    """One input file as scanned: where its records sit in the corpus and what its bytes hash to."""

    path: str
    sha256: str
    size: int
    records: int
    first_line_id: int

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "bytes": self.size,
            "records": self.records,
            "first_line_id": self.first_line_id,
        }


@dataclass(frozen=True)
class CorpusInput:
    """The scanned input of a job.

    Attributes:
        files: the input files in corpus order.
        format: the `RecordFormat` every file is read with.
        bad_by_reason: the number of bad records per reason.
        bad_examples: the first bad records (at most `MAX_BAD_EXAMPLES`), as `bad_line_document`s.
    """

    files: tuple[InputFile, ...]
    format: RecordFormat
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    bad_examples: tuple[dict, ...] = ()

    @property
    def records(self) -> int:
        return sum(f.records for f in self.files)

    @property
    def bad(self) -> int:
        return sum(self.bad_by_reason.values())

    def path_of(self, line_id: int) -> str:
        """The file that holds line `line_id`."""
        index = bisect.bisect_right([f.first_line_id for f in self.files], line_id) - 1
        return self.files[max(index, 0)].path

    @property
    def sha256(self) -> str:
        """A checksum of the whole input: the per-file checksums in order (paths excluded, so moving the files
        does not change it)."""
        digest = hashlib.sha256()
        for f in self.files:
            digest.update(f.sha256.encode("ascii") + b"\n")
        return digest.hexdigest()

    def to_dict(self) -> dict:
        return {
            "sha256": self.sha256,
            "records": self.records,
            **self.format.to_dict(),
            "files": [f.to_dict() for f in self.files],
        }


def match_inputs(patterns: Sequence[str], files: FileAccess | None = None) -> list[str]:
    """The input files named by paths and glob patterns, in order (each pattern's matches sorted), without
    repeats.

    Raises:
        FileNotFoundError: a pattern matches no file.
    """
    files = files or LocalFiles()
    if isinstance(patterns, str):
        patterns = [patterns]
    paths: list[str] = []
    for pattern in patterns:
        matched = files.match(pattern)
        if not matched:
            raise FileNotFoundError(f"No input file matches {pattern!r}.")
        paths.extend(p for p in matched if p not in paths)
    return paths


def resolve_format(
    paths: Sequence[str],
    input_format: str,
    column: str | None,
    header: bool | None,
    max_text_bytes: int | None = None,
) -> RecordFormat:
    """The `RecordFormat` for the files: `input_format`, or (for "auto") the one their suffixes agree on."""
    if input_format == "auto":
        found = sorted({detect_format(p) for p in paths})
        if len(found) > 1:
            raise ValueError(
                f"The input files have different formats ({', '.join(found)}); pass --input-format or give one "
                "format at a time."
            )
        input_format = found[0]
    else:
        check_choice("input_format", input_format, ("auto", *FORMATS))
    if input_format == "text":
        column = None
    return RecordFormat(input_format, column=column, header=header, max_text_bytes=max_text_bytes)


def _lines(stream: BinaryIO, digest=None) -> Iterator[bytes]:
    # readline rather than iteration: Beam's compressed files implement only the former.
    for raw in iter(stream.readline, b""):
        if digest is not None:
            digest.update(raw)
        yield raw


def scan_corpus(
    patterns: Sequence[str],
    input_format: str = "auto",
    column: str | None = None,
    header: bool | None = None,
    files: FileAccess | None = None,
    on_records: Callable[[int], None] | None = None,
    max_text_bytes: int | None = None,
) -> CorpusInput:
    """Reads every input file once and describes the corpus.

    Args:
        patterns: input paths or glob patterns.
        input_format: "auto" (from the suffixes) or one of `FORMATS`.
        column: the sentence column or key (see `RecordFormat`).
        header: whether tsv/csv files start with a header line (see `RecordFormat`).
        files: how to find and open the files. Defaults to local paths.
        on_records: called with the number of records read since the last call (for a progress bar).
        max_text_bytes: a sentence over this many UTF-8 bytes is a bad record ("too-long"); None: no limit.

    Returns:
        The `CorpusInput`.

    Raises:
        FileNotFoundError: a pattern matches no file.
        ValueError: inconsistent formats, a bad format or column, or a file whose header lacks the column.
    """
    files = files or LocalFiles()
    paths = match_inputs(patterns, files)
    fmt = resolve_format(paths, input_format, column, header, max_text_bytes)
    scanned: list[InputFile] = []
    bad: Counter = Counter()
    examples: list[dict] = []
    line_id = 0
    for path in paths:
        digest = hashlib.sha256()
        size = 0
        count = 0
        with files.open(path) as stream:

            def counted(lines: Iterable[bytes]) -> Iterator[bytes]:
                nonlocal size
                for raw in lines:
                    size += len(raw)
                    yield raw

            try:
                for record in read_records(counted(_lines(stream, digest)), fmt, line_id):
                    count += 1
                    if record.reason is not None:
                        bad[record.reason] += 1
                        if len(examples) < MAX_BAD_EXAMPLES:
                            examples.append(bad_line_document(record, path))
                    if on_records is not None and count % 4096 == 0:
                        on_records(4096)
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from None
        if on_records is not None:
            on_records(count % 4096)
        scanned.append(InputFile(path, digest.hexdigest(), size, count, line_id))
        line_id += count
    return CorpusInput(tuple(scanned), fmt, dict(sorted(bad.items())), tuple(examples))


class InputChanged(ValueError):
    """An input file's content changed while the job ran: the output may mix its old and new lines."""


def file_sha256(path: str, files: FileAccess | None = None) -> str:
    """The SHA-256 of a file's (decompressed) bytes, as `scan_corpus` computes it."""
    digest = hashlib.sha256()
    with (files or LocalFiles()).open(path) as stream:
        for _ in _lines(stream, digest):
            pass
    return digest.hexdigest()


def check_unchanged(corpus: CorpusInput, files: FileAccess | None = None) -> None:
    """Raises `InputChanged` unless every input file still has the checksum it was scanned with."""
    for f in corpus.files:
        now = file_sha256(f.path, files)
        if now != f.sha256:
            raise InputChanged(
                f"{f.path} changed while the job ran (SHA-256 {f.sha256[:12]}… when scanned, {now[:12]}… now): the "
                "output may mix its old and new lines, so the job is not marked complete. Keep the input unchanged "
                "during a run, and rerun with --overwrite."
            )


def read_file_records(path: str, fmt: RecordFormat, first_line_id: int, files: FileAccess | None = None):
    """The records of one input file (a generator that closes the file when done)."""
    files = files or LocalFiles()
    with files.open(path) as stream:
        yield from read_records(_lines(stream), fmt, first_line_id)


def iter_records(corpus: CorpusInput, start: int = 0, files: FileAccess | None = None) -> Iterator[Record]:
    """The corpus's records from line id `start` on, in order; files that end before `start` are not opened."""
    for f in corpus.files:
        if f.first_line_id + f.records <= start:
            continue
        end = f.first_line_id
        for record in read_file_records(f.path, corpus.format, f.first_line_id, files):
            end = record.line_id + 1
            if record.line_id >= start:
                yield record
        if end != f.first_line_id + f.records:
            raise RuntimeError(
                f"{f.path} changed while the job ran: it had {f.records} records, now {end - f.first_line_id}."
            )
