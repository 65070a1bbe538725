"""How many rows one model call should take inside a request: whole request vs length-ordered groups.

A request's texts are padded to its longest text, so with mixed lengths (SST-2: about 19 words, longest in a
batch of 32 about 40) most of the compute goes to padding. The serving module can order a request's texts by
length and run them in groups of `sub_batch` rows, each padded only to its own longest text
(`embedder.serving_module.SUB_BATCHES`). This script measures, in one run, the embed signature's sentences/s for
each group size against the whole request as one call, on the shapes we serve:

- ``default`` and ``default-fast``: the shipped models;
- ``classic`` and ``structured``: `embedder train`'s default encoders (BiLSTM; untrained, timing depends on the
  shapes, not the weights) over SST-2's training vocabulary, max_length 128.

Requests of 1, 32 and 128 SST-2 dev sentences; the settings alternate call by call (rotating the order) for
`--seconds` per model and request size, so background load hits them alike. The choice, per kind of encoder
(parallel: ``default``, ``default-fast``; recurrent: ``classic``, ``structured``), is the group size with the best
geometric mean of its ratios to the whole request over that kind's models at requests of 32 and 128 (a request
of 1 is one call either way); `embedder.serving_module` holds those two numbers and a test compares them with the
committed JSON. Outputs are checked against the whole request's too (the largest |difference| is recorded).

    python bench/serving_sub_batches.py --seconds 20      # docs/results/serving-sub-batches.json, docs/SERVING.md
    python bench/serving_sub_batches.py --quick --results /tmp/sub.json --doc ''   # pipeline check, seconds
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import doc_markers  # noqa: E402
from bench.serving_common import QUICK_SENTENCES, sentences  # noqa: E402
from bench.serving_overhead import alternating_calls  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results" / "serving-sub-batches.json"
DOC = ROOT / "docs" / "SERVING.md"
BEGIN, END = (
    "<!-- sub-batches:begin (from docs/results/serving-sub-batches.json; tests compare) -->",
    ("<!-- sub-batches:end -->"),
)
SUB_BATCH_SIZES = (4, 8, 16, 32)
REQUEST_SIZES = (1, 32, 128)
#: The models measured, by the kind of encoder whose group size they choose.
KINDS = {"parallel": ("default", "default-fast"), "recurrent": ("classic", "structured")}
MODELS = tuple(name for names in KINDS.values() for name in names)
CHOICE_REQUESTS = ("32", "128")


def build(name: str, quick: bool):
    """The `SentenceEmbedder` measured as `name`."""
    from embedder import pretrained
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.text_preprocessor import build_vocabulary
    from training.config import TRAIN_ENCODER_DEFAULTS

    if name in pretrained.available():
        return pretrained.load(name)
    if quick:
        return SentenceEmbedder.create(name, build_vocabulary(QUICK_SENTENCES), max_length=16, embedding_dim=8)
    encoder = dict(TRAIN_ENCODER_DEFAULTS[name])
    return SentenceEmbedder.create(name, build_vocabulary(sentences("train")), max_length=128, **encoder)


def embed_functions(embedder, sizes) -> dict:
    """``{"whole": fn, 4: fn, ...}``: the embed signature of a serving module per group size (None: whole)."""
    import tensorflow as tf

    from embedder import contract
    from embedder.serving_module import ServingModule

    functions = {}
    for size in (None, *sizes):
        module = ServingModule(embedder.model, embedder.preprocessor, {}, [], sub_batch=size)
        concrete = module.embed.get_concrete_function()
        functions["whole" if size is None else size] = lambda batch, f=concrete: f(text=tf.constant(batch))[
            contract.OUTPUT_EMBEDDING
        ].numpy()
    return functions


def measure(embedder, texts: list[str], request_sizes, sub_batches, seconds: float) -> dict:
    """Per request size: sentences/s of each setting, its ratio to the whole request, and the outputs' max diff."""
    functions = embed_functions(embedder, sub_batches)
    results = {}
    for size in request_sizes:
        batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)]
        reference = functions["whole"](batches[0])
        differences = {str(k): float(np.abs(f(batches[0]) - reference).max()) for k, f in functions.items()}
        times = alternating_calls(functions, batches, seconds)
        per_s = {str(k): size * len(t) / sum(t) for k, t in times.items()}
        results[str(size)] = {
            "per_s": per_s,
            "ratio": {k: v / per_s["whole"] for k, v in per_s.items()},
            "max_abs_difference": differences,
            "calls": min(len(t) for t in times.values()),
        }
        print(f"  request {size}: " + ", ".join(f"{k} {v:.0f}/s" for k, v in per_s.items()), flush=True)
    return results


def choose(results: dict) -> dict:
    """Per kind of encoder: the group size with the best geometric mean ratio over its models at `CHOICE_REQUESTS`."""
    choice = {}
    for kind, names in KINDS.items():
        measured = [results["models"][n] for n in names if n in results["models"]]
        if not measured:
            continue
        requests = [r for r in CHOICE_REQUESTS if r in measured[0]] or [max(measured[0], key=int)]

        def score(size, measured=measured, requests=requests):
            return float(np.mean([np.log(m[r]["ratio"][str(size)]) for m in measured for r in requests]))

        choice[kind] = max(results["sub_batch_sizes"], key=score)
    return choice


def table(results: dict) -> str:
    """The Markdown table of a results JSON: ratio to the whole request, per model, request size and group size."""
    models = results["models"]
    sizes = [str(s) for s in results["sub_batch_sizes"]]
    rows = [
        "| model | request | whole request, sent/s | " + " | ".join(f"groups of {s}" for s in sizes) + " |",
        "|---|---|---|" + "---|" * len(sizes),
    ]
    for model, by_request in models.items():
        for request, r in by_request.items():
            cells = " | ".join(f"{r['ratio'][s]:.2f}×" for s in sizes)
            rows.append(f"| {model} | {request} | {r['per_s']['whole']:.0f} | {cells} |")
    chosen = ", ".join(f"{kind} encoders {size}" for kind, size in results["choice"].items())
    return "\n".join(rows) + f"\n\nChosen group size (geometric mean at requests of 32 and 128): {chosen}."


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seconds", type=float, default=20.0, help="per model and request size")
    parser.add_argument("--quick", action="store_true", help="a tiny model and sentences: a pipeline check")
    doc_markers.add_output_arguments(parser, ROOT / "runs" / "sub-batches", RESULTS, DOC)
    args = parser.parse_args(argv)

    import tensorflow as tf

    try:  # the 2 cores, as `embedder serve` uses them by default
        tf.config.threading.set_inter_op_parallelism_threads(2)
        tf.config.threading.set_intra_op_parallelism_threads(2)
    except RuntimeError:  # TensorFlow already ran in this process (the tests): it keeps its threads
        pass
    texts = QUICK_SENTENCES * 4 if args.quick else sentences("dev")[:512]
    request_sizes = (1, 4) if args.quick else REQUEST_SIZES
    sub_batches = (2, 3) if args.quick else SUB_BATCH_SIZES
    models = ["classic"] if args.quick else args.models
    results = {"sentences": len(texts), "seconds": args.seconds, "sub_batch_sizes": list(sub_batches), "models": {}}
    for name in models:
        print(name, flush=True)
        results["models"][name] = measure(build(name, args.quick), texts, request_sizes, sub_batches, args.seconds)
    results["choice"] = choose(results)
    doc_markers.publish(results, args, BEGIN, END, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
