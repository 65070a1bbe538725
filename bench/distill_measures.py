"""What bench/distill.py measures: STS-B similarity, transfer by logistic regression, speed, start-up and memory.

Every model is measured through one interface, ``encode(sentences, batch_size) -> (n, dim)``, so the teacher
(PyTorch) and the students (our SavedModels, in-process or served) go through the same code.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA = PROJECT_ROOT.parent / "shared" / "data"

Encode = Callable[[Sequence[str], int], np.ndarray]


# ------------------------------------------------------------------------------------------------------- data
def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def unlabeled_lines(per_file: int, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """The first `per_file` lines of each ../shared/data/unlabeled file, stripped, without empty and `exclude`d
    ones, de-duplicated, in file order."""
    seen: dict[str, None] = {}
    for path in sorted((DATA / "unlabeled").glob("*.txt.gz")):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle):
                if number >= per_file:
                    break
                if (text := line.strip()) and text not in exclude:
                    seen.setdefault(text, None)
    return list(seen)


def stsb_dev() -> tuple[list[str], list[str], np.ndarray]:
    rows = read_tsv(DATA / "stsb" / "dev.tsv")
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["score"]) for r in rows])


def labelled(dataset: str, split: str) -> tuple[list[str], list[str]]:
    rows = read_tsv(DATA / dataset / f"{split}.tsv")
    return [r["text"] for r in rows], [r["label"] for r in rows]


def transfer_splits(seed: int = 0) -> dict[str, dict[str, tuple[list[str], list[str]]]]:
    """TREC and SST-2 as {task: {"train", "dev", "test": (texts, labels)}}; TREC's dev is a seeded 10 % of train."""
    trec_texts, trec_labels = labelled("trec", "train")
    order = np.random.default_rng(seed).permutation(len(trec_texts))
    cut = len(order) // 10
    dev_rows, train_rows = np.sort(order[:cut]), np.sort(order[cut:])
    return {
        "trec": {
            "train": ([trec_texts[i] for i in train_rows], [trec_labels[i] for i in train_rows]),
            "dev": ([trec_texts[i] for i in dev_rows], [trec_labels[i] for i in dev_rows]),
            "test": labelled("trec", "test"),
        },
        "sst2": {"train": labelled("sst2", "train"), "dev": labelled("sst2", "dev"), "test": labelled("sst2", "test")},
    }


# ---------------------------------------------------------------------------------------------- quality
def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def encode_all(encode: Encode, texts: Sequence[str], batch: int = 256) -> np.ndarray:
    """`encode` over `texts` in batches of `batch`, one (len(texts), dim) array."""
    return np.concatenate([encode(texts[i : i + batch], batch) for i in range(0, len(texts), batch)])


def sts_spearman(vectors: dict[str, np.ndarray], first: Sequence[str], second: Sequence[str], scores) -> float:
    """Spearman × 100 between the gold scores and the cosine of each pair's vectors (looked up by sentence)."""
    from scipy.stats import spearmanr

    a = unit(np.stack([vectors[s] for s in first]))
    b = unit(np.stack([vectors[s] for s in second]))
    return float(spearmanr((a * b).sum(axis=1), scores).statistic * 100)


C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def transfer_accuracy(
    vectors: dict[str, np.ndarray], splits: dict[str, tuple[list[str], list[str]]], seed: int = 0
) -> dict:
    """Frozen embeddings → standardised → logistic regression; C picked on dev, test accuracy × 100 reported.

    The classifier for the test score is refit on the training split with the chosen C.
    """
    train, dev, test = (split_features(vectors, splits, part) for part in ("train", "dev", "test"))
    dev_scores = {c: logistic_accuracy(train, dev, c, seed) for c in C_GRID}
    best = max(C_GRID, key=lambda c: (dev_scores[c], -c))
    return {"C": best, "dev": dev_scores[best], "test": logistic_accuracy(train, test, best, seed)}


def split_features(vectors: dict[str, np.ndarray], splits: dict, part: str) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, labels) of split `part` of `splits` ({part: (texts, labels)})."""
    texts, labels = splits[part]
    return np.stack([vectors[t] for t in texts]), np.array(labels)


def logistic_accuracy(train: tuple, evaluation: tuple, c: float, seed: int = 0) -> float:
    """Accuracy × 100 on `evaluation` of a standardised logistic regression (C = `c`) fit on `train` ((x, y) each)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000, random_state=seed))
    return float((model.fit(*train).predict(evaluation[0]) == evaluation[1]).mean() * 100)


