"""Benchmark 3: a client's cold start, our light client versus one built on `tensorflow_serving.apis`.

Each measurement is a fresh Python process, timed from its start until its first embedding call returns, with its
peak resident memory. The two clients alternate, against the same server, on the same sentences:

- light: ``from serving import EmbeddingClient`` (grpcio, protobuf, numpy);
- tf-serving-apis: TF Serving's example client: ``tensorflow_serving.apis`` stubs and messages, with
  ``tf.make_tensor_proto`` / ``tf.make_ndarray``, which import all of TensorFlow.

The server runs in its own process on 127.0.0.1: by default a small gRPC servicer over `tf.saved_model.load`
started by this script (the embedded server can be used instead with ``--target``). Goals: time ratio ≤ 0.1 and
peak-memory ratio ≤ 0.2.

    python bench/client_cold_start.py --repeats 5 --plot docs/img/client_cold_start.png
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SENTENCES = [
    "How far is the moon from the earth ?",
    "Who wrote Hamlet ?",
    "a gripping , beautifully acted film",
    "the plot was dull and the acting worse",
]

# Each client script records its own import time and peak RSS, then prints one JSON line as soon as embed returns.
# Peak RSS is VmHWM, which exec resets (getrusage's ru_maxrss would carry over the parent's peak).
_REPORT = """
import json
_peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"imported": _imported - _start, "checksum": float(abs(vectors).sum()), "shape": list(vectors.shape),
                  "peak_rss_mb": _peak_kb / 1024}), flush=True)
"""
CLIENTS = {
    "light": """
import time; _start = time.perf_counter()
import sys, json
from serving import EmbeddingClient
_imported = time.perf_counter()
with EmbeddingClient(sys.argv[1], sys.argv[2]) as client:
    vectors = client.embed(json.loads(sys.argv[3]))
""",
    "tf-serving-apis": """
import time; _start = time.perf_counter()
import sys, json
import grpc
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc
_imported = time.perf_counter()
with grpc.insecure_channel(sys.argv[1]) as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = sys.argv[2]
    request.model_spec.signature_name = "serving_default"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(json.loads(sys.argv[3]), dtype=tf.string))
    response = stub.Predict(request, timeout=60.0)
    vectors = tf.make_ndarray(response.outputs["embedding"])
