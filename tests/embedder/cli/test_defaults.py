"""The command line cannot drift from the settings it fills: every flag's default (and the default its help shows)
is the settings dataclass's, and every ``choices=`` is the library's constant."""

import argparse
import re

import pytest

from embedder.cli import build_parser, default_of


def _subparser(*path: str) -> argparse.ArgumentParser:
    parser = build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _actions(*path: str) -> dict[str, argparse.Action]:
    return {action.dest: action for action in _subparser(*path)._actions}


_SHOWN = re.compile(r"\(default:? ([^;:),\s]+)")


def _shown_default(action: argparse.Action) -> str | None:
    """The default a flag's help names (%(default)s expanded), or None when it names none."""
    text = (action.help or "") % {"default": action.default} if "%(default)" in (action.help or "") else action.help
    match = _SHOWN.search(text or "")
    return match.group(1).strip() if match else None


def _same(shown: str, default) -> bool:
    from training.config import BY_ARCHITECTURE

    if default is None or default == BY_ARCHITECTURE:  # the help describes it ("default: all", "default: by suffix")
        return True
    if isinstance(default, float) and not isinstance(default, bool):
        return float(shown) == default
    return shown == str(default)


def _assert_flags_default_to(command: tuple[str, ...], source, renamed: dict | None = None, skip=()) -> int:
    """Every flag of `command` that fills a setting of `source` (a dataclass or a function) defaults to its
    default, and the default its help shows is that one; returns how many flags were checked."""
    import dataclasses
    import inspect

    if dataclasses.is_dataclass(source):
        names = {f.name for f in dataclasses.fields(source) if f.default_factory is not dataclasses.MISSING}
        names |= {f.name for f in dataclasses.fields(source) if f.default is not dataclasses.MISSING}
    else:
        names = {n for n, p in inspect.signature(source).parameters.items() if p.default is not p.empty}
    checked = 0
    for dest, action in _actions(*command).items():
        name = (renamed or {}).get(dest, dest)
        if name not in names or name in skip:
            continue
        default = default_of(source, name)
        assert action.default == default, (command, dest, action.default, default)
        shown = _shown_default(action)
        assert shown is None or _same(shown, default), (command, dest, shown, default)
        checked += 1
    return checked


def test_default_of_reads_dataclass_fields_and_function_parameters():
    from training.distill.config import DistillConfig

    def call(batch_size: int = 7, *, required): ...

    assert default_of(DistillConfig, "epochs") == 5 and default_of(DistillConfig, "exclude") == ()
    assert default_of(call, "batch_size") == 7
    with pytest.raises(ValueError, match="has no setting 'colour'"):
        default_of(DistillConfig, "colour")
    with pytest.raises(ValueError, match="corpus has no default"):
        default_of(DistillConfig, "corpus")
    with pytest.raises(ValueError, match="required has no default"):
        default_of(call, "required")


def test_distill_flags_default_to_the_distill_config():
    from embedder.cli.distill import _config
    from training.distill.config import DistillConfig

    minimal = ["distill", "--corpus", "c.txt", "--teacher", "t", "--arch", "classic", "--out", "o"]
    parsed = _config(build_parser().parse_args(minimal))
    assert parsed == DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t")
    checked = 0
    for dest, action in _actions("distill").items():
        names = {"arch": "architecture"}
        name = names.get(dest, dest)
        if name not in DistillConfig.__dataclass_fields__ or name in ("architecture", "corpus", "teacher", "encoder"):
            continue
        default = default_of(DistillConfig, name)
        assert action.default == (list(default) if isinstance(default, tuple) else default), dest
        shown = _shown_default(action)
        assert shown is None or _same(shown, default), (dest, shown, default)
        checked += 1
    assert checked >= 25


