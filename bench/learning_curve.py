"""Few-shot learning curve (issue 13): fine-tuning the shipped `default` model, its frozen vectors and TF-IDF, with
8, 16, 64 and 256 labelled examples per class on TREC and SST-2.

For each dataset, number of examples per class k and seed (0, 1, 2), k examples of every class are drawn from the
training pool with the seed (a class with fewer takes all of them; one seed's samples are nested, the k = 8 sample
lies inside the k = 16 one), and four arms are measured on that same sample, in the same run:

- ``finetune``: `embedder finetune --from default` run exactly as bench/finetune_from_default.py runs it
  (`finetune_from_default.run_default`), with the settings its dev selection chose for the dataset (the candidate
  with the best dev accuracy in docs/results/finetune-from-default.json: TREC lr 3e-4, 12 epochs, cosine; SST-2
  lr 1e-3, 12 epochs, cosine, no freeze). A tiny training set has too few steps in 12 epochs to learn anything
  (k = 8 on SST-2 is one batch an epoch), so the run gets at least ``MIN_STEPS`` = 300 optimisation steps: the
  training file holds each sampled example `repeats` times, the fewest that give 12 epochs of at least 300 steps in
  all (1 where there are already enough; k = 8 on SST-2: 49 times, 25 batches an epoch). The settings are otherwise
  unchanged, so early-stopping patience, frozen-encoder epochs and the cosine schedule count these longer epochs,
  and dev accuracy is measured (and the best epoch kept) once every `repeats` passes over the sample rather than
  after each: measuring the 872 SST-2 dev sentences after each of hundreds of passes would cost far more than the
  training on the 2-core machine. The vocabulary grows exactly as without repeats (``new_word_min_count`` is
  multiplied by `repeats`, as every word count is).
- ``setfit``: the same fine-tuning run with SetFit's contrastive stage first (`embedder finetune --few-shot`,
  `training.few_shot`): one epoch on 20 rounds of pairs built from the sample's labels (each distinct example once
  per round with one example of its class, score 1, and one of another class, score 0), then the run above from
  the encoder that stage trained. It isolates what the pairs add.
- ``frozen``: the shipped `default` model's vectors (``embedder.pretrained.load("default").encode``), standardised,
  and a logistic regression whose C is chosen on dev from a small grid (`distill_measures.transfer_accuracy`, the
  frozen-transfer measure of bench/pretrained.py).
- ``tfidf``: TF-IDF of word uni- and bigrams (`compare.tfidf_vectorizer`) and a logistic regression, C chosen on dev.

Dev data, for every choice of every arm: SST-2's dev file; for TREC a seeded stratified 10 % of its training split,
carved as `embedder finetune` (and so bench/finetune_from_default.py) carves it (`training.data.split_holdout` with
the run's seed); the remaining 90 % is the pool the k examples are drawn from. The test file is only measured,
never used to choose. Reported: test accuracy.

Results are written to the JSON after every run, with the plot (docs/img/learning-curve.png) and the table in
docs/PRETRAINED.md; a second invocation skips the (dataset, k, seed, arm) runs already there (resumable).

Usage:
    python bench/learning_curve.py [--arms frozen tfidf] [--datasets trec] [--ks 8 16] [--seeds 0]
    python bench/learning_curve.py --render                        # plot + doc table from the JSON only
    python bench/learning_curve.py --quick --out /tmp/curve.json   # TREC, k = 8, seed 0, 200 dev/test rows, 1 epoch
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import compare, doc_markers, finetune_from_default  # noqa: E402
from bench import distill_measures as measures  # noqa: E402
from training.data import LabelledExamples, read_labelled, split_holdout, write_labelled  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "learning-curve.json"
PLOT = ROOT / "docs" / "img" / "learning-curve.png"
DOC = ROOT / "docs" / "PRETRAINED.md"
BEGIN = "<!-- learning-curve:begin (written by bench/learning_curve.py; edits inside are overwritten) -->"
END = "<!-- learning-curve:end -->"
DATASETS = ("trec", "sst2")
KS = (8, 16, 64, 256)
SEEDS = (0, 1, 2)
ARMS = ("finetune", "setfit", "frozen", "tfidf")
#: Arms measured beside the table's: the two fine-tuning arms with every word of the sample added to the vocabulary
#: (``new_word_min_count`` 1 instead of 2), which separates what SetFit's pairs add from what rare words add.
EXTRA_ARMS = ("finetune_all_words", "setfit_all_words")
ARM_NAMES = {
    "finetune": "fine-tuned from default",
    "setfit": "same, SetFit pairs first",
    "finetune_all_words": "fine-tuned, every word of the sample added",
    "setfit_all_words": "SetFit pairs first, every word of the sample added",
    "frozen": "frozen default + logistic regression",
    "tfidf": "TF-IDF + logistic regression",
}
MIN_STEPS = 300
#: The ``setfit`` arm's rounds of label pairs (`embedder finetune --few-shot`'s default, SetFit's `num_iterations`).
SETFIT_ROUNDS = 20
TFIDF_C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
QUICK_ROWS = 200
logger = logging.getLogger("bench.learning_curve")


# ------------------------------------------------------------------------------------------------------- data
def splits(dataset: str, seed: int, limit: int | None = None) -> tuple[LabelledExamples, LabelledExamples, dict]:
    """(training pool, dev examples, files) of `dataset` for `seed`; `limit` cuts dev and test to that many rows.

    ``files`` holds the test file's path (and the dev file's, where the dataset has one).
    """
    with tempfile.TemporaryDirectory() as folder:
        paths = compare.dataset_files(dataset, None, Path(folder))
    pool = read_labelled(paths["train"])
    if "dev" in paths:
        dev = read_labelled(paths["dev"])
    else:
        pool, dev = split_holdout(pool, 0.1, seed)  # as `finetune` carves it when given no dev file
    if limit:
        dev = dev.subset(range(min(limit, len(dev))))
    return pool, dev, paths


def sample_per_class(examples: LabelledExamples, k: int, seed: int) -> LabelledExamples:
    """`k` examples of every class (all of a class with fewer), drawn with `seed`, in the pool's order.

    One seed's samples are nested: each class's examples are a prefix of one seeded permutation of that class.
    """
    if k < 1:
        raise ValueError(f"Received an invalid value for argument `k`, expected a positive integer. Received: k={k}")
    rng = np.random.default_rng(seed)
    labels = np.array(examples.labels)
    chosen: list[int] = []
    for label in examples.label_set:
        members = np.flatnonzero(labels == label)
        chosen.extend(rng.permutation(members)[:k].tolist())
    return examples.subset(sorted(chosen))


# ------------------------------------------------------------------------------------------------------- arms
def selected_settings(dataset: str, results: Path = finetune_from_default.RESULTS) -> tuple[str, dict]:
    """The fine-tuning candidate with the best dev accuracy in finetune_from_default's dev selection, and its
    settings."""
    trials = json.loads(results.read_text())["dev_selection"][dataset]
    name = max(trials, key=lambda candidate: trials[candidate]["dev_accuracy"])
    return name, dict(finetune_from_default.CANDIDATES[name])


def repeats(settings: dict, train_examples: int, min_steps: int = MIN_STEPS) -> int:
    """The fewest times the training file holds each example for `settings` to make at least `min_steps` steps."""
    times = 1
    while -(-train_examples * times // settings["batch_size"]) * settings["epochs"] < min_steps:
        times += 1
    return times


def finetune_arm(
    dataset, seed, sample, dev, files, work: Path, quick: bool, few_shot: int = 0, every_word: bool = False
) -> dict:
    from training.config import NEW_WORD_MIN_COUNT

    name, settings = selected_settings(dataset)
    if few_shot:
        settings = dict(settings, few_shot_iterations=few_shot)
    if every_word:
        settings = dict(settings, new_word_min_count=1)
    times = repeats(settings, len(sample))
    min_count = settings.get("new_word_min_count", NEW_WORD_MIN_COUNT)  # the arms' own: 2, or 1 for "_all_words"
    settings = dict(settings, new_word_min_count=min_count * times)  # every word count is `times` larger
    repeated = LabelledExamples(sample.texts * times, sample.labels * times)
    run_files = {
        "train": write_labelled(repeated, work / f"{dataset}-train-{seed}-{len(sample)}.tsv"),
        "dev": write_labelled(dev, work / f"{dataset}-dev-{seed}.tsv"),
        "test": files["test"],
    }
    row = finetune_from_default.run_default(dataset, seed, run_files, quick, work, settings)
    return {
        "test_accuracy": row["test_accuracy"],
        "dev_accuracy": row["dev_accuracy"],
        "best_epoch": row["best_epoch"],
        "train_wall_s": row["train_wall_s"],
        "repeats": times,
        "planned_steps": -(-len(repeated) // settings["batch_size"]) * row["settings"]["epochs"],
        "selected": name,
        **({"contrastive_pairs": row["contrastive_pairs"]} if "contrastive_pairs" in row else {}),
        "settings": {k: v for k, v in row["settings"].items() if k not in ("train_path", "dev_path")},
    }


class FrozenVectors:
    """The shipped model's vectors of every sentence asked for, each encoded once per process."""

    def __init__(self, name: str = "default"):
        from embedder import pretrained

        self.embedder = pretrained.load(name)
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, *groups) -> dict[str, np.ndarray]:
        missing = list(dict.fromkeys(t for group in groups for t in group if t not in self.vectors))
        if missing:
            encoded = self.embedder.encode(missing, batch_size=64, show_progress_bar=False)
            self.vectors.update(zip(missing, encoded))
        return self.vectors


