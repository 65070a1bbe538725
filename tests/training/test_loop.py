"""Mixed precision: training in bfloat16 runs on this CPU, and the export is float32 and loads with TensorFlow only."""

import json

import numpy as np
import pytest

from embedder import contract
from embedder.precision import dtype_policy, with_dtype_policy
from tests.helpers.keyword_task import keyword_config
from tests.helpers.models import run_in_tensorflow_only_process
from training.train import train


def test_dtype_policy_copy_keeps_weights(tiny_vocabulary):
    from tests.helpers.models import make_tiny_embedder

    with dtype_policy("mixed_bfloat16"):
        embedder = make_tiny_embedder("structured", tiny_vocabulary)
    assert embedder.encoder.compute_dtype == "bfloat16"
    copy = with_dtype_policy(embedder.model, "float32")
    assert {layer.compute_dtype for layer in copy.layers if layer.weights} == {"float32"}
    for a, b in zip(copy.get_weights(), embedder.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    ids = np.array([[4, 5, 6, 0], [7, 8, 0, 0]], np.int32)
    np.testing.assert_allclose(copy(ids)["embedding"], embedder.model(ids)["embedding"], atol=0.05)


@pytest.mark.slow
def test_bfloat16_training_exports_a_float32_model(small_keyword_files, tmp_path):
    keyword_files = small_keyword_files
    config = keyword_config(keyword_files, "transformer", epochs=1, precision="mixed_bfloat16")
    result = train(config, tmp_path / "m", verbose=0)
    assert np.isfinite(result.history[0]["loss"])
    keras_config = json.dumps(result.embedder.model.get_config())
    assert "bfloat16" not in keras_config  # the exported model computes in float32
    texts = [[text for _, text, _ in keyword_files["test"][:5]]]
    served = run_in_tensorflow_only_process([result.version_dir], texts, tmp_path)
    embedding = served[f"0/{contract.SIGNATURE_EMBED}/0/{contract.OUTPUT_EMBEDDING}"]
    probabilities = served[f"0/{contract.SIGNATURE_CLASSIFY}/0/{contract.OUTPUT_PROBABILITIES}"]
    assert embedding.dtype == np.float32 and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities, result.embedder.predict_proba(texts[0]), atol=1e-5)
