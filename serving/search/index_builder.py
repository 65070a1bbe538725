"""Builds a search index from an `embed-corpus` output: streaming, resumable, and extensible with more rows.

`build_index(IndexBuildConfig(...))` runs it. Per segment (one corpus output, or one shard of it), three phases,
each committed to ``progress.json`` (`serving.search.index_manifest`):

1. **copy**: stream the output in chunks of ``chunk_rows`` rows, L2-normalise, and write vectors, corpus ids and
   texts into the segment's files (`serving.search.segment_store`); commit after each chunk.
2. **train** (first segment only, for IVF and int8 indexes): sample ``train_rows`` rows evenly from the copied
   vectors, train the FAISS index, write it as the first checkpoint.
3. **add**: add the rows to the FAISS index in chunks; every ``checkpoint_rows`` rows (and at the end) write the
   index to a new checkpoint file (``ann-<rows>.faiss``), then commit its name. A crash loses at most the rows
   since the last checkpoint; `resume` reloads the checkpoint and adds the rest in the same order.

Memory is bounded by the FAISS index (plus one chunk), not by the corpus: the input and the copied vectors are
read through memory maps or row group by row group.

`add=True` appends a new corpus output (or another shard) to a finished index: the vectors must come from the
same model version (`check_model`), and its corpus ids continue after those already indexed, unless it is
another shard of the same corpus (the same input checksum), whose line ids are kept as they are.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedder.validation import check_choice, check_positive_int
from serving.corpus.manifest import package_version
from serving.corpus.model_info import l2_normalize
from serving.corpus.progress import progress_bar
from serving.search import ann, fault_injection
from serving.search.corpus_source import CorpusSource, open_corpus_source, parse_shard
from serving.search.index_manifest import (
    ADD,
    COMPLETE,
    COPY,
    INDEX_MANIFEST_FILE,
    MODEL_FIELDS,
    RUNNING,
    TRAIN,
    BuildProgress,
    IndexManifest,
    Segment,
    check_model,
    load_index_manifest,
    now,
)
from serving.search.segment_store import SegmentReader, SegmentWriter

logger = logging.getLogger(__name__)


class IndexExists(ValueError):
    """The index directory already holds something, and none of resume, add or overwrite was asked for."""


class BuildRefused(ValueError):
    """`resume` or `add` was asked for something the index in the directory cannot take."""


#: Files an index build writes: what `overwrite` may remove.
_INDEX_FILES = re.compile(r"^(index\.json|progress\.json|segment-\d+|ann-\d+\.b?faiss|\..+\.tmp)$")


@dataclass(frozen=True)
class IndexBuildConfig:
    """What to index and how.

    Args:
        vectors: the `embed-corpus` output directory.
        output: the index directory (created if absent).
        kind: "exact", "hnsw" or "ivf-pq"; None: the index's own when resuming or adding, else "exact".
        quantize: "none", "int8" or "binary"; None: as for `kind`, else "none".
        shard: index only shard ``(i, n)`` of the output (or ``"i/n"``). Defaults to None (all of it).
        params: FAISS settings (`serving.search.ann.AnnParams`).
        add: append the output to the finished index in `output`. Defaults to False.
        resume: continue an interrupted build of the same output. Defaults to False.
        overwrite: replace an index found in `output`. Defaults to False.
        chunk_rows: rows per copy and add step. Defaults to 16384.
        checkpoint_rows: rows added between FAISS checkpoints. Defaults to 262144.
        progress: show a progress bar (None: when stderr is a terminal).
    """

    vectors: str
    output: str
    kind: str | None = None
    quantize: str | None = None
    shard: tuple[int, int] | str | None = None
    params: ann.AnnParams = field(default_factory=ann.AnnParams)
    add: bool = False
    resume: bool = False
    overwrite: bool = False
    chunk_rows: int = 16384
    checkpoint_rows: int = 262144
    progress: bool | None = None

    def __post_init__(self):
        if self.kind is not None:
            check_choice("kind", self.kind, ann.KINDS)
        if self.quantize is not None:
            check_choice("quantize", self.quantize, ann.QUANTIZATIONS)
        if isinstance(self.shard, str):
            object.__setattr__(self, "shard", parse_shard(self.shard))
        elif self.shard is not None:
            object.__setattr__(self, "shard", parse_shard(f"{self.shard[0]}/{self.shard[1]}"))
        check_positive_int("chunk_rows", self.chunk_rows)
        check_positive_int("checkpoint_rows", self.checkpoint_rows)
        if sum((self.add, self.resume, self.overwrite)) > 1:
            raise ValueError("`add`, `resume` and `overwrite` exclude each other.")


def build_index(config: IndexBuildConfig) -> IndexManifest:
    """Builds (resumes, or extends) the index in ``config.output``; returns its complete manifest.

    Raises:
        FileNotFoundError: `vectors` holds no corpus output.
        IndexExists: `output` holds something and neither `resume`, `add` nor `overwrite` was given.
        BuildRefused: `resume`/`add` do not fit the index found.
        ModelMismatch: `add` with vectors of another model version.
    """
    source = open_corpus_source(config.vectors, config.shard)
    out = Path(config.output)
    manifest = _prepare(config, source, out)
    if manifest.status == COMPLETE:
        return manifest  # resuming a finished build does nothing
    segment = manifest.segments[-1]
    bar = progress_bar(3 * segment.rows, desc=f"indexing {segment.directory}", enabled=config.progress)
    try:
        _copy(config, source, out, manifest, bar)
        if ann.uses_faiss(manifest.kind, manifest.quantize):
            if manifest.progress.phase == TRAIN:
                _train(out, manifest)
            _add(config, out, manifest, bar)
    finally:
        bar.close()
    manifest.status = COMPLETE
    manifest.save(out)
    return manifest


def _model_of(source: CorpusSource) -> dict:
    return {key: source.manifest.model.get(key) for key in MODEL_FIELDS}


def _new_segment(source: CorpusSource, number: int, first_row: int, id_offset: int) -> Segment:
    return Segment(
        directory=f"segment-{number:05d}",
        source=str(source.directory),
        input_sha256=source.manifest.input["sha256"],
        input_records=int(source.manifest.input["records"]),
        shard=list(source.shard) if source.shard else None,
        rows=source.rows,
        first_row=first_row,
        id_offset=id_offset,
        has_text=source.has_text,
    )


def _prepare(config: IndexBuildConfig, source: CorpusSource, out: Path) -> IndexManifest:
    """Checks (and clears, for overwrite) the directory; returns the manifest to continue from."""
    if out.exists() and not out.is_dir():
        raise IndexExists(f"The index path {out} is a file; give a directory (it is created if absent).")
    manifest = load_index_manifest(out) if out.is_dir() else None
    if config.resume or config.add:
        if manifest is None:
            flag = "--resume" if config.resume else "--add"
            raise BuildRefused(f"{out} holds no index ({INDEX_MANIFEST_FILE}) for {flag}. Run without {flag}.")
        for name in ("kind", "quantize"):
            wanted = getattr(config, name)
            if wanted is not None and wanted != getattr(manifest, name):
                raise BuildRefused(
                    f"The index in {out} is {name} {getattr(manifest, name)!r}, not {wanted!r}; leave --{name} out "
                    "or build a new index."
                )
        return _resume(source, out, manifest) if config.resume else _extend(source, out, manifest)
    entries = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if entries and not config.overwrite:
        what = f"an index ({manifest.status})" if manifest else f"{len(entries)} entries"
        hint = "--resume to continue its build, " if manifest and manifest.status == RUNNING else ""
        raise IndexExists(
            f"The index directory {out} already holds {what}. Pass {hint}--add to add rows to it, --overwrite to "
            "replace it, or choose another directory."
        )
    foreign = [name for name in entries if not _INDEX_FILES.match(name)]
    if foreign:
        raise IndexExists(f"--overwrite replaces only an index's files, and {out} holds others too: {foreign[:5]}.")
    for name in entries:
        path = out / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    kind, quantize = config.kind or ann.EXACT, config.quantize or ann.NONE
    manifest = IndexManifest(
        model=_model_of(source),
        kind=kind,
        quantize=quantize,
        dim=source.dim,
        settings=ann.resolved(config.params, kind, quantize, source.rows, source.dim),
        segments=[_new_segment(source, 0, 0, 0)],
        created=now(),
        embedder_version=package_version(),
    )
    manifest.save(out)
    manifest.commit_progress(out)
    return manifest


def _resume(source: CorpusSource, out: Path, manifest: IndexManifest) -> IndexManifest:
    if manifest.status == COMPLETE:
        return manifest
    segment = manifest.segments[-1]
    expected = (segment.input_sha256, segment.shard, segment.rows)
    found = (source.manifest.input["sha256"], list(source.shard) if source.shard else None, source.rows)
    if expected != found:
        raise BuildRefused(
            f"The interrupted build in {out} indexes {segment.source} (input SHA-256 {segment.input_sha256[:12]}…, "
            f"shard {segment.shard}, {segment.rows} rows), not {source.directory} (input SHA-256 {found[0][:12]}…, "
            f"shard {found[1]}, {found[2]} rows). Resume with the same vectors and --shard."
        )
    check_model(manifest.model, _model_of(source), what="the vectors to resume with were embedded by")
    return manifest


def _extend(source: CorpusSource, out: Path, manifest: IndexManifest) -> IndexManifest:
    if manifest.status != COMPLETE:
        raise BuildRefused(f"The build of the index in {out} was interrupted: finish it with --resume before --add.")
    check_model(manifest.model, _model_of(source), what="the vectors to add were embedded by")
    sha = source.manifest.input["sha256"]
    same_corpus = [segment for segment in manifest.segments if segment.input_sha256 == sha]
    for segment in same_corpus:
        if segment.shard is None or source.shard is None or segment.shard == list(source.shard):
            raise BuildRefused(
                f"{source.directory} (shard {list(source.shard) if source.shard else None}) is already indexed in "
                f"{out} as {segment.directory} (shard {segment.shard}): its rows would be there twice."
            )
    if same_corpus:
        id_offset = same_corpus[0].id_offset  # another shard of an indexed corpus keeps its line ids
    else:
        id_offset = max(segment.id_offset + segment.input_records for segment in manifest.segments)
    segment = _new_segment(source, len(manifest.segments), manifest.rows, id_offset)
    manifest.segments.append(segment)
    manifest.status = RUNNING
    manifest.progress = BuildProgress(
        phase=COPY, added_rows=manifest.progress.added_rows, ann_file=manifest.progress.ann_file
    )
    manifest.save(out)
    manifest.commit_progress(out)
    return manifest


def _copy(config: IndexBuildConfig, source: CorpusSource, out: Path, manifest: IndexManifest, bar) -> None:
    progress, segment = manifest.progress, manifest.segments[-1]
    if progress.phase != COPY:
        bar.update(segment.rows)
        return
    resume = progress.copied_rows > 0
    writer = SegmentWriter(
        out / segment.directory, segment.rows, manifest.dim, segment.has_text, resume, progress.text_bytes
    )
    bar.update(progress.copied_rows)
    row = progress.copied_rows
    for chunk, (ids, vectors, texts) in enumerate(source.batches(row, config.chunk_rows)):
        writer.write(row, ids + segment.id_offset, l2_normalize(vectors), texts)
        writer.flush()
        fault_injection.maybe_kill(fault_injection.COPY, chunk)
        row += len(ids)
        progress.copied_rows, progress.text_bytes = row, writer.text_bytes
        manifest.commit_progress(out)
        bar.update(len(ids))
    writer.close()
    if row != segment.rows:
        raise RuntimeError(f"{source.directory} yielded {row} rows, expected {segment.rows}: it changed meanwhile.")
    uses = ann.uses_faiss(manifest.kind, manifest.quantize)
    progress.phase = TRAIN if uses and progress.ann_file is None else ADD
    manifest.commit_progress(out)


def _train(out: Path, manifest: IndexManifest) -> None:
    """Creates the FAISS index, trained where it needs training, and commits it as the first checkpoint."""
    settings = manifest.settings
    index = ann.create(manifest.kind, manifest.quantize, manifest.dim, settings)
    if ann.needs_training(manifest.kind, manifest.quantize):
        vectors = SegmentReader(out / manifest.segments[0].directory, has_text=False).vectors
        count = min(settings["train_rows"], len(vectors))
        rows = np.unique(np.linspace(0, len(vectors) - 1, count).astype(np.int64))  # evenly spread, deterministic
        logger.info(
            "training the %s index on %d rows",
            ann.factory_string(manifest.kind, manifest.quantize, settings),
            len(rows),
        )
        ann.train(index, manifest.quantize, np.asarray(vectors[rows]))
    _checkpoint(out, manifest, index, 0)
    manifest.progress.phase = ADD
    manifest.commit_progress(out)


def _checkpoint(out: Path, manifest: IndexManifest, index, rows: int) -> None:
    progress = manifest.progress
    name = ann.file_name(manifest.quantize, rows)
    ann.write(index, manifest.quantize, out / name)
    previous, progress.ann_file, progress.added_rows = progress.ann_file, name, rows
    manifest.commit_progress(out)
    if previous and previous != name:
        (out / previous).unlink(missing_ok=True)


def _add(config: IndexBuildConfig, out: Path, manifest: IndexManifest, bar) -> None:
    progress, segment = manifest.progress, manifest.segments[-1]
    for path in out.glob("ann-*"):
        if path.name != progress.ann_file:  # a checkpoint written but never committed
            path.unlink()
    index = ann.read(manifest.quantize, out / progress.ann_file)
    if index.ntotal != progress.added_rows:
        raise RuntimeError(f"{progress.ann_file} holds {index.ntotal} rows, expected {progress.added_rows}.")
    vectors = SegmentReader(out / segment.directory, has_text=False).vectors
    end = segment.first_row + segment.rows
    row = progress.added_rows
    bar.update(segment.rows + row - segment.first_row)
    since_checkpoint = 0
    for chunk, start in enumerate(range(row, end, config.chunk_rows)):
        stop = min(start + config.chunk_rows, end)
        ann.add(index, manifest.quantize, vectors[start - segment.first_row : stop - segment.first_row])
        fault_injection.maybe_kill(fault_injection.ADD, chunk)
        since_checkpoint += stop - start
        if since_checkpoint >= config.checkpoint_rows and stop < end:
            _checkpoint(out, manifest, index, stop)
            since_checkpoint = 0
        bar.update(stop - start)
    if progress.added_rows != end or progress.ann_file != ann.file_name(manifest.quantize, end):
        _checkpoint(out, manifest, index, end)