def frozen_arm(sample, dev, test, vectors: FrozenVectors, seed: int) -> dict:
    splits_ = {name: (list(e.texts), list(e.labels)) for name, e in (("train", sample), ("dev", dev), ("test", test))}
    result = measures.transfer_accuracy(vectors(sample.texts, dev.texts, test.texts), splits_, seed=seed)
    return {"test_accuracy": result["test"] / 100, "dev_accuracy": result["dev"] / 100, "C": result["C"]}


def tfidf_arm(sample, dev, test, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression

    vectorizer = compare.tfidf_vectorizer()
    x_train = vectorizer.fit_transform(sample.texts)
    x_dev, x_test = vectorizer.transform(dev.texts), vectorizer.transform(test.texts)
    models, dev_scores = {}, {}
    for c in TFIDF_C_GRID:
        models[c] = LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x_train, sample.labels)
        dev_scores[c] = float((models[c].predict(x_dev) == np.array(dev.labels)).mean())
    best = max(TFIDF_C_GRID, key=lambda c: (dev_scores[c], -c))
    test_accuracy = float((models[best].predict(x_test) == np.array(test.labels)).mean())
    return {"test_accuracy": test_accuracy, "dev_accuracy": dev_scores[best], "C": best}


# ---------------------------------------------------------------------------------------------------- report
def is_done(document: dict, dataset: str, k: int, seed: int, arm: str) -> bool:
    return any((r["dataset"], r["k"], r["seed"], r["arm"]) == (dataset, k, seed, arm) for r in document.get("rows", []))


