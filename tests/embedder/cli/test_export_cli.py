"""`embedder export`, and `--export-precision` / `--precision` where models are exported."""

from __future__ import annotations

import json

import pytest

from embedder import contract
from embedder.cli import build_parser, main
from tests.helpers.models import make_tiny_embedder


def _metadata(version_dir):
    return json.loads((version_dir / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE).read_text())


def test_export_writes_the_next_version_in_bfloat16_and_keeps_the_run_settings(tiny_vocabulary, tmp_path, capsys):
    base = tmp_path / "models" / "m"
    first = make_tiny_embedder("classic", tiny_vocabulary).export(base, run_config={"settings": {"seed": 7}})
    assert main(["export", str(base), "--out", str(base), "--precision", "bfloat16"]) == 0
    second = base / "2"
    assert "(bfloat16)" in capsys.readouterr().out
    assert _metadata(first)[contract.META_PRECISION] == "float32"
    assert _metadata(second)[contract.META_PRECISION] == "bfloat16"
    run_config = second / contract.ASSETS_EXTRA_DIR / contract.RUN_CONFIG_FILE
    assert json.loads(run_config.read_text()) == {"settings": {"seed": 7}}


def test_export_names_a_missing_source(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "o")]) == 2
    assert "nothing" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "finetune"])
def test_training_commands_take_the_export_precision(command):
    from embedder.cli.train import _settings
    from training.config import FinetuneConfig, TrainConfig

    source = ["--arch", "classic"] if command == "train" else ["--from", "default"]
    args = build_parser().parse_args(
        [command, *source, "--train", "t.tsv", "--out", "o", "--export-precision", "bfloat16"]
    )
    config = _settings(args, TrainConfig if command == "train" else FinetuneConfig)
    assert config.export_precision == "bfloat16"
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, *source, "--train", "t.tsv", "--out", "o", "--export-precision", "fp8"])


def test_distill_takes_the_export_precision():
    from embedder.cli.distill import _config

    args = build_parser().parse_args(
        [
            "distill",
            "--corpus",
            "c.txt",
            "--arch",
            "transformer",
            "--teacher",
            "t",
            "--out",
            "o",
            "--export-precision",
            "bfloat16",
        ]
    )
    assert _config(args).export_precision == "bfloat16"
    assert _config(
        build_parser().parse_args(["distill", "--corpus", "c.txt", "--arch", "transformer", "--teacher", "t"])
    ).export_precision == ("float32")