""",
}


# ------------------------------------------------------------------------------------------- in-bench server
def serve(model_dir: str, model_name: str, port_file: str) -> None:
    """TF Serving's Predict for one SavedModel, until killed; writes its port to `port_file` once it answers."""
    from concurrent import futures

    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    from embedder import contract

    loaded = tf.saved_model.load(model_dir)
    version = int(Path(model_dir).name)

    def predict(request, context):
        if request.model_spec.name != model_name:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found: {request.model_spec.name}")
        signature = request.model_spec.signature_name or contract.SIGNATURE_EMBED
        text = tf.constant(tf.make_ndarray(request.inputs[contract.INPUT_TEXT]), dtype=tf.string)
        outputs = loaded.signatures[signature](**{contract.INPUT_TEXT: text})
        response = predict_pb2.PredictResponse()
        response.model_spec.name, response.model_spec.signature_name = model_name, signature
        response.model_spec.version.value = version
        for name, value in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(value.numpy()))
        return response

    handler = grpc.method_handlers_generic_handler(
        "tensorflow.serving.PredictionService",
        {
            "Predict": grpc.unary_unary_rpc_method_handler(
                predict,
                request_deserializer=predict_pb2.PredictRequest.FromString,
                response_serializer=predict_pb2.PredictResponse.SerializeToString,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    loaded.signatures[contract.SIGNATURE_EMBED](**{contract.INPUT_TEXT: tf.constant(SENTENCES)})  # warm up
    Path(port_file).write_text(str(port))
    server.wait_for_termination()


def export_bench_model(directory: Path) -> Path:
    """A structured self-attentive model of default size, vocabulary from TREC's training questions."""
    import csv

    from embedder import SentenceEmbedder, build_vocabulary

    with open(PROJECT_ROOT.parent / "shared" / "data" / "trec" / "train.tsv", encoding="utf-8") as file:
        texts = [row["text"] for row in csv.DictReader(file, delimiter="\t")]
    embedder = SentenceEmbedder.create("structured", build_vocabulary(texts))
    return embedder.export(directory / "bench", warmup=False)


def start_server(model_dir: Path, model_name: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    port_file = workdir / "port"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    command = [sys.executable, __file__, "--serve", str(model_dir), "--model", model_name]
    command += ["--port-file", str(port_file)]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 300
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("The bench server did not start.")
        time.sleep(0.2)
    return process, f"127.0.0.1:{port_file.read_text()}"


# ---------------------------------------------------------------------------------------------- measurement
def measure(client: str, target: str, model_name: str) -> dict:
    """Runs one client in a fresh process: seconds from start to the first embed returning, and its peak RSS."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-c", CLIENTS[client] + _REPORT, target, model_name, json.dumps(SENTENCES)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    seconds = time.perf_counter() - start
    _, stderr = process.communicate(timeout=120)
    if process.returncode != 0 or not line:
        raise RuntimeError(f"The {client} client failed:\n{stderr[-3000:]}")
    return {"client": client, "seconds": seconds, **json.loads(line)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="measurements per client (alternating)")
    parser.add_argument("--target", help="an already running server (host:port); default: start one here")
    parser.add_argument("--model", default="bench", help="the served model's name")
    parser.add_argument("--model-dir", help="a SavedModel version directory to serve; default: export a fresh one")
    parser.add_argument("--plot", help="write a bar chart of the medians to this PNG")
    parser.add_argument("--json", help="write all measurements to this JSON file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.model, args.port_file)
        return 0

    with tempfile.TemporaryDirectory() as workdir:
        server = None
        target = args.target
        if target is None:
            model_dir = Path(args.model_dir) if args.model_dir else export_bench_model(Path(workdir))
            server, target = start_server(model_dir, args.model, Path(workdir))
        try:
            runs = []
            for repeat in range(args.repeats):
                order = ("light", "tf-serving-apis") if repeat % 2 == 0 else ("tf-serving-apis", "light")
                for client in order:
                    runs.append(measure(client, target, args.model))
                    run = runs[-1]
                    print(
                        f"{repeat + 1:2d} {client:16s} {run['seconds']:6.2f} s (imports {run['imported']:5.2f} s)"
                        f"  peak RSS {run['peak_rss_mb']:7.1f} MB",
                        flush=True,
                    )
        finally:
            if server is not None:
                server.kill()
                server.wait()

    checksums = {run["client"]: run["checksum"] for run in runs}
    if abs(checksums["light"] - checksums["tf-serving-apis"]) > 1e-3 * max(1.0, abs(checksums["light"])):
        raise RuntimeError(f"The two clients returned different embeddings: {checksums}")
    summary = {}
    for client in CLIENTS:
        mine = [run for run in runs if run["client"] == client]
        summary[client] = {
            "seconds": statistics.median(run["seconds"] for run in mine),
            "imports": statistics.median(run["imported"] for run in mine),
            "peak_rss_mb": statistics.median(run["peak_rss_mb"] for run in mine),
        }
    light, heavy = summary["light"], summary["tf-serving-apis"]
    time_ratio = light["seconds"] / heavy["seconds"]
    memory_ratio = light["peak_rss_mb"] / heavy["peak_rss_mb"]
    print()
    print(f"median over {args.repeats} fresh processes each, {len(SENTENCES)} sentences, server {target}")
    print(f"{'client':16s} {'start→first embed':>18s} {'of which imports':>17s} {'peak RSS':>10s}")
    for client, row in summary.items():
        print(f"{client:16s} {row['seconds']:16.2f} s {row['imports']:15.2f} s {row['peak_rss_mb']:7.1f} MB")
    print(f"time ratio (light / tf-serving-apis):   {time_ratio:.3f}  (goal <= 0.1)")
    print(f"memory ratio (light / tf-serving-apis): {memory_ratio:.3f}  (goal <= 0.2)")
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "summary": summary}, indent=2))
    if args.plot:
        plot(summary, time_ratio, memory_ratio, Path(args.plot))
    return 0


def plot(summary: dict, time_ratio: float, memory_ratio: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary)
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3.2))
    left.bar(names, [summary[n]["seconds"] for n in names], color=["tab:green", "tab:gray"])
    left.set_ylabel("seconds, process start → first embed")
    left.set_title(f"time (ratio {time_ratio:.3f})")
    right.bar(names, [summary[n]["peak_rss_mb"] for n in names], color=["tab:green", "tab:gray"])
    right.set_ylabel("peak RSS, MB")
    right.set_title(f"memory (ratio {memory_ratio:.3f})")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    sys.exit(main())
