"""`embedder train`, `finetune`, `evaluate` and `explain`: thin command-line layers over `training`'s functions.

Imports here stay light (no TensorFlow) so that `embedder --help` is fast; each handler imports what it runs.
Settings come from the flags, over an optional ``--config`` JSON file (a settings dict, or a model's
``run_config.json``, to repeat a run); encoder and head arguments are given as ``--encoder KEY=VALUE``.

Examples::

    embedder train --arch structured --train data/train.tsv --dev data/dev.tsv --out models/trec \\
        --epochs 10 --encoder rnn_units=128 attention_hops=4 --word-vectors glove-50d
    embedder train ... --resume                      # after Ctrl-C or a kill: continue from the last epoch
    embedder finetune --from models/trec --train sst2/train.tsv --dev sst2/dev.tsv --out models/sst2 --freeze-epochs 1
    embedder finetune --from models/trec --pairs --train stsb/train.tsv --out models/sts
    embedder train --arch classic --pairs --train stsb/train.tsv --out models/sts-scratch
    embedder evaluate models/sst2 sst2/test.tsv --json
    embedder explain --model models/trec "Who wrote Hamlet ?" --out explain/
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embedder import contract
from embedder.cli import default_of
from training.config import (
    ARCHITECTURES,
    DISTRIBUTIONS,
    EVERY_WORD_MAX_PER_CLASS,
    EXTEND_WITH_VECTORS,
    FEW_SHOT_MAX_PER_CLASS,
    FEW_SHOT_ROUNDS,
    NEW_WORD_MIN_COUNT,
    OPTIMIZERS,
    PAIR_LOSSES,
    PRECISIONS,
    SCHEDULES,
    TRAIN_EPOCHS,
    TRAIN_EPOCHS_OTHERWISE,
    TRAIN_FALLBACK_WORD_VECTORS,
    TRAIN_FALLBACK_WORD_VECTORS_OTHERWISE,
    TRAIN_LEARNING_RATE,
    TRAIN_LEARNING_RATES,
    TRAIN_PATIENCE,
    TRAIN_PATIENCE_OTHERWISE,
    TRAIN_WORD_VECTORS,
    TRAIN_WORD_VECTORS_OTHERWISE,
    FinetuneConfig,
    PairSettings,
    RunConfig,
    TrainConfig,
    per_architecture_named,
)
from training.data import FORMATS
from training.evaluate import evaluate_classifier

# Flags default to None, so that a --config file's settings stand unless a flag is given; the help shows the
# settings classes' defaults, which apply when neither gives a value.


def _shown(settings_class: type, name: str) -> str:
    return f"default {default_of(settings_class, name)}"


def _learning_rate_shown(settings_class: type) -> str:
    if default_of(settings_class, "learning_rate") is not None:
        return _shown(settings_class, "learning_rate")
    special = "".join(f"; {rate:g} for --arch {arch}" for arch, rate in TRAIN_LEARNING_RATES.items())
    return f"default {TRAIN_LEARNING_RATE:g}{special}"


def _per_architecture_shown(chosen: dict[str, object], otherwise: object) -> str:
    return f"default {per_architecture_named(chosen, otherwise)}"


def _or_per_architecture(settings_class: type, name: str, chosen: dict[str, object], otherwise: object) -> str:
    """The default of `name`, or, where `settings_class` resolves it per architecture, each architecture's."""
    if default_of(settings_class, name) is not None:
        return _shown(settings_class, name)
    return _per_architecture_shown(chosen, otherwise)


def _key_values(items: list[str] | None, flag: str) -> dict:
    values = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--train", dest="train_path", help="training file (TSV, CSV or JSONL)")
    group.add_argument("--dev", dest="dev_path", help="dev file for early stopping (default: a hold-out of --train)")
    group.add_argument(
        "--dev-fraction",
        type=float,
        help=f"share of --train held out without --dev ({_shown(RunConfig, 'dev_fraction')})",
    )
    group.add_argument("--text-column", help=f"text column ({_shown(RunConfig, 'text_column')})")
    group.add_argument("--label-column", help=f"label column ({_shown(RunConfig, 'label_column')})")
    group.add_argument("--format", dest="file_format", choices=FORMATS, help="default: by suffix")


