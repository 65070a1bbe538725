"""bench/compare.py's "against the targets" table chooses each dataset's configuration on dev, never on test."""

import json

from bench import compare


def _row(config, seed, dev, test):
    return {"config": config, "seed": seed, "dev_accuracy": dev, "test_accuracy": test}


def test_the_configuration_is_chosen_on_dev_even_where_test_disagrees():
    rows = [_row("a", 0, 0.90, 0.80), _row("a", 1, 0.88, 0.82), _row("b", 0, 0.85, 0.95), _row("b", 1, 0.86, 0.93)]
    rows.append({"config": "ensemble: all 4 encoder runs + TF-IDF", "seed": 0, "test_accuracy": 0.9})
    lines = compare.targets_section({"trec": {"rows": rows}})
    (row,) = [line for line in lines if line.startswith("| trec")]
    assert "| a (2) | 89.0 | 81.0 ± 1.4 | all 4 encoder runs + TF-IDF: 90.0 | -13.0 |" in row


def test_stsb_is_chosen_on_its_training_holdout():
    rows = [
        {"config": "x", "seed": 0, "holdout_spearman": 0.7, "dev_spearman": 0.60},
        {"config": "y", "seed": 0, "holdout_spearman": 0.6, "dev_spearman": 0.75},
    ]
    (row,) = [line for line in compare.targets_section({"stsb": {"rows": rows}}) if line.startswith("| stsb")]
    assert "| x (1) | 70.0 | 60.0 ± 0.0 |" in row


def test_results_md_holds_the_table_the_json_gives():
    documents = {
        name: json.loads((compare.RESULTS / f"{name}.json").read_text())
        for name in compare.DATASETS
        if (compare.RESULTS / f"{name}.json").is_file()
    }
    assert "\n".join(compare.targets_section(documents)) in compare.REPORT.read_text()


def test_results_md_holds_the_structured_section_the_json_gives():
    section = compare.structured_section()
    assert any(line.startswith("- structured with the authors' penalty ≥ classic attention") for line in section)
    assert "\n".join(section) in compare.REPORT.read_text()


def test_results_md_holds_the_pair_section_the_json_gives():
    section = compare.pairs_section()
    assert any(line.startswith("`embedder train --pairs` with no tuning flags (classic)") for line in section)
    assert "\n".join(section) in compare.REPORT.read_text()