def summary(rows: list[dict]) -> dict:
    """{dataset: {arm: {k: {mean, std, seeds}}}}: test accuracy × 100 over the seeds measured (k as a string)."""
    values: dict = {}
    for row in rows:
        cell = values.setdefault(row["dataset"], {}).setdefault(row["arm"], {}).setdefault(str(row["k"]), [])
        cell.append(row["test_accuracy"] * 100)
    return {
        dataset: {
            arm: {
                k: {
                    "mean": statistics.mean(v),
                    "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                    "seeds": len(v),
                }
                for k, v in sorted(cells.items(), key=lambda item: int(item[0]))
            }
            for arm, cells in arms.items()
        }
        for dataset, arms in values.items()
    }


def dev_gains(rows: list[dict], arm: str = "setfit", baseline: str = "finetune") -> dict[int, dict[str, float]]:
    """{k: {dataset: dev accuracy × 100 of `arm` minus `baseline` (means over seeds), "mean": their mean}} for every
    k where both arms were measured on every dataset."""
    gains: dict[int, dict[str, float]] = {}
    for k in sorted({r["k"] for r in rows if r["arm"] == arm}):
        per_dataset = {}
        for dataset in DATASETS:
            arms = {
                name: [r["dev_accuracy"] for r in rows if (r["dataset"], r["k"], r["arm"]) == (dataset, k, name)]
                for name in (arm, baseline)
            }
            if all(arms.values()):
                per_dataset[dataset] = 100 * (statistics.mean(arms[arm]) - statistics.mean(arms[baseline]))
        if len(per_dataset) == len(DATASETS):
            gains[k] = per_dataset | {"mean": statistics.mean(per_dataset.values())}
    return gains


