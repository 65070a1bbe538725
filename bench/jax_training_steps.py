"""Training-step speed of each encoder on Keras's JAX backend: for a GPU machine that has JAX but no TensorFlow.

The encoders are written with `keras.ops` only, so they run unchanged on JAX; the text preprocessing is
TensorFlow, so this script feeds random token ids of realistic lengths instead of text. It builds every encoder
with the comparison's settings (`bench/compare.py`), runs a few warm-up steps (compilation), then times
``--steps`` training steps and prints steps/s, tokens/s and sentences/s per architecture, and the ratio to the
BiLSTM max-pooling baseline measured in the same run.

Usage (no TensorFlow needed; `pip install "jax[cuda12]" keras numpy`):
    python bench/jax_training_steps.py [--batch-size 64] [--length 40] [--steps 50] [--json out.json]
    python bench/jax_training_steps.py --quick      # pipeline check: tiny encoders, 1 step of 4 sentences
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: The comparison's encoder settings (bench/compare.py), with 50-d word vectors.
ENCODERS = {
    "classic": dict(embedding_dim=50, rnn_units=128, attention_units=128, dropout=0.3),
    "structured": dict(embedding_dim=50, rnn_units=128, attention_units=128, attention_hops=4, dropout=0.3),
    "transformer": dict(embedding_dim=50, hidden_dim=128, num_layers=2, num_heads=4, intermediate_dim=256, dropout=0.1),
    "bilstm_max": dict(embedding_dim=50, rnn_units=128, dropout=0.3),
}
#: --quick: tiny encoders and shapes, one timed step: a check of the script, not a result.
QUICK_ENCODERS = {
    "classic": dict(embedding_dim=8, rnn_units=8, attention_units=8),
    "structured": dict(embedding_dim=8, rnn_units=8, attention_units=8, attention_hops=2),
    "transformer": dict(embedding_dim=8, hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16),
    "bilstm_max": dict(embedding_dim=8, rnn_units=8),
}
QUICK_SHAPES = {"batch_size": 4, "length": 8, "vocabulary": 50, "steps": 1, "warmup": 1}


def time_architecture(architecture: str, args) -> dict:
    import keras
    import numpy as np

    from embedder.encoders import build_encoder, build_model

    keras.utils.set_random_seed(0)
    kwargs = dict((QUICK_ENCODERS if args.quick else ENCODERS)[architecture])
    if architecture == "transformer":
        kwargs["max_length"] = args.length
    model = build_model(build_encoder(architecture, vocabulary_size=args.vocabulary, **kwargs), num_classes=6)
    trainer = keras.Model(model.input, model.output["probabilities"])
    trainer.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    # Realistic padding: lengths spread over [length/4, length], zero-padded to `length`.
    lengths = rng.integers(max(1, args.length // 4), args.length + 1, size=(args.steps + args.warmup, args.batch_size))
    ids = rng.integers(3, args.vocabulary, size=(args.steps + args.warmup, args.batch_size, args.length))
    ids = np.where(np.arange(args.length)[None, None, :] < lengths[..., None], ids, 0).astype("int32")
    labels = rng.integers(0, 6, size=(args.steps + args.warmup, args.batch_size)).astype("int32")
    for step in range(args.warmup):
        trainer.train_on_batch(ids[step], labels[step])
    start = time.perf_counter()
    for step in range(args.warmup, args.warmup + args.steps):
        loss = trainer.train_on_batch(ids[step], labels[step])
    float(np.asarray(loss))  # wait for the device
    seconds = time.perf_counter() - start
    return {
        "architecture": architecture,
        "steps_per_s": args.steps / seconds,
        "sentences_per_s": args.steps * args.batch_size / seconds,
        "tokens_per_s": float(lengths[args.warmup :].sum()) / seconds,
        "parameters": int(model.count_params()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architectures", nargs="+", choices=tuple(ENCODERS), default=list(ENCODERS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--length", type=int, default=40, help="padded length (TREC ~40, SST-2 ~60, 20ng 300)")
    parser.add_argument("--vocabulary", type=int, default=30000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--quick", action="store_true", help="tiny encoders, 1 step of 4 sentences: a pipeline check")
    args = parser.parse_args(argv)
    if args.quick:
        vars(args).update(QUICK_SHAPES)

    import jax
    import keras

    assert keras.backend.backend() == "jax", keras.backend.backend()
    device = jax.devices()[0]
    print(f"keras {keras.__version__} on JAX {jax.__version__}, device {device.platform}: {device.device_kind}")
    results = [time_architecture(a, args) for a in args.architectures]
    baseline = next((r for r in results if r["architecture"] == "bilstm_max"), results[0])
    print(f"{'encoder':12s} {'steps/s':>9s} {'sent./s':>10s} {'tokens/s':>11s} {'vs bilstm_max':>14s} {'params':>10s}")
    for r in results:
        ratio = r["tokens_per_s"] / baseline["tokens_per_s"]
        print(
            f"{r['architecture']:12s} {r['steps_per_s']:9.2f} {r['sentences_per_s']:10.0f} {r['tokens_per_s']:11.0f} "
            f"{ratio:13.2f}x {r['parameters']:10,d}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"device": str(device), "args": vars(args), "results": results}, indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
