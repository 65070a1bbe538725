"""Embedding a corpus past one machine: an Apache Beam pipeline (needs the ``beam`` extra).

``embedder embed-corpus INPUT --out DIR --saved-model PATH --runner DirectRunner`` runs it locally; the same
pipeline runs on Dataflow, Flink or Spark by naming that runner and passing its options (see docs/CORPUS.md)::

    files ─► Reshuffle ─► ReadCorpusRecords ─► bad-line policy ─► Reshuffle ─► RunInference(our handler)
          ─► WriteToParquet  part-NNNNN-of-MMMMM.parquet (line_id, embedding[, text])
                           └► WriteToText   bad_lines-NNNNN-of-MMMMM.jsonl

The launcher first scans the input (`scan_corpus`, through Beam's file systems, so ``gs://`` inputs work): the
record counts give every file the line id of its first record, so ids are the same as the single-process job's,
and the checksum and bad-line counts go to the manifest, which the launcher writes when the pipeline is done.
Beam's ``ReadFromText`` is not used because it splits files at byte offsets and cannot number lines; our reader
reads each file whole (files are the unit of read parallelism: give big corpora as many files), and the
Reshuffle before inference spreads the sentences over all workers.

The model is resolved and pinned by the launcher (`BackendSpec.pinned`), so every worker embeds with the same
version. Beam runners retry failed bundles themselves, so there is no ``--resume`` here.
"""

from __future__ import annotations

import json
import logging
import posixpath
import shlex

from serving.corpus import bad_lines as policy
from serving.corpus.backend_spec import BackendSpec
from serving.corpus.corpus_input import CorpusInput, read_file_records, scan_corpus
from serving.corpus.manifest import COMPLETE, MANIFEST_FILE, Manifest, Progress, now, package_version
from serving.corpus.records import RecordFormat

logger = logging.getLogger(__name__)


class BeamFiles:
    """`FileAccess` over Beam's file systems (local, ``gs://``, ``s3://``… whatever the installed Beam knows)."""

    def match(self, pattern: str) -> list[str]:
        from apache_beam.io.filesystems import FileSystems

        try:
            (result,) = FileSystems.match([pattern])
        except Exception:  # noqa: BLE001 - Beam raises BeamIOError for a pattern matching nothing
            return []
        return sorted(m.path for m in result.metadata_list)

    def open(self, path: str):
        from apache_beam.io.filesystems import FileSystems

        return FileSystems.open(path)