def threshold(rows: list[dict], arm: str = "setfit", baseline: str = "finetune") -> int | None:
    """The largest measured examples-per-class where `arm` gained dev accuracy over `baseline` on average over the
    datasets: up to it, `embedder finetune` does what `arm` does by default (`training.config`'s
    FEW_SHOT_MAX_PER_CLASS for "setfit", EVERY_WORD_MAX_PER_CLASS for "finetune_all_words")."""
    gaining = [k for k, gain in dev_gains(rows, arm, baseline).items() if gain["mean"] > 0]
    return max(gaining) if gaining else None


def few_shot_gains(rows: list[dict]) -> dict[int, dict[str, float]]:
    return dev_gains(rows, "setfit", "finetune")


def few_shot_threshold(rows: list[dict]) -> int | None:
    return threshold(rows, "setfit", "finetune")


#: The dev comparisons under the table: (arm, baseline, what `embedder finetune` does by default up to the size).
DECISIONS = (
    ("setfit", "finetune", "runs SetFit's stage"),
    ("finetune_all_words", "finetune", "adds every word of the training texts (new_word_min_count 1)"),
)


def table(document: dict) -> str:
    """Test accuracy % (mean ± std over seeds) per dataset and k, one column per arm; a cell with fewer than three
    seeds says how many (one seed: no std), one not measured is "–". `EXTRA_ARMS` get columns once measured."""
    found = document.get("summary", {})
    measured = {arm for arms in found.values() for arm in arms}
    columns = list(ARMS) + [arm for arm in EXTRA_ARMS if arm in measured]
    header = " | ".join(ARM_NAMES[arm] for arm in columns)
    lines = [f"| dataset | examples per class | {header} |", "|---|---|" + "---|" * len(columns)]
    for dataset in DATASETS:
        for k in KS:
            cells = []
            for arm in columns:
                cell = found.get(dataset, {}).get(arm, {}).get(str(k))
                if cell is None:
                    cells.append("–")
                elif cell["seeds"] == 1:  # no spread to show
                    cells.append(f"{cell['mean']:.1f} (1 seed)")
                else:
                    note = "" if cell["seeds"] >= len(SEEDS) else f" ({cell['seeds']} seeds)"
                    cells.append(f"{cell['mean']:.1f} ± {cell['std']:.1f}{note}")
            lines.append(f"| {dataset} | {k} | {' | '.join(cells)} |")
    rows = document.get("rows", [])
    for arm, baseline, default in DECISIONS:
        gains = dev_gains(rows, arm, baseline)
        if not gains:
            continue
        described = "; ".join(
            f"{k} per class: " + ", ".join(f"{name} {value:+.1f}" for name, value in gain.items())
            for k, gain in gains.items()
        )
        lines += [
            "",
            f"{ARM_NAMES[arm]}, dev accuracy minus {ARM_NAMES[baseline]}'s (means over seeds): {described}. Largest "
            f"size with a mean gain, up to which `embedder finetune` {default} by default: "
            f"{threshold(rows, arm, baseline)} per class.",
        ]
    return "\n".join(lines)


