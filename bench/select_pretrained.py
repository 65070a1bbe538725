"""Chooses which distilled export to ship, on selection data only: never STS-B dev or a test set.

For each candidate (a `embedder distill` export, or a shipped model by name) it measures:

- **held-back cosine**: the mean cosine to the teacher on the corpus sentences `embedder distill` held back (from
  the export's run record; comparable only between runs on the same corpus), or, with `--held-back-of EXPORT`,
  every candidate's on that run's held-back sentences (so that runs on other corpora and shipped models compare);
- **STS-B train**: Spearman × 100 of cosine on STS-B's *training* pairs (ship_pretrained.py's selection set);
- **TREC dev / SST-2 dev**: frozen vectors + logistic regression trained on the training split, accuracy on the dev
  split (TREC's dev is a seeded 10 % of its training split), at C = 0.1 for every candidate (no choice on dev, so
  the numbers stay a fair comparison).

STS-B dev and the test splits are left to bench/pretrained.py's final report.

Usage:
    python bench/select_pretrained.py default default-fast static=runs/pretrained2/static transformer=runs/...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402
from bench.serving_common import shipped_export  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "pretrained-selection.json"
C = 0.1
logger = logging.getLogger("bench.select_pretrained")


def version_dir(source: str, work: Path) -> Path:
    """A shipped model's name, an export's base path (its highest version) or a version directory."""
    from embedder.versions import numeric_versions

    path = Path(source)
    if not path.exists():
        return shipped_export(source, work)
    if (path / "saved_model.pb").is_file():
        return path
    versions = numeric_versions(path)
    if not versions:
        raise SystemExit(f"{source} is neither a shipped model's name nor a SavedModel (base path or version)")
    return path / str(max(versions))


def held_back_cosine(version: Path) -> float | None:
    record = version / "assets.extra" / "run_config.json"
    if not record.is_file():
        return None
    return json.loads(record.read_text()).get("result", {}).get("dev_score")


def held_back_set(export: Path, teacher=None) -> tuple[list[str], np.ndarray]:
    """The corpus sentences `embedder distill` held back in the run that made `export` (a version directory), with
    the teacher's vectors for them, from the teacher cache (the teacher, the run's own unless `teacher` is given,
    runs only for rows the cache lacks)."""
    from training.distill.config import DistillConfig
    from training.distill.distill import corpus_of, split_dev, teacher_vectors

    settings = json.loads((export / "assets.extra" / "run_config.json").read_text())["settings"]
    config = DistillConfig.from_saved(settings)
    corpus = corpus_of(config)
    vectors, _ = teacher_vectors(config, corpus, teacher, show_progress_bar=False)
    _, dev = split_dev(len(corpus), config.dev_sentences, config.seed)
    return [corpus.sentences[i] for i in dev], np.asarray(vectors[dev], dtype=np.float32)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The mean cosine of `a`'s and `b`'s rows, pair by pair."""
    return float((measures.unit(a) * measures.unit(b)).sum(axis=1).mean())


def dev_accuracy(vectors: dict[str, np.ndarray], split: dict, seed: int = 0) -> float:
    train, dev = (measures.split_features(vectors, split, part) for part in ("train", "dev"))
    return measures.logistic_accuracy(train, dev, C, seed)


def measure(version: Path, held_back: tuple[list[str], np.ndarray] | None = None) -> dict:
    rows = measures.read_tsv(measures.DATA / "stsb" / "train.tsv")
    first, second = [r["sentence1"] for r in rows], [r["sentence2"] for r in rows]
    splits = measures.transfer_splits(seed=0)
    texts = sorted(
        set(first + second) | {t for task in splits.values() for part in ("train", "dev") for t in task[part][0]}
    )
    encode = measures.saved_model_encoder(version)
    vectors = dict(zip(texts, measures.encode_all(encode, texts)))
    if held_back is not None:  # one held-back set for every candidate: their cosines compare
        sentences, targets = held_back
        cosine = mean_cosine(measures.encode_all(encode, sentences), targets)
    else:
        cosine = held_back_cosine(version)
    return {
        "export": str(version),
        "held_back_cosine": cosine,
        "stsb_train": measures.sts_spearman(vectors, first, second, [float(r["score"]) for r in rows]),
        "trec_dev": dev_accuracy(vectors, splits["trec"]),
        "sst2_dev": dev_accuracy(vectors, splits["sst2"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="+", metavar="NAME[=EXPORT]")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--held-back-of",
        metavar="EXPORT",
        help="measure every candidate's cosine to the teacher on the sentences this distill export's run held back "
        "(teacher vectors from the cache; needs the distill extra), instead of each run's own held-back set",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    candidates = [item.partition("=")[::2] for item in args.candidates]  # (name, export or "")
    results = json.loads(args.results.read_text()) if args.results.is_file() else {}
    with tempfile.TemporaryDirectory() as work:
        held_back = held_back_set(version_dir(args.held_back_of, Path(work))) if args.held_back_of else None
        for name, source in candidates:
            results[name] = measure(version_dir(source or name, Path(work)), held_back)
            logger.info("%s: %s", name, results[name])
            args.results.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    print("| candidate | held-back cosine | STS-B train | TREC dev | SST-2 dev |\n|---|---|---|---|---|")
    for name, _ in candidates:  # only these: the file keeps earlier comparisons too
        row = results[name]
        cosine = "–" if row["held_back_cosine"] is None else f"{row['held_back_cosine']:.4f}"
        print(f"| {name} | {cosine} | {row['stsb_train']:.1f} | {row['trec_dev']:.1f} | {row['sst2_dev']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