def _join(directory: str, name: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    return FileSystems.join(directory, name) if "://" in directory else posixpath.join(directory, name)


def _runner(name: str):
    """The runner to use for `name`; DirectRunner runs on Beam's in-process batch engine (the FnApiRunner).

    Beam's DirectRunner first tries the Prism runner, whose binary it downloads at run time; a corpus job must not
    reach out to the network, and for a batch pipeline DirectRunner ends up on the FnApiRunner anyway.
    Its options still apply (``--direct_num_workers``, ``--direct_running_mode``).
    """
    if name in ("DirectRunner", "FnApiRunner"):
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        return FnApiRunner()
    return name


def _read_file(element: tuple[str, int, int], fmt: RecordFormat):
    path, first_line_id, expected = element
    count = 0
    for record in read_file_records(path, fmt, first_line_id, BeamFiles()):
        count += 1
        yield path, record
    if count != expected:
        raise RuntimeError(f"{path} changed after the scan: {expected} records then, {count} now.")


def build_pipeline(
    pipeline,
    corpus: CorpusInput,
    spec: BackendSpec,
    output: str,
    *,
    embedding_dim: int,
    bad_lines: str = policy.EMBED_EMPTY,
    include_text: bool = False,
    normalize: bool = False,
    num_shards: int = 0,
    max_batch_size: int = 256,
) -> None:
    """Adds the corpus-embedding transforms, from reading the files to writing the shards, to `pipeline`.

    Args:
        pipeline: a `beam.Pipeline`.
        corpus: the scanned input.
        spec: the model, pinned to one version.
        output: the output directory (local or a Beam file-system URL).
        embedding_dim: the model's embedding dimension (the Parquet schema's).
        bad_lines: the bad-line policy, "embed-empty" or "skip".
        include_text: add the sentence to each row.
        normalize: L2-normalise the embeddings.
        num_shards: Parquet shards to write; 0 lets the runner choose.
        max_batch_size: the most sentences per model call.
    """
    import apache_beam as beam
    from apache_beam.ml.inference.base import KeyedModelHandler, RunInference

    from serving.corpus.beam_model_handler import EmbeddingModelHandler
    from serving.corpus.parquet_writer import embedding_schema

    policy.check_policy(bad_lines)
    files = [(f.path, f.first_line_id, f.records) for f in corpus.files]

    def apply_policy(item):
        path, record = item
        if record.reason is not None:
            yield beam.pvalue.TaggedOutput("bad", json.dumps(policy.bad_line_document(record, path)))
            if bad_lines == policy.SKIP:
                return
        yield record.line_id, record.text if record.reason is None else ""

    def to_row(item):
        line_id, result = item
        row = {"line_id": line_id, "embedding": result.inference.tolist()}
        if include_text:
            row["text"] = result.example
        return row

    records = (
        pipeline
        | "InputFiles" >> beam.Create(files)
        | "SpreadFiles" >> beam.Reshuffle()
        | "ReadCorpusRecords" >> beam.FlatMap(_read_file, corpus.format)
    )
    split = records | "BadLinePolicy" >> beam.FlatMap(apply_policy).with_outputs("bad", main="sentences")
    handler = EmbeddingModelHandler(spec, normalize=normalize, max_batch_size=max_batch_size)
    (
        split.sentences
        | "SpreadSentences" >> beam.Reshuffle()
        | "Embed" >> RunInference(KeyedModelHandler(handler))
        | "ToRows" >> beam.Map(to_row)
        | "WriteParquet"
        >> beam.io.WriteToParquet(
            _join(output, "part"),
            embedding_schema(embedding_dim, include_text),
            file_name_suffix=".parquet",
            num_shards=num_shards,
        )
    )
    split.bad | "WriteBadLines" >> beam.io.WriteToText(_join(output, "bad_lines"), file_name_suffix=".jsonl")


def run_beam_job(
    config, spec: BackendSpec, runner: str, pipeline_options: str | list[str] = (), num_shards: int = 0
) -> Manifest:
    """Runs a corpus job as a Beam pipeline on `runner` and writes its manifest; returns the manifest.

    Args:
        config: the job's `CorpusJobConfig` (output format parquet; no resume).
        spec: the model; resolved and pinned here, once.
        runner: the Beam runner (DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, PrismRunner…).
        pipeline_options: the runner's options, as a list of flags or one string (``"--project=p --region=r"``).
        num_shards: Parquet shards to write; 0 lets the runner choose.
    """
    import apache_beam as beam
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.options.pipeline_options import PipelineOptions

    from serving.corpus.job import prepare_output

    if config.resume:
        raise ValueError("Beam runners retry failed work themselves; --resume is for the single-process job.")
    if config.output_format != "parquet":
        raise ValueError("A Beam pipeline writes Parquet shards; pass --output-format parquet (or leave it out).")
    if isinstance(pipeline_options, str):
        pipeline_options = shlex.split(pipeline_options)
    output = config.output.rstrip("/")
    remote = "://" in output
    if not remote:
        prepare_output(config)
    started = now()
    corpus = scan_corpus(
        config.inputs,
        config.input_format,
        config.column,
        config.header,
        BeamFiles(),
        max_text_bytes=config.max_text_bytes,
    )
    backend = spec.create()
    try:
        info = backend.info
        pinned = spec.pinned(backend)
    finally:
        backend.close()
    logger.info(
        "Embedding %d lines from %d files with %s version %s on %s.",
        corpus.records,
        len(corpus.files),
        info.name,
        info.version,
        runner,
    )
    with beam.Pipeline(runner=_runner(runner), options=PipelineOptions(list(pipeline_options))) as pipeline:
        build_pipeline(
            pipeline,
            corpus,
            pinned,
            output,
            embedding_dim=info.embedding_dim,
            bad_lines=config.bad_lines,
            include_text=config.include_text,
            normalize=config.normalize,
            num_shards=num_shards,
        )
    (matched,) = FileSystems.match([_join(output, "part-*.parquet")])
    rows = corpus.records - (corpus.bad if config.bad_lines == policy.SKIP else 0)
    manifest = Manifest(
        model=info.to_dict(),
        input=corpus.to_dict(),
        options={**config.output_options(), "runner": runner},
        output={
            "format": "parquet",
            "rows": rows,
            "dim": info.embedding_dim,
            "dtype": "float32",
            "files": sorted(posixpath.basename(m.path) for m in matched.metadata_list),
        },
        bad_lines={
            "policy": config.bad_lines,
            "count": corpus.bad,
            "by_reason": corpus.bad_by_reason,
            "file": "bad_lines-*.jsonl",
            "first": list(corpus.bad_examples),
        },
        progress=Progress(chunks=0, next_line_id=corpus.records, rows=rows),
        status=COMPLETE,
        started=started,
        finished=now(),
        embedder_version=package_version(),
    )
    if remote:
        with FileSystems.create(_join(output, MANIFEST_FILE)) as handle:
            handle.write(json.dumps(manifest.to_dict(), indent=2).encode("utf-8"))
    else:
        manifest.save(output)
    return manifest