@pytest.mark.parametrize("command", ["train", "finetune"])
def test_train_and_finetune_help_shows_the_config_defaults(command):
    from embedder.cli.train import _settings
    from training.config import FinetuneConfig, TrainConfig

    config_class = TrainConfig if command == "train" else FinetuneConfig
    required = ["--arch", "classic"] if command == "train" else ["--from", "m"]
    # The flags default to None so that a --config file stands; what is left is the dataclass's default.
    args = build_parser().parse_args([command, *required, "--train", "t.tsv", "--out", "o"])
    expected = config_class(
        train_path="t.tsv", **({"architecture": "classic"} if command == "train" else {"source": "m"})
    )
    assert _settings(args, config_class) == expected
    checked = 0
    for dest, action in _actions(command).items():
        if dest not in config_class.__dataclass_fields__:
            continue
        assert action.default is None, dest
        shown = _shown_default(action)
        if shown is not None:
            assert _same(shown, default_of(config_class, dest)), (dest, shown)
            checked += 1
    assert checked >= (18 if command == "train" else 22)


def test_train_help_names_each_architectures_word_vectors_epochs_and_patience():
    from training.config import (
        TRAIN_EPOCHS,
        TRAIN_EPOCHS_OTHERWISE,
        TRAIN_PATIENCE,
        TRAIN_PATIENCE_OTHERWISE,
        TRAIN_WORD_VECTORS,
        TrainConfig,
    )

    actions = _actions("train")
    word_vectors = actions["word_vectors"].help
    for architecture in TrainConfig.architectures:
        config = TrainConfig(architecture=architecture, train_path="t.tsv")
        if architecture in TRAIN_WORD_VECTORS:  # "pretrained:default for --arch classic and structured"
            named = rf"{re.escape(config.word_vectors)} for --arch [\w ]*\b{architecture}\b"
            assert re.search(named, " ".join(word_vectors.split())), (architecture, word_vectors)
        for name, chosen, otherwise in (
            ("patience", TRAIN_PATIENCE, TRAIN_PATIENCE_OTHERWISE),
            ("epochs", TRAIN_EPOCHS, TRAIN_EPOCHS_OTHERWISE),
        ):
            shown = " ".join(actions[name].help.split())
            if architecture in chosen:  # "5 for --arch classic and structured"
                assert re.search(rf"{getattr(config, name)} for --arch [\w ]*\b{architecture}\b", shown), shown
            else:
                assert getattr(config, name) == otherwise
                assert f"{otherwise} for the others" in shown
    assert f"{TrainConfig(architecture='transformer', train_path='t').word_vectors} for the others" in word_vectors


def test_choices_are_the_libraries_constants():
    from embedder import contract
    from training import config, data
    from training.distill import config as distill_config

    train, distill = _actions("train"), _actions("distill")
    assert train["architecture"].choices == contract.ARCHITECTURES == config.ARCHITECTURES
    assert train["optimizer"].choices == config.OPTIMIZERS and train["schedule"].choices == config.SCHEDULES
    assert train["precision"].choices == config.PRECISIONS and train["distribution"].choices == config.DISTRIBUTIONS
    assert train["file_format"].choices == data.FORMATS == _actions("evaluate")["file_format"].choices
    assert distill["arch"].choices == distill_config.STUDENT_ARCHITECTURES
    assert distill["optimizer"].choices == distill_config.OPTIMIZERS == distill_config.DistillConfig.optimizers
    assert distill["schedule"].choices == config.SCHEDULES == distill_config.DistillConfig.schedules
    assert distill["loss"].choices == distill_config.LOSSES
    assert distill["cache_dtype"].choices == distill_config.CACHE_DTYPES
    assert distill["teacher_precision"].choices == distill_config.TEACHER_PRECISIONS


def test_evaluate_defaults_are_the_training_runs_columns():
    from training.config import FinetuneConfig
    from training.evaluate import evaluate_classifier, evaluate_pairs

    args = build_parser().parse_args(["evaluate", "m", "d.tsv"])
    run = FinetuneConfig(source="m", train_path="t")
    columns = ("text_column", "label_column", "score_column", "first_column", "second_column")
    assert [getattr(args, c) for c in columns] == [getattr(run, c) for c in columns]
    assert args.batch_size == default_of(evaluate_classifier, "batch_size") == default_of(evaluate_pairs, "batch_size")


