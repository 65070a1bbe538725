"""How close to this CPU's limit the encoders run: analytic FLOPs per sentence, the matmul peak, achieved GFLOP/s.

    python bench/flops.py                # docs/results/flops.json, the table in docs/BENCHMARKS.md
    python bench/flops.py --quick --work /tmp/f --results /tmp/f/flops.json --doc ''    # smoke run

FLOPs are counted from each encoder's config and the token count (`flops_per_sentence`): the matrix products only
(2 per multiply-add: projections, recurrent gates, attention scores and weighted sums, feed-forward layers, the
student projection), not the elementwise work, so the fraction of peak is an upper bound on how busy the matrix
units are. Two counts per batch: *useful* (each sentence's own tokens) and *computed* (every sentence padded to the
batch's longest, which is what the kernels run).

The peak is measured in the same run: `tf.linalg.matmul` of two 2048×2048 matrices in float32 (sampled just
before every measurement, which is set against that sample: the cores are shared) and in bfloat16. Achieved: the
SavedModel's ``embed`` signature (loaded with `tf.saved_model.load`) on SST-2 dev sentences at batch 32, 128 and
256 in this process, and the same through `embedder serve` and `EmbeddingClient` (one caller, whole batches per
request), alternating, medians. Models: the shipped ``default`` (transformer), ``default-fast`` (attention
pooling over static vectors) and an untrained default-size structured encoder
(`bench.serving_common.export_default_model`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench import doc_markers  # noqa: E402
from bench.serving_common import ServerProcess, export_default_model, sentences, shipped_export  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "flops.json"
DOC = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- flops:begin -->", "<!-- flops:end -->"
BATCHES = (32, 128, 256)
PEAK_SIZE = 2048
PEAK_DTYPES = ("float32", "bfloat16")


def _rnn_flops(encoder: dict, tokens: int) -> float:
    """The embedding → (Bi)RNN stack → word residual part of the classic and structured encoders."""
    width, units, flops = encoder["embedding_dim"], encoder["rnn_units"], 0.0
    gates = 4 if encoder.get("rnn_type", "lstm") == "lstm" else 3
    for _ in range(encoder["rnn_layers"]):
        flops += 2 * 2 * gates * (width + units) * units * tokens  # two directions, input and recurrent kernels
        width = 2 * units
    if encoder.get("word_residual", True) and encoder["rnn_layers"]:
        flops += 2 * encoder["embedding_dim"] * 2 * units * tokens
    return flops


def flops_per_sentence(architecture: str, encoder: dict, tokens: int, output_dim: int | None = None) -> float:
    """Matrix-product FLOPs to encode one sentence of `tokens` tokens (see the module docstring).

    Args:
        architecture: "classic", "structured" or "transformer".
        encoder: the encoder's config (its `get_config()`, or a shipped model's ``encoder`` settings).
        tokens: the sentence's length in tokens (after padding, for the computed count).
        output_dim: a student projection's width (shipped models), or None.
    """
    encoder = {"rnn_layers": 1, "rnn_units": 128, "embedding_dim": 128, **encoder}
    if architecture == "transformer":
        hidden = encoder["hidden_dim"]
        embedding = encoder.get("embedding_dim") or hidden
        ff = encoder.get("intermediate_dim") or 4 * hidden
        length = tokens + (1 if encoder.get("pooling") == "cls" else 0)
        flops = 2 * embedding * hidden * length if embedding != hidden else 0.0
        per_layer = 2 * 4 * hidden * hidden * length  # Q, K, V and output projections
        per_layer += 2 * 2 * length * length * hidden  # scores QKᵀ and the weighted sum of V, all heads
        per_layer += 2 * 2 * hidden * ff * length  # feed-forward
        flops += encoder["num_layers"] * per_layer
        width = hidden
    else:
        flops = _rnn_flops(encoder, tokens)
        width = 2 * encoder["rnn_units"] if encoder["rnn_layers"] else encoder["embedding_dim"]
        units = encoder.get("attention_units", 128)
        if architecture == "classic":
            flops += 2 * width * units * tokens + 2 * units * tokens  # W_h h_t, v · tanh(...)
            flops += 2 * width * tokens  # Σ a_t h_t
        else:
            hops = encoder.get("attention_hops", 4)
            flops += 2 * width * units * tokens + 2 * hops * units * tokens  # W_s1 Hᵀ, W_s2 tanh(...)
            flops += 2 * hops * tokens * width  # M = A H
            width = width * hops if encoder.get("hop_pooling", "flatten") == "flatten" else width
    if output_dim:
        flops += 2 * width * output_dim
    return float(flops)


def model_description(embedder) -> tuple[str, dict, int | None]:
    """(architecture, encoder config, student projection width or None) of a `SentenceEmbedder`."""
    from embedder import contract

    encoder = embedder.encoder.get_config()
    own = embedder.encoder.output_dim
    output = int(embedder.model.output[contract.OUTPUT_EMBEDDING].shape[-1])
    return embedder.architecture, encoder, (output if output != own else None)


def batch_flops(embedder, texts: list[str], batch: int) -> tuple[float, float]:
    """(useful, computed) FLOPs to embed `texts` in batches of `batch`."""
    import tensorflow as tf

    architecture, encoder, output = model_description(embedder)
    lengths = [
        int(n) for n in embedder.preprocessor.words(tf.constant(texts)).row_lengths().numpy()
    ]  # tokens per sentence (at most max_length)
    lengths = [max(1, n) for n in lengths]
    useful = sum(flops_per_sentence(architecture, encoder, n, output) for n in lengths)
    computed = 0.0
    for start in range(0, len(lengths), batch):
        chunk = lengths[start : start + batch]
        computed += len(chunk) * flops_per_sentence(architecture, encoder, max(chunk), output)
    return useful, computed


class MatmulPeak:
    """GFLOP/s of `tf.linalg.matmul` on two size×size matrices, sampled as often as asked (the machine is shared:
    each measurement of a model is set against a peak sampled just before it)."""

    def __init__(self, size: int):
        import tensorflow as tf

        a = tf.random.normal((size, size), dtype=tf.float32)
        self.size = size
        self.operands = {dtype: (tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)) for dtype in PEAK_DTYPES}
        self.samples: dict[str, list[float]] = {dtype: [] for dtype in PEAK_DTYPES}
        for dtype in PEAK_DTYPES:
            self.sample(dtype)  # warm
            self.samples[dtype].clear()

    def sample(self, dtype: str = "float32", repeats: int = 2) -> float:
        import tensorflow as tf

        a, b = self.operands[dtype]
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            tf.linalg.matmul(a, b).numpy()
            best = min(best, time.perf_counter() - started)
        gflops = 2 * self.size**3 / best / 1e9
        self.samples[dtype].append(gflops)
        return gflops

    def summary(self) -> dict:
        return {dtype: round(float(np.median(values)), 1) for dtype, values in self.samples.items() if values}


def timed(function, texts: list[str], batch: int, rounds: int) -> float:
    """Median seconds to run `function` over `texts` in batches of `batch`."""
    function(texts[:batch])
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for start in range(0, len(texts), batch):
            function(texts[start : start + batch])
        times.append(time.perf_counter() - started)
    return float(np.median(times))


def measure_model(name: str, embedder, version_dir: Path, texts: list[str], peak: MatmulPeak, args) -> dict:
    import tensorflow as tf

    from embedder import contract
    from serving import EmbeddingClient

    signature = tf.saved_model.load(str(version_dir)).signatures[contract.SIGNATURE_EMBED]

    def in_process(batch_texts):
        return signature(text=tf.constant(batch_texts))[contract.OUTPUT_EMBEDDING].numpy()

    architecture, encoder, output = model_description(embedder)
    row = {
        "architecture": architecture,
        "flops_per_sentence_20_tokens": flops_per_sentence(architecture, encoder, 20, output),
    }
    flags = (
        "--model_name=default", f"--model_base_path={version_dir.parent}", "--file_system_poll_wait_seconds=0",
    )  # fmt: skip
    with ServerProcess(*flags) as server, EmbeddingClient(server.target, "default", max_batch_size=256) as client:
        for batch in BATCHES:
            useful, computed = batch_flops(embedder, texts, batch)
            seconds = {"in_process": [], "served": []}
            fractions = {"in_process": [], "served": []}
            for _ in range(args.rounds):
                for where, function in (("in_process", in_process), ("served", client.embed)):
                    reference = peak.sample()
                    seconds[where].append(timed(function, texts, batch, 1))
                    fractions[where].append(computed / seconds[where][-1] / 1e9 / reference)
            entry = {"useful_gflop": round(useful / 1e9, 3), "computed_gflop": round(computed / 1e9, 3)}
            for where, values in seconds.items():
                median = float(np.median(values))
                entry[where] = {
                    "sentences_per_s": round(len(texts) / median, 1),
                    "computed_gflops": round(computed / median / 1e9, 2),
                    "useful_gflops": round(useful / median / 1e9, 2),
                    # each round against the peak sampled just before it; the median over rounds
                    "fraction_of_float32_peak": round(float(np.median(fractions[where])), 4),
                }
            row[f"b{batch}"] = entry
            print(f"{name} b{batch}: {entry}", flush=True)
    return row


def models(args) -> dict:
    """{name: (SentenceEmbedder, version_dir)}."""
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.versions import numeric_versions

    out = {}
    names = ("structured",) if args.quick else ("default", "default-fast", "structured")
    for name in names:
        if name == "structured":
            base = args.work / "models" / name
            if not numeric_versions(base):
                export_default_model(base)
            version_dir = base / str(numeric_versions(base)[-1])
        else:
            version_dir = shipped_export(name, args.work)
        out[name] = (SentenceEmbedder.load(version_dir), version_dir)
    return out


def render(results: dict) -> str:
    peak = results["peak_gflops"]
    lines = [
        f"`python bench/flops.py`: matmul peak {peak['float32']:,.0f} GFLOP/s float32, {peak['bfloat16']:,.0f} "
        f"bfloat16 ({PEAK_SIZE}² matrices; medians of {results['peak_samples']['float32']} and "
        f"{results['peak_samples']['bfloat16']} samples; each measurement's % of peak is against the float32 sample "
        f"taken just before it); {results['sentences']} SST-2 dev sentences, {results['rounds']} "
        f"alternating rounds (medians); {results['machine']}. FLOPs: matrix products only, *computed* on the "
        "batch's padded length; *useful* on each sentence's own tokens.",
        "",
        "| model | batch | sent/s in-process / served | computed GFLOP/s in-process / served | "
        "% of float32 peak in-process / served | useful / computed FLOPs |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results["models"].items():
        for batch in BATCHES:
            entry = row[f"b{batch}"]
            ip, sv = entry["in_process"], entry["served"]
            lines.append(
                f"| {name} ({row['architecture']}) | {batch} | {ip['sentences_per_s']:,.0f} / "
                f"{sv['sentences_per_s']:,.0f} | {ip['computed_gflops']:,.1f} / {sv['computed_gflops']:,.1f} | "
                f"{100 * ip['fraction_of_float32_peak']:.1f} % / {100 * sv['fraction_of_float32_peak']:.1f} % | "
                f"{entry['useful_gflop'] / entry['computed_gflop']:.2f} |"
            )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sentences", type=int, default=872)
    doc_markers.add_output_arguments(parser, ROOT / "runs" / "flops-bench", RESULTS, DOC)
    parser.add_argument("--quick", action="store_true", help="the structured model only, 64 sentences, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.sentences = 1, 64
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    texts = sentences("dev")[: args.sentences]
    peak = MatmulPeak(512 if args.quick else PEAK_SIZE)
    for _ in range(3):
        for dtype in PEAK_DTYPES:
            peak.sample(dtype)
    print(f"peak GFLOP/s: {peak.summary()}", flush=True)
    results = {
        "quick": args.quick,
        "rounds": args.rounds,
        "sentences": len(texts),
        "machine": f"{os.cpu_count()} cores, shared with other work, nice 19",
        "models": {},
    }
    for name, (embedder, version_dir) in models(args).items():
        results["models"][name] = measure_model(name, embedder, version_dir, texts, peak, args)
    for dtype in PEAK_DTYPES:
        peak.sample(dtype)
    # Medians of every sample taken (float32: before each measurement); bfloat16 at the start and the end.
    results["peak_gflops"] = peak.summary()
    results["peak_samples"] = {dtype: len(values) for dtype, values in peak.samples.items()}
    doc_markers.publish(results, args, BEGIN, END, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
