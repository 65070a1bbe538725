"""The corpus job: stream a corpus through a pinned model into an output that survives crashes.

`embed_corpus(config, backend)` runs it. The steps:

1. Check the output directory: a new job needs an empty or absent one; ``resume`` needs a manifest from the same
   job (same model version, input and options: `serving.corpus.manifest.check_resumable`).
2. Scan the input (`scan_corpus`): record counts, checksums, bad lines. The output is sized from it.
3. Cut the records into chunks of ``chunk_size`` line ids (chunk ``k`` is lines ``k*chunk_size`` onwards, however
   the job was interrupted), embed up to ``chunks_in_flight`` chunks at a time, and commit them in order.

Commit protocol, per chunk: write its rows (`NpyWriter` / `ParquetShardWriter`) and make them durable; append its
bad lines to ``bad_lines.jsonl`` and make them durable; then replace ``progress.json`` (atomic rename) with the
progress advanced past the chunk. The rename is the commit: a crash before it leaves the chunk uncommitted, and
`resume` writes it again over whatever was half-written (same rows, same shard name, bad-lines file cut back to its
committed size), so the final output equals an uninterrupted run's, with no line lost or repeated.

Within a chunk, sentences are embedded sorted by length (fewer padding tokens per batch) and put back in order.
Memory is bounded by the chunks in flight, whatever the corpus size.
"""

from __future__ import annotations

import logging
import re
import shutil
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from embedder.validation import check_choice, check_positive_int, invalid
from serving.client.errors import EmbeddingError
from serving.corpus import fault_injection
from serving.corpus.bad_lines import BAD_LINES_FILE, EMBED_EMPTY, SKIP, BadLineLog, bad_line_document, check_policy
from serving.corpus.corpus_input import CorpusInput, FileAccess, check_unchanged, iter_records, scan_corpus
from serving.corpus.manifest import (
    COMPLETE,
    MANIFEST_FILE,
    Manifest,
    Progress,
    ResumeRefused,
    check_resumable,
    load_manifest,
    now,
    package_version,
)
from serving.corpus.model_info import EmbeddingBackend, l2_normalize
from serving.corpus.npy_writer import NpyWriter
from serving.corpus.parquet_writer import ParquetShardWriter
from serving.corpus.progress import progress_bar
from serving.corpus.records import Record

logger = logging.getLogger(__name__)

OUTPUT_FORMATS = ("npy", "parquet")
#: Bytes a sentence may hold before it is a bad line ("too-long").
DEFAULT_MAX_TEXT_BYTES = 1024 * 1024


class OutputExists(ValueError):
    """The output directory already holds something, and neither resume nor overwrite was asked for."""


