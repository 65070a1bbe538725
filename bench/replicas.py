"""Replicas measured: 16 callers on one and on two `embedder serve` replicas, and one replica killed under load.

    python bench/replicas.py                     # docs/results/replicas.json, the table in docs/SERVING.md
    python bench/replicas.py --quick --results /tmp/r.json --doc ''    # smoke run: tiny untrained model, 1 s phases

Two `embedder serve` processes (``--enable_batching`` with serving/config/batching.config) serve the shipped
``--model`` (``default``). ``--callers`` threads, each with its own `EmbeddingClient`, send ``--batch`` SST-2 dev
sentences per call for ``--seconds``:

- ``1 replica``: the client's target is the first server; ``2 replicas``: a list of both, balanced round-robin by
  gRPC (`serving.client.targets`). The two settings alternate for ``--rounds`` rounds in one run (both servers run
  all along; an idle one costs nothing), and each row reports calls/s, sentences/s and p50/p99 call latency.
- ``kill``: two replicas; half-way through, the second server is killed with SIGKILL. Calls that fail are counted
  (the target: none), and the phase reports the latencies of the calls in flight around the kill.

On this 2-core machine both replicas share the same cores, so a second replica adds availability, not capacity:
the throughput ratio says what balancing costs or gains here, not what a second machine would give.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from bench import doc_markers  # noqa: E402
from bench.serving_common import ServerProcess, sentences, shipped_export  # noqa: E402

RESULTS = ROOT / "docs" / "results" / "replicas.json"
DOC = ROOT / "docs" / "SERVING.md"
BEGIN, END = "<!-- replicas:begin -->", "<!-- replicas:end -->"
BATCHING = ROOT / "serving" / "config" / "batching.config"


def export_model(name: str, work: Path, quick: bool) -> Path:
    """The model base path served: the shipped `name`, or with `quick` a tiny untrained model."""
    if not quick:
        return shipped_export(name, work).parent
    base = work / "models" / "tiny"
    if not (base.is_dir() and any(base.iterdir())):
        from embedder.sentence_embedder import SentenceEmbedder
        from embedder.text_preprocessor import build_vocabulary

        model = SentenceEmbedder.create("classic", build_vocabulary(sentences("dev")), max_length=32, embedding_dim=16)
        model.export(base, version=1)
    return base


def percentiles(latencies_ms: list[float]) -> dict:
    if not latencies_ms:
        return {"p50_ms": None, "p99_ms": None}
    return {
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies_ms, 99)), 2),
    }


def load(targets: list[str], texts: list[str], args, seconds: float, during=None) -> dict:
    """`args.callers` threads calling for `seconds`; `during(start)` runs in this thread meanwhile."""
    from serving import EmbeddingClient, RetryPolicy

    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in range(args.callers)]
    failures: list[str] = []
    retry = RetryPolicy(max_attempts=30, initial_backoff=0.02, max_backoff=0.5)

    def caller(index: int) -> None:
        rng = np.random.default_rng(index)
        with EmbeddingClient(targets, "default", timeout=60, retry=retry) as client:
            client.embed(texts[:1])  # connect before the clock starts
            ready.wait()
            while not stop.is_set():
                batch = [texts[i] for i in rng.integers(0, len(texts), args.batch)]
                started = time.perf_counter()
                try:
                    vectors = client.embed(batch)
                    assert vectors.shape[0] == len(batch)
                except Exception as error:  # noqa: BLE001 - counted: the measurement is how many fail
                    failures.append(f"{type(error).__name__}: {error}")
                    continue
                latencies[index].append((time.perf_counter() - started) * 1000)

    ready = threading.Event()
    threads = [threading.Thread(target=caller, args=(i,)) for i in range(args.callers)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every caller connected
    ready.set()
    start = time.perf_counter()
    if during is not None:
        during(start)
    time.sleep(max(0.0, seconds - (time.perf_counter() - start)))
    stop.set()
    elapsed = time.perf_counter() - start
    for thread in threads:
        thread.join(timeout=120)
    calls = sum(len(x) for x in latencies)
    return {
        "calls": calls,
        "failed_calls": len(failures),
        "failures_sample": failures[:3],
        "calls_per_s": round(calls / elapsed, 1),
        "sentences_per_s": round(calls * args.batch / elapsed, 1),
        **percentiles([x for caller in latencies for x in caller]),
    }


def run(args) -> dict:
    work = args.work
    base = export_model(args.model, work, args.quick)
    texts = sentences("dev")
    flags = (
        "--model_name=default",
        f"--model_base_path={base}",
        "--enable_batching",
        f"--batching_parameters_file={BATCHING}",
        "--file_system_poll_wait_seconds=0",
    )
    results = {
        "model": "tiny untrained classic (--quick)" if args.quick else args.model,
        "callers": args.callers,
        "batch": args.batch,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "machine": f"{os.cpu_count()} cores; both replicas on this machine",
        "runs": {"1 replica": [], "2 replicas": []},
    }
    with ServerProcess(*flags) as first, ServerProcess(*flags) as second:
        settings = {"1 replica": [first.target], "2 replicas": [first.target, second.target]}
        for round_number in range(args.rounds):
            for name, targets in settings.items():
                measured = load(targets, texts, args, args.seconds)
                print(f"round {round_number + 1} {name}: {measured}", flush=True)
                results["runs"][name].append(measured)

        def kill_second(start: float) -> None:
            time.sleep(args.seconds / 2)
            second.process.send_signal(signal.SIGKILL)
            results["kill_at_s"] = round(time.perf_counter() - start, 2)

        results["kill"] = load(settings["2 replicas"], texts, args, args.seconds, during=kill_second)
        print(f"kill: {results['kill']}", flush=True)
    results["summary"] = summary(results)
    return results


def summary(results: dict) -> dict:
    """Medians over rounds, and the 2-vs-1 throughput ratio (median of the per-round ratios)."""
    out = {}
    for name, runs in results["runs"].items():
        out[name] = {key: float(np.median([r[key] for r in runs])) for key in ("sentences_per_s", "p50_ms", "p99_ms")}
        out[name]["failed_calls"] = int(sum(r["failed_calls"] for r in runs))
    ratios = [two["sentences_per_s"] / one["sentences_per_s"] for one, two in zip(*results["runs"].values())]
    out["throughput_ratio_2_vs_1"] = round(float(np.median(ratios)), 3)
    return out


def render(results: dict) -> str:
    """The Markdown between the markers in docs/SERVING.md, from the results alone."""
    s, kill = results["summary"], results["kill"]
    lines = [
        f"`python bench/replicas.py`: model `{results['model']}`, {results['callers']} callers of "
        f"{results['batch']} sentence(s) per call, {results['seconds']:g} s per phase, {results['rounds']} "
        f"alternating rounds (medians); {results['machine']}.",
        "",
        "| replicas | sentences/s | p50 ms | p99 ms | failed calls |",
        "|---|---|---|---|---|",
    ]
    for name in ("1 replica", "2 replicas"):
        row = s[name]
        lines.append(
            f"| {name} | {row['sentences_per_s']:,.0f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} | "
            f"{row['failed_calls']} |"
        )
    lines.append(
        f"| 2, one killed (SIGKILL) at {results['kill_at_s']:g} s | {kill['sentences_per_s']:,.0f} | "
        f"{kill['p50_ms']:.1f} | {kill['p99_ms']:.1f} | **{kill['failed_calls']}** of "
        f"{kill['calls'] + kill['failed_calls']:,} |"
    )
    lines += [
        "",
        f"Two replicas vs one: ×{s['throughput_ratio_2_vs_1']:.2f} sentences/s (both on the same cores here).",
    ]
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="shipped model served")
    parser.add_argument("--callers", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1, help="sentences per call")
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase")
    parser.add_argument("--rounds", type=int, default=3)
    doc_markers.add_output_arguments(parser, ROOT / "runs" / "replicas-bench", RESULTS, DOC)
    parser.add_argument("--quick", action="store_true", help="tiny untrained model, 1 s phases, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 1.0, 1
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    doc_markers.publish(results, args, BEGIN, END, render)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
