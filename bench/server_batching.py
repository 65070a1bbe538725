"""Benchmark 2: server-side batching with 32 concurrent callers sending one sentence at a time.

Two `embedder serve` processes serve the same default-size model (see `serving_common`) with the same gRPC worker
count (``--grpc_max_threads``): one runs each request on its own, the other with ``--enable_batching`` and
``serving/config/batching.config``. The load alternates between them in phases of `--seconds`, so background load
hits both alike: 32 callers (threads spread over `--client-processes` processes, each thread with its own
`EmbeddingClient`) each send one SST-2 sentence, wait for its vector, and send the next.

Reported: throughput (sentences/s) both ways and their ratio (goal ≥ 5× with batching), p50 and p99 latency
both ways, and the histogram of the batch sizes the batching server's model actually ran (scraped from its
Prometheus metrics).

    python bench/server_batching.py --seconds 20 --rounds 2 --json docs/img/server_batching.json \\
        --plot docs/img/server_batching.png
    python bench/server_batching.py --pretrained default --json docs/results/server-batching-default.json

Also reported: the share of the model's own gain that served batching keeps (served on/off ratio over the model
alone's batch-of-32 vs 32-threads-of-1 ratio, measured in the same run; goal ≥ 0.9).
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serving_common import (  # noqa: E402
    PROJECT_ROOT,
    ServerProcess,
    export_default_model,
    free_port,
    pyplot,
    save_results,
    sentences,
    shipped_export,
)

MONITORING = PROJECT_ROOT / "serving" / "config" / "monitoring.config"


def run_callers(
    target: str, first_caller: int, callers: int, seconds: float, start_at: float, texts: list[str], caller_kind: str
):
    """In a client process: `callers` threads, each embedding one sentence at a time until the phase ends.

    `caller_kind` "client" uses `EmbeddingClient` (one per thread); "stub" a blocking gRPC call with the client's
    own request messages (no futures, no chunking), the least client CPU per request.
    Returns (per-request latencies in seconds, failures, CPU seconds this process used during the phase).
    """
    import grpc
    import numpy as np

    from serving import EmbeddingClient
    from serving.client import schema as pb
    from serving.client.tensor_codec import string_tensor

    latencies: list[list[float]] = [[] for _ in range(callers)]
    failures: list[str] = []

    def caller(index: int) -> None:
        if caller_kind == "client":
            client = EmbeddingClient(target, "default", timeout=60)
            embed, close = client.embed, client.close
        else:
            channel = grpc.insecure_channel(target)
            predict = channel.unary_unary(
                pb.PREDICT_METHOD,
                request_serializer=pb.PredictRequest.SerializeToString,
                response_deserializer=pb.PredictResponse.FromString,
            )

            def embed(text):
                request = pb.PredictRequest()
                request.model_spec.name = "default"
                request.inputs["text"].CopyFrom(string_tensor([text.encode()]))
                output = predict(request, timeout=60).outputs["embedding"]
                return np.frombuffer(output.tensor_content, np.float32)

            close = channel.close
        embed(texts[0])  # connect before the clock starts
        time.sleep(max(0.0, start_at - time.time()))
        position = (first_caller + index) * 37
        end = start_at + seconds
        while time.time() < end:
            started = time.perf_counter()
            try:
                embed(texts[position % len(texts)])
            except Exception as error:  # noqa: BLE001 - counted and reported
                failures.append(repr(error))
                continue
            latencies[index].append(time.perf_counter() - started)
            position += 1
        close()

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(max(0.0, start_at - time.time()))
    cpu_start = time.process_time()
    for thread in threads:
        thread.join()
    return [x for per_caller in latencies for x in per_caller], failures, time.process_time() - cpu_start


def model_only_ceiling(version_dir: Path, texts: list[str], callers: int, seconds: float) -> dict:
    """The model alone, in this process, no gRPC: `callers` threads each running 1 sentence per call, against one
    thread running batches of `callers` sentences. Their ratio bounds what batching can gain for this model here."""
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    signature(text=tf.constant(texts[:callers]))
    signature(text=tf.constant(texts[:1]))
    count = [0]
    end = time.perf_counter() + seconds

    def single(index: int) -> None:
        position = index * 37
        while time.perf_counter() < end:
            signature(text=tf.constant([texts[position % len(texts)]]))["embedding"].numpy()
            count[0] += 1
            position += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=single, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    concurrent_singles = count[0] / (time.perf_counter() - started)
    rows, position, started = 0, 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        batch = [texts[(position + i) % len(texts)] for i in range(callers)]
        signature(text=tf.constant(batch))["embedding"].numpy()
        rows += callers
        position += callers
    batched = rows / (time.perf_counter() - started)
    return {"concurrent_single_sentence": concurrent_singles, "batched": batched, "ratio": batched / concurrent_singles}


def run_phase(pool, target: str, callers: int, processes: int, seconds: float, texts: list[str], caller_kind: str):
    start_at = time.time() + 3.0  # time for the client processes to connect
    share = [callers // processes + (1 if i < callers % processes else 0) for i in range(processes)]
    firsts = np.cumsum([0, *share[:-1]])
    futures = [
        pool.submit(run_callers, target, int(first), count, seconds, start_at, texts, caller_kind)
        for first, count in zip(firsts, share)
        if count
    ]
    latencies, failures, cpu = [], [], 0.0
    for future in futures:
        got, failed, seconds_used = future.result()
        latencies += got
        failures += failed
        cpu += seconds_used
    return latencies, failures, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=int, default=32)
    parser.add_argument("--client-processes", type=int, default=4)
    parser.add_argument(
        "--caller",
        choices=("client", "stub"),
        default="client",
        help="EmbeddingClient per caller, or a plain blocking gRPC call (less client CPU)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=2, help="phases per mode, alternating")
    parser.add_argument("--grpc-max-threads", type=int, default=64)
    parser.add_argument(
        "--batching-parameters-file", type=Path, default=PROJECT_ROOT / "serving" / "config" / "batching.config"
    )
    parser.add_argument(
        "--pretrained", metavar="NAME", help="serve this shipped model (e.g. default) instead of the default-size one"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args()

    import psutil

    from serving.server.metrics import parse_batch_sizes

    texts = sentences("dev")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        if args.pretrained:
            version_dir = shipped_export(args.pretrained, Path(workdir))
        else:
            version_dir = export_default_model(Path(workdir) / "default")
        common = [
            "--model_name=default",
            f"--model_base_path={version_dir.parent}",
            f"--grpc_max_threads={args.grpc_max_threads}",
            f"--monitoring_config_file={MONITORING}",
        ]
        ports = {"off": free_port(), "on": free_port()}
        with (
            ServerProcess(*common, f"--rest_api_port={ports['off']}") as off,
            ServerProcess(
                *common,
                f"--rest_api_port={ports['on']}",
                "--enable_batching",
                f"--batching_parameters_file={args.batching_parameters_file}",
            ) as on,
            concurrent.futures.ProcessPoolExecutor(
                args.client_processes, mp_context=multiprocessing.get_context("spawn")
            ) as pool,
        ):
            servers = {"off": off, "on": on}
            before = {mode: parse_batch_sizes(servers[mode].metrics(ports[mode])) for mode in servers}
            latencies = {mode: [] for mode in servers}
            failures = {mode: [] for mode in servers}
            order = [mode for r in range(args.rounds) for mode in (("off", "on") if r % 2 == 0 else ("on", "off"))]
            cpu = {mode: {"server": 0.0, "clients": 0.0} for mode in servers}
            for mode in order:
                server_cpu = psutil.Process(servers[mode].process.pid).cpu_times()
                got, failed, client_cpu = run_phase(
                    pool, servers[mode].target, args.callers, args.client_processes, args.seconds, texts, args.caller
                )
                server_cpu_after = psutil.Process(servers[mode].process.pid).cpu_times()
                used = (server_cpu_after.user + server_cpu_after.system) - (server_cpu.user + server_cpu.system)
                latencies[mode] += got
                failures[mode] += failed
                cpu[mode]["server"] += used
                cpu[mode]["clients"] += client_cpu
                print(
                    f"  phase {mode:3s}: {len(got) / args.seconds:8.1f} sentences/s, {len(failed)} failures, "
                    f"CPU per request: server {1000 * used / max(len(got), 1):.2f} ms, "
                    f"clients {1000 * client_cpu / max(len(got), 1):.2f} ms",
                    flush=True,
                )
            for mode in servers:
                sizes = parse_batch_sizes(servers[mode].metrics(ports[mode]))
                sizes.subtract(before[mode])
                lat = np.array(latencies[mode])
                results[mode] = {
                    "throughput": len(lat) / (args.seconds * args.rounds),
                    "p50_ms": 1000 * float(np.percentile(lat, 50)),
                    "p99_ms": 1000 * float(np.percentile(lat, 99)),
                    "requests": len(lat),
                    "failures": len(failures[mode]),
                    "batch_sizes": {int(k): v for k, v in sorted((+sizes).items())},
                    "server_cpu_ms_per_request": 1000 * cpu[mode]["server"] / max(len(lat), 1),
                    "client_cpu_ms_per_request": 1000 * cpu[mode]["clients"] / max(len(lat), 1),
                }
            # Servers idle now: the model alone, for the ceiling.
            results["model_only"] = model_only_ceiling(version_dir, texts, args.callers, args.seconds / 2)
    results["ratio"] = results["on"]["throughput"] / results["off"]["throughput"]
    results["share_of_model_gain"] = results["ratio"] / results["model_only"]["ratio"]
    results["settings"] = {
        "callers": args.callers,
        "client_processes": args.client_processes,
        "caller": args.caller,
        "seconds_per_phase": args.seconds,
        "rounds": args.rounds,
        "grpc_max_threads": args.grpc_max_threads,
        "model": args.pretrained or "default-size structured (untrained)",
        "batching_parameters": args.batching_parameters_file.read_text().split("\n# ")[-1].strip(),
    }
    for mode in ("off", "on"):
        r = results[mode]
        calls = sum(r["batch_sizes"].values())
        mean = sum(k * v for k, v in r["batch_sizes"].items()) / max(calls, 1)
        print(
            f"batching {mode:3s}: {r['throughput']:8.1f} sentences/s  p50 {r['p50_ms']:7.1f} ms  "
            f"p99 {r['p99_ms']:7.1f} ms  model calls {calls} (mean batch {mean:.1f})  failures {r['failures']}"
        )
    print(f"throughput ratio (on/off): {results['ratio']:.2f}")
    ceiling = results["model_only"]
    print(
        f"model alone, no gRPC: {args.callers} threads x 1 sentence {ceiling['concurrent_single_sentence']:.1f}/s, "
        f"batches of {args.callers} {ceiling['batched']:.1f}/s: ratio {ceiling['ratio']:.2f} (the ceiling for batching)"
    )
    print(f"share of the model's gain kept by served batching: {results['share_of_model_gain']:.2f} (goal >= 0.9)")
    histogram = collections.Counter(results["on"]["batch_sizes"])
    print("batch sizes run with batching on (size: calls):", dict(sorted(histogram.items())))
    save_results(results, args.json, args.plot, plot)


def plot(results: dict, path: Path) -> None:
    plt = pyplot()

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    modes = ("off", "on")
    left.bar(modes, [results[m]["throughput"] for m in modes], color=["tab:gray", "tab:blue"])
    for i, mode in enumerate(modes):
        r = results[mode]
        left.annotate(
            f"p50 {r['p50_ms']:.0f} ms\np99 {r['p99_ms']:.0f} ms",
            (i, r["throughput"]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    left.set_xlabel("server-side batching")
    left.set_ylabel("sentences / s")
    left.set_title(f"32 callers, one sentence each: ×{results['ratio']:.1f}")
    left.margins(y=0.25)
    sizes = results["on"]["batch_sizes"]
    right.bar(list(sizes), list(sizes.values()), color="tab:blue")
    right.set_xlabel("rows per model call (batching on)")
    right.set_ylabel("model calls")
    right.set_title("Batch sizes the model ran")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
