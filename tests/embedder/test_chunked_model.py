"""Models that read long texts in chunks: the same encoder per chunk, pooled, and exported as core TF ops."""

import json

import numpy as np
import pytest
import tensorflow as tf

from embedder import contract
from embedder.encoders.factory import build_model
from embedder.sentence_embedder import SentenceEmbedder
from tests.embedder.test_export import ALLOWED_OPS, _graph_ops
from tests.helpers.models import make_tiny_embedder, run_in_tensorflow_only_process

#: The ops chunking adds to the allowlisted ones: boolean_mask (Where), the scatter back per document, the empty
#: chunks' test (Any); all core CPU kernels of stock TensorFlow Serving.
CHUNKING_OPS = {"Any", "ScatterNd", "Where"}
SHORT = ["a good film", "", "who wrote hamlet ?"]
LONG = "what a wonderful , moving story and the plot was dull and the acting worse"  # 14 tokens


def _unchunked(chunked: SentenceEmbedder) -> SentenceEmbedder:
    """The same encoder (same weights) reading texts whole."""
    return SentenceEmbedder(build_model(chunked.encoder), chunked.preprocessor)


@pytest.mark.parametrize("architecture", ["classic", "structured", "transformer", "bilstm_max"])
@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_a_text_of_one_chunk_gets_the_unchunked_encoders_vector(tiny_vocabulary, architecture, pooling):
    chunked = make_tiny_embedder(architecture, tiny_vocabulary, labels=None, chunk_length=6, chunk_pooling=pooling)
    assert chunked.chunking == {"chunk_length": 6, "max_chunks": 2, "pooling": pooling}
    whole = _unchunked(chunked)
    np.testing.assert_allclose(chunked.encode(SHORT), whole.encode(SHORT), atol=1e-5)
    # ... also beside a longer text in the same batch (its chunk is then padded to the chunk length)
    np.testing.assert_allclose(chunked.encode([*SHORT, LONG], batch_size=8)[:3], whole.encode(SHORT), atol=1e-5)
    _, chunked_weights = chunked.attention(SHORT)
    _, whole_weights = whole.attention(SHORT)
    for mine, theirs in zip(chunked_weights, whole_weights):
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_a_long_text_gets_the_mean_of_its_chunks_vectors(tiny_vocabulary):
    chunked = make_tiny_embedder(
        "classic", tiny_vocabulary, labels=None, chunk_length=5, chunk_pooling="mean"
    )  # max_length 12: 3 chunks
    ids = chunked.preprocessor(tf.constant([LONG]))  # (1, 12): the first 12 of 14 tokens
    assert ids.shape == (1, 12)
    pieces = [chunked.encoder(ids[:, start : start + 5], training=False)[0] for start in (0, 5, 10)]
    np.testing.assert_allclose(chunked.encode(LONG), np.mean([p[0] for p in pieces], axis=0), atol=1e-5)
    assert not np.allclose(chunked.encode(LONG), _unchunked(chunked).encode(LONG), atol=1e-3)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_chunked_model_computes_in_mixed_precision(tiny_vocabulary, policy):
    from embedder.precision import dtype_policy

    with dtype_policy(policy):
        chunked = make_tiny_embedder("structured", tiny_vocabulary, chunk_length=5, chunk_pooling="attention")
    outputs = chunked.model(chunked.preprocessor(tf.constant([LONG, "a good film"])), training=True)
    assert outputs[contract.OUTPUT_EMBEDDING].dtype == policy.split("_")[1]
    assert np.all(np.isfinite(np.asarray(outputs[contract.OUTPUT_EMBEDDING], np.float32)))
    np.testing.assert_allclose(np.sum(outputs[contract.OUTPUT_ATTENTION], -1), 1.0, atol=1e-2)


def test_the_unchunked_model_is_unchanged(tiny_vocabulary):
    plain = make_tiny_embedder("classic", tiny_vocabulary)
    assert plain.chunking is None and contract.META_CHUNKING not in plain.metadata()
    assert [type(layer).__name__ for layer in plain.model.layers] == ["InputLayer", "ClassicAttentionEncoder",
                                                                      "ClassificationHead"]  # fmt: skip