@dataclass(frozen=True, kw_only=True)
class CorpusJobConfig:
    """The settings of a corpus job.

    Args:
        inputs: input paths or glob patterns, read in order (each pattern's matches sorted).
        output: the output directory.
        input_format: "auto" (from the file suffixes), "text", "tsv", "csv" or "jsonl". Defaults to "auto".
        column: the sentence column (tsv/csv header name or 0-based index) or JSONL key. Defaults to "text".
        header: whether tsv/csv files start with a header line; None: when `column` is a name.
        bad_lines: "embed-empty" or "skip" (see `serving.corpus.bad_lines`). Defaults to "embed-empty".
        output_format: "npy" or "parquet". Defaults to "npy".
        include_text: add the sentence to Parquet shards. Defaults to False.
        normalize: L2-normalise the embeddings. Defaults to False.
        chunk_size: lines per committed chunk (and per Parquet shard). Defaults to 2048.
        max_text_bytes: a sentence of more UTF-8 bytes is a bad line ("too-long": recorded, and embedded as "" or
            skipped by the `bad_lines` policy). Through a server, the client's message limit lowers it so that
            every line fits in a request. Defaults to 1 MiB (far beyond any model's ``max_length`` tokens).
        chunks_in_flight: chunks being embedded at once (keeps the model or the server busy while a chunk is
            written). Defaults to 2.
        resume: continue the job in `output` from its last committed chunk. Defaults to False.
        overwrite: replace a job's output found in `output`. Defaults to False.
        progress: show a progress bar; None: when stderr is a terminal.
    """

    inputs: tuple[str, ...]
    output: str
    input_format: str = "auto"
    column: str | None = None
    header: bool | None = None
    bad_lines: str = EMBED_EMPTY
    output_format: str = "npy"
    include_text: bool = False
    normalize: bool = False
    chunk_size: int = 2048
    max_text_bytes: int = DEFAULT_MAX_TEXT_BYTES
    chunks_in_flight: int = 2
    resume: bool = False
    overwrite: bool = False
    progress: bool | None = None

    def __post_init__(self):
        if isinstance(self.inputs, str):
            object.__setattr__(self, "inputs", (self.inputs,))
        object.__setattr__(self, "inputs", tuple(str(p) for p in self.inputs))
        if not self.inputs:
            raise invalid("inputs", "at least one path", self.inputs)
        object.__setattr__(self, "output", str(self.output))
        check_policy(self.bad_lines)
        check_choice("output_format", self.output_format, OUTPUT_FORMATS)
        if self.include_text and self.output_format != "parquet":
            raise ValueError("`include_text` needs the parquet output format; .npy output holds only numbers.")
        check_positive_int("chunk_size", self.chunk_size)
        check_positive_int("chunks_in_flight", self.chunks_in_flight)
        check_positive_int("max_text_bytes", self.max_text_bytes)
        if self.resume and self.overwrite:
            raise ValueError("`resume` and `overwrite` exclude each other.")

    def output_options(self) -> dict:
        """The options that change the output; a resume must use the same."""
        return {
            "bad_lines": self.bad_lines,
            "output_format": self.output_format,
            "include_text": self.include_text,
            "normalize": self.normalize,
            "chunk_size": self.chunk_size,
            "max_text_bytes": self.max_text_bytes,
        }


#: Files a corpus job (single-process or Beam) writes in its output directory: what --overwrite may remove.
_JOB_FILES = re.compile(
    r"^(manifest\.json|progress\.json|embeddings\.npy|ids\.npy|part-[\w-]+\.parquet|bad_lines[\w-]*\.jsonl|\..+\.tmp)$"
)


def prepare_output(config: CorpusJobConfig) -> Manifest | None:
    """Checks (and for `overwrite`, clears) the output directory; returns the manifest to resume, if any."""
    out = Path(config.output)
    if out.exists() and not out.is_dir():
        raise OutputExists(f"The output {out} is a file; give a directory (it is created if absent).")
    manifest = load_manifest(out) if out.is_dir() else None
    if config.resume:
        if manifest is None:
            raise ResumeRefused(f"Nothing to resume: {out} holds no {MANIFEST_FILE}. Run without --resume.")
        return manifest
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if entries and not config.overwrite:
        what = f"a corpus job ({manifest.status})" if manifest else f"{len(entries)} entries"
        raise OutputExists(
            f"The output directory {out} already holds {what}. Pass --resume to continue a job, --overwrite to "
            "replace its output, or choose another directory."
        )
    if entries:
        foreign = [name for name in entries if not _JOB_FILES.match(name)]
        if foreign:
            raise OutputExists(
                f"--overwrite replaces only a corpus job's files, and {out} holds others too: {foreign[:5]}. "
                "Choose another directory."
            )
        for name in entries:
            path = out / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return None


def length_order(texts: list[str]) -> np.ndarray:
    """Indices that sort `texts` by word count (stable): batches of similar lengths carry less padding."""
    return np.argsort(np.fromiter((t.count(" ") for t in texts), np.int64, len(texts)), kind="stable")


def _embed_chunk(backend: EmbeddingBackend, texts: list[str], normalize: bool) -> np.ndarray:
    order = length_order(texts)
    vectors = np.empty((len(texts), backend.info.embedding_dim), np.float32)
    vectors[order] = backend.embed([texts[i] for i in order])
    return l2_normalize(vectors) if normalize else vectors


@dataclass
class _Chunk:
    index: int
    records: list[Record]
    line_ids: np.ndarray
    texts: list[str]
    future: Future | None = None