def test_quickstart_flags_default_to_the_quickstart_settings():
    from embedder.cli.quickstart_demo import QuickstartSettings

    checked = _assert_flags_default_to(("quickstart",), QuickstartSettings, {"arch": "architecture"}, ("encoder",))
    assert checked == 9
    assert build_parser().parse_args(["quickstart"]).encoder is None and default_of(QuickstartSettings, "encoder") == ()


def test_search_flags_default_to_the_index_settings_and_search_functions():
    from serving.search import ann
    from serving.search.dedupe import find_duplicates
    from serving.search.index_builder import IndexBuildConfig
    from serving.search.search_index import SearchIndex

    assert _assert_flags_default_to(("index",), ann.AnnParams) == 8
    assert _assert_flags_default_to(("index",), IndexBuildConfig) == 9
    index = _actions("index")
    assert index["kind"].choices == ann.KINDS and index["quantize"].choices == ann.QUANTIZATIONS
    assert f"default {ann.EXACT};" in index["kind"].help and f"default {ann.NONE};" in index["quantize"].help
    assert _assert_flags_default_to(("search",), SearchIndex.search) >= 2  # top_k, rescore_multiplier (None)
    dedupe = {"chunk_size": "query_chunk_size"}
    assert _assert_flags_default_to(("dedupe",), find_duplicates, dedupe) == 3


def test_pretrained_pack_flags_default_to_pack():
    from embedder import pretrained

    assert _assert_flags_default_to(("pretrained", "pack"), pretrained.pack) == 3
    pack = _actions("pretrained", "pack")
    assert pack["embedding_storage"].choices == pretrained.EMBEDDING_STORAGES
    assert pack["dense_storage"].choices == pretrained.DENSE_STORAGES


def test_embed_corpus_flags_default_to_the_job_and_backend_settings():
    from serving.corpus import bad_lines, records
    from serving.corpus.backend_spec import BackendSpec
    from serving.corpus.job import OUTPUT_FORMATS, CorpusJobConfig

    renamed = {"out": "output", "model_version": "version"}
    skip = ("output_format",)  # npy, or parquet with --runner
    assert _assert_flags_default_to(("embed-corpus",), CorpusJobConfig, renamed, skip) >= 10
    assert _assert_flags_default_to(("embed-corpus",), BackendSpec, renamed) == 9
    actions = _actions("embed-corpus")
    assert actions["input_format"].choices == ("auto", *records.FORMATS)
    assert actions["bad_lines"].choices == bad_lines.POLICIES
    assert actions["output_format"].choices == OUTPUT_FORMATS
    assert actions["output_format"].help.startswith(f"default: {default_of(CorpusJobConfig, 'output_format')} ")


def test_embed_flags_default_to_the_client():
    from embedder import contract
    from serving.client.base import DEFAULT_MAX_MESSAGE_BYTES  # noqa: F401  (the client's module loads)
    from serving.client.embedding_client import EmbeddingClient

    actions = _actions("embed")
    client = {n: p.default for n, p in inspect_parameters(EmbeddingClient.__mro__[1].__init__).items()}
    assert actions["batch_size"].default == client["max_batch_size"]
    assert client["signature"] == contract.SIGNATURE_EMBED and contract.SIGNATURE_EMBED in actions["signature"].help


def inspect_parameters(function):
    import inspect

    return inspect.signature(function).parameters


@pytest.mark.slow  # imports TensorFlow (serving.server.model_server)
def test_serve_flags_default_to_the_server_options():
    from embedder.cli.serve import options_from_args
    from serving.server.model_server import ServerOptions

    checked = _assert_flags_default_to(
        ("serve",),
        ServerOptions,
        skip=("rest_api_timeout_in_ms", "rest_api_max_body_bytes", "grpc_max_message_size"),  # None: the default
    )
    assert checked >= 25
    parsed = options_from_args(build_parser().parse_args(["serve", "--model_base_path", "m"]))
    assert parsed == ServerOptions(model_base_path="m")
    serve = _actions("serve")
    for dest in ("rest_api_timeout_in_ms", "rest_api_max_body_bytes", "grpc_max_message_size"):
        assert serve[dest].default is None and _same(_shown_default(serve[dest]), default_of(ServerOptions, dest))