@pytest.fixture(scope="module")
def chunked_export(tmp_path_factory):
    """A tiny chunked model trained for an epoch by `embedder train` and exported."""
    from embedder.cli import main
    from tests.helpers.keyword_task import keyword_sentences, write_tsv

    folder = tmp_path_factory.mktemp("chunked")
    train = write_tsv(folder / "train.tsv", keyword_sentences(64, seed=20, min_words=10, max_words=30))
    args = ["train", "--arch", "classic", "--train", train, "--epochs", "1", "--batch-size", "16", "--quiet"]
    args += ["--word-vectors", "none"]
    args += ["--max-length", "32", "--chunk-length", "8", "--chunk-pooling", "attention", "--out", str(folder / "m")]
    args += ["--head", "hidden_layers=0", "--encoder", "embedding_dim=8", "rnn_units=4", "attention_units=4"]
    assert main(args) == 0
    return folder / "m" / "1"


@pytest.fixture(scope="module")
def chunked_train_file(chunked_export):
    return str(chunked_export.parents[1] / "train.tsv")


def test_a_trained_chunked_model_exports_and_reloads_with_tensorflow_alone(chunked_export, tmp_path):
    embedder = SentenceEmbedder.load(chunked_export)
    assert embedder.chunking == {"chunk_length": 8, "max_chunks": 4, "pooling": "attention"}
    batches = [[LONG * 3, "a good film", "", LONG], ["w1 w2 " * 30]]
    served = run_in_tensorflow_only_process([chunked_export], batches, tmp_path)
    for index, batch in enumerate(batches):
        ids = embedder.preprocessor(tf.constant(batch))
        keras_out = embedder.model(ids, training=False)
        np.testing.assert_allclose(
            served[f"0/{contract.SIGNATURE_EMBED}/{index}/{contract.OUTPUT_EMBEDDING}"],
            keras_out[contract.OUTPUT_EMBEDDING],
            atol=1e-5,
        )
        attention = served[f"0/{contract.SIGNATURE_ATTENTION}/{index}/{contract.OUTPUT_ATTENTION}"]  # (B, 1, 32)
        np.testing.assert_allclose(attention[:, :, : ids.shape[1]], keras_out[contract.OUTPUT_ATTENTION], atol=1e-5)
        np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5)
    loaded = tf.saved_model.load(str(chunked_export))
    for signature, function in loaded.signatures.items():
        ops, _ = _graph_ops(function)
        assert ops <= ALLOWED_OPS | CHUNKING_OPS, f"{signature}: {ops - ALLOWED_OPS - CHUNKING_OPS}"


def test_the_export_records_the_chunking(chunked_export):
    extra = chunked_export / contract.ASSETS_EXTRA_DIR
    metadata = json.loads((extra / contract.METADATA_FILE).read_text())
    assert metadata[contract.META_CHUNKING] == {"chunk_length": 8, "max_chunks": 4, "pooling": "attention"}
    assert metadata[contract.META_MAX_LENGTH] == 32
    settings = json.loads((extra / contract.RUN_CONFIG_FILE).read_text())["settings"]
    assert (settings["chunk_length"], settings["chunk_pooling"], settings["max_length"]) == (8, "attention", 32)


def test_finetuning_a_chunked_model_keeps_its_chunking_and_chunk_attention(
    chunked_export, chunked_train_file, tmp_path
):
    from training.config import FinetuneConfig
    from training.finetune import finetune

    source = SentenceEmbedder.load(chunked_export)
    config = FinetuneConfig(
        source=str(chunked_export), train_path=chunked_train_file, epochs=1, batch_size=16, new_words=0, freeze_epochs=1
    )
    result = finetune(config, None, work_dir=tmp_path / "run", verbose=0)
    assert result.embedder.chunking == source.chunking
    pooling = result.embedder.model.get_layer("chunk_pooling")
    for mine, theirs in zip(pooling.get_weights(), source.model.get_layer("chunk_pooling").get_weights()):
        np.testing.assert_array_equal(mine, theirs)  # copied from the source, and frozen for the one epoch
