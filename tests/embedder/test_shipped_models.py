"""The models shipped inside the package: present, small, intact, exportable, stable, and as good as measured."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from embedder import pretrained

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "docs" / "results" / "pretrained.json"
MAX_FILE_BYTES = 12 * 2**20
#: How far under its measured STS-B dev Spearman a shipped model may land here before the test fails.
FLOOR_MARGIN = 2.0


def test_the_default_model_ships_with_the_package():
    assert "default" in pretrained.available()


@pytest.mark.parametrize("name", pretrained.available())
def test_shipped_files_are_small_plain_and_match_their_hashes(name):
    folder = pretrained.model_dir(name)
    for path in folder.iterdir():
        assert path.stat().st_size <= MAX_FILE_BYTES, f"{path} is over 12 MiB"
    config = pretrained.read_config(name)
    for file, digest in config["files"].items():
        assert hashlib.sha256((folder / file).read_bytes()).hexdigest() == digest, file
    with np.load(folder / pretrained.WEIGHTS_FILE, allow_pickle=False) as arrays:
        assert all(arrays[key].dtype != object for key in arrays)
    card = (folder / pretrained.CARD_FILE).read_text("utf-8")
    assert config["provenance"]["command"] in card and "embedder distill" in card
    for file, (_, digest) in config["provenance"]["files"].items():
        assert digest in card, file


def stsb_dev():
    import csv

    path = DATA / "stsb" / "dev.tsv"
    if not path.is_file():
        pytest.skip(f"{path} is not here (the project's shared data sits beside the checkout)")
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [r["sentence1"] for r in rows], [r["sentence2"] for r in rows], np.array([float(r["score"]) for r in rows])


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Each shipped model exported twice: {name: (first version dir, second version dir)}."""
    base = tmp_path_factory.mktemp("shipped")
    return {
        name: (pretrained.export(name, base / name), pretrained.export(name, base / name))
        for name in pretrained.available()
    }


def saved_model_vectors(version_dir: Path, texts: list[str]) -> np.ndarray:
    import tensorflow as tf

    signature = tf.saved_model.load(str(version_dir)).signatures["serving_default"]
    return np.concatenate(
        [signature(text=tf.constant(texts[i : i + 512]))["embedding"].numpy() for i in range(0, len(texts), 512)]
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", pretrained.available())
def test_exported_model_scores_on_stsb_dev_as_measured(name, exports):
    from scipy.stats import spearmanr

    measured = json.loads(RESULTS.read_text())["models"][name]["stsb_dev"]
    first, second, scores = stsb_dev()
    texts = sorted(set(first + second))
    vectors = dict(zip(texts, saved_model_vectors(exports[name][0], texts)))

    def unit(rows):
        rows = np.stack(rows)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    cosines = (unit([vectors[s] for s in first]) * unit([vectors[s] for s in second])).sum(axis=1)
    spearman = spearmanr(cosines, scores).statistic * 100
    print(f"{name}: STS-B dev Spearman {spearman:.2f} (bench: {measured:.2f})")
    assert spearman >= measured - FLOOR_MARGIN
    assert abs(spearman - measured) < 0.5  # the export is what the bench measured


@pytest.mark.slow
@pytest.mark.parametrize("name", pretrained.available())
def test_two_exports_are_the_same_model(name, exports):
    import tensorflow as tf

    from embedder import contract

    first, second = exports[name]
    assert first.name == "1" and second.name == "2"
    extra = contract.ASSETS_EXTRA_DIR
    assert (first / extra / contract.VOCABULARY_FILE).read_bytes() == (
        second / extra / contract.VOCABULARY_FILE
    ).read_bytes()
    a, b = (tf.train.load_checkpoint(str(d / "variables" / "variables")) for d in (first, second))
    names = sorted(a.get_variable_to_shape_map())
    assert names == sorted(b.get_variable_to_shape_map()) and names
    for variable in names:
        np.testing.assert_array_equal(a.get_tensor(variable), b.get_tensor(variable), err_msg=variable)
    texts = ["A man is playing a guitar.", "", "Completely unrelated: the stock market fell sharply today!"]
    np.testing.assert_allclose(saved_model_vectors(first, texts), saved_model_vectors(second, texts), atol=1e-6)


def test_default_fast_computes_the_attention_pooling_formula_on_its_stored_weights():
    """`default-fast` (pack format 2) is one learned attention vector over static word vectors. Its vectors must be
    the formula on the stored weights: v · tanh(W_h h_t + b), softmax over the tokens, Σ α_t h_t, then the teacher
    projection (format 1's global query, folded into the bias by the loader, is tested in test_pretrained.py)."""
    import tensorflow as tf

    folder = pretrained.model_dir("default-fast")
    assert pretrained.read_config("default-fast")["format_version"] == 2
    with np.load(folder / pretrained.WEIGHTS_FILE, allow_pickle=False) as arrays:
        stored = {k: v.astype(np.float64) for k, v in pretrained.decode_weights(arrays).items()}
    pool = {k.split("/")[-1]: v for k, v in stored.items() if k.startswith("encoder/attention_pooling/")}
    assert not {"global_query", "global_query_projection"} & set(pool)

    embedder = pretrained.load("default-fast")
    texts = ["A man is playing a guitar.", "", "Completely unrelated: the stock market fell sharply today!"]
    ids = embedder.preprocessor(tf.constant(texts))
    states, mask = (np.asarray(t, np.float64) for t in embedder.encoder.encode_states(ids, training=False))
    scores = np.tanh(states @ pool["state_projection"] + pool["bias"]) @ pool["score_vector"]
    scores = np.where(mask > 0, scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights = np.where(mask > 0, weights, 0.0)
    weights /= np.maximum(weights.sum(-1, keepdims=True), 1e-30)
    context = (weights[..., None] * states).sum(1)
    expected = context @ stored["teacher_projection/kernel"] + stored["teacher_projection/bias"]
    outputs = embedder.model(ids, training=False)
    np.testing.assert_allclose(np.asarray(outputs["attention"])[:, 0], weights, atol=1e-6)
    np.testing.assert_allclose(np.asarray(outputs["embedding"]), expected, atol=1e-5)
    np.testing.assert_allclose(embedder.encode(texts), expected, atol=1e-5)
