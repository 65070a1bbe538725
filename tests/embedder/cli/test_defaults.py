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


_SHOWN = re.compile(r"\(default:? ([^;),]+)")


def _shown_default(action: argparse.Action) -> str | None:
    """The default a flag's help names (%(default)s expanded), or None when it names none."""
    text = (action.help or "") % {"default": action.default} if "%(default)" in (action.help or "") else action.help
    match = _SHOWN.search(text or "")
    return match.group(1).strip() if match else None


def _same(shown: str, default) -> bool:
    if default is None:  # the help describes what None means ("default: all", "default: by suffix")
        return True
    if isinstance(default, float) and not isinstance(default, bool):
        return float(shown) == default
    return shown == str(default)


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
    assert distill["optimizer"].choices == distill_config.OPTIMIZERS
    assert distill["schedule"].choices == distill_config.SCHEDULES
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