def _add_pair_options(parser: argparse.ArgumentParser) -> None:
    """--pairs and its columns and objective (`PairSettings`), the same for train and finetune."""
    group = parser.add_argument_group("sentence pairs")
    group.add_argument(
        "--pairs",
        action="store_true",
        default=None,
        help="scored sentence pairs (score, sentence1, sentence2) instead of labels; exports a model without head",
    )
    group.add_argument("--score-column", help=f"({_shown(PairSettings, 'score_column')})")
    group.add_argument("--first-column", help=f"({_shown(PairSettings, 'first_column')})")
    group.add_argument("--second-column", help=f"({_shown(PairSettings, 'second_column')})")
    group.add_argument(
        "--max-score", type=float, help=f"score meaning identical ({_shown(PairSettings, 'max_score')}, as STS-B)"
    )
    group.add_argument(
        "--pair-loss",
        choices=PAIR_LOSSES,
        help="with --pairs: 'cosine_mse' (the cosine regressed onto score / max score) or 'cosent' (the pairs' "
        f"order within each batch) ({_shown(PairSettings, 'pair_loss')})",
    )


def _add_run_options(parser: argparse.ArgumentParser, settings: type) -> None:
    """The optimisation, hardware and run flags; help shows `settings`' defaults (train and finetune differ)."""
    group = parser.add_argument_group("optimisation")
    epochs_shown = _or_per_architecture(settings, "epochs", TRAIN_EPOCHS, TRAIN_EPOCHS_OTHERWISE)
    group.add_argument("--epochs", type=int, help=f"most epochs ({epochs_shown})")
    group.add_argument("--batch-size", type=int, help=f"global batch size ({_shown(settings, 'batch_size')})")
    group.add_argument("--optimizer", choices=OPTIMIZERS, help=f"({_shown(settings, 'optimizer')})")
    group.add_argument("--learning-rate", type=float, help=f"peak learning rate ({_learning_rate_shown(settings)})")
    group.add_argument("--schedule", choices=SCHEDULES, help=f"({_shown(settings, 'schedule')})")
    group.add_argument(
        "--warmup-epochs", type=float, help=f"linear warm-up in epochs ({_shown(settings, 'warmup_epochs')})"
    )
    group.add_argument("--weight-decay", type=float, help=f"for adamw ({_shown(settings, 'weight_decay')})")
    group.add_argument(
        "--clipnorm", type=float, help=f"gradient norm clip ({_shown(settings, 'clipnorm')}; 0 turns it off)"
    )
    group.add_argument("--label-smoothing", type=float, help=f"({_shown(settings, 'label_smoothing')})")
    group.add_argument(
        "--patience",
        type=int,
        help="early stopping patience in epochs; 0 never stops "
        f"({_or_per_architecture(settings, 'patience', TRAIN_PATIENCE, TRAIN_PATIENCE_OTHERWISE)})",
    )
    group.add_argument("--seed", type=int, help=f"({_shown(settings, 'seed')})")
    group.add_argument("--deterministic", action="store_true", default=None, help="TensorFlow op determinism")
    group.add_argument("--head", nargs="+", metavar="KEY=VALUE", help="ClassificationHead arguments")
    hardware = parser.add_argument_group("hardware")
    hardware.add_argument("--precision", choices=PRECISIONS, help=f"({_shown(settings, 'precision')})")
    hardware.add_argument(
        "--distribution",
        choices=DISTRIBUTIONS,
        help=f"auto: TF_CONFIG → multi_worker, several GPUs → mirrored ({_shown(settings, 'distribution')})",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, help="model base path; the export becomes its next version")
    run.add_argument(
        "--export-precision",
        choices=contract.EXPORT_PRECISIONS,
        help=f"what the export computes in ({_shown(settings, 'export_precision')}); see docs/SERVING.md",
    )
    run.add_argument("--config", help="JSON settings (or a model's run_config.json) that the flags override")
    run.add_argument("--work-dir", help="checkpoints and TensorBoard logs (default: OUT.run)")
    run.add_argument("--resume", action="store_true", help="continue the interrupted run from its last checkpoint")
    run.add_argument("--overwrite", action="store_true", help="discard an earlier run's checkpoints")
    run.add_argument("--quiet", action="store_true", help="no progress bar")


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train",
        help="train a new embedder on labelled sentences (or scored pairs) and export it",
        description="Train a new embedder with a classification head (with --pairs: on scored sentence pairs, "
        "no head); exports OUT/<next version>/ for `embedder serve`.",
    )
    train.add_argument("--arch", dest="architecture", choices=ARCHITECTURES)
    _add_data_options(train)
    _add_pair_options(train)
    model = train.add_argument_group("model")
    model.add_argument("--encoder", nargs="+", metavar="KEY=VALUE", help="encoder arguments, e.g. rnn_units=128")
    model.add_argument(
        "--max-length",
        type=int,
        help="tokens read per text (default: the training texts' 95th length percentile, rounded up to 8, 16-512)",
    )
    model.add_argument(
        "--vocabulary-size", type=int, help=f"most vocabulary entries ({_shown(TrainConfig, 'vocabulary_size')})"
    )
    model.add_argument(
        "--min-count",
        type=int,
        help=f"words seen fewer times are left out ({_shown(TrainConfig, 'min_count')})",
    )
    model.add_argument(
        "--no-lowercase", dest="lowercase", action="store_false", default=None, help="keep the texts' case"
    )
    model.add_argument(
        "--word-vectors",
        help="'glove-50d', 'pretrained:NAME' (a shipped model's token embedding, e.g. pretrained:default), a GloVe "
        "text file, several joined by '+' (side by side), or 'none' for random vectors "
        f"({_per_architecture_shown(TRAIN_WORD_VECTORS, TRAIN_WORD_VECTORS_OTHERWISE)})",
    )
    model.add_argument(
        "--fallback-word-vectors",
        metavar="NAME",
        help="first vectors of the words that --word-vectors lacks, mapped into its space: 'glove-50d', "
        "'pretrained:NAME', a GloVe text file, or 'none' for random "
        f"({_per_architecture_shown(TRAIN_FALLBACK_WORD_VECTORS, TRAIN_FALLBACK_WORD_VECTORS_OTHERWISE or 'none')})",
    )
    model.add_argument(
        "--extend-vocabulary",
        type=int,
        help=f"add this many frequent word-vector words (default {EXTEND_WITH_VECTORS} with word vectors, else 0)",
    )
    model.add_argument(
        "--freeze-word-vectors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the word vectors fixed (default: fixed for pretrained:NAME, trained for the others)",
    )
    model.add_argument(
        "--chunk-length",
        type=int,
        help="long texts: read up to --max-length tokens as chunks of this many, each encoded as a sentence and "
        "pooled into the text's vector (default: one sequence of --max-length tokens)",
    )
    model.add_argument(
        "--chunk-pooling",
        choices=contract.CHUNK_POOLINGS,
        help=f"how chunk vectors are pooled ({_shown(TrainConfig, 'chunk_pooling')})",
    )
    _add_run_options(train, TrainConfig)
    train.set_defaults(handler=run_train)

    finetune = subparsers.add_parser(
        "finetune",
        help="fine-tune a trained embedder on new labels or scored pairs",
        description="Keep a model's encoder and vocabulary (grown with the new data's frequent unknown words); "
        "train a new head (or, with --pairs, the encoder for cosine similarity); export to OUT.",
    )
    finetune.add_argument(
        "--from",
        dest="source",
        help="model base path or version directory to start from, or a shipped model's name (e.g. default)",
    )
    finetune.add_argument(
        "--freeze-epochs",
        type=int,
        help=f"epochs training only the new head first ({_shown(FinetuneConfig, 'freeze_epochs')})",
    )
    _add_pair_options(finetune)
    finetune.add_argument(
        "--penalty",
        dest="penalty_coefficient",
        type=float,
        help="structured encoders: the redundancy penalty's weight while fine-tuning (0 recommended with --pairs; "
        "default: the source's)",
    )
    finetune.add_argument(
        "--new-words",
        type=int,
        help="add up to N of the training texts' words the source's vocabulary lacks "
        f"({_shown(FinetuneConfig, 'new_words')}; 0: keep it)",
    )
    finetune.add_argument(
        "--new-word-min-count",
        type=int,
        help=f"occurrences a new word needs (default: 1, every word, for at most {EVERY_WORD_MAX_PER_CLASS} training "
        f"examples per class, else {NEW_WORD_MIN_COUNT})",
    )
    finetune.add_argument(
        "--new-word-vectors",
        help="first vectors of new words: 'glove-50d', 'pretrained:NAME', a GloVe text file, or 'none' (the [UNK] row) "
        f"({_shown(FinetuneConfig, 'new_word_vectors')})",
    )
    finetune.add_argument(
        "--few-shot",
        dest="few_shot_iterations",
        type=int,
        nargs="?",
        const=FEW_SHOT_ROUNDS,
        metavar="ROUNDS",
        help="SetFit's contrastive stage first: an epoch on ROUNDS rounds of pairs built from the labels, then the "
        f"classifier (--few-shot alone: {FEW_SHOT_ROUNDS}, SetFit's default; 0: off; default: {FEW_SHOT_ROUNDS} "
        f"rounds for at most {FEW_SHOT_MAX_PER_CLASS} training examples per class, else off)",
    )
    _add_data_options(finetune)
    _add_run_options(finetune, FinetuneConfig)
    finetune.set_defaults(handler=run_finetune)

    evaluate = subparsers.add_parser("evaluate", help="accuracy, macro-F1, confusion matrix; or pair correlations")
    evaluate.add_argument("model", help="model base path (latest version) or version directory")
    evaluate.add_argument("data", help="labelled file, or scored pairs with --pairs")
    evaluate.add_argument("--pairs", action="store_true", help="Spearman and Pearson of cosine similarity")
    # The columns default to the training runs' own, so a model evaluates on files shaped like its training data.
    for flag, settings_class in (
        ("text-column", RunConfig),
        ("label-column", RunConfig),
        ("score-column", FinetuneConfig),
        ("first-column", FinetuneConfig),
        ("second-column", FinetuneConfig),
    ):
        default = default_of(settings_class, flag.replace("-", "_"))
        evaluate.add_argument(f"--{flag}", default=default, help="(default %(default)s)")
    evaluate.add_argument("--format", dest="file_format", choices=FORMATS, help="default: by suffix")
    evaluate.add_argument(
        "--batch-size",
        type=int,
        default=default_of(evaluate_classifier, "batch_size"),
        help="sentences per model call (default %(default)s)",
    )
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(handler=run_evaluate)

    explain = subparsers.add_parser(
        "explain",
        help="attention heatmaps (HTML and PNG) for sentences",
        description="Per-hop/per-head attention and Lin et al.'s overall map, from a "
        "SavedModel in-process (--model) or a server's attention signature (--server).",
    )
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="model base path or version directory (in-process)")
    source.add_argument("--server", help="HOST:PORT of a TF Serving API server")
    explain.add_argument("--model-name", help="the served model's name (with --server)")
    explain.add_argument("--version", type=int, help="the served version (with --server; default latest)")
    explain.add_argument("sentences", nargs="*", help="sentences to explain")
    explain.add_argument("--input", help="a text file with one sentence per line")
    explain.add_argument("--out", default="explain", help="output folder for explain.html and PNGs")
    explain.add_argument("--json", action="store_true", help="also print the weights as JSON")
    explain.set_defaults(handler=run_explain)


