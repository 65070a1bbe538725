"""`embedder distill`: train a student encoder to reproduce a sentence-transformers teacher, and export it.

Examples::

    embedder distill --teacher all-MiniLM-L6-v2 --corpus reviews.txt.gz news.tsv --exclude stsb/dev.tsv \\
        --arch transformer --encoder hidden_dim=192 num_layers=2 --out models/minilm-student

    # Teacher vectors computed on another machine (no PyTorch here): write the sentences, encode them there
    # into an (n, dim) .npy file, one row per line, then distil from that file.
    embedder distill --corpus reviews.txt.gz --write-corpus sentences.txt
    embedder distill --teacher-embeddings vectors.npy --corpus reviews.txt.gz --arch transformer --out models/s

TensorFlow and PyTorch are imported only when the command runs.
"""

from __future__ import annotations

import argparse

from embedder import contract
from embedder.cli import default_of
from embedder.cli.train import _key_values
from training.distill.config import (
    CACHE_DTYPES,
    LOSSES,
    STUDENT_ARCHITECTURES,
    TEACHER_PRECISIONS,
    DistillConfig,
)


def _default(name: str):
    return default_of(DistillConfig, name)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "distill",
        help="distil a sentence-transformers teacher into a fast student encoder",
        description="Trains one of our encoders (plus a projection to the teacher's width) so that its vectors "
        "match a sentence-transformers teacher's on a text corpus, then exports it as a servable model. The "
        "exported embedding is the projected vector, in the teacher's space.",
    )
    source = parser.add_argument_group("teacher and corpus")
    source.add_argument(
        "--teacher",
        help="sentence-transformers model folder, or 'all-MiniLM-L6-v2' (the packaged copy; extra [distill])",
    )
    source.add_argument(
        "--teacher-embeddings",
        metavar="FILE.npy",
        help="teacher vectors computed elsewhere: one row per corpus sentence (see --write-corpus)",
    )
    source.add_argument(
        "--corpus",
        nargs="+",
        required=True,
        metavar="FILE",
        help="text files (one text a line, .gz allowed) or TSV files with a text column",
    )
    source.add_argument(
        "--exclude",
        nargs="*",
        default=list(_default("exclude")),
        metavar="FILE",
        help="files whose sentences are kept out of the corpus (your evaluation sets)",
    )
    source.add_argument(
        "--max-words",
        type=int,
        default=_default("max_words"),
        help="cut longer sentences into windows (default %(default)s)",
    )
    source.add_argument(
        "--min-words", type=int, default=_default("min_words"), help="drop shorter sentences (default %(default)s)"
    )
    source.add_argument(
        "--max-per-file",
        type=int,
        default=_default("max_per_file"),
        help="seeded sample of at most N sentences per file (default: all)",
    )
    source.add_argument(
        "--max-sentences",
        type=int,
        default=_default("max_sentences"),
        help="seeded sample of at most N sentences in total (default: all)",
    )
    source.add_argument(
        "--write-corpus", metavar="FILE", help="write the prepared sentences, one a line, and stop (nothing is trained)"
    )
    source.add_argument(
        "--teacher-only", action="store_true", help="compute (or complete) the cached teacher vectors and stop"
    )
    source.add_argument(
        "--cache-dir",
        default=_default("cache_dir"),
        help="teacher vector cache (default ~/.cache/embedder/teacher, or $EMBEDDER_CACHE_DIR/teacher)",
    )
    source.add_argument(
        "--cache-dtype", choices=CACHE_DTYPES, default=_default("cache_dtype"), help="(default %(default)s)"
    )
    source.add_argument(
        "--teacher-batch-size",
        type=int,
        default=_default("teacher_batch_size"),
        help="sentences per teacher forward pass (default %(default)s)",
    )
    source.add_argument(
        "--teacher-threads",
        type=int,
        default=_default("teacher_threads"),
        help="PyTorch threads for the teacher (default: one per core)",
    )
    source.add_argument(
        "--teacher-precision",
        choices=TEACHER_PRECISIONS,
        default=_default("teacher_precision"),
        help="bfloat16: CPU autocast, about 2x faster where supported (default %(default)s)",
    )

    student = parser.add_argument_group("student")
    student.add_argument("--arch", choices=STUDENT_ARCHITECTURES, help="the student's encoder")
    student.add_argument("--out", help="model base path; the export lands in OUT/<next version>/")
    student.add_argument(
        "--export-precision",
        choices=contract.EXPORT_PRECISIONS,
        default=_default("export_precision"),
        help="what the export computes in; bfloat16: several times faster on CPUs with AMX (default %(default)s)",
    )
    student.add_argument(
        "--encoder",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="encoder arguments (JSON values), e.g. --encoder hidden_dim=192 num_layers=2",
    )
    student.add_argument(
        "--max-length",
        type=int,
        default=_default("max_length"),
        help="the most tokens the student reads (default %(default)s)",
    )
    student.add_argument(
        "--vocabulary-size",
        type=int,
        default=_default("vocabulary_size"),
        help="most vocabulary entries (default %(default)s)",
    )
    student.add_argument(
        "--min-count",
        type=int,
        default=_default("min_count"),
        help="corpus words seen fewer times are left out (default %(default)s)",
    )
    student.add_argument(
        "--word-vectors",
        default=_default("word_vectors"),
        help="initial word vectors: 'teacher' (the teacher's vector of each word, "
        "PCA-reduced), 'glove-50d' (extra [glove]) or a GloVe text file (default: random)",
    )
    student.add_argument(
        "--extend-vocabulary",
        type=int,
        default=_default("extend_vocabulary"),
        help="add up to N frequent word-vector words the corpus lacks (default %(default)s)",
    )
    student.add_argument("--loss", choices=LOSSES, default=_default("loss"), help="(default %(default)s)")

    fit = parser.add_argument_group("training")
    fit.add_argument("--epochs", type=int, default=_default("epochs"), help="most epochs (default %(default)s)")
    fit.add_argument(
        "--batch-size", type=int, default=_default("batch_size"), help="sentences per step (default %(default)s)"
    )
    fit.add_argument(
        "--optimizer", choices=DistillConfig.optimizers, default=_default("optimizer"), help="(default %(default)s)"
    )
    fit.add_argument(
        "--learning-rate",
        type=float,
        default=_default("learning_rate"),
        help="peak learning rate (default %(default)s)",
    )
    fit.add_argument(
        "--schedule", choices=DistillConfig.schedules, default=_default("schedule"), help="(default %(default)s)"
    )
    fit.add_argument(
        "--warmup-epochs",
        type=float,
        default=_default("warmup_epochs"),
        help="linear warm-up in epochs (default %(default)s)",
    )
    fit.add_argument(
        "--weight-decay", type=float, default=_default("weight_decay"), help="for adamw (default %(default)s)"
    )
    fit.add_argument(
        "--clipnorm",
        type=float,
        default=_default("clipnorm"),
        help="gradient norm clip (default %(default)s; 0 turns it off)",
    )
    fit.add_argument(
        "--patience",
        type=int,
        default=_default("patience"),
        help="early stopping patience in epochs; 0 never stops (default %(default)s)",
    )
    fit.add_argument(
        "--dev-sentences",
        type=int,
        default=_default("dev_sentences"),
        help="held-back sentences that pick the best epoch (default %(default)s)",
    )
    fit.add_argument("--seed", type=int, default=_default("seed"), help="(default %(default)s)")
    fit.add_argument("--work-dir", help="checkpoints and logs (default OUT.run)")
    fit.add_argument("--resume", action="store_true", help="continue the run in the work directory")
    fit.add_argument("--overwrite", action="store_true", help="discard an earlier run in the work directory")
    parser.set_defaults(handler=run_distill)


