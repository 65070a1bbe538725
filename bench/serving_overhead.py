"""Benchmark 1: what serving over gRPC costs, against calling the SavedModel in-process.

The same exported default-size model (see `serving_common`), the same SST-2 sentences, batches of 1, 64 and 256,
three ways:

- in-process: ``tf.saved_model.load(version_dir).signatures["serving_default"](text=tf.constant(batch))``;
- served, light client: ``EmbeddingClient.embed(batch)`` against ``embedder serve`` in its own process on
  127.0.0.1 (one request per call; no server batching: the plain request path);
- served, plain stub: one blocking ``PredictionServiceStub.Predict`` with TF Serving's own messages, decoded with
  ``np.frombuffer``: the server's and gRPC's cost without the client library's.

The three alternate call by call (rotating the order) for `--seconds` per batch size, so load from other jobs
hits them alike; throughput is rows over the summed call times. Goal: served/in-process ≥ 0.95 at 64 and 256.

    python bench/serving_overhead.py --seconds 40 --json docs/img/serving_overhead.json \\
        --plot docs/img/serving_overhead.png
    python bench/serving_overhead.py --pretrained default --seconds 40 --json docs/results/serving-overhead-default.json
    python bench/serving_overhead.py --quick --json /tmp/overhead.json   # pipeline check: tiny model, seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving_common import (  # noqa: E402
    QUICK_SENTENCES,
    ServerProcess,
    export_default_model,
    export_quick_model,
    pyplot,
    save_results,
    sentences,
    shipped_export,
)

BATCH_SIZES = (1, 64, 256)
QUICK_BATCH_SIZES = (1, 4)
WAYS = ("in_process", "client", "stub")


def alternating_calls(calls: dict, batches, seconds: float) -> dict[str, list[float]]:
    """Calls each of `calls` on the same batch in turn (rotating who goes first) for about `seconds`; returns
    each one's call times. Alternating exposes all to the same background load, so their ratios stay meaningful
    on a busy machine even when the absolute times drift."""
    names = list(calls)
    times = {name: [] for name in names}
    started, i = time.perf_counter(), 0
    while time.perf_counter() - started < seconds or i < len(names):
        batch = batches[i % len(batches)]
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t = time.perf_counter()
            calls[name](batch)
            times[name].append(time.perf_counter() - t)
        i += 1
    return times


def table(results: dict) -> str:
    """The Markdown table of a results JSON (keys: batch sizes), as docs/BENCHMARKS.md shows it."""
    rows = [
        "| batch | in-process | light client (ratio, overhead/call) | plain stub (ratio, overhead/call) |",
        "|---|---|---|---|",
    ]
    for size, r in sorted(results.items(), key=lambda item: int(item[0])):
        rows.append(
            f"| {size} | {r['in_process']:.1f} sent./s | {r['client']:.1f}/s — **{r['client_ratio']:.2f}**, "
            f"{r['client_overhead_ms']:+.2f} ms | {r['stub']:.1f}/s — **{r['stub_ratio']:.2f}**, "
            f"{r['stub_overhead_ms']:+.2f} ms |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, help="seconds of alternating calls per batch size (default 30)")
    parser.add_argument("--quick", action="store_true", help="tiny model, few sentences, 0.2 s: a pipeline check")
    parser.add_argument(
        "--pretrained", metavar="NAME", help="serve this shipped model (e.g. default) instead of the default-size one"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (0.2 if args.quick else 30.0)

    import grpc
    import tensorflow as tf
    from tensorflow.core.framework import tensor_pb2, types_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

    from serving import EmbeddingClient

    texts = QUICK_SENTENCES if args.quick else sentences("dev")
    with tempfile.TemporaryDirectory() as workdir:
        if args.pretrained:
            version_dir = shipped_export(args.pretrained, Path(workdir))
        else:
            version_dir = (export_quick_model if args.quick else export_default_model)(Path(workdir) / "default")
        signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]

        def in_process(batch):
            return signature(text=tf.constant(batch))["embedding"].numpy()

        with (
            ServerProcess("--model_name=default", f"--model_base_path={version_dir.parent}") as server,
            EmbeddingClient(server.target, "default", max_batch_size=256, max_in_flight=1, timeout=120) as client,
            grpc.insecure_channel(server.target, options=[("grpc.max_receive_message_length", -1)]) as channel,
        ):
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)

            def plain_stub(batch):
                request = predict_pb2.PredictRequest()
                request.model_spec.name = "default"
                tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[t.encode() for t in batch])
                tensor.tensor_shape.dim.add(size=len(batch))
                request.inputs["text"].CopyFrom(tensor)
                output = stub.Predict(request, timeout=120).outputs["embedding"]
                return np.frombuffer(output.tensor_content, np.float32).reshape(
                    [d.size for d in output.tensor_shape.dim]
                )

            calls = {"in_process": in_process, "client": client.embed, "stub": plain_stub}
            results = {}
            for size in QUICK_BATCH_SIZES if args.quick else BATCH_SIZES:
                batches = [texts[i : i + size] for i in range(0, len(texts) - size + 1, size)] or [texts[:size]]
                for call in calls.values():
                    np.testing.assert_allclose(call(batches[0]), in_process(batches[0]), atol=1e-4)
                times = alternating_calls(calls, batches, seconds)
                result = {"calls": len(times["in_process"])}
                for way in WAYS:
                    result[way] = size * len(times[way]) / sum(times[way])
                    result[f"{way}_median_ms"] = 1000 * statistics.median(times[way])
                for way in ("client", "stub"):
                    result[f"{way}_ratio"] = result[way] / result["in_process"]
                    result[f"{way}_overhead_ms"] = result[f"{way}_median_ms"] - result["in_process_median_ms"]
                results[size] = result
                print(
                    f"batch {size:4d}: in-process {result['in_process']:7.1f}/s | light client "
                    f"{result['client']:7.1f}/s ratio {result['client_ratio']:.3f} overhead "
                    f"{result['client_overhead_ms']:+6.2f} ms | plain stub {result['stub']:7.1f}/s ratio "
                    f"{result['stub_ratio']:.3f} overhead {result['stub_overhead_ms']:+6.2f} ms  "
                    f"[{result['calls']} calls each]",
                    flush=True,
                )
    save_results(results, args.json, args.plot, plot)
    return 0


def plot(results: dict, path: Path) -> None:
    plt = pyplot()

    sizes = list(results)
    x = np.arange(len(sizes))
    labels = {"in_process": "in-process SavedModel", "client": "served, light client", "stub": "served, plain stub"}
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for offset, way in zip((-0.27, 0, 0.27), WAYS):
        values = [results[s][way] for s in sizes]
        ax.bar(x + offset, values, 0.27, label=labels[way])
        if way != "in_process":
            for i, size in enumerate(sizes):
                ratio = results[size][f"{way}_ratio"]
                ax.annotate(f"{ratio:.2f}", (i + offset, values[i]), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [f"batch {s}" for s in sizes])
    ax.set_ylabel("sentences / s")
    ax.set_title("Served (gRPC, own process) vs in-process: throughput and ratio")
    ax.legend(fontsize=8)
    ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