def _make_chunk(index: int, records: list[Record], policy: str) -> _Chunk:
    kept = [r for r in records if r.reason is None or policy == EMBED_EMPTY]
    return _Chunk(
        index=index,
        records=records,
        line_ids=np.fromiter((r.line_id for r in kept), np.int64, len(kept)),
        texts=[r.text if r.reason is None else "" for r in kept],
    )


def effective_max_text_bytes(config: CorpusJobConfig, backend: EmbeddingBackend) -> int:
    """`config.max_text_bytes`, lowered to what one request of the backend can carry (``max_text_bytes``)."""
    limit = getattr(backend, "max_text_bytes", None)
    return config.max_text_bytes if limit is None else min(config.max_text_bytes, limit)


def _new_manifest(config: CorpusJobConfig, backend: EmbeddingBackend, corpus: CorpusInput) -> Manifest:
    rows = corpus.records - (corpus.bad if config.bad_lines == SKIP else 0)
    chunks = -(-corpus.records // config.chunk_size)
    files = NpyWriter.file_names() if config.output_format == "npy" else ParquetShardWriter.file_names(chunks)
    return Manifest(
        model=backend.info.to_dict(),
        input=corpus.to_dict(),
        options={**config.output_options(), "max_text_bytes": corpus.format.max_text_bytes},
        output={
            "format": config.output_format,
            "rows": rows,
            "dim": backend.info.embedding_dim,
            "dtype": "float32",
            "chunks": chunks,
            "files": files,
        },
        bad_lines={
            "policy": config.bad_lines,
            "count": corpus.bad,
            "by_reason": corpus.bad_by_reason,
            "file": BAD_LINES_FILE,
            "first": list(corpus.bad_examples),
        },
        started=now(),
        embedder_version=package_version(),
    )


def embed_corpus(config: CorpusJobConfig, backend: EmbeddingBackend, files: FileAccess | None = None) -> Manifest:
    """Embeds a corpus (see the module docstring); returns the finished job's manifest.

    Args:
        config: the job's settings.
        backend: the model, already resolved to one version (`SavedModelBackend`, `GrpcBackend`).
        files: how to open the inputs. Defaults to local files.

    Raises:
        OutputExists: the output directory is in use and neither resume nor overwrite was asked for.
        ResumeRefused: resume was asked for, but the output belongs to another model version, input or options.
        FileNotFoundError, ValueError: the input cannot be read as asked.
        InputChanged: an input file changed while the job ran (checked at the end; the job stays unfinished).
    """
    previous = prepare_output(config)
    scan_bar = progress_bar(total=None, desc="scanning input", enabled=config.progress)
    try:
        corpus = scan_corpus(
            config.inputs,
            config.input_format,
            config.column,
            config.header,
            files,
            on_records=scan_bar.update,
            max_text_bytes=effective_max_text_bytes(config, backend),
        )
    finally:
        scan_bar.close()
    manifest = _new_manifest(config, backend, corpus)
    out = Path(config.output)
    if previous is not None:
        check_resumable(previous, manifest.model, manifest.input, manifest.options)
        if previous.status == COMPLETE:
            logger.info("%s is already complete (%d rows); nothing to do.", out, previous.output["rows"])
            return previous
        manifest.started, manifest.progress = previous.started, previous.progress
    else:
        manifest.save(out)  # the job exists from here on: a crash before the first chunk can be resumed
    return _run_chunks(config, backend, corpus, manifest, files)


def _run_chunks(
    config: CorpusJobConfig, backend: EmbeddingBackend, corpus: CorpusInput, manifest: Manifest, files
) -> Manifest:
    out = Path(config.output)
    progress = manifest.progress
    resuming = progress.chunks > 0 or progress.next_line_id > 0
    if config.output_format == "npy":
        writer = NpyWriter(out, manifest.output["rows"], manifest.output["dim"], resume=(out / "ids.npy").exists())
    else:
        writer = ParquetShardWriter(out, manifest.output["dim"], config.include_text, progress.chunks)
    bad_log = BadLineLog(out / BAD_LINES_FILE, progress.bad_lines_bytes)
    if resuming:
        logger.info(
            "Resuming %s at line %d of %d (chunk %d).", out, progress.next_line_id, corpus.records, progress.chunks
        )
    bar = progress_bar(total=corpus.records, initial=progress.next_line_id, enabled=config.progress)
    records = iter_records(corpus, progress.next_line_id, files)
    started = time.monotonic()
    done_at_start = progress.next_line_id
    pending: deque[_Chunk] = deque()
    next_index = progress.chunks
    try:
        with ThreadPoolExecutor(max_workers=config.chunks_in_flight, thread_name_prefix="embed") as executor:
            try:
                while True:
                    while len(pending) < config.chunks_in_flight:
                        batch = list(islice(records, config.chunk_size))
                        if not batch:
                            break
                        chunk = _make_chunk(next_index, batch, config.bad_lines)
                        chunk.future = executor.submit(_embed_chunk, backend, chunk.texts, config.normalize)
                        pending.append(chunk)
                        next_index += 1
                    if not pending:
                        break
                    chunk = pending.popleft()
                    try:
                        vectors = chunk.future.result()
                    except EmbeddingError as error:
                        error.details = f"{_chunk_lines(chunk, corpus)}: {error.details}"
                        raise
                    _commit(chunk, vectors, writer, bad_log, manifest, corpus, out)
                    bar.update(len(chunk.records))
            except BaseException:
                for chunk in pending:
                    chunk.future.cancel()
                raise
    except KeyboardInterrupt:
        print(
            f"Interrupted after {manifest.progress.next_line_id} of {corpus.records} lines; the output keeps every "
            "committed chunk. Run the same command with --resume to continue.",
            file=sys.stderr,
        )
        raise
    finally:
        bar.close()
        writer.close()
        bad_log.close()
    if manifest.progress.next_line_id != corpus.records or manifest.progress.rows != manifest.output["rows"]:
        raise RuntimeError(
            f"The job ended at line {manifest.progress.next_line_id} and row {manifest.progress.rows}, expected "
            f"{corpus.records} lines and {manifest.output['rows']} rows."
        )
    # An edit in place during the run keeps the record count (which iter_records checks) but not the checksum.
    check_unchanged(corpus, files)
    manifest.status = COMPLETE
    manifest.finished = now()
    manifest.save(out)
    elapsed = time.monotonic() - started
    done = corpus.records - done_at_start
    logger.info(
        "Embedded %d lines into %d rows of %s in %.1f s (%.0f lines/s); %d bad lines (%s).",
        done,
        manifest.output["rows"],
        out,
        elapsed,
        done / max(elapsed, 1e-9),
        corpus.bad,
        config.bad_lines,
    )
    return manifest


def _chunk_lines(chunk: _Chunk, corpus: CorpusInput) -> str:
    """Which input lines a chunk holds, for messages: line ids, and the file and line where it starts."""
    first, last = chunk.records[0], chunk.records[-1]
    return (
        f"Embedding chunk {chunk.index} (line ids {first.line_id}-{last.line_id}, from {corpus.path_of(first.line_id)} "
        f"line {first.line}) failed"
    )


def _commit(chunk: _Chunk, vectors: np.ndarray, writer, bad_log: BadLineLog, manifest, corpus, out: Path) -> None:
    progress = manifest.progress
    if chunk.index != progress.chunks:
        raise RuntimeError(f"Chunk {chunk.index} committed out of order (expected {progress.chunks}).")
    half = len(chunk.line_ids) // 2
    writer.begin_chunk(chunk.index, progress.rows)
    writer.write_rows(chunk.line_ids[:half], vectors[:half], chunk.texts[:half])
    fault_injection.maybe_kill(fault_injection.MID_CHUNK, chunk.index)
    writer.write_rows(chunk.line_ids[half:], vectors[half:], chunk.texts[half:])
    writer.end_chunk()
    bad_log.append([bad_line_document(r, corpus.path_of(r.line_id)) for r in chunk.records if r.reason is not None])
    bad_bytes = bad_log.commit()
    fault_injection.maybe_kill(fault_injection.CHUNK_WRITTEN, chunk.index)
    manifest.progress = Progress(
        chunks=chunk.index + 1,
        next_line_id=chunk.records[-1].line_id + 1,
        rows=progress.rows + len(chunk.line_ids),
        bad_lines_bytes=bad_bytes,
    )
    manifest.commit_progress(out)
