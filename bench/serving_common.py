"""Shared by the serving benchmarks: the default-size model, real sentences, and an `embedder serve` process.

The model is the default structured self-attentive encoder (embedding 128, BiLSTM 2×128, 4 hops, 1024-d output)
over a vocabulary built from SST-2's training sentences, max_length 128, with a 2-class head. It is *untrained*:
timing depends on the shapes, not on the weights.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT.parent / "shared" / "data"
SST2 = DATA / "sst2"


def sentences(split: str = "dev") -> list[str]:
    """SST-2 sentences (872 in dev, about 19 words each)."""
    with open(SST2 / f"{split}.tsv", encoding="utf-8") as handle:
        return [row["text"] for row in csv.DictReader(handle, delimiter="\t")]


def export_default_model(model_base_path: Path) -> Path:
    """Exports the untrained default-size structured model; returns the version directory."""
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.text_preprocessor import build_vocabulary

    vocabulary = build_vocabulary(sentences("train"))
    embedder = SentenceEmbedder.create("structured", vocabulary, max_length=128, labels=["negative", "positive"])
    return embedder.export(model_base_path)


#: --quick: a few sentences instead of SST-2 (the benches' pipeline check, e.g. in the tests; not a result).
QUICK_SENTENCES = [
    "a good film",
    "a bad film , and a long one",
    "what a wonderful , moving story",
    "the plot was dull and the acting worse",
    "who wrote hamlet ?",
    "how far is the moon from the earth ?",
]


def export_quick_model(model_base_path: Path) -> Path:
    """--quick: a tiny structured model (a few thousand weights) over `QUICK_SENTENCES`; its version directory."""
    from embedder.sentence_embedder import SentenceEmbedder
    from embedder.text_preprocessor import build_vocabulary

    embedder = SentenceEmbedder.create(
        "structured",
        build_vocabulary(QUICK_SENTENCES),
        max_length=16,
        labels=["negative", "positive"],
        embedding_dim=8,
        rnn_units=6,
        attention_units=5,
        attention_hops=2,
    )
    return embedder.export(model_base_path)


#: The modules that build an export's graph: a change to them makes `shipped_export` export again.
EXPORT_CODE = ("embedder/serving_module.py", "embedder/export.py", "embedder/text_preprocessor.py")


def export_code_hash() -> str:
    """sha256 over `EXPORT_CODE`'s sources."""
    import hashlib

    digest = hashlib.sha256()
    for relative in EXPORT_CODE:
        digest.update((PROJECT_ROOT / relative).read_bytes())
    return digest.hexdigest()


def shipped_export(name: str, work: Path) -> Path:
    """The SavedModel version directory of shipped model `name`, exported once under ``work/models/name`` (again
    when the shipped weights or the code that builds the graph changed since: a re-shipped model or a new serving
    graph is never measured through a stale export). The weights' hash is the one their config records, the key
    `pretrained.resolve_model_path` caches exports by; the code's is `export_code_hash`."""
    import shutil

    from embedder import pretrained
    from embedder.versions import numeric_versions

    base = work / "models" / name
    key = f"{pretrained.read_config(name)['files'][pretrained.WEIGHTS_FILE]} {export_code_hash()}"
    marker = base / "shipped-weights.sha256"
    if numeric_versions(base) and (not marker.is_file() or marker.read_text() != key):
        shutil.rmtree(base)
    if not numeric_versions(base):
        pretrained.export(name, base, version=1)
        marker.write_text(key)
    return base / "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: The line `embedder serve` logs once it listens; its group is the ``host:port`` target.
READY_LINE = re.compile(r"Running gRPC ModelServer at (127\.0\.0\.1:\d+)")


class ServerProcess:
    """`embedder serve` in its own process; `target` once it listens. Use as a context manager."""

    def __init__(self, *flags: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "embedder", "serve", "--port=0", *flags],
            cwd=PROJECT_ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        self.log: list[str] = []
        for line in self.process.stderr:
            self.log.append(line)
            if match := READY_LINE.search(line):
                self.target = match[1]
                break
        else:
            raise RuntimeError("embedder serve did not start:\n" + "".join(self.log))
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()

    def metrics(self, rest_port: int, path: str = "/monitoring/prometheus/metrics") -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{rest_port}{path}", timeout=10) as reply:
            return reply.read().decode()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def pyplot():
    """matplotlib.pyplot on the file-only backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_results(results: dict, json_path: Path | None, plot_path: Path | None, plot) -> None:
    """Writes `results` as JSON and draws `plot(results, plot_path)`, for the paths given."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2))
    if plot_path:
        plot_path.parent.mkdir(parents=True, exist_ok=True)
        plot(results, plot_path)
