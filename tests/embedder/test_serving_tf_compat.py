"""Exports load and run in the TensorFlow of the stock TF Serving image that docker-compose.yml and serving/k8s pin.

We export with a newer TensorFlow than that image runs, and new export options (bfloat16) are where forward
compatibility breaks. `make test` builds a side venv with only `tensorflow-cpu` at the image's version
(`make test-serving-tf-compat`, Makefile's TF_SERVING_TF) and runs this file with EMBEDDER_SERVING_TF_PYTHON set to
its interpreter: every signature of float32 and bfloat16 exports of each architecture must give the outputs that
this TensorFlow gives. Without the variable (a plain `pytest`), only the version pins are checked.
"""

from __future__ import annotations

import os
import re
import subprocess

import numpy as np
import pytest
import yaml

from tests.helpers.models import make_tiny_embedder, run_in_tensorflow_only_process
from tests.helpers.paths import PROJECT_ROOT

SERVING_PYTHON = os.environ.get("EMBEDDER_SERVING_TF_PYTHON") and os.path.abspath(
    os.environ["EMBEDDER_SERVING_TF_PYTHON"]
)
BATCHES = [["a good film", "", "what a wonderful , moving story", "zzz unknown words " * 12], ["who wrote hamlet ?"]]


def image_tensorflow_version() -> str:
    compose = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    image = compose["services"]["tensorflow-serving"]["image"]  # ${TF_SERVING_IMAGE:-tensorflow/serving:X.Y.Z}
    return re.search(r"tensorflow/serving:(\d+\.\d+\.\d+)", image)[1]


def test_the_side_venv_pins_the_image_tensorflow():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"^TF_SERVING_TF := (\S+)$", makefile, re.M)[1] == image_tensorflow_version()


@pytest.mark.skipif(not SERVING_PYTHON, reason="run by `make test-serving-tf-compat` (EMBEDDER_SERVING_TF_PYTHON)")
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_exports_run_in_the_serving_images_tensorflow(precision, tiny_vocabulary, tmp_path):
    version = subprocess.run(
        [SERVING_PYTHON, "-c", "import tensorflow as tf; print(tf.__version__)"],
        capture_output=True, text=True, check=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout.split()[-1]  # fmt: skip
    assert version == image_tensorflow_version()
    exports = [
        make_tiny_embedder(architecture, tiny_vocabulary).export(tmp_path / architecture, precision=precision)
        for architecture in ("classic", "structured", "transformer")
    ]
    # A model that reads texts in chunks (3 chunks of 4 tokens) adds boolean_mask and scatter ops.
    chunked = make_tiny_embedder("classic", tiny_vocabulary, chunk_length=4, chunk_pooling="attention")
    exports.append(chunked.export(tmp_path / "chunked", precision=precision))
    ours = run_in_tensorflow_only_process(exports, BATCHES, tmp_path)
    theirs = run_in_tensorflow_only_process(exports, BATCHES, tmp_path, python=SERVING_PYTHON)
    assert sorted(ours.files) == sorted(theirs.files) and len(ours.files) == 4 * 6 * len(
        BATCHES
    )  # 4 models, 6 outputs of 4 signatures
    tolerance = 1e-5 if precision == "float32" else 2e-2  # bfloat16 kernels may differ between versions
    for key in ours.files:
        if ours[key].dtype == np.float32:
            np.testing.assert_allclose(theirs[key], ours[key], atol=tolerance, err_msg=key)
        elif not key.endswith("metadata"):
            np.testing.assert_array_equal(theirs[key], ours[key], err_msg=key)
