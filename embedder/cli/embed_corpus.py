"""`embedder embed-corpus`: embed a whole corpus into .npy or Parquet, resumably, in-process, over gRPC or on Beam.

    embedder embed-corpus corpus.txt --out vectors/ --saved-model models/default
    embedder embed-corpus 'shards/*.tsv' --column text --out vectors/ --target localhost:8500 --model default
    embedder embed-corpus corpus.txt --out vectors/ --saved-model models/default --resume
    embedder embed-corpus 'gs://b/corpus/*.txt' --out gs://b/vectors --saved-model gs://b/models/default \\
        --runner DataflowRunner --pipeline-options="--project=P --region=R --temp_location=gs://b/tmp"

The library behind it is `serving.corpus` (`embed_corpus`, `run_beam_job`); docs/CORPUS.md has the details.
TensorFlow is imported only for ``--saved-model``; a gRPC job needs just the client's dependencies.
"""

from __future__ import annotations

import argparse
import logging

from embedder.cli import default_of
from serving.corpus import bad_lines, records
from serving.corpus.backend_spec import BackendSpec

log = logging.getLogger(__name__)

# `serving.corpus.job.CorpusJobConfig`'s defaults, restated because importing it loads gRPC, which `embedder
# --help` should not pay for; tests/embedder/cli/test_defaults.py holds them equal.
_AUTO = "auto"
_OUTPUT_FORMATS = ("npy", "parquet")
_CHUNK_SIZE = 2048
_MAX_TEXT_BYTES = 1024 * 1024


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed-corpus",
        help="embed a corpus (text/TSV/CSV/JSONL files or globs) into .npy or Parquet; resumable",
        description="Embeds every line of a corpus with one model version, in chunks that are committed as they "
        "finish, so --resume continues after a crash or Ctrl-C with nothing lost or repeated. In-process "
        "(--saved-model), through a server (--target/--model), or as an Apache Beam pipeline (--runner).",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="input files or glob patterns (quote globs)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if absent)")

    model = parser.add_argument_group("model (one of --saved-model, or --target with --model)")
    model.add_argument("--saved-model", metavar="PATH", help="a SavedModel version directory or model base path")
    model.add_argument("--target", metavar="HOST:PORT", help="a TF Serving / embedder serve gRPC address")
    model.add_argument("--model", metavar="NAME", help="the served model's name (with --target)")
    model.add_argument(
        "--model-version",
        type=int,
        metavar="N",
        help="the version to embed with (default: the newest; resolved once and used for every chunk)",
    )
    model.add_argument(
        "--batch-size",
        type=int,
        default=default_of(BackendSpec, "batch_size"),
        metavar="N",
        help="sentences per model call or request (default %(default)s)",
    )
    model.add_argument(
        "--requests-in-flight",
        type=int,
        default=default_of(BackendSpec, "requests_in_flight"),
        metavar="N",
        help="gRPC requests at once, per chunk (default %(default)s)",
    )
    model.add_argument(
        "--timeout",
        type=float,
        default=default_of(BackendSpec, "timeout"),
        metavar="S",
        help="gRPC: seconds per chunk (default %(default)s)",
    )
    model.add_argument("--tls", action="store_true", help="gRPC over TLS")
    model.add_argument("--root-certificates", metavar="PEM", help="gRPC: CA certificate file to trust (implies TLS)")

    source = parser.add_argument_group("input")
    source.add_argument("--input-format", default=_AUTO, choices=(_AUTO, *records.FORMATS), help="default: by suffix")
    source.add_argument("--column", help="TSV/CSV column (header name or 0-based index) or JSONL key (default text)")
    source.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="TSV/CSV files start with a header line (default: when --column is a name)",
    )
    source.add_argument(
        "--bad-lines",
        default=bad_lines.EMBED_EMPTY,
        choices=bad_lines.POLICIES,
        help="non-UTF-8, empty or unparseable lines: embed as the empty string (keeps row = line), or skip; both "
        f"are listed in {bad_lines.BAD_LINES_FILE} and counted in the manifest (default %(default)s)",
    )

    source.add_argument(
        "--max-text-bytes",
        type=int,
        default=_MAX_TEXT_BYTES,
        metavar="BYTES",
        help="a sentence longer than this (UTF-8 bytes; through --target also the gRPC message limit) is a bad "
        f"line, reason {records.TOO_LONG} (default %(default)s)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--output-format",
        choices=_OUTPUT_FORMATS,
        help=f"default: {_OUTPUT_FORMATS[0]} ({_OUTPUT_FORMATS[1]} with --runner)",
    )
    output.add_argument("--include-text", action="store_true", help="Parquet: add the sentence to each row")
    output.add_argument("--normalize", action="store_true", help="L2-normalise the embeddings")
    output.add_argument(
        "--chunk-size",
        type=int,
        default=_CHUNK_SIZE,
        metavar="N",
        help="lines per committed chunk / Parquet shard (default %(default)s)",
    )

    job = parser.add_argument_group("job")
    job.add_argument("--resume", action="store_true", help="continue the job in --out from its last chunk")
    job.add_argument("--overwrite", action="store_true", help="replace a previous job's output in --out")
    job.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar (default: on a tty)"
    )

    beam = parser.add_argument_group("Apache Beam (needs the beam extra)")
    beam.add_argument(
        "--runner", metavar="NAME", help="run as a Beam pipeline: DirectRunner, DataflowRunner, FlinkRunner, ..."
    )
    beam.add_argument(
        "--pipeline-options",
        default="",
        metavar="FLAGS",
        help='the runner\'s options as one string, with "=": --pipeline-options="--project=P --region=R"',
    )
    beam.add_argument("--num-shards", type=int, default=0, metavar="N", help="Parquet shards (default: runner's)")
    parser.set_defaults(handler=run_embed_corpus)


