"""The CLI layer: flags become settings, results are printed, and user errors exit with status 2 and one line."""

import json

import numpy as np
import pytest

from embedder.cli import main
from tests.helpers.keyword_task import write_tsv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cli_model(keyword_files, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "models" / "keyword"
    arguments = "train --arch transformer --epochs 2 --batch-size 32 --max-length 24 --learning-rate 0.01 --quiet"
    encoder = ["--encoder", "hidden_dim=8", "num_heads=2", "num_layers=1", "--head", "hidden_layers=0"]
    files = ["--train", keyword_files["train"], "--dev", keyword_files["dev"], "--out", str(out)]
    code = main(arguments.split() + encoder + files)
    assert code == 0
    return out


def test_train_then_evaluate_json(cli_model, keyword_files, tmp_path, capsys):
    from embedder.sentence_embedder import SentenceEmbedder

    assert (cli_model / "1" / "saved_model.pb").is_file()
    settings = json.loads((cli_model / "1" / "assets.extra" / "run_config.json").read_text())["settings"]
    assert settings["encoder"] == {"hidden_dim": 8, "num_heads": 2, "num_layers": 1} and settings["epochs"] == 2
    test = write_tsv(tmp_path / "test.tsv", [(label, text) for label, text, _ in keyword_files["test"]])
    capsys.readouterr()
    assert main(["evaluate", str(cli_model), test, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    # The expectation from the model's own predictions, counted here (not by the evaluate function the CLI calls).
    gold = [label for label, _, _ in keyword_files["test"]]
    predicted = list(SentenceEmbedder.load(cli_model).predict([text for _, text, _ in keyword_files["test"]]))
    labels = printed["labels"]
    assert sorted(labels) == ["animal", "fruit", "music"]
    confusion = [[sum(g == a and p == b for g, p in zip(gold, predicted)) for b in labels] for a in labels]
    assert printed["examples"] == 100 and printed["confusion"] == confusion
    assert printed["accuracy"] == pytest.approx(np.mean(np.array(gold) == np.array(predicted)))
    assert main(["evaluate", str(cli_model), test]) == 0
    assert "macro-F1" in capsys.readouterr().out


def test_explain_writes_html_and_png(cli_model, tmp_path, capsys):
    assert main(["explain", "--model", str(cli_model), "apple w1 w2", "w3 tiger", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "explain.html").is_file() and (tmp_path / "sentence-2.png").is_file()
    capsys.readouterr()
    assert main(["explain", "--model", str(cli_model), "apple w1", "--out", str(tmp_path / "j"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[0]["tokens"] == ["apple", "w1"] and len(printed[0]["weights"]) == 2  # two heads


@pytest.mark.parametrize(
    "content, message",
    [
        (b"label\tsentence\nfruit\tapple\n", "no column 'text' in the header"),
        (b"label\ttext\n", "holds no examples"),
        (b"label\ttext\nfruit\tapple\nfruit\tcaf\xe9\n", "line 3: not valid UTF-8"),
    ],
)
def test_bad_training_data_exits_2_with_the_reason(tmp_path, capsys, content, message):
    path = tmp_path / "train.tsv"
    path.write_bytes(content)
    code = main(["train", "--arch", "classic", "--train", str(path), "--out", str(tmp_path / "m")])
    assert code == 2
    assert message in capsys.readouterr().err


def test_label_only_in_dev_and_missing_settings_exit_2(keyword_files, tmp_path, capsys):
    dev = write_tsv(tmp_path / "dev.tsv", [("vegetable", "leek")])
    assert (
        main(
            [
                "train",
                "--arch",
                "classic",
                "--train",
                keyword_files["train"],
                "--dev",
                dev,
                "--out",
                str(tmp_path / "m"),
            ]
        )
        == 2
    )
    assert "'vegetable' appear only in the dev data" in capsys.readouterr().err
    assert main(["train", "--train", keyword_files["train"], "--out", str(tmp_path / "m")]) == 2
    assert "architecture" in capsys.readouterr().err
    assert (
        main(
            [
                "train",
                "--arch",
                "classic",
                "--train",
                keyword_files["train"],
                "--out",
                str(tmp_path / "m"),
                "--encoder",
                "rnn_units",
            ]
        )
        == 2
    )
    assert "--encoder expects KEY=VALUE" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "absent"), keyword_files["dev"]]) == 2


def test_train_takes_the_penalty_norm_and_the_export_records_it(keyword_files, tmp_path, capsys):
    base = ["train", "--arch", "structured", "--train", keyword_files["train"], "--dev", keyword_files["dev"]]
    tiny = ["--epochs", "1", "--max-length", "12", "--quiet", "--word-vectors", "none", "--head", "hidden_layers=0"]
    tiny += ["--encoder"]
    tiny += ["embedding_dim=8", "rnn_units=4", "attention_units=4", "attention_hops=2"]
    assert main([*base, *tiny, "penalty_norm=l1", "--out", str(tmp_path / "bad")]) == 2
    assert "argument `penalty_norm`, expected one of 'frobenius', 'squared'" in capsys.readouterr().err
    assert main([*base, *tiny, "penalty_norm=squared", "--out", str(tmp_path / "m")]) == 0
    metadata = json.loads((tmp_path / "m" / "1" / "assets.extra" / "embedder.json").read_text())
    assert metadata["encoder_config"]["penalty_norm"] == "squared"
