"""Run by test_backends.py under KERAS_BACKEND=jax: the encoders must run there unchanged (keras.ops only).

Usage: python jax_backend_runner.py WEIGHTS.npz OUT.npz — builds each tiny encoder, loads the weights the
TensorFlow run saved, and writes its outputs. (bench/ times training steps on JAX.)
"""

import os
import sys


def main() -> None:
    os.environ["KERAS_BACKEND"] = "jax"
    sys.path.insert(0, os.environ["PROJECT_ROOT"])
    import keras
    import numpy as np

    from embedder.encoders import build_encoder, build_model
    from tests.embedder.encoders.test_backends import TOKENS
    from tests.helpers.models import TINY_ENCODERS

    assert keras.backend.backend() == "jax"
    weights = np.load(sys.argv[1])
    results = {}
    for architecture, kwargs in TINY_ENCODERS.items():
        model = build_model(build_encoder(architecture, vocabulary_size=40, **kwargs), num_classes=2)
        model.set_weights([weights[f"{architecture}/{i}"] for i in range(len(model.weights))])
        outputs = model(TOKENS)
        results[f"{architecture}/embedding"] = np.asarray(outputs["embedding"])
        results[f"{architecture}/attention"] = np.asarray(outputs["attention"])
    np.savez(sys.argv[2], **results)


if __name__ == "__main__":
    main()
