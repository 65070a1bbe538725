"""`bench/penalty_ablation.py --quick` runs end to end on generated data and reports what it must."""

import json

import pytest

from bench import penalty_ablation
from tests.helpers.keyword_task import keyword_sentences, write_tsv

pytestmark = pytest.mark.slow


@pytest.mark.usefixtures("eager_functions")
def test_quick_ablation_trains_and_summarises(tmp_path):
    folder = tmp_path / "data" / "trec"
    folder.mkdir(parents=True)
    for split, seed in (("train", 0), ("dev", 1), ("test", 2)):
        write_tsv(folder / f"{split}.tsv", keyword_sentences(64, seed=seed, min_words=4, max_words=8))
    out = tmp_path / "ablation.json"

    # Two of the four configurations keep the test short: one structured (hop diversity measured), one classic.
    configs = ["--configs", penalty_ablation.AUTHORS, penalty_ablation.CLASSIC]
    arguments = ["--quick", "--data", str(tmp_path / "data"), "--out", str(out), "--no-glove", *configs]
    assert penalty_ablation.main(arguments) == 0

    document = json.loads(out.read_text())
    rows = {row["config"]: row for row in document["rows"]}
    assert document["quick"] and document["datasets"] == ["trec"] and document["seeds"] == 1
    assert set(rows) == {penalty_ablation.AUTHORS, penalty_ablation.CLASSIC}
    for name, row in rows.items():
        assert 0.0 <= row["test_accuracy"] <= 1.0
        encoder = row["settings"]["encoder"]
        if name == penalty_ablation.CLASSIC:
            assert "test_hop_frobenius" not in row
            continue
        assert encoder["attention_hops"] == penalty_ablation.QUICK_HOPS["attention_hops"]
        assert row["test_hop_frobenius"] >= 0.0 and 0.0 < row["test_distinct_peaks"] <= 1.0
    assert rows[penalty_ablation.AUTHORS]["settings"]["encoder"]["penalty_norm"] == "frobenius"
    report = out.with_suffix(".md").read_text()
    assert "QUICK settings" in report and "structured, authors'" in report
    assert "- structured with the authors' penalty ≥ classic attention: holds on" in report

    # --resume keeps the finished runs and trains nothing again; it refuses a file run with other settings.
    assert penalty_ablation.main([*arguments, "--resume"]) == 0
    resumed = json.loads(out.read_text())
    assert resumed["rows"] == document["rows"]
    assert len(resumed["commands"]) == 2 and resumed["total_wall_s"] >= document["total_wall_s"]  # both invocations
    with pytest.raises(SystemExit, match="--resume: .* was run with quick=True"):
        penalty_ablation.main(["--data", str(tmp_path / "data"), "--out", str(out), "--no-glove", *configs, "--resume"])


def test_full_configurations_are_the_papers():
    for name in (penalty_ablation.PENALTY_0, penalty_ablation.AUTHORS, penalty_ablation.SQUARED):
        architecture, overrides = penalty_ablation.config_overrides(name, quick=False)
        assert architecture == "structured"
        assert overrides["attention_hops"] == 30 and overrides["attention_units"] == 350
    assert penalty_ablation.CONFIGS[penalty_ablation.AUTHORS][1]["penalty_coefficient"] == 1.0
    assert penalty_ablation.CONFIGS[penalty_ablation.AUTHORS][1]["penalty_norm"] == "frobenius"
    assert penalty_ablation.CONFIGS[penalty_ablation.SQUARED][1]["penalty_norm"] == "squared"
    assert penalty_ablation.CONFIGS[penalty_ablation.PENALTY_0][1]["penalty_coefficient"] == 0.0


def test_verdicts_count_the_datasets_where_each_claim_holds():
    table = {
        ("trec", penalty_ablation.CLASSIC): {"mean": 90.0},
        ("trec", penalty_ablation.AUTHORS): {"mean": 91.0},
        ("trec", penalty_ablation.PENALTY_0): {"mean": 91.0},
        ("sst2", penalty_ablation.CLASSIC): {"mean": 82.0},
        ("sst2", penalty_ablation.AUTHORS): {"mean": 80.5},
        ("sst2", penalty_ablation.PENALTY_0): {"mean": 80.0},
    }
    lines = penalty_ablation.verdicts(table)
    assert lines[0].startswith("- structured with the authors' penalty ≥ classic attention: holds on 1 of 2")
    assert "trec +1.0, sst2 -1.5" in lines[0]
    assert lines[1].startswith("- the authors' penalty > penalty 0: holds on 1 of 2")  # a tie is not "better"
    assert lines[2].startswith("- structured with penalty 0 ≥ classic attention: holds on 1 of 2")  # no squared runs
    assert len(lines) == 3


def test_the_committed_report_is_the_json_rendered():
    path = penalty_ablation.RESULTS / f"{penalty_ablation.OUTPUT_NAME}.json"
    document = json.loads(path.read_text())
    assert not document["quick"]
    assert path.with_suffix(".md").read_text() == penalty_ablation.render(document)
