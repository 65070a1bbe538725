"""How much similarity quality is left when a vector is cut to its first N dimensions (the OpenAI-style `dimensions`).

`/v1/embeddings` with ``dimensions=N`` keeps the first N dimensions of the served vector and scales it back to unit
length. The shipped models end in a linear projection to the teacher's 384 dimensions, trained with no preference
for any of them, so the first N carry no more than any other N. This bench measures STS-B dev Spearman of each
shipped model cut to N dimensions two ways:

- **as served**: the first N dimensions of the vector;
- **PCA-rotated**: the vectors first turned by the principal axes of the model's own vectors of unlabeled sentences
  (an orthogonal rotation, so the full-width cosines are unchanged), then cut. This is what folding the rotation
  into the output projection would give, measured before doing it.

The rotation is fitted on sentences of ../shared/data/unlabeled/ (never on STS-B; its dev sentences are removed
from the sample), STS-B dev is only the report.

Usage:
    python bench/dimensions.py                 # → docs/results/dimensions.json and the table in docs/SERVING.md
    python bench/dimensions.py --quick --out /tmp/d.json   # 200 pairs, 2,000 sentences for the rotation
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402
from bench import doc_markers  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "dimensions.json"
DOC = ROOT / "docs" / "SERVING.md"
BEGIN = "<!-- dimensions:begin (written by bench/dimensions.py; edits inside are overwritten) -->"
END = "<!-- dimensions:end -->"
WIDTHS = (16, 32, 64, 128, 192, 256, 384)


def rotation_sample(per_file: int, exclude: set[str]) -> list[str]:
    """The first `per_file` lines of each unlabeled file, without the excluded sentences, de-duplicated."""
    return measures.unlabeled_lines(per_file, exclude)


def principal_axes(vectors: np.ndarray) -> np.ndarray:
    """(d, d) orthogonal matrix whose columns are the principal axes of the unit vectors, largest variance first."""
    x = measures.unit(vectors).astype(np.float64)
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    return vt.T


def cut(vectors: np.ndarray, width: int) -> np.ndarray:
    return measures.unit(vectors[:, :width])


def measure_model(name: str, sample: list[str], quick: bool) -> dict:
    from embedder import pretrained

    first, second, scores = measures.stsb_dev()
    if quick:
        first, second, scores = first[:200], second[:200], scores[:200]
    embedder = pretrained.load(name)
    texts = sorted(set(first + second))
    start = time.perf_counter()
    sts = embedder.encode(texts, batch_size=256)
    axes = principal_axes(embedder.encode(sample, batch_size=256))
    seconds = time.perf_counter() - start
    rotated = sts @ axes
    rows = []
    for width in WIDTHS:
        if width > sts.shape[1]:
            continue
        served = measures.sts_spearman(dict(zip(texts, cut(sts, width))), first, second, scores)
        turned = measures.sts_spearman(dict(zip(texts, cut(rotated, width))), first, second, scores)
        rows.append({"dimensions": width, "stsb_dev_served": served, "stsb_dev_pca": turned})
        print(f"{name} {width:>3}: as served {served:.1f}, PCA-rotated {turned:.1f}", file=sys.stderr, flush=True)
    return {"rows": rows, "rotation_sentences": len(sample), "encode_s": seconds}


def table(results: dict) -> str:
    names = sorted(results["models"])
    lines = [
        "| dimensions | " + " | ".join(f"`{n}` as served | `{n}` PCA-rotated" for n in names) + " |",
        "|---" * (1 + 2 * len(names)) + "|",
    ]
    widths = sorted({row["dimensions"] for n in names for row in results["models"][n]["rows"]})
    for width in widths:
        cells = []
        for name in names:
            row = next((r for r in results["models"][name]["rows"] if r["dimensions"] == width), None)
            cells += ["–", "–"] if row is None else [f"{row['stsb_dev_served']:.1f}", f"{row['stsb_dev_pca']:.1f}"]
        lines.append(f"| {width} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_section(text: str, body: str) -> str:
    return doc_markers.replace_between(text, BEGIN, END, body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", help="shipped models (default: all)")
    parser.add_argument("--per-file", type=int, default=2500, help="unlabeled sentences per file for the rotation")
    parser.add_argument("--quick", action="store_true", help="smoke run: 200 pairs, 250 sentences per file")
    parser.add_argument("--out", default=str(RESULTS), help="the JSON file (default docs/results/dimensions.json)")
    args = parser.parse_args(argv)
    from embedder import pretrained

    first, second, _ = measures.stsb_dev()
    sample = rotation_sample(250 if args.quick else args.per_file, set(first + second))
    results = {
        "command": "python bench/dimensions.py" + (" --quick" if args.quick else ""),
        "quick": args.quick,
        "models": {name: measure_model(name, sample, args.quick) for name in args.models or pretrained.available()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if not args.quick and out == RESULTS:
        DOC.write_text(replace_section(DOC.read_text("utf-8"), table(results)), "utf-8")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