def plot(document: dict, path: Path = PLOT) -> Path:
    """Test accuracy against examples per class (log x), mean ± std band per arm, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = document.get("summary", {})
    figure, axes = plt.subplots(1, len(DATASETS), figsize=(11, 4))
    for axis, dataset in zip(axes, DATASETS):
        for arm, color in zip(ARMS, ("#c44e52", "#8172b2", "#4c72b0", "#55a868")):
            cells = found.get(dataset, {}).get(arm, {})
            if not cells:
                continue
            ks = sorted(int(k) for k in cells)
            mean = np.array([cells[str(k)]["mean"] for k in ks])
            std = np.array([cells[str(k)]["std"] for k in ks])
            axis.plot(ks, mean, "o-", color=color, label=ARM_NAMES[arm])
            axis.fill_between(ks, mean - std, mean + std, color=color, alpha=0.2)
        axis.set_xscale("log", base=2)
        axis.set_xticks(list(KS), [str(k) for k in KS])
        axis.set_xlabel("labelled examples per class")
        axis.set_ylabel("test accuracy %")
        axis.set_title(dataset.upper() if dataset == "trec" else "SST-2")
        axis.grid(alpha=0.3)
        if axis.lines:
            axis.legend(loc="lower right", fontsize=8)
    figure.suptitle("Few-shot learning curve (mean ± std over seeds)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def save(document: dict, out: Path) -> None:
    document["summary"] = summary(document["rows"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=1, sort_keys=True, default=str) + "\n")


def render(document: dict, plot_path: Path = PLOT, doc: Path = DOC) -> None:
    document["summary"] = summary(document["rows"])
    plot(document, plot_path)
    doc_markers.update_doc(doc, BEGIN, END, table(document))


# ------------------------------------------------------------------------------------------------------- main
def run(document: dict, out: Path, datasets, ks, seeds, arms, quick: bool, publish) -> None:
    """Measures every (dataset, k, seed, arm) not yet in `document`, saving (and `publish`ing) after each."""
    vectors = None
    limit = QUICK_ROWS if quick else None
    with tempfile.TemporaryDirectory(prefix="learning-curve-") as folder:
        work = Path(folder)
        for dataset in datasets:
            for seed in seeds:
                todo = [(k, arm) for k in ks for arm in arms if not is_done(document, dataset, k, seed, arm)]
                if not todo:
                    continue
                pool, dev, files = splits(dataset, seed, limit)
                test = read_labelled(files["test"])
                if limit:
                    test = test.subset(range(min(limit, len(test))))
                    files["test"] = write_labelled(test, work / f"{dataset}-test.tsv")
                for k, arm in todo:
                    sample = sample_per_class(pool, k, seed)
                    start = time.perf_counter()
                    if arm.startswith(("finetune", "setfit")):
                        few_shot = SETFIT_ROUNDS if arm.startswith("setfit") else 0
                        every_word = arm.endswith("_all_words")
                        measured = finetune_arm(dataset, seed, sample, dev, files, work, quick, few_shot, every_word)
                    elif arm == "frozen":
                        vectors = vectors or FrozenVectors()
                        measured = frozen_arm(sample, dev, test, vectors, seed)
                    else:
                        measured = tfidf_arm(sample, dev, test, seed)
                    row = {
                        "dataset": dataset,
                        "k": k,
                        "seed": seed,
                        "arm": arm,
                        "train_examples": len(sample),
                        "dev_examples": len(dev),
                        "test_examples": len(test),
                        "wall_s": time.perf_counter() - start,
                        **measured,
                    }
                    logger.info(
                        "%s k=%d seed %d %s: test %.1f (dev %.1f)",
                        dataset,
                        k,
                        seed,
                        arm,
                        row["test_accuracy"] * 100,
                        row["dev_accuracy"] * 100,
                    )
                    document["rows"].append(row)
                    save(document, out)
                    publish(document)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS + EXTRA_ARMS)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--ks", nargs="+", type=int, default=list(KS), choices=KS)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), choices=SEEDS)
    parser.add_argument("--quick", action="store_true", help="smoke run: TREC, k=8, seed 0, 200 dev/test rows")
    parser.add_argument("--render", action="store_true", help="only write the plot and the doc table from the JSON")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out.resolve() == RESULTS.resolve():
        parser.error("--quick writes a smoke result: give it another --out than docs/results/learning-curve.json")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    document = json.loads(args.out.read_text()) if args.out.is_file() else {"rows": []}
    official = not args.quick and args.out.resolve() == RESULTS.resolve()

    def publish(document: dict) -> None:
        if official:
            render(document)

    if not args.render:
        document.update(quick=args.quick, min_steps=MIN_STEPS, tfidf_c_grid=TFIDF_C_GRID, frozen_c_grid=measures.C_GRID)
        document.setdefault("commands", []).append(
            "python bench/learning_curve.py " + " ".join(argv if argv is not None else sys.argv[1:])
        )
        datasets, ks, seeds = (["trec"], [8], [0]) if args.quick else (args.datasets, args.ks, args.seeds)
        run(document, args.out, datasets, ks, seeds, args.arms, args.quick, publish)
        save(document, args.out)
    if args.render or official:
        render(document)
    print(table(dict(document, summary=summary(document["rows"]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