# ------------------------------------------------------------------------------------------------- speed
def sentences_per_second(
    encode: Encode, sentences: Sequence[str], batch_size: int, repeats: int = 1, other_cpu: Callable[[], float] = None
) -> dict:
    """Encodes `sentences` (`repeats` times) in batches; sentences per wall second and per CPU second.

    The CPU time is this process's plus, with `other_cpu` (a server's CPU seconds so far), the other process's.
    """
    other = other_cpu or (lambda: 0.0)
    wall, cpu = time.perf_counter(), time.process_time() + other()
    for _ in range(repeats):
        for start in range(0, len(sentences), batch_size):
            encode(sentences[start : start + batch_size], batch_size)
    wall, cpu = time.perf_counter() - wall, time.process_time() + other() - cpu
    count = len(sentences) * repeats
    return {"per_s": count / wall, "per_cpu_s": count / max(cpu, 1e-9), "load": os.getloadavg()[0]}


def median_of(runs: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


class ServedModel:
    """`embedder serve` for one model base path, in its own process, and an `EmbeddingClient` to it.

    Args:
        model_base_path: the model's base path.
        name: the served model name.
        threads: TensorFlow intra-op threads of the server. Defaults to 2. Inter-op threads are the server's
            default (one per core), as `make run` serves: groups of similar length inside a request
            (`embedder.serving_module.SUB_BATCH_PARALLEL`) run side by side on them.
    """

    def __init__(self, model_base_path: Path, name: str = "student", threads: int = 2):
        from bench.serving_common import ServerProcess

        self.name = name
        self.server = ServerProcess(
            f"--model_name={name}",
            f"--model_base_path={model_base_path}",
            "--file_system_poll_wait_seconds=0",
            f"--tensorflow_intra_op_parallelism={threads}",
        )
        self.process, self.target = self.server.process, self.server.target
        from serving.client.embedding_client import EmbeddingClient

        self.client = EmbeddingClient(self.target, name, max_batch_size=256, max_in_flight=1, timeout=120)
        self.client.embed(["warm up"])

    def encode(self, sentences: Sequence[str], batch_size: int) -> np.ndarray:
        return self.client.embed(list(sentences))

    def cpu_seconds(self) -> float:
        """The server process's user + system CPU time so far."""
        import psutil

        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.client.close()
        self.server.stop()


def saved_model_encoder(version_dir: Path) -> Encode:
    """The SavedModel's serving_default signature called in-process (what the server runs, minus gRPC)."""
    import tensorflow as tf

    from embedder import contract

    signature = tf.saved_model.load(str(version_dir)).signatures[contract.SIGNATURE_EMBED]

    def encode(sentences, batch_size):
        return signature(**{contract.INPUT_TEXT: tf.constant(list(sentences))})[contract.OUTPUT_EMBEDDING].numpy()

    return encode


# ------------------------------------------------------------------------------------- start-up and memory
_TEACHER_START = """
import time; start = time.perf_counter()
import os, json
os.environ["HF_HUB_OFFLINE"] = "1"
import torch
from sentence_transformers import SentenceTransformer
model = SentenceTransformer({path!r}, device="cpu")
model.encode(["The first sentence."])
first = time.perf_counter() - start
model.encode({batch!r}, batch_size=len({batch!r}))
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
print(json.dumps({{"first_vector_s": first, "peak_rss_mib": peak}}))
"""

_STUDENT_START = """
import time; start = time.perf_counter()
import json
import tensorflow as tf
signature = tf.saved_model.load({path!r}).signatures["serving_default"]
signature(text=tf.constant(["The first sentence."]))
first = time.perf_counter() - start
signature(text=tf.constant({batch!r}))
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
print(json.dumps({{"first_vector_s": first, "peak_rss_mib": peak}}))
"""


def start_up(kind: str, path: Path, batch: Sequence[str]) -> dict:
    """A fresh process: seconds from its first line to the first vector, and its peak RSS after a 128-batch.

    Peak RSS is the kernel's VmHWM of the process (getrusage's ru_maxrss would also count the forked parent's).

    The student process imports only TensorFlow (as a TF Serving-like consumer would); the teacher's imports
    PyTorch and sentence-transformers.
    """
    template = _TEACHER_START if kind == "teacher" else _STUDENT_START
    code = template.format(path=str(path), batch=list(batch))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    if done.returncode:
        raise RuntimeError(f"start-up measurement of {path} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