def _config(args: argparse.Namespace) -> DistillConfig:
    return DistillConfig(
        architecture=args.arch or "transformer",  # no student with --write-corpus/--teacher-only
        corpus=tuple(args.corpus),
        teacher=args.teacher,
        teacher_embeddings=args.teacher_embeddings,
        exclude=tuple(args.exclude),
        max_words=args.max_words,
        min_words=args.min_words,
        max_per_file=args.max_per_file,
        max_sentences=args.max_sentences,
        cache_dir=args.cache_dir,
        cache_dtype=args.cache_dtype,
        teacher_batch_size=args.teacher_batch_size,
        teacher_threads=args.teacher_threads,
        teacher_precision=args.teacher_precision,
        encoder=_key_values(args.encoder, "--encoder"),
        max_length=args.max_length,
        vocabulary_size=args.vocabulary_size,
        min_count=args.min_count,
        word_vectors=args.word_vectors,
        extend_vocabulary=args.extend_vocabulary,
        loss=args.loss,
        dev_sentences=args.dev_sentences,
        epochs=args.epochs,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        schedule=args.schedule,
        warmup_epochs=args.warmup_epochs,
        weight_decay=args.weight_decay,
        clipnorm=args.clipnorm if args.clipnorm and args.clipnorm > 0 else None,
        patience=args.patience,
        seed=args.seed,
        export_precision=args.export_precision,
    )


