"""`bench/defaults_sweep.py`: it trains on dev splits only, and `embedder train`'s defaults are what it chose."""

import json

import pytest

from bench import defaults_sweep
from tests.helpers.keyword_task import keyword_sentences, write_tsv


@pytest.mark.slow
@pytest.mark.usefixtures("eager_functions")
def test_quick_sweep_scores_on_a_fixed_holdout_and_resumes(tmp_path):
    folder = tmp_path / "data" / "trec"  # no dev file: the sweep holds out 10 % of train, the same for every run
    folder.mkdir(parents=True)
    write_tsv(folder / "train.tsv", keyword_sentences(80, seed=0, min_words=4, max_words=8))
    write_tsv(folder / "test.tsv", keyword_sentences(30, seed=1, min_words=4, max_words=8))
    out = tmp_path / "sweep.json"
    arguments = ["--quick", "--data", str(tmp_path / "data"), "--out", str(out), "--datasets", "trec", "--seeds", "1"]
    structured = next(iter(defaults_sweep.STRUCTURED_CONFIGS))
    arguments += ["--configs", defaults_sweep.TODAY, defaults_sweep.CANDIDATE_NAME, structured]
    assert defaults_sweep.main(arguments) == 0

    document = json.loads(out.read_text())
    rows = {row["config"]: row for row in document["rows"]}
    assert set(rows) == {defaults_sweep.TODAY, defaults_sweep.CANDIDATE_NAME, structured} and document["quick"]
    assert rows[structured]["settings"]["architecture"] == "structured"
    assert rows[defaults_sweep.CANDIDATE_NAME]["settings"]["architecture"] == "classic"
    for row in rows.values():
        assert 0.0 <= row["dev_accuracy"] <= 1.0
        assert row["settings"]["dev_path"].endswith("dev.tsv") and "test" not in row["settings"]["dev_path"]
    assert rows[defaults_sweep.TODAY]["settings"]["max_length"] == 128
    assert rows[defaults_sweep.TODAY]["settings"]["word_vectors"] is None
    assert rows[defaults_sweep.CANDIDATE_NAME]["settings"]["word_vectors"] == "glove-50d"
    assert rows[defaults_sweep.CANDIDATE_NAME]["settings"]["max_length"] == 16  # 4-8 words: the 16-token floor

    assert defaults_sweep.main([*arguments, "--resume"]) == 0  # nothing left to run: the rows stay as they were
    assert json.loads(out.read_text())["rows"] == document["rows"]
    assert defaults_sweep.main(["--render", "--out", str(out)]) == 0
    assert "| trec | candidate | 1 |" in out.with_suffix(".md").read_text()
    assert "test_rows" not in json.loads(out.read_text())  # choosing never read the test file

    # --test: once chosen, the choice and the old defaults are scored on test; the dev rows stay as they were.
    chosen = defaults_sweep.choose(defaults_sweep.summary(document["rows"]))
    assert defaults_sweep.main([*arguments[: arguments.index("--configs")], "--test"]) == 0
    after = json.loads(out.read_text())
    assert after["rows"] == document["rows"]
    configs = {defaults_sweep.TODAY, chosen, defaults_sweep.STRUCTURED_BEFORE, structured}
    assert {r["config"] for r in after["test_rows"]} == configs
    before = next(r for r in after["test_rows"] if r["config"] == defaults_sweep.STRUCTURED_BEFORE)["settings"]
    assert (before["architecture"], before["encoder"]["penalty_norm"], before["max_length"]) == (
        "structured",
        "squared",
        128,
    )
    assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in after["test_rows"])
    assert document["commands"] == ["python bench/defaults_sweep.py " + " ".join(arguments)]  # each run's command
    assert after["commands"] == document["commands"] and after["test_commands"][0].endswith("--test")
    assert defaults_sweep.main(["--render", "--out", str(out)]) == 0
    assert "## Test accuracy, measured once after the choice" in out.with_suffix(".md").read_text()


def test_choose_takes_the_best_mean_over_datasets_among_complete_configurations():
    table = [
        {"dataset": "a", "config": "x", "mean": 90.0},
        {"dataset": "b", "config": "x", "mean": 80.0},
        {"dataset": "a", "config": "y", "mean": 89.0},
        {"dataset": "b", "config": "y", "mean": 82.0},
        {"dataset": "a", "config": "z", "mean": 99.0},  # not run on b: not a candidate
    ]
    assert defaults_sweep.choose(table) == "y"


def test_each_architecture_gets_its_own_choice():
    structured = list(defaults_sweep.STRUCTURED_CONFIGS)
    table = [
        {"dataset": "a", "config": "15 epochs", "mean": 90.0},
        {"dataset": "a", "config": structured[0], "mean": 95.0},  # better, but another architecture's setting
        {"dataset": "a", "config": structured[1], "mean": 91.0},
    ]
    assert defaults_sweep.choose(table) == "15 epochs"
    assert defaults_sweep.choose(table, "structured") == structured[0]
    assert defaults_sweep.choose(table[:1], "structured") is None


def test_train_defaults_are_the_configuration_the_committed_sweep_chose():
    document = json.loads(defaults_sweep.OUTPUT.read_text())
    assert not document["quick"] and {r["dataset"] for r in document["rows"]} >= {"trec", "sst2"}
    table = defaults_sweep.summary(document["rows"])
    assert defaults_sweep.default_differences(defaults_sweep.choose(table)) == []
    for architecture in ("structured", "transformer"):  # their own settings, `TRAIN_ENCODER_DEFAULTS`' values
        chosen = defaults_sweep.choose(table, architecture)
        assert chosen is not None and defaults_sweep.default_differences(chosen) == [], architecture


def test_the_committed_table_is_the_json_rendered():
    path = defaults_sweep.OUTPUT
    assert path.with_suffix(".md").read_text() == defaults_sweep.render(path)
