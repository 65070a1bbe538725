"""Which objective trains sentence pairs best: the cosine's mean squared error or CoSENT, from scratch on STS-B.

`embedder finetune --pairs` trains a siamese encoder on scored pairs. Sentence-BERT's CosineSimilarityLoss regresses
the cosine onto ``score / 5``; CoSENT (Su, 2022) asks only that, within a batch, a pair scored higher get the
higher cosine (`training.finetune.CoSENTLoss`). This script trains both, per architecture and seed, exactly as
`bench/compare.py --dataset stsb` trains its rows (a fresh GloVe-initialised encoder, its "full" STS-B preset: 10
epochs, lr 1e-3 cosine, early stopping on a seeded 10 % hold-out of the training pairs), and reports the hold-out
Spearman (the selection score) and the STS-B dev Spearman (reported, never used to choose). The objective with the
best mean hold-out Spearman over the architectures run is the choice (`choose`), and a test holds
`FinetuneConfig.pair_loss`'s default to it. Beside them, per architecture and seed, `embedder train --pairs` with
no tuning flags (its own defaults: for the classic encoder, the shipped `default`'s word vectors and GloVe-50d side
by side, kept fixed; before that the shipped ones alone, and GloVe-50d before 2026-12-07, whose rows the committed
result keeps under other names; lr 2e-3 cosine, 15 epochs, max length from the texts) on the same hold-out: how
far the defaults are from the best row, and the STS-B number a new user gets.

Usage:
    python bench/pair_loss.py                      # classic × {cosine_mse, cosent} × 3 seeds → docs/results/pair-loss.*
    python bench/pair_loss.py --archs classic transformer --resume
    python bench/pair_loss.py --recipes defaults --resume    # only the embedder train --pairs rows
    python bench/pair_loss.py --quick              # pipeline check: 200 pairs, tiny encoders, 1 epoch (not a result)
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
from training.config import PAIR_LOSSES, PairSettings  # noqa: E402

RESULTS = ROOT / "docs" / "results"
OUTPUT_NAME = "pair-loss"
ARCHITECTURES = ("classic", "structured (p=0.0)", "transformer")
DEFAULT_LOSS = PairSettings.pair_loss  # what `embedder train --pairs` runs with no flag


#: The row name of `embedder train --pairs` with no tuning flags, after the architecture's.
DEFAULTS_SUFFIX = ", embedder train defaults"


def run_train_defaults(config: str, seed: int, files: dict, work: Path, quick: bool) -> dict:
    """`embedder train --arch ARCH --pairs --train stsb/train.tsv` with no other flag (its dev: the same seeded 10 %
    hold-out of the training pairs as `compare.run_pairs`); STS-B dev Spearman of the export."""
    from training.config import TrainConfig
    from training.train import train

    architecture = compare.ALL_CONFIGS[config][0]
    small = dict(epochs=1, encoder={"rnn_units": 16, "attention_units": 16}) if quick else {}
    settings = TrainConfig(architecture=architecture, train_path=str(files["train"]), pairs=True, seed=seed, **small)
    result = train(settings, None, work_dir=work / f"defaults-{architecture}-{seed}-{time.time_ns()}", verbose=2)
    return compare.pair_row(config + DEFAULTS_SUFFIX, seed, result, files["dev"]) | {
        "max_length": result.extra["max_length"]
    }


def summary(rows: list[dict]) -> dict:
    """{(config, loss): {"holdout": (mean, std), "dev": (mean, std), "seeds": n}} over the rows."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["config"], row["pair_loss"]), []).append(row)

    def spread(values):
        values = [100 * v for v in values]
        return (statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0)

    return {
        key: {
            "holdout": spread([r["holdout_spearman"] for r in group]),
            "dev": spread([r["dev_spearman"] for r in group]),
            "seeds": len(group),
        }
        for key, group in groups.items()
    }


def choose(rows: list[dict]) -> str | None:
    """The objective with the best mean hold-out Spearman, averaged over the architectures where both ran (None:
    no architecture ran both)."""
    table = summary(rows)
    configs = {c for c, _ in table}
    shared = [c for c in configs if all((c, loss) in table for loss in PAIR_LOSSES)]
    if not shared:
        return None
    return max(PAIR_LOSSES, key=lambda loss: statistics.mean(table[(c, loss)]["holdout"][0] for c in shared))


def render(document: dict) -> str:
    return "\n".join(["# Pair objective: cosine MSE vs CoSENT (STS-B, from scratch)", "", *table_lines(document)])