def _write_corpus(args: argparse.Namespace) -> int:
    from pathlib import Path

    from training.distill.distill import corpus_of

    corpus = corpus_of(_config(args))
    path = Path(args.write_corpus)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(s + "\n" for s in corpus.sentences), "utf-8")
    print(
        f"wrote {len(corpus)} sentences to {path} ({corpus.excluded} excluded, {corpus.duplicates} repeats "
        "dropped); encode them one row per line for --teacher-embeddings"
    )
    return 0


def run_distill(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError

    writing = bool(args.write_corpus)
    if writing:
        args.teacher = args.teacher or "unused"
        args.teacher_embeddings = None
    elif args.teacher is None and args.teacher_embeddings is None:
        raise CommandError("give --teacher (a sentence-transformers model) or --teacher-embeddings FILE.npy")
    elif not args.teacher_only and (not args.arch or not args.out):
        raise CommandError("--arch and --out are required (unless --write-corpus or --teacher-only)")
    if args.teacher_only and args.teacher_embeddings:
        raise CommandError(
            "--teacher-only computes the teacher's vectors; it takes --teacher, not --teacher-embeddings"
        )
    if writing:
        try:
            return _write_corpus(args)
        except (ValueError, FileNotFoundError, argparse.ArgumentTypeError) as error:
            raise CommandError(str(error)) from None
    from training.distill.distill import corpus_of, distill, teacher_vectors
    from training.distill.teacher import resolve_teacher_path
    from training.loop import RunStateError

    try:
        if args.teacher:
            resolve_teacher_path(args.teacher)  # before minutes of corpus reading
        config = _config(args)
        if args.teacher_only:
            corpus = corpus_of(config)
            vectors, origin = teacher_vectors(config, corpus)
            print(
                f"teacher vectors {vectors.shape} in {origin['cache']} ({origin['rows_from_cache']} rows were "
                "already cached)"
            )
            return 0
        result = distill(config, args.out, work_dir=args.work_dir, resume=args.resume, overwrite=args.overwrite)
    except (ValueError, FileNotFoundError, ModuleNotFoundError, RunStateError, argparse.ArgumentTypeError) as error:
        raise CommandError(str(error)) from None
    extra = result.extra
    print(
        f"exported {result.version_dir}: dev cosine to the teacher {result.dev_score:.4f} (untrained "
        f"{extra.get('untrained_dev_cosine', float('nan')):.4f}) at epoch {result.best_epoch}; "
        f"{extra['train_sentences']} training sentences, {extra['parameters']} parameters"
    )
    return 0
