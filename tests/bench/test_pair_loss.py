"""`bench/pair_loss.py`: its choice rule, and the committed result that `FinetuneConfig.pair_loss` follows."""

import json

from bench import pair_loss
from training.config import FinetuneConfig


def row(config, loss, seed, holdout, dev=0.5):
    return {"config": config, "pair_loss": loss, "seed": seed, "holdout_spearman": holdout, "dev_spearman": dev}


def test_choose_takes_the_best_mean_holdout_over_the_architectures_where_both_ran():
    rows = [
        row("classic", "cosine_mse", 0, 0.70),
        row("classic", "cosine_mse", 1, 0.72),
        row("classic", "cosent", 0, 0.74),
        row("classic", "cosent", 1, 0.74),
        row("transformer", "cosine_mse", 0, 0.70),
        row("transformer", "cosent", 0, 0.64),  # mean over both: cosine_mse 70.5, cosent 69.0
        row("structured (p=0.0)", "cosent", 0, 0.99),  # one objective only: not a comparison, not counted
    ]
    assert pair_loss.choose(rows) == "cosine_mse"
    assert pair_loss.choose(rows[:4]) == "cosent"
    table = pair_loss.summary(rows)
    assert table[("classic", "cosine_mse")]["seeds"] == 2
    assert abs(table[("classic", "cosine_mse")]["holdout"][0] - 71.0) < 1e-9


def test_the_committed_result_is_rendered_and_chooses_the_default_pair_loss():
    path = pair_loss.RESULTS / f"{pair_loss.OUTPUT_NAME}.json"
    document = json.loads(path.read_text())
    assert not document["quick"]
    preset = [r for r in document["rows"] if not r["config"].endswith(pair_loss.DEFAULTS_SUFFIX)]
    assert {(r["config"], r["seed"]) for r in preset if r["pair_loss"] == "cosent"} == {
        (r["config"], r["seed"]) for r in preset if r["pair_loss"] == "cosine_mse"
    }  # paired: every run of one objective has its twin
    assert path.with_suffix(".md").read_text() == pair_loss.render(document)
    assert FinetuneConfig(source="m", train_path="t", pairs=True).pair_loss == pair_loss.choose(document["rows"])
