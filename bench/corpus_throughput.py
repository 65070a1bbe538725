"""Benchmark: `embedder embed-corpus` end to end, against the in-process model call alone, and its memory.

On one corpus (TREC's questions, cycled to `--lines` lines), each measurement in a fresh process:

- model alone: the SavedModel's ``serving_default`` called in-process on the corpus already in memory, in the
  job's own batches (its default chunks sorted by length, 128 sentences a call), no reading, no writing; timed one
  chunk at a time and two chunks at a time (as the job runs them), and the faster of the two counts;
- in-process job: `embed_corpus` with `SavedModelBackend` (``--saved-model``): scan, read, embed, write .npy
  through the memory map, commit every chunk;
- served job: `embed_corpus` with `GrpcBackend` (``--target``) against ``embedder serve`` in its own process on
  127.0.0.1 (the job's process imports no TensorFlow).

Throughput is lines per second of the timed part (the model is loaded and warmed up before the clock starts; the
job's time includes its input scan). Runs go in rounds (model alone, in-process job, served job), with the model
alone measured once more at the end; each job is compared with the mean of the model-alone runs just before and
after it, so drift in the shared machine's load shows in the per-round ratios. Goal: each job ≥ 0.8 of the model
alone. The jobs run with their defaults (chunk size, batch size, requests in flight).

The machine is shared, so wall-clock speeds drift with other work; the CPU time each measurement used (all
threads; for the served job the client's and the server process's together) drifts much less, and lines per
CPU-second compare the work each path does per line. Both are printed, per round and as medians.

Memory: RssAnon of the job's process while the job runs (sampled every 10 ms from /proc/self/status; the
memory-mapped output's pages are file-backed and not counted): its peak at `--small` and `--lines` lines, and its
median per quarter of the job at `--lines` and `--long` lines. Flat means the level stops rising after the first
chunks, however long the corpus.

    python bench/corpus_throughput.py                      # 100k lines (10k and 300k for memory), default-size model
    python bench/corpus_throughput.py --model models/default
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TREC = PROJECT_ROOT.parent / "shared" / "data" / "trec"


# ------------------------------------------------------------------------------------------------ worker side
class PeakAnonymousMemory:
    """Samples RssAnon (KiB) of this process every `interval` seconds in a thread: `peak_mib` is the highest
    sample, `median_mib` the typical level (a peak also catches the moment two chunks' buffers coincide)."""

    def __init__(self, interval: float = 0.01):
        self.interval, self.peak_kib, self._stop = interval, 0, threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def current_kib() -> int:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("RssAnon:"))

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(self.current_kib())
            self.peak_kib = max(self.peak_kib, self.samples[-1])
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak_kib = self.current_kib()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, self.current_kib())

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    @property
    def median_mib(self) -> float:
        return statistics.median(self.samples or [self.peak_kib]) / 1024

    def quarter_medians_mib(self) -> list[float]:
        """The median of each quarter of the samples, in order: a level that climbs with time would show here."""
        samples = self.samples or [self.peak_kib]
        size = max(1, len(samples) // 4)
        return [statistics.median(samples[i * size : (i + 1) * size] or samples[-1:]) / 1024 for i in range(4)]


def job_defaults() -> tuple[int, int]:
    """The job's default chunk size and batch size: the settings a user gets, and the ones measured here."""
    import dataclasses

    from serving.corpus.backend_spec import BackendSpec
    from serving.corpus.job import CorpusJobConfig

    chunk = next(f.default for f in dataclasses.fields(CorpusJobConfig) if f.name == "chunk_size")
    batch = next(f.default for f in dataclasses.fields(BackendSpec) if f.name == "batch_size")
    return chunk, batch


def worker(args) -> dict:
    """One measurement in this (fresh) process; returns its JSON report."""
    from serving.corpus.backend_spec import GRPC, SAVED_MODEL, BackendSpec

    chunk_size, batch_size = job_defaults()

    if args.mode == "model-alone":
        import numpy as np

        from serving.corpus.job import length_order
        from serving.corpus.saved_model_backend import SavedModelBackend

        backend = SavedModelBackend(args.model, batch_size=batch_size)
        texts = Path(args.corpus).read_text("utf-8").splitlines()
        chunks = []
        for start in range(0, len(texts), chunk_size):
            chunk = texts[start : start + chunk_size]
            chunks.append([chunk[i] for i in length_order(chunk)])
        backend.embed(chunks[0][:batch_size])  # warm-up
        started, cpu = time.perf_counter(), time.process_time()
        rows = sum(len(backend.embed(chunk)) for chunk in chunks)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        # The job keeps two chunks in the model at once; the model alone gets the same chance.
        started, cpu = time.perf_counter(), time.process_time()
        with ThreadPoolExecutor(2) as pool:
            threaded_rows = sum(len(vectors) for vectors in pool.map(backend.embed, chunks))
        threaded_seconds, threaded_cpu = time.perf_counter() - started, time.process_time() - cpu
        assert rows == threaded_rows == len(texts) and np.isfinite(backend.embed(texts[:2])).all()
        return {
            "lines": rows,
            "seconds": min(seconds, threaded_seconds),
            "cpu_s": min(cpu_seconds, threaded_cpu),
            "sequential_s": seconds,
            "two_threads_s": threaded_seconds,
        }

    from serving.corpus.job import CorpusJobConfig, embed_corpus

    if args.mode == "job-in-process":
        spec = BackendSpec(kind=SAVED_MODEL, saved_model=args.model)
    else:
        spec = BackendSpec(kind=GRPC, target=args.target, model="bench")
    backend = spec.create()
    backend.embed(["a warm-up sentence"] * 4)
    config = CorpusJobConfig(inputs=(args.corpus,), output=args.out, progress=False)
    with PeakAnonymousMemory() as memory:  # while the job runs: the model is loaded and warm before
        started, cpu = time.perf_counter(), time.process_time()
        manifest = embed_corpus(config, backend)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    backend.close()
    report = {"lines": manifest.input["records"], "seconds": seconds, "cpu_s": cpu_seconds}
    report["peak_rss_anon_mib"] = memory.peak_mib
    report["median_rss_anon_mib"] = memory.median_mib
    report["quarter_medians_rss_anon_mib"] = memory.quarter_medians_mib()
    report["imports_tensorflow"] = "tensorflow" in sys.modules
    return report


# ------------------------------------------------------------------------------------------------ driver side
def make_corpus(path: Path, lines: int) -> None:
    texts = []
    for name in ("train.tsv", "test.tsv"):
        with open(TREC / name, encoding="utf-8") as handle:
            next(handle)
            texts.extend(line.rstrip("\n").split("\t", 1)[1] for line in handle)
    with open(path, "w", encoding="utf-8") as out:
        for i in range(lines):
            out.write(texts[i % len(texts)] + "\n")


def export_bench_model(directory: Path) -> Path:
    """A structured self-attentive model of default size, vocabulary from TREC's training questions (untrained
    weights: throughput does not depend on their values)."""
    from embedder import SentenceEmbedder, build_vocabulary

    with open(TREC / "train.tsv", encoding="utf-8") as handle:
        texts = [line.rstrip("\n").split("\t", 1)[1] for line in list(handle)[1:]]
    return SentenceEmbedder.create("structured", build_vocabulary(texts)).export(directory / "bench", warmup=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_worker(mode: str, corpus: Path, out: Path, model: str, target: str, server_pid: int) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--corpus", str(corpus), "--out", str(out)]
    command += ["--model", model, "--target", target]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    server_cpu = process_cpu_seconds(server_pid)
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    if done.returncode != 0:
        raise RuntimeError(f"{mode} failed:\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    if mode == "job-grpc":
        # The server's share of the work (the model runs there); its warm-up call is a rounding error.
        report["server_cpu_s"] = server_cpu
        report["cpu_s"] += server_cpu
    report["lines_per_s"] = report["lines"] / report["seconds"]
    report["lines_per_cpu_s"] = report["lines"] / report["cpu_s"]
    print(f"  {mode:15s} {corpus.name:14s} {report['lines_per_s']:8.0f} lines/s  {json.dumps(report)}", flush=True)
    return report


def wait_for_server(target: str, server: subprocess.Popen, timeout: float = 300) -> None:
    from serving import EmbeddingClient

    deadline = time.monotonic() + timeout
    with EmbeddingClient(target, "bench", timeout=5) as client:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with status {server.returncode}")
            try:
                client.resolve_version()
                return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="the large corpus (default 100000)")
    parser.add_argument("--small", type=int, default=10_000, help="the small corpus, for memory (default 10000)")
    parser.add_argument("--long", type=int, default=300_000, help="a longer corpus, for memory (default 300000)")
    parser.add_argument("--model", help="a model base path or version directory; default: export a fresh one")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of (model alone, in-process, served)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.mode = args.worker
        print(json.dumps(worker(args)), flush=True)
        return

    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as workdir:
        work = Path(workdir)
        model = args.model or str(export_bench_model(work / "models").parent)
        from embedder.versions import resolve_version_dir

        version_dir = resolve_version_dir(model)
        served = work / "served" / "bench"
        served.mkdir(parents=True)
        os.symlink(version_dir.resolve(), served / "1")
        small, large = work / f"corpus-{args.small}.txt", work / f"corpus-{args.lines}.txt"
        long = work / f"corpus-{args.long}.txt"
        make_corpus(small, args.small)
        make_corpus(large, args.lines)
        make_corpus(long, args.long)
        port = free_port()
        target = f"127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "embedder", "serve", f"--port={port}", "--model_name=bench"]
            + [f"--model_base_path={served}", "--file_system_poll_wait_seconds=0"],
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_server(target, server)
            print(f"model {version_dir}; corpora of {args.small} and {args.lines} lines; server {target}")
            runs = {}
            sequence = []
            for round_ in range(args.rounds):
                sequence += [
                    (f"alone-{round_}", "model-alone", large),
                    (f"in-process-{round_}", "job-in-process", large),
                ]
                sequence += [(f"served-{round_}", "job-grpc", large)]
            sequence += [(f"alone-{args.rounds}", "model-alone", large)]
            sequence += [("in-process-small", "job-in-process", small), ("served-small", "job-grpc", small)]
            sequence += [("in-process-long", "job-in-process", long), ("served-long", "job-grpc", long)]
            for name, mode, corpus in sequence:
                runs[name] = run_worker(mode, corpus, work / f"out-{name}", str(version_dir), target, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)

    report(runs, args)


def report(runs: dict, args) -> None:
    """Prints the results as Markdown tables: per round, each job against the model alone measured around it."""
    chunk_size, batch_size = job_defaults()
    print(f"\nchunks of {chunk_size} lines, {batch_size} sentences per model call or request\n")
    header = " | ".join(f"round {r + 1}" for r in range(args.rounds))
    for key, unit in (("lines_per_s", "lines/s (wall clock)"), ("lines_per_cpu_s", "lines per CPU-second")):
        print(f"| {args.lines:,} lines, {unit} | {header} | ratio to the model alone, per round | median |")
        print("|---|" + "---|" * (args.rounds + 2))
        alone = [runs[f"alone-{r}"][key] for r in range(args.rounds + 1)]
        print(
            f"| model alone (before each round; after the last: {alone[-1]:.0f}) | "
            f"{' | '.join(f'{a:.0f}' for a in alone[:-1])} | 1 | 1 |"
        )
        for name, label in (
            ("in-process", "job, in-process (`--saved-model`)"),
            ("served", "job, served (`--target`)"),
        ):
            speeds = [runs[f"{name}-{r}"][key] for r in range(args.rounds)]
            ratios = [speed / ((alone[r] + alone[r + 1]) / 2) for r, speed in enumerate(speeds)]
            print(
                f"| {label} | {' | '.join(f'{v:.0f}' for v in speeds)} | {' / '.join(f'{v:.2f}' for v in ratios)} "
                f"| **{statistics.median(ratios):.2f}** |"
            )
        print()
    print()
    print(f"| RssAnon of the job's process | {args.small:,} lines | {args.lines:,} lines (highest round) | ratio |")
    print("|---|---|---|---|")
    for name, label in (("in-process", "job, in-process"), ("served", "job, served (client process)")):
        low = runs[f"{name}-small"]["peak_rss_anon_mib"]
        high = max(runs[f"{name}-{r}"]["peak_rss_anon_mib"] for r in range(args.rounds))
        print(f"| {label}, peak | {low:.0f} MiB | {high:.0f} MiB | **{high / low:.2f}** |")
    print()
    print("Median RssAnon in each quarter of a job, and its peak (a level growing with the corpus would climb):")
    print()
    print("| job | lines | 1st quarter | 2nd | 3rd | 4th | peak |")
    print("|---|---|---|---|---|---|---|")
    for name, label in (("in-process", "in-process"), ("served", "served (client process)")):
        for key, lines in [(f"{name}-{r}", f"{args.lines:,} (round {r + 1})") for r in range(args.rounds)] + [
            (f"{name}-long", f"{args.long:,}")
        ]:
            quarters = runs[key]["quarter_medians_rss_anon_mib"]
            cells = " | ".join(f"{q:.0f} MiB" for q in quarters)
            print(f"| {label} | {lines} | {cells} | {runs[key]['peak_rss_anon_mib']:.0f} MiB |")


if __name__ == "__main__":
    main()
