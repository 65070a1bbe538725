"""Fine-tuning from the distilled student vs training from scratch (bench/distill.py's ``finetune`` stage).

For SST-2 and TREC, in one run and with the same settings (epochs, batch, learning rate, seed, early stopping
on dev: SST-2's dev split; for TREC a seeded 10 % of its training split, as `embedder train` carves it):

- **from scratch**: `training.train.train`, the best student's encoder architecture and sizes, GloVe-50d input
  vectors (the vocabulary built from the task's training text, extended with 20,000 frequent GloVe words);
- **from the student**: `training.finetune.finetune` on the distilled model: its encoder and vocabulary, a new
  classification head; the encoder is frozen for the first epoch while the fresh head settles.

Test accuracy comes from the exported model's `predict` on the test split.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

logger = logging.getLogger("bench.distill")

TASKS = {"sst2": ("train.tsv", "dev.tsv", "test.tsv"), "trec": ("train.tsv", None, "test.tsv")}
SHARED = dict(epochs=8, batch_size=32, learning_rate=1e-3, patience=3, seed=0)


def _test_accuracy(embedder, test_path: Path) -> float:
    from bench.distill_measures import read_tsv

    rows = read_tsv(test_path)
    predicted = embedder.predict([r["text"] for r in rows], batch_size=128)
    return float(np.mean([p == r["label"] for p, r in zip(predicted, rows)]) * 100)


def finetune_comparison(bench) -> dict | None:
    """{"tasks": {task: {"scratch", "distilled", seconds...}}, "student": name}; None when no student exists."""
    from bench.distill_measures import DATA
    from training.config import FinetuneConfig, TrainConfig
    from training.finetune import finetune
    from training.train import train

    quality = {k: v for k, v in bench.results.get("quality", {}).items() if k != "teacher"}
    if not quality:
        logger.warning("no student has been measured yet; run the students and quality stages first")
        return None
    best = max(quality, key=lambda k: quality[k]["stsb_dev_spearman"])
    student = bench.results["students"][best]
    settings = student["settings"]
    tasks = {}
    for task, (train_file, dev_file, test_file) in TASKS.items():
        if bench.quick:
            continue  # the quick smoke run only checks that the student exports; fine-tuning takes minutes
        folder = DATA / task
        common = dict(
            SHARED, train_path=str(folder / train_file), dev_path=str(folder / dev_file) if dev_file else None
        )
        runs = {}
        scratch_config = TrainConfig(
            architecture=settings["architecture"],
            encoder=settings["encoder"],
            max_length=settings["max_length"],
            word_vectors="glove-50d",
            extend_vocabulary=20000,
            **common,
        )
        distilled_config = FinetuneConfig(source=str(Path(student["version_dir"]).parent), freeze_epochs=1, **common)
        for kind, run, config in (("scratch", train, scratch_config), ("distilled", finetune, distilled_config)):
            out = bench.work / "finetune" / f"{task}-{kind}"
            start = time.perf_counter()
            result = run(config, out, work_dir=out.with_name(out.name + ".run"), overwrite=True, verbose=2)
            runs[kind] = _test_accuracy(result.embedder, folder / test_file)
            runs[f"{kind}_dev"] = float(result.dev_score) * 100
            runs[f"{kind}_best_epoch"] = result.best_epoch
            runs[f"{kind}_wall_s"] = time.perf_counter() - start
            logger.info("%s %s: test %.1f", task, kind, runs[kind])
        tasks[task] = runs
    return {
        "student": best,
        "settings": SHARED,
        "tasks": tasks,
        "note": (
            f"Both columns use the {best} student's encoder sizes and the same settings ({SHARED}); early stopping "
            "on dev accuracy, test accuracy of the kept epoch. From scratch: GloVe-50d input vectors and a "
            "vocabulary from the task's training text; from the student: its distilled encoder and vocabulary, "
            "the encoder frozen for the first epoch."
        ),
    }
