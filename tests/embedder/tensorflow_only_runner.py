"""Run by the export tests in a fresh interpreter: loads SavedModels with nothing but TensorFlow.

Usage: python tensorflow_only_runner.py OUT.npz VERSION_DIR... (inputs come as JSON on stdin: a list of batches).
After `import tensorflow`, any further import of keras, tf_keras or the project's packages raises, so the
SavedModels are proven to load and run without them (what TensorFlow imports for itself is outside our control).
"""

import json
import sys

import numpy as np
import tensorflow as tf

BLOCKED = ("keras", "tf_keras", "embedder", "serving", "training", "tests")


class _BlockProjectImports:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED and name not in sys.modules:
            raise ImportError(f"{name} must not be imported to serve a SavedModel")
        return None


def main() -> None:
    out_path, version_dirs = sys.argv[1], sys.argv[2:]
    batches = json.load(sys.stdin)
    sys.meta_path.insert(0, _BlockProjectImports())
    results = {}
    for model_index, version_dir in enumerate(version_dirs):
        loaded = tf.saved_model.load(version_dir)
        for name, function in loaded.signatures.items():
            for batch_index, batch in enumerate(batches):
                texts = tf.constant([t.encode("utf-8", "surrogateescape") for t in batch], dtype=tf.string)
                for output, value in function(text=texts).items():
                    results[f"{model_index}/{name}/{batch_index}/{output}"] = value.numpy()
    np.savez(out_path, **results)
    print("project modules imported:", sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED[2:]))


if __name__ == "__main__":
    main()
