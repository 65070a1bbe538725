"""The shipped models measured beside the teacher (at its best CPU setting) and Model2Vec, in one script.

    python bench/pretrained.py                         # every stage; results in docs/results/pretrained.json
    python bench/pretrained.py --stages speed report   # re-measure speed only
    python bench/pretrained.py --quick                 # smoke run: 200 evaluation rows, one round, no baselines

Stages (each stores its results in the JSON; the baselines need ``.venv-bench``, see `make bench-venv`):

- ``quality``: STS-B dev Spearman (cosine) and frozen-vector transfer (TREC, SST-2: logistic regression, C chosen
  on dev) of each shipped model's export, called in-process; the teacher (float32 and ONNX int8) and Model2Vec
  distilled from it, through bench/pretrained_baselines.py in the PyTorch environment.
- ``storage``: STS-B dev Spearman and size of each shipped model's source export (``--source NAME=EXPORT``)
  packed with each storage of the embedding table (int8, float16, float32) and of the other weights, so that the
  shipped choice is a measured one.
- ``speed``: sentences/s on 512 SST-2 test sentences at batch 32 and 128: each shipped model served by
  ``embedder serve`` (gRPC, 2 intra-op threads, inter-op threads as `make run` serves), then the teacher's
  settings and Model2Vec (2 threads), alternating in each of ``--rounds`` rounds; medians.
- ``startup``: import-to-first-vector seconds and peak RSS of a fresh process that imports only TensorFlow and
  loads the export; size on disk of the shipped folder and of the export.
- ``report``: docs/results/pretrained.json, the table in docs/PRETRAINED.md and each model card, a plot.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402
from bench.serving_common import shipped_export  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "pretrained.json"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
STAGES = ("quality", "storage", "speed", "startup", "report")
logger = logging.getLogger("bench.pretrained")


def folder_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def baselines(stage: str, work: Path, rounds: int = 1) -> dict:
    if not BENCH_PYTHON.is_file():
        raise SystemExit(f"{BENCH_PYTHON} is missing: `make bench-venv` makes it (PyTorch, ONNX Runtime, model2vec)")
    command = [str(BENCH_PYTHON), str(ROOT / "bench" / "pretrained_baselines.py"), stage, "--work", str(work)]
    done = subprocess.run(command + ["--rounds", str(rounds)], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def evaluation(quick: bool):
    first, second, scores = measures.stsb_dev()
    splits = measures.transfer_splits(seed=0)
    if quick:
        first, second, scores = first[:200], second[:200], scores[:200]
        splits = {t: {k: (x[:200], y[:200]) for k, (x, y) in s.items()} for t, s in splits.items()}
    return (first, second, scores), splits


def stage_quality(results: dict, names: list[str], work: Path, quick: bool) -> None:
    (first, second, scores), splits = evaluation(quick)
    texts = sorted(set(first + second + [t for task in splits.values() for x, _ in task.values() for t in x]))
    for name in names:
        encode = measures.saved_model_encoder(shipped_export(name, work))
        vectors = dict(zip(texts, measures.encode_all(encode, texts)))
        results.setdefault("models", {}).setdefault(name, {}).update(
            stsb_dev=measures.sts_spearman(vectors, first, second, scores),
            trec=measures.transfer_accuracy(vectors, splits["trec"]),
            sst2=measures.transfer_accuracy(vectors, splits["sst2"]),
        )
        logger.info("%s: STS-B dev %.1f", name, results["models"][name]["stsb_dev"])
    if not quick:
        cached = work / "baselines_quality.json"  # written by the baselines script; slow to redo
        results["baselines_quality"] = (
            json.loads(cached.read_text()) if cached.is_file() else baselines("quality", work)
        )


def stage_storage(results: dict, sources: dict[str, str], work: Path, quick: bool) -> None:
    from embedder import pretrained

    (first, second, scores), _ = evaluation(quick)
    texts = sorted(set(first + second))
    for name, source in sources.items():
        rows = []
        for embeddings, dense in (
            ("float32", "float32"),
            ("float16", "float16"),
            ("int8", "float16"),
            ("int8", "float32"),
        ):
            folder = pretrained.pack(source, work / "storage" / f"{name}-{embeddings}-{dense}", embeddings, dense)
            model = pretrained.load_dir(folder)
            vectors = dict(zip(texts, model.encode(texts, batch_size=256)))
            rows.append(
                {
                    "embeddings": embeddings,
                    "dense": dense,
                    "stsb_dev": measures.sts_spearman(vectors, first, second, scores),
                    "mib": folder_mib(folder),
                }
            )
            logger.info("%s storage %s/%s: %s", name, embeddings, dense, rows[-1])
        results.setdefault("storage", {})[name] = rows


def stage_speed(results: dict, names: list[str], work: Path, rounds: int, quick: bool) -> None:
    sentences = measures.labelled("sst2", "test")[0][:512]
    runs = {name: {32: [], 128: []} for name in names}
    baseline_runs = []
    for _ in range(rounds):
        for name in names:
            served = measures.ServedModel(shipped_export(name, work).parent, name=name)
            try:
                served.encode(sentences[:64], 32)
                for batch in (32, 128):
                    runs[name][batch].append(measures.sentences_per_second(served.encode, sentences, batch))
            finally:
                served.close()
        if not quick:
            baseline_runs.append(baselines("speed", work))
    speed = {
        name: {f"per_s_{b}": measures.median_of(by_batch[b], "per_s") for b in (32, 128)}
        for name, by_batch in runs.items()
    }
    for key in baseline_runs[0] if baseline_runs else ():
        speed[key] = {
            f"per_s_{b}": float(np.median([run[key][f"per_s_{b}"] for run in baseline_runs])) for b in (32, 128)
        }
    results["speed"] = dict(speed, rounds=rounds, sentences=len(sentences), threads=2)


def stage_startup(results: dict, names: list[str], work: Path) -> None:
    from embedder import pretrained

    batch = measures.labelled("sst2", "test")[0][:128]
    for name in names:
        version_dir = shipped_export(name, work)
        entry = results.setdefault("models", {}).setdefault(name, {})
        entry["startup"] = measures.start_up("student", version_dir, batch)
        entry["shipped_mib"] = folder_mib(pretrained.model_dir(name))
        entry["export_mib"] = folder_mib(version_dir)


def best_teacher(speed: dict) -> str:
    """The teacher setting with the most sentences/s at batch 32 (the reference of the speed targets)."""
    teachers = [k for k in speed if k.startswith("teacher_")]
    return max(teachers, key=lambda k: speed[k]["per_s_32"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--models", nargs="+", help="shipped models (default: all)")
    parser.add_argument("--work", default="runs/pretrained-bench")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", nargs="*", default=[], metavar="NAME=EXPORT", help="exports for `storage`")
    parser.add_argument("--quick", action="store_true", help="smoke run (200 rows, 1 round, no baselines)")
    parser.add_argument("--results", default=str(RESULTS), help="the JSON file (default docs/results/pretrained.json)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    from embedder import pretrained

    names = args.models or pretrained.available()
    work, path = Path(args.work), Path(args.results)
    results = json.loads(path.read_text()) if path.is_file() else {}
    if "quality" in args.stages:
        stage_quality(results, names, work, args.quick)
    if "storage" in args.stages and args.source:
        stage_storage(results, dict(item.split("=", 1) for item in args.source), work, args.quick)
    if "speed" in args.stages:
        stage_speed(results, names, work, 1 if args.quick else args.rounds, args.quick)
    if "startup" in args.stages:
        stage_startup(results, names, work)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if "report" in args.stages and not args.quick:
        from bench.pretrained_report import write_reports

        write_reports(results)
    print(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