def table_lines(document: dict) -> list[str]:
    """The commands, the table, the choice, and how `embedder train --pairs`' defaults fare (docs/RESULTS.md shows
    them too)."""
    rows = document["rows"]
    table = summary(rows)
    lines = [
        "Written by " + ", then ".join(f"`{c}`" for c in document["commands"]),
        f"({document['total_wall_s'] / 60:.1f} min in all). Spearman × 100, mean ± std over seeds; the hold-out (a",
        "seeded 10 % of the training pairs, another for each seed) chooses, STS-B dev is reported.",
        "",
        "| architecture | pair loss | seeds | hold-out Spearman | STS-B dev Spearman |",
        "|---|---|---|---|---|",
    ]
    for (config, loss), cell in sorted(table.items()):
        scores = " | ".join(f"{cell[k][0]:.1f} ± {cell[k][1]:.1f}" for k in ("holdout", "dev"))
        lines.append(f"| {config} | {loss} | {cell['seeds']} | {scores} |")
    lines += ["", f"Chosen on the hold-out: **{choose(rows) or 'nothing yet (no architecture ran both)'}**."]
    best = max(table, key=lambda key: table[key]["holdout"][0])
    for key, cell in sorted(table.items()):
        if key[0].endswith(DEFAULTS_SUFFIX):
            gap = cell["holdout"][0] - table[best]["holdout"][0]
            lines.append(
                f"`embedder train --pairs` with no tuning flags ({key[0].removesuffix(DEFAULTS_SUFFIX)}): hold-out "
                f"{gap:+.1f} from the best row ({best[0]}, {best[1]}); STS-B dev {cell['dev'][0]:.1f}."
            )
    lines.append("")
    if document.get("quick"):
        lines.insert(0, "**QUICK settings (a pipeline check, not a result).**\n")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", nargs="+", choices=ARCHITECTURES, default=["classic"])
    parser.add_argument("--losses", nargs="+", choices=PAIR_LOSSES, default=list(PAIR_LOSSES))
    parser.add_argument(
        "--recipes",
        nargs="+",
        choices=("preset", "defaults"),
        default=["preset", "defaults"],
        help="preset: bench/compare.py's STS-B settings with each loss; defaults: embedder train --pairs, no flags",
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a pipeline check, not a result")
    parser.add_argument("--out", type=Path, help=f"default: docs/results/{OUTPUT_NAME}.json (--quick: runs/)")
    parser.add_argument("--resume", action="store_true", help="keep the rows --out holds and run the missing ones")
    args = parser.parse_args(argv)
    preset = compare.PRESETS["smoke" if args.quick else "full"]["stsb"]
    out = args.out or (ROOT / "runs" / f"{OUTPUT_NAME}-quick.json" if args.quick else RESULTS / f"{OUTPUT_NAME}.json")
    document = json.loads(out.read_text("utf-8")) if args.resume and out.is_file() else {"rows": [], "commands": []}
    document["commands"] = [*document.get("commands", []), " ".join(["python bench/pair_loss.py", *sys.argv[1:]])]
    document["command"] = document["commands"][0]
    document.setdefault("total_wall_s", 0.0)
    glove = compare.glove_available()
    done = {(r["config"], r["pair_loss"], r["seed"]) for r in document["rows"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pair-loss-") as temporary:
        work = Path(temporary)
        files = compare.dataset_files("stsb", preset.get("limit"), work)
        for seed in range(args.seeds):  # seeds outermost: a stopped run has every arm at equal seeds
            for config in args.archs:
                architecture, overrides, _ = compare.ALL_CONFIGS[config]
                runs = [(config, loss) for loss in args.losses] if "preset" in args.recipes else []
                if "defaults" in args.recipes:
                    runs.append((config + DEFAULTS_SUFFIX, DEFAULT_LOSS))
                for name, loss in runs:
                    if (name, loss, seed) in done:
                        continue
                    started = time.perf_counter()
                    if name.endswith(DEFAULTS_SUFFIX):
                        row = run_train_defaults(config, seed, files, work, args.quick)
                    else:
                        row = compare.run_pairs(config, architecture, overrides, preset, seed, files, glove, work, loss)
                    row = {k: v for k, v in row.items() if k != "settings"} | {"pair_loss": loss}
                    document["rows"].append(row)
                    document["total_wall_s"] += time.perf_counter() - started
                    document.update(machine=platform.platform(), cpus=os.cpu_count(), glove=glove, quick=args.quick)
                    out.write_text(json.dumps(document, indent=1), "utf-8")
                    print(json.dumps(row), flush=True)
    out.with_suffix(".md").write_text(render(document), "utf-8")
    print(render(document))
    return 0


if __name__ == "__main__":
    sys.exit(main())
