"""`bench/long_documents.py`: its table, and the committed result it renders."""

import json

from bench import long_documents


def row(config, seed, test, dev=0.9, wall=100.0):
    return {
        "dataset": "20ng",
        "config": config,
        "seed": seed,
        "test_accuracy": test,
        "test_macro_f1": test - 0.01,
        "dev_accuracy": dev,
        "best_epoch": 3,
        "epochs_run": 5,
        "train_wall_s": wall,
        "test_unknown_rate": 0.04 if seed == 0 else 0.02,
    }


def test_render_gives_each_configuration_its_mean_and_spread_over_seeds(tmp_path):
    whole, chunks = list(long_documents.CONFIGS)[:2]
    rows = [
        {
            "dataset": "20ng",
            "config": long_documents.TFIDF,
            "seed": 0,
            "test_accuracy": 0.853,
            "dev_accuracy": 0.928,
            "train_wall_s": 9.0,
        },
        row(whole, 0, 0.82),
        row(whole, 1, 0.84),
        row(chunks, 0, 0.80),
    ]
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"command": "c", "commands": ["a", "c"], "machine": "m", "rows": rows}))
    lines = long_documents.render(path).splitlines()
    assert lines[2].startswith("`a`, `c` on m.")
    assert f"| {long_documents.TFIDF} | 1 | 85.3 ± 0.0 | – | 92.8 ± 0.0 | – | – | 9 |" in lines
    assert f"| {whole} | 2 | 83.0 ± 1.4 | 0.820 | 90.0 ± 0.0 | 3/5, 3/5 | 3.0 | 100 |" in lines
    assert f"| {chunks} | 1 | 80.0 ± 0.0 | 0.790 | 90.0 ± 0.0 | 3/5 | 4.0 | 100 |" in lines


def test_the_committed_result_is_rendered_and_each_run_is_its_configurations_command():
    document = json.loads(long_documents.OUTPUT.read_text())
    assert long_documents.OUTPUT.with_suffix(".md").read_text() == long_documents.render(long_documents.OUTPUT)
    runs = [r for r in document["rows"] if r["config"] != long_documents.TFIDF]
    assert runs and len(runs) < len(document["rows"])  # the floor, measured by the same script
    for run in runs:
        _, flags = long_documents.CONFIGS[run["config"]]
        assert run["command"].startswith("embedder train " + " ".join(flags) + " --train ")
        assert f"--seed {run['seed']}" in run["command"]
        assert run["max_length"] == 512  # the 95th length percentile of 20ng's training texts, the cap


def test_the_training_guide_quotes_the_committed_test_accuracies():
    document = json.loads(long_documents.OUTPUT.read_text())
    guide = (long_documents.ROOT / "docs" / "TRAINING.md").read_text("utf-8")
    paragraph = guide.split("**Measured on 20 Newsgroups**", 1)[1].split("\n\n", 1)[0]
    for name in {r["config"] for r in document["rows"]}:
        scores = [100 * r["test_accuracy"] for r in document["rows"] if r["config"] == name]
        assert f"{sum(scores) / len(scores):.1f}" in paragraph, name
