"""Lin et al.'s penalty as its authors ran it: penalty 0 against their setting, and against the squared norm.

docs/RESULTS.md found structured self-attention with its penalty *below* one attention vector on every dataset,
with the penalty ‖AAᵀ − I‖²_F at 1.0 and 4 hops. The authors' released code penalises the Frobenius norm itself
(not its square) and the paper classifies with r = 30 hops and d_a = 350. This script trains, per dataset and seed:

- ``classic``: one attention vector (BiLSTM), the reference of the claim "structured ≥ classic";
- ``structured, penalty 0``: r = 30, d_a = 350, no penalty;
- ``structured, authors'``: r = 30, d_a = 350, ``penalty_norm="frobenius"``, coefficient 1.0;
- ``structured, squared``: r = 30, d_a = 350, ``penalty_norm="squared"``, coefficient 1.0 (our old penalty);

with everything else as `bench/compare.py` trains (its presets, GloVe-50d when installed, an MLP head on the
flattened M with dropout 0.5, cosine schedule, early stopping on dev), and reports test accuracy (mean ± std over
seeds) and, for the structured runs, how much the hops differ on the test sentences: the mean ‖AAᵀ − I‖_F and the
share of hops whose peak word is no earlier hop's peak. Model selection never sees the test file.

Usage:
    python bench/penalty_ablation.py                 # trec, sst2, 20ng × 3 seeds → docs/results/penalty-ablation.*
    python bench/penalty_ablation.py --datasets trec --seeds 1 --configs "structured, authors'" classic
    python bench/penalty_ablation.py --quick         # pipeline check: 64 examples of trec, tiny encoders, 1 epoch
    python bench/penalty_ablation.py --out runs/ablation/penalty-ablation.json --resume   # continue a stopped run

`--quick` is a smoke test of the script (the test suite runs it on generated data with `--data`), not a result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import compare  # noqa: E402

DATASETS = ("trec", "sst2", "20ng")
RESULTS = ROOT / "docs" / "results"
OUTPUT_NAME = "penalty-ablation"

CLASSIC = "classic"
PENALTY_0 = "structured, penalty 0"
AUTHORS = "structured, authors'"
SQUARED = "structured, squared"

#: The paper's classification settings for the structured encoder (Lin et al. 2017, section 4: r = 30, d_a = 350).
PAPER_HOPS = {"attention_hops": 30, "attention_units": 350}
#: name → (architecture, encoder overrides on top of bench/compare.py's settings).
CONFIGS = {
    CLASSIC: ("classic", {}),
    PENALTY_0: ("structured", PAPER_HOPS | {"penalty_coefficient": 0.0}),
    AUTHORS: ("structured", PAPER_HOPS | {"penalty_coefficient": 1.0, "penalty_norm": "frobenius"}),
    SQUARED: ("structured", PAPER_HOPS | {"penalty_coefficient": 1.0, "penalty_norm": "squared"}),
}
#: --quick: the same configurations, shrunk so that all four train in well under a minute on 2 busy cores.
QUICK_HOPS = {"attention_hops": 3, "attention_units": 8}
QUICK_PRESET = dict(max_length=16, epochs=1, batch_size=16, learning_rate=2e-3, hops=3, extend=50, limit=64, small=True)


def config_overrides(name: str, quick: bool) -> tuple[str, dict]:
    architecture, overrides = CONFIGS[name]
    if quick and architecture == "structured":
        overrides = overrides | QUICK_HOPS
    return architecture, overrides


def dataset_files(name: str, data: Path, limit: int | None, work: Path) -> dict:
    """train/dev/test paths under ``data/name`` (dev only where present), cut to `limit` rows for --quick."""
    files = {split: data / name / f"{split}.tsv" for split in ("train", "dev", "test")}
    files = {split: path for split, path in files.items() if path.is_file()}
    if "train" not in files or "test" not in files:
        raise SystemExit(f"{data / name}: needs train.tsv and test.tsv")
    if limit:
        for split, path in list(files.items()):
            lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
            cut = work / f"{name}-{split}.tsv"
            cut.write_text("".join(lines[: limit + 1]), encoding="utf-8")
            files[split] = cut
    return files


def hop_diversity(embedder, texts: list[str]) -> dict:
    """Mean ‖AAᵀ − I‖_F over sentences, and the share of hops whose peak word no earlier hop peaks on."""
    import numpy as np

    norms, distinct = [], []
    for start in range(0, len(texts), 256):
        _, weights = embedder.attention(texts[start : start + 256])
        for attention in weights:  # (r, n)
            residual = attention @ attention.T - np.eye(len(attention))
            norms.append(float(np.sqrt(np.sum(residual**2))))
            distinct.append(len(set(attention.argmax(axis=1).tolist())) / len(attention))
    return {"test_hop_frobenius": float(np.mean(norms)), "test_distinct_peaks": float(np.mean(distinct))}


def run(
    datasets: list[str],
    seeds: int,
    configs: list[str],
    quick: bool,
    data: Path,
    out: Path,
    glove: bool | None = None,
    resume: bool = False,
) -> dict:
    """Trains every (dataset, config, seed); writes ``out`` (.json rows) and its .md summary after each run.

    With `resume`, the rows already in ``out`` are kept and their (dataset, config, seed) runs skipped (the settings
    that shape a run, quick and glove, must be the same; a run is the unit that a stopped job loses).
    """
    from training.data import read_labelled

    glove = compare.glove_available() if glove is None else glove
    started = time.perf_counter()
    document = {
        "datasets": datasets,
        "seeds": seeds,
        "quick": quick,
        "glove": glove,
        "rows": [],
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "command": " ".join(sys.argv),
        "commands": [" ".join(sys.argv)],
    }
    earlier_wall_s = 0.0
    out.parent.mkdir(parents=True, exist_ok=True)
    if resume and out.is_file():
        previous = json.loads(out.read_text(encoding="utf-8"))
        for key in ("quick", "glove"):
            if previous.get(key) != document[key]:
                raise SystemExit(f"--resume: {out} was run with {key}={previous.get(key)!r}, not {document[key]!r}")
        document["rows"] = previous["rows"]
        # The document is the sum of every invocation that wrote it: their commands and their time.
        document["commands"] = [*previous.get("commands", [previous["command"]]), document["command"]]
        earlier_wall_s = previous.get("total_wall_s", 0.0)
    done = {(r["dataset"], r["config"], r["seed"]) for r in document["rows"]}

    def save():
        document["total_wall_s"] = earlier_wall_s + time.perf_counter() - started
        out.write_text(json.dumps(document, indent=1), encoding="utf-8")
        out.with_suffix(".md").write_text(render(document), encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="penalty-ablation-") as temporary:
        work = Path(temporary)
        for dataset in datasets:
            preset = QUICK_PRESET if quick else compare.PRESETS["full"][dataset]
            files = dataset_files(dataset, data, preset.get("limit"), work)
            test_texts = list(read_labelled(files["test"]).texts)
            for name in configs:
                architecture, overrides = config_overrides(name, quick)
                for seed in range(seeds):
                    if (dataset, name, seed) in done:
                        continue
                    row = compare.run_classifier(
                        dataset, name, architecture, overrides, preset, seed, files, glove, work, keep_embedder=True
                    )
                    embedder = row.pop("_embedder")
                    if architecture == "structured":
                        row |= hop_diversity(embedder, test_texts)
                    row["dataset"] = dataset
                    document["rows"].append({k: v for k, v in row.items() if not k.startswith("_")})
                    save()
                    print(json.dumps({k: v for k, v in document["rows"][-1].items() if k != "settings"}), flush=True)
    save()
    return document


def summary(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(dataset, config) → seeds, mean and std of test accuracy in %, and mean hop diversity."""
    table = {}
    for key in dict.fromkeys((r["dataset"], r["config"]) for r in rows):
        mine = [r for r in rows if (r["dataset"], r["config"]) == key]
        accuracies = [100 * r["test_accuracy"] for r in mine]
        entry = {
            "seeds": len(mine),
            "mean": statistics.mean(accuracies),
            "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        }
        for measure in ("test_hop_frobenius", "test_distinct_peaks"):
            values = [r[measure] for r in mine if measure in r]
            entry[measure] = statistics.mean(values) if values else None
        table[key] = entry
    return table


def verdicts(table: dict[tuple[str, str], dict]) -> list[str]:
    """The claims of issue 13, each with the datasets where it holds (means over seeds; ties count as holding)."""
    datasets = list(dict.fromkeys(d for d, _ in table))
    claims = [
        ("structured with the authors' penalty ≥ classic attention", AUTHORS, CLASSIC),
        ("the authors' penalty > penalty 0", AUTHORS, PENALTY_0),
        ("the authors' norm ≥ the squared norm", AUTHORS, SQUARED),
        ("structured with penalty 0 ≥ classic attention", PENALTY_0, CLASSIC),
    ]
    lines = []
    for text, mine, theirs in claims:
        compared = [d for d in datasets if (d, mine) in table and (d, theirs) in table]
        if not compared:
            continue
        strict = "> penalty 0" in text
        held = [
            d
            for d in compared
            if (table[d, mine]["mean"] > table[d, theirs]["mean"])
            or (not strict and table[d, mine]["mean"] == table[d, theirs]["mean"])
        ]
        detail = ", ".join(f"{d} {table[d, mine]['mean'] - table[d, theirs]['mean']:+.1f}" for d in compared)
        lines.append(f"- {text}: holds on {len(held)} of {len(compared)} ({detail} points)")
    return lines


def table_lines(document: dict) -> list[str]:
    """The results table and the claims' verdicts (the report's body; docs/RESULTS.md quotes it)."""
    table = summary(document["rows"])
    lines = [
        "| dataset | configuration | seeds | test accuracy % | ‖AAᵀ − I‖_F | distinct peaks |",
        "|---|---|---|---|---|---|",
    ]
    for (dataset, config), t in table.items():
        frobenius = "–" if t["test_hop_frobenius"] is None else f"{t['test_hop_frobenius']:.2f}"
        peaks = "–" if t["test_distinct_peaks"] is None else f"{t['test_distinct_peaks']:.2f}"
        score = f"{t['mean']:.1f} ± {t['std']:.1f}"
        lines.append(f"| {dataset} | {config} | {t['seeds']} | {score} | {frobenius} | {peaks} |")
    return [*lines, "", *verdicts(table)]


def render(document: dict) -> str:
    note = " — QUICK settings: a pipeline check, not a result" if document["quick"] else ""
    lines = [
        f"# Penalty ablation{note}",
        "",
        ", ".join(f"`{command}`" for command in document.get("commands", [document["command"]]))
        + f": {document.get('total_wall_s', 0) / 60:.1f} min in all, GloVe-50d: "
        f"{'yes' if document['glove'] else 'no'}. Test accuracy %, mean ± std over seeds; hop diversity on the test "
        "sentences (‖AAᵀ − I‖_F, 0 for orthogonal one-hot hops; distinct peaks: share of hops peaking on a word no "
        "earlier hop peaks on).",
        "",
        *table_lines(document),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, help="default: all three (--quick: trec)")
    parser.add_argument("--seeds", type=int, help="seeds per configuration (default 3; --quick: 1)")
    parser.add_argument("--configs", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--quick", action="store_true", help="tiny encoders, 64 examples, 1 epoch: a pipeline check")
    parser.add_argument("--data", type=Path, default=compare.DATA, help="folder of <dataset>/{train,dev,test}.tsv")
    parser.add_argument("--out", type=Path, help="result .json (a .md summary beside it); default docs/results/")
    parser.add_argument("--no-glove", action="store_true", help="train without pretrained word vectors")
    parser.add_argument("--resume", action="store_true", help="keep the runs already in --out and do the rest")
    args = parser.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be a positive integer, received {args.seeds}")
    datasets = args.datasets or (["trec"] if args.quick else list(DATASETS))
    seeds = args.seeds or (1 if args.quick else 3)
    out = args.out or RESULTS / f"{OUTPUT_NAME}{'-quick' if args.quick else ''}.json"
    glove = False if args.no_glove else None
    document = run(datasets, seeds, args.configs, args.quick, args.data, out, glove=glove, resume=args.resume)
    print(render(document))
    print("wrote", out, "and", out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