def _spec(args):
    from embedder.cli import CommandError
    from serving.corpus.backend_spec import GRPC, SAVED_MODEL, BackendSpec

    if bool(args.saved_model) == bool(args.target):
        raise CommandError("give the model with either --saved-model PATH or --target HOST:PORT --model NAME")
    if args.target and not args.model:
        raise CommandError("--target needs --model NAME (the served model's name)")
    if args.saved_model and args.model:
        raise CommandError("--model names a served model; with --saved-model, give the model's directory only")
    try:
        return BackendSpec(
            kind=SAVED_MODEL if args.saved_model else GRPC,
            saved_model=args.saved_model,
            target=args.target,
            model=args.model,
            version=args.model_version,
            batch_size=args.batch_size,
            requests_in_flight=args.requests_in_flight,
            timeout=args.timeout,
            tls=args.tls,
            root_certificates=args.root_certificates,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None


def _create_backend(spec):
    """The backend, with the model's version resolved; failures to reach or load the model are user errors."""
    from embedder.cli import CommandError
    from serving.client.errors import EmbeddingError

    try:
        return spec.create()
    except (EmbeddingError, FileNotFoundError, ValueError) as error:
        where = spec.saved_model if spec.saved_model else f"{spec.model!r} at {spec.target}"
        raise CommandError(f"cannot use the model {where}: {error}") from None


def run_embed_corpus(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from serving.client.errors import EmbeddingError
    from serving.corpus.job import CorpusJobConfig, OutputExists, embed_corpus
    from serving.corpus.manifest import ResumeRefused

    spec = _spec(args)
    output_format = args.output_format or ("parquet" if args.runner else "npy")
    try:
        config = CorpusJobConfig(
            inputs=tuple(args.inputs),
            output=args.out,
            input_format=args.input_format,
            column=args.column,
            header=args.header,
            bad_lines=args.bad_lines,
            output_format=output_format,
            include_text=args.include_text,
            normalize=args.normalize,
            chunk_size=args.chunk_size,
            max_text_bytes=args.max_text_bytes,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=args.progress,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None

    try:
        if args.runner:
            try:
                from serving.corpus.beam_pipeline import run_beam_job
            except ImportError as error:
                raise CommandError(f"--runner needs Apache Beam: install the `beam` extra ({error})") from None
            manifest = run_beam_job(config, spec, args.runner, args.pipeline_options, num_shards=args.num_shards)
        else:
            backend = _create_backend(spec)
            try:
                manifest = embed_corpus(config, backend)
            finally:
                backend.close()
    except (OutputExists, ResumeRefused, FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from None
    except OSError as error:  # e.g. --out on a read-only file system, or under a file
        where = f" {error.filename}" if error.filename else ""
        raise CommandError(
            f"cannot read or write{where}: {error.strerror or error}. Every chunk committed so far is kept; fix the "
            "cause and rerun the same command (with --resume if the job had started)."
        ) from None
    except EmbeddingError as error:
        raise CommandError(
            f"{error}\nEvery chunk committed so far is kept: fix the cause and rerun the same command with --resume."
        ) from None

    model = manifest.model
    print(
        f"{manifest.output['rows']} embeddings (dim {manifest.output['dim']}) of {manifest.input['records']} lines "
        f"with {model['name']} version {model['version']} in {config.output} ({manifest.output['format']}); "
        f"{manifest.bad_lines['count']} bad lines ({manifest.bad_lines['policy']})."
    )
    return 0
