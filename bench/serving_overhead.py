"""Benchmark 1: what serving over gRPC costs, against calling the SavedModel in-process.

The same exported default-size model (see `serving_common`), the same SST-2 sentences, batches of 1, 64 and 256:

- in-process: ``tf.saved_model.load(version_dir).signatures["serving_default"](text=tf.constant(batch))``;
- served: ``EmbeddingClient.embed(batch)`` against ``embedder serve`` in its own process on 127.0.0.1 (one
  request per call, no server batching: the plain request path).

The two alternate call by call for `--seconds` per batch size, so load from other jobs hits both alike;
throughput is rows over the summed call times of each. Goal: served/in-process throughput ≥ 0.95 at 64 and 256.

    python bench/serving_overhead.py --seconds 40 --json docs/img/serving_overhead.json \\
        --plot docs/img/serving_overhead.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from serving_common import ServerProcess, export_default_model, sentences

BATCH_SIZES = (1, 64, 256)


def paired_calls(first, second, batches, seconds: float) -> tuple[list[float], list[float]]:
    """Alternates `first` and `second` on the same batches for about `seconds`; returns each one's call times.

    Alternating call by call exposes both to the same background load, so their ratio stays meaningful on a
    busy machine even when the absolute times drift.
    """
    times: tuple[list[float], list[float]] = ([], [])
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds or i < 4:
        batch = batches[i % len(batches)]
        for call, record in (
            ((first, times[0]), (second, times[1])) if i % 2 == 0 else ((second, times[1]), (first, times[0]))
        ):
            t = time.perf_counter()
            call(batch)
            record.append(time.perf_counter() - t)
        i += 1
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds of paired calls per batch size")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()

    import tensorflow as tf

    from serving import EmbeddingClient

    texts = sentences("dev")
    with tempfile.TemporaryDirectory() as workdir:
        version_dir = export_default_model(Path(workdir) / "default")
        signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

        def in_process(batch):
            return signature(text=tf.constant(batch))["embedding"].numpy()

        with (
            ServerProcess("--model_name=default", f"--model_base_path={version_dir.parent}") as server,
            EmbeddingClient(server.target, "default", max_batch_size=256, max_in_flight=1, timeout=120) as client,
        ):
            results = {}
            for size in BATCH_SIZES:
                batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)] or [texts[:size]]
                np.testing.assert_allclose(client.embed(batches[0]), in_process(batches[0]), atol=1e-4)
                t_in, t_srv = paired_calls(in_process, client.embed, batches, args.seconds)
                result = {
                    "calls": len(t_in),
                    "in_process": size * len(t_in) / sum(t_in),
                    "served": size * len(t_srv) / sum(t_srv),
                    "overhead_ms": 1000 * (statistics.median(t_srv) - statistics.median(t_in)),
                    "median_call_ms": {
                        "in_process": 1000 * statistics.median(t_in),
                        "served": 1000 * statistics.median(t_srv),
                    },
                }
                result["ratio"] = result["served"] / result["in_process"]
                halves = [slice(0, len(t_in) // 2), slice(len(t_in) // 2, None)]
                result["ratio_by_half"] = [sum(t_in[h]) / sum(t_srv[h]) for h in halves]
                results[size] = result
                print(
                    f"batch {size:4d}: in-process {result['in_process']:8.1f}/s  served {result['served']:8.1f}/s  "
                    f"ratio {result['ratio']:.3f}  overhead {result['overhead_ms']:+.2f} ms/call (median)  "
                    f"[{result['calls']} paired calls; ratio by half {result['ratio_by_half'][0]:.3f}, "
                    f"{result['ratio_by_half'][1]:.3f}]",
                    flush=True,
                )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    if args.plot:
        plot(results, args.plot)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = list(results)
    x = np.arange(len(sizes))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(x - 0.2, [results[s]["in_process"] for s in sizes], 0.4, label="in-process SavedModel")
    ax.bar(x + 0.2, [results[s]["served"] for s in sizes], 0.4, label="served (gRPC, own process)")
    for i, size in enumerate(sizes):
        ax.annotate(f"×{results[size]['ratio']:.2f}", (i + 0.2, results[size]["served"]), ha="center", va="bottom")
    ax.set_xticks(x, [f"batch {s}" for s in sizes])
    ax.set_ylabel("sentences / s")
    ax.set_title("Served vs in-process throughput (default structured model)")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