_NOT_SETTINGS = {"handler", "command", "verbose", "out", "config", "work_dir", "resume", "overwrite", "quiet", "json"}


def _settings(args: argparse.Namespace, config_class):
    """The run's settings: the --config file's, overridden by every flag given."""
    from embedder.cli import CommandError

    settings: dict = {}
    saved = False  # a run's saved document: settings added since take what that run did (`from_saved`)
    if args.config:
        try:
            document = json.loads(Path(args.config).read_text("utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            raise CommandError(f"--config {args.config}: {error}") from None
        settings = dict(document.get("settings", document))
        saved = "settings" in document
    try:
        flags = {k: v for k, v in vars(args).items() if k not in _NOT_SETTINGS and v is not None}
        for name in ("encoder", "head"):
            if name in flags:
                flags[name] = {**settings.get(name, {}), **_key_values(flags[name], f"--{name}")}
        settings.update(flags)
        if settings.get("clipnorm") == 0:
            settings["clipnorm"] = None
        for name in ("new_word_vectors", "word_vectors", "fallback_word_vectors"):
            if settings.get(name) == "none":
                settings[name] = None
        return (config_class.from_saved if saved else config_class.from_dict)(settings)
    except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
        message = str(error)
        if "missing" in message and "required" in message:
            message = message.split("missing", 1)[1].strip().replace("keyword-only argument", "setting")
            message = f"missing {message} (flags: --arch, --train, --from)"
        raise CommandError(message) from None


def _run(args, function, config) -> int:
    from embedder.cli import CommandError
    from training.data import DataError
    from training.loop import RunStateError

    try:
        result = function(
            config,
            args.out,
            work_dir=args.work_dir,
            resume=args.resume,
            overwrite=args.overwrite,
            verbose=0 if args.quiet else ("auto" if sys.stdout.isatty() else 2),
        )
    except (DataError, RunStateError, ValueError, FileNotFoundError) as error:
        raise CommandError(str(error)) from None
    if result.version_dir is not None:
        print(
            f"exported {result.version_dir}  ({result.monitor} {result.dev_score:.4f} at epoch {result.best_epoch}"
            f"{', stopped early' if result.stopped_early else ''})"
        )
    return 0


def run_train(args: argparse.Namespace) -> int:
    from training.train import train

    return _run(args, train, _settings(args, TrainConfig))


def run_finetune(args: argparse.Namespace) -> int:
    from training.finetune import finetune

    return _run(args, finetune, _settings(args, FinetuneConfig))


def _load_embedder(path: str):
    from embedder.cli import CommandError
    from embedder.sentence_embedder import SentenceEmbedder

    try:
        return SentenceEmbedder.load(path)
    except FileNotFoundError as error:
        raise CommandError(str(error)) from None


def run_evaluate(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from training import evaluate
    from training.data import DataError

    embedder = _load_embedder(args.model)
    try:
        if args.pairs:
            report = evaluate.evaluate_pairs(
                embedder,
                args.data,
                args.score_column,
                args.first_column,
                args.second_column,
                args.file_format,
                args.batch_size,
            )
            text = evaluate.format_pairs(report)
        else:
            report = evaluate.evaluate_classifier(
                embedder, args.data, args.text_column, args.label_column, args.file_format, args.batch_size
            )
            text = evaluate.format_classification(report)
    except (DataError, ValueError) as error:
        raise CommandError(str(error)) from None
    print(json.dumps(report.to_dict(), indent=2) if args.json else text)
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from embedder.cli import CommandError
    from training import explain

    sentences = list(args.sentences)
    if args.input:
        try:
            sentences += [
                line.rstrip("\n") for line in Path(args.input).read_text("utf-8").splitlines() if line.strip()
            ]
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"--input {args.input}: {error}") from None
    if not sentences:
        raise CommandError("no sentences: give them as arguments or with --input FILE")
    if args.model:
        explanations = explain.explain_with_embedder(_load_embedder(args.model), sentences)
        title = f"Attention of {args.model}"
    else:
        if not args.model_name:
            raise CommandError("--server needs --model-name")
        try:
            from serving import EmbeddingClient
        except ImportError:
            raise CommandError("--server needs the client (serving.EmbeddingClient), which is not installed") from None
        with EmbeddingClient(args.server, args.model_name, version=args.version) as client:
            explanations = explain.explain_with_client(client, sentences)
        title = f"Attention of {args.model_name} at {args.server}"
    written = explain.write_report(explanations, args.out, title)
    if args.json:
        print(json.dumps([e.to_dict() for e in explanations], indent=2))
    else:
        for path in written:
            print(path)
    return 0
