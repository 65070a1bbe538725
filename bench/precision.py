"""bfloat16 exports measured against float32: served-graph sentences/s and quality, for each architecture.

    python bench/precision.py                  # docs/results/precision.json, the table in docs/SERVING.md
    python bench/precision.py --quick --work /tmp/p --results /tmp/p/precision.json --doc ''   # smoke run

Models: the shipped ``default`` (transformer) and ``default-fast`` (attention pooling over static vectors), whose
quality is STS-B dev Spearman (cosine of the two sentences' vectors); and a ``classic`` (BiLSTM + one attention
vector) and a ``structured`` (Lin et al.) classifier trained here on TREC (``--epochs``, no pretrained vectors,
hold-out of train for early stopping), whose quality is TREC test accuracy. Each is exported twice, ``float32``
and ``bfloat16`` (`embedder.precision`), and the SavedModels are loaded with `tf.saved_model.load` (the graph TF
Serving runs) in this process. Speed: the ``embed`` signature on SST-2 dev sentences at batch 32, 128 and 256, the
two precisions alternating for ``--rounds`` rounds (medians). Quality is measured once per export.

XLA (``--stages xla``): the shipped ``default``'s Keras graph on token ids (the part of a signature XLA can
compile; the string preprocessing cannot be), as a `tf.function` with and without ``jit_compile``, in both
precisions, at batch 32 and 128 (alternating rounds, each shape traced first), and the first call of a shape not
seen before (what a server pays for every new batch size and length under XLA).

With ``--quick``: a tiny untrained transformer, one round, no quality.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402
from bench import doc_markers  # noqa: E402
from bench.serving_common import DATA, sentences  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "precision.json"
DOC = ROOT / "docs" / "SERVING.md"
BEGIN, END = "<!-- precision:begin -->", "<!-- precision:end -->"
PRECISIONS = ("float32", "bfloat16")
BATCHES = (32, 128, 256)
TREC = DATA / "trec"


def source_models(args) -> dict:
    """{name: (SentenceEmbedder, quality task)}."""
    from embedder import pretrained
    from embedder.sentence_embedder import SentenceEmbedder

    if args.quick:
        from embedder.text_preprocessor import build_vocabulary

        vocabulary = build_vocabulary(sentences("dev"))
        small = {"transformer": {"hidden_dim": 32}}  # each architecture's bfloat16 export: tests/embedder
        return {
            name: (SentenceEmbedder.create(name, vocabulary, max_length=32, embedding_dim=16, **kwargs), None)
            for name, kwargs in small.items()
        }
    models = {
        "default": (pretrained.load("default"), "stsb"),
        "default-fast": (pretrained.load("default-fast"), "stsb"),
    }
    for architecture in ("classic", "structured"):
        models[f"{architecture} (TREC)"] = (trained_on_trec(architecture, args), "trec")
    return models


def trained_on_trec(architecture: str, args):
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.versions import numeric_versions

    base = args.work / "trec" / architecture
    if not numeric_versions(base):
        from training.config import TrainConfig
        from training.train import train

        config = TrainConfig(architecture=architecture, train_path=str(TREC / "train.tsv"), epochs=args.epochs)
        train(config, base, work_dir=args.work / "trec" / f"{architecture}.run", overwrite=True, verbose=0)
    return SentenceEmbedder.load(base)


def embed(signature, texts: list[str], batch: int) -> np.ndarray:
    import tensorflow as tf

    from embedder import contract

    out = [
        signature(text=tf.constant(texts[i : i + batch]))[contract.OUTPUT_EMBEDDING].numpy()
        for i in range(0, len(texts), batch)
    ]
    return np.concatenate(out)


def stsb_spearman(signature) -> float:
    first, second, scores = measures.stsb_dev()
    sentences = list(dict.fromkeys(first + second))
    vectors = dict(zip(sentences, embed(signature, sentences, 128)))
    return measures.sts_spearman(vectors, first, second, scores)


def trec_accuracy(loaded, labels: list[str]) -> float:
    import tensorflow as tf

    from embedder import contract

    texts, gold = measures.labelled("trec", "test")
    classify = loaded.signatures[contract.SIGNATURE_CLASSIFY]
    predicted = []
    for i in range(0, len(texts), 128):
        batch = tf.constant(texts[i : i + 128])
        predicted += np.argmax(classify(text=batch)[contract.OUTPUT_PROBABILITIES].numpy(), axis=1).tolist()
    return 100 * float(np.mean([labels[p] == label for p, label in zip(predicted, gold)]))


def measure(name: str, embedder, task: str | None, texts: list[str], args) -> dict:
    import tensorflow as tf

    from embedder import contract

    loaded, row = {}, {"architecture": embedder.architecture}
    for precision in PRECISIONS:
        version_dir = embedder.export(args.work / "exports" / name.replace(" ", "-") / precision, precision=precision)
        loaded[precision] = tf.saved_model.load(str(version_dir))
    signatures = {p: loaded[p].signatures[contract.SIGNATURE_EMBED] for p in PRECISIONS}
    vectors = {p: contract.l2_normalize(embed(signatures[p], texts[:256], 64)) for p in PRECISIONS}
    row["cosine_bf16_vs_f32_min"] = round(float(np.min(np.sum(vectors["float32"] * vectors["bfloat16"], 1))), 5)
    for batch in BATCHES:
        embed(signatures["float32"], texts[:batch], batch)  # trace and warm each shape
        embed(signatures["bfloat16"], texts[:batch], batch)
        seconds = {p: [] for p in PRECISIONS}
        for _ in range(args.rounds):
            for precision in PRECISIONS:
                started = time.perf_counter()
                embed(signatures[precision], texts, batch)
                seconds[precision].append(time.perf_counter() - started)
        per_s = {p: len(texts) / float(np.median(seconds[p])) for p in PRECISIONS}
        row[f"b{batch}"] = {
            "float32_per_s": round(per_s["float32"], 1),
            "bfloat16_per_s": round(per_s["bfloat16"], 1),
            "ratio": round(per_s["bfloat16"] / per_s["float32"], 3),
        }
    if task == "stsb":
        row["quality"] = {
            "metric": "STS-B dev Spearman",
            **{p: round(stsb_spearman(signatures[p]), 2) for p in PRECISIONS},
        }
    elif task == "trec":
        row["quality"] = {
            "metric": "TREC test accuracy",
            **{p: round(trec_accuracy(loaded[p], embedder.labels), 2) for p in PRECISIONS},
        }
    print(f"{name}: {row}", flush=True)
    return row


def xla_stage(args, texts: list[str]) -> dict:
    import tensorflow as tf

    from embedder import contract, pretrained
    from embedder.precision import with_precision

    if args.quick:
        embedder = next(iter(source_models(args).values()))[0]
    else:
        embedder = pretrained.load("default")
    preprocessor = embedder.preprocessor
    out = {"model": "tiny (--quick)" if args.quick else "default", "rows": []}
    for precision in PRECISIONS:
        model = with_precision(embedder.model, precision)
        # One trace for every shape, as in a serving signature; XLA still compiles each new shape it meets.
        spec = [tf.TensorSpec([None, None], tf.int32)]
        functions = {
            name: tf.function(
                lambda ids, model=model: model(ids, training=False)[contract.OUTPUT_EMBEDDING],
                input_signature=spec,
                jit_compile=name == "xla",
            )
            for name in ("plain", "xla")
        }
        for batch in (32, 128):
            ids = [
                preprocessor.ids(preprocessor.words(tf.constant(texts[i : i + batch])))
                for i in range(0, len(texts), batch)
            ]
            for function in functions.values():
                for x in ids:
                    function(x)  # trace and compile every shape first
            seconds = {name: [] for name in functions}
            for _ in range(args.rounds):
                for name, function in functions.items():
                    started = time.perf_counter()
                    for x in ids:
                        function(x).numpy()
                    seconds[name].append(time.perf_counter() - started)
            per_s = {name: len(texts) / float(np.median(v)) for name, v in seconds.items()}
            new_shape = tf.zeros((batch + 1, int(ids[0].shape[1]) + 3), tf.int32)  # never seen above
            first_ms = {}
            for name, function in functions.items():
                started = time.perf_counter()
                function(new_shape).numpy()
                first_ms[name] = round((time.perf_counter() - started) * 1000, 1)
            out["rows"].append(
                {
                    "precision": precision,
                    "batch": batch,
                    "plain_per_s": round(per_s["plain"], 1),
                    "xla_per_s": round(per_s["xla"], 1),
                    "ratio": round(per_s["xla"] / per_s["plain"], 3),
                    "new_shape_first_call_ms": first_ms,
                }
            )
            print(f"xla: {out['rows'][-1]}", flush=True)
    return out


def render(results: dict) -> str:
    """The Markdown between the markers in docs/SERVING.md, from the results alone."""
    lines = [
        f"`python bench/precision.py`: the `embed` signature of each SavedModel, loaded with `tf.saved_model.load`, "
        f"on {results['sentences']} SST-2 dev sentences, the two precisions alternating for {results['rounds']} "
        f"rounds (medians); {results['machine']}.",
        "",
        "| model | architecture | sent/s b32 f32 → bf16 | b128 | b256 | quality f32 → bf16 | min cosine bf16 vs f32 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["models"].items():
        speed = [
            f"{row[f'b{b}']['float32_per_s']:,.0f} → {row[f'b{b}']['bfloat16_per_s']:,.0f} "
            f"(×{row[f'b{b}']['ratio']:.2f})"
            for b in BATCHES
        ]
        quality = row.get("quality")
        shown = (
            f"{quality['metric']}: {quality['float32']:.2f} → {quality['bfloat16']:.2f} "
            f"({quality['bfloat16'] - quality['float32']:+.2f})"
            if quality
            else "–"
        )
        lines.append(
            f"| {name} | {row['architecture']} | {' | '.join(speed)} | {shown} | {row['cosine_bf16_vs_f32_min']:.4f} |"
        )
    if "xla" in results:
        xla = results["xla"]
        lines += [
            "",
            f"XLA (`--stages xla`): `{xla['model']}`'s Keras graph on token ids, `tf.function` with and without "
            "`jit_compile`, each shape compiled first; and the first call of an unseen (batch, length) shape:",
            "",
            "| precision | batch | sent/s plain → XLA | first call of a new shape, ms plain / XLA |",
            "|---|---|---|---|",
        ]
        for row in xla["rows"]:
            first = row["new_shape_first_call_ms"]
            lines.append(
                f"| {row['precision']} | {row['batch']} | {row['plain_per_s']:,.0f} → {row['xla_per_s']:,.0f} "
                f"(×{row['ratio']:.2f}) | {first['plain']:,.0f} / {first['xla']:,.0f} |"
            )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", nargs="+", choices=("speed", "xla"), default=["speed"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=872, help="SST-2 dev sentences timed per round")
    parser.add_argument("--epochs", type=int, default=5, help="TREC classifiers' training epochs")
    doc_markers.add_output_arguments(parser, ROOT / "runs" / "precision-bench", RESULTS, DOC)
    parser.add_argument("--quick", action="store_true", help="a tiny untrained transformer, one round, no quality")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sentences = 1, 64
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    texts = sentences("dev")[: args.sentences]
    previous = json.loads(args.results.read_text()) if args.results.is_file() else {}
    results = {
        "quick": args.quick,
        "rounds": args.rounds,
        "sentences": len(texts),
        "machine": f"{os.cpu_count()} cores (AVX512-BF16, AMX), shared with other work, nice 19",
        "models": {},
    }
    if "speed" in args.stages:
        for name, (embedder, task) in source_models(args).items():
            results["models"][name] = measure(name, embedder, task, texts, args)
    else:
        results = {**previous, **{k: v for k, v in results.items() if k == "quick"}}
    if "xla" in args.stages:
        results["xla"] = xla_stage(args, texts[:512])
    elif "xla" in previous and not args.quick:
        results["xla"] = previous["xla"]
    doc_markers.publish(results, args, BEGIN, END, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
