"""Contract 1: the exported SavedModel, checked from the outside."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from embedder import contract
from embedder.export import export_saved_model
from embedder.sentence_embedder import SentenceEmbedder
from tests.helpers.models import TINY_MAX_LENGTH, make_tiny_embedder, run_in_tensorflow_only_process
from tests.helpers.paths import PROJECT_ROOT

BATCHES = [
    ["a good film", "", "   ", "what a wonderful , moving story 😀", "who wrote hamlet ? " * 20, "zzz unknown words"],
    ["the plot was dull", "how far is the moon ?"],
]

# Core CPU kernels that the stock TensorFlow Serving binary has; anything else fails the test until reviewed.
ALLOWED_OPS = {
    "AddV2", "ArgMax", "BatchMatMulV2", "BiasAdd", "Bitcast", "BitwiseAnd", "BroadcastTo", "Cast", "ConcatV2",
    "Const", "Cos", "Cumsum", "DenseBincount", "Einsum", "EnsureShape", "Equal", "Exp", "ExpandDims", "Fill",
    "FloorDiv", "FloorMod", "GatherV2", "Greater", "GreaterEqual", "Identity", "IdentityN", "If",
    "InvertPermutation", "Less", "LessEqual", "LogicalAnd", "LogicalNot", "LookupTableFindV2", "MatMul", "Max",
    "Maximum", "Mean", "Minimum", "Mul", "Neg", "NoOp", "NotEqual", "OneHot", "Pack", "Pad", "PartitionedCall",
    "Placeholder", "Pow", "Prod", "RaggedGather", "RaggedRange", "RaggedTensorToTensor", "Range", "ReadVariableOp",
    "RealDiv", "Relu", "Reshape", "ReverseV2", "Rsqrt", "Select", "SelectV2", "Shape", "Sigmoid", "Sin", "Size",
    "Slice", "Softmax", "Split", "SplitV", "Sqrt", "Square", "SquaredDifference", "Squeeze",
    "StatefulPartitionedCall", "StaticRegexReplace", "StopGradient", "StridedSlice", "StringLower", "StringSplitV2",
    "Sub", "Sum", "Tanh", "TensorListConcatV2", "TensorListFromTensor", "TensorListGetItem", "TensorListReserve",
    "TensorListSetItem", "TensorListStack", "Tile", "TopKV2", "Transpose", "UnicodeTranscode", "Unpack", "While",
    "ZerosLike",
}  # fmt: skip


def _graph_ops(function) -> tuple[set[str], set[str]]:
    graph_def = function.graph.as_graph_def()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return {n.op for n in nodes}, {n.name for n in nodes}


def _keras_outputs(embedder: SentenceEmbedder, texts: list[str]) -> dict:
    words = embedder.preprocessor.words(tf.constant(texts))
    outputs = embedder.model(embedder.preprocessor.ids(words), training=False)
    return {k: np.asarray(v) for k, v in outputs.items()} | {"words": words.to_list()}


def test_signatures_match_the_keras_model_in_a_tensorflow_only_process(exported_models, tmp_path):
    names = list(exported_models)
    served = run_in_tensorflow_only_process([exported_models[n][1] for n in names], BATCHES, tmp_path)
    for index, name in enumerate(names):
        embedder, version_dir = exported_models[name]
        for batch_index, batch in enumerate(BATCHES):
            keras_out = _keras_outputs(embedder, batch)
            key = f"{index}/{{}}/{batch_index}/{{}}".format
            embedding = served[key(contract.SIGNATURE_EMBED, contract.OUTPUT_EMBEDDING)]
            assert embedding.shape == (len(batch), embedder.embedding_dim) and embedding.dtype == np.float32
            np.testing.assert_allclose(embedding, keras_out["embedding"], atol=1e-5)
            probabilities = served[key(contract.SIGNATURE_CLASSIFY, contract.OUTPUT_PROBABILITIES)]
            np.testing.assert_allclose(probabilities, keras_out["probabilities"], atol=1e-5)
            labels = served[key(contract.SIGNATURE_CLASSIFY, contract.OUTPUT_LABELS)]
            assert labels.tolist() == [[label.encode() for label in embedder.labels]] * len(batch)
            attention = served[key(contract.SIGNATURE_ATTENTION, contract.OUTPUT_ATTENTION)]
            assert attention.shape == (len(batch), embedder.attention_rows, TINY_MAX_LENGTH)
            width = keras_out["attention"].shape[-1]
            np.testing.assert_allclose(attention[..., :width], keras_out["attention"], atol=1e-5)
            assert np.all(attention[..., width:] == 0)
            tokens = served[key(contract.SIGNATURE_ATTENTION, contract.OUTPUT_TOKENS)]
            assert tokens.shape == (len(batch), TINY_MAX_LENGTH)
            for row, words in zip(tokens.tolist(), keras_out["words"]):
                assert row == words + [b""] * (TINY_MAX_LENGTH - len(words))
            metadata = served[key(contract.SIGNATURE_METADATA, contract.OUTPUT_METADATA)]
            assert len(metadata) == len(batch)
            stored = json.loads((version_dir / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE).read_text())
            assert json.loads(metadata[0]) == stored
            assert stored[contract.META_EMBEDDING_DIM] == embedder.embedding_dim
            assert stored[contract.META_ARCHITECTURE] == name
            assert stored[contract.META_LABELS] == embedder.labels
            assert stored[contract.META_MAX_LENGTH] == TINY_MAX_LENGTH


@pytest.mark.parametrize("architecture", ["classic", "transformer"])
def test_groups_of_similar_length_give_the_whole_requests_outputs_in_request_order(architecture, tiny_vocabulary):
    from embedder.serving_module import ServingModule

    embedder = make_tiny_embedder(architecture, tiny_vocabulary)
    # Lengths out of order, a repeat, an empty text, and a count that no group size divides.
    texts = ["a good film , and a long one " * 3, "", "who wrote hamlet ?", "a good film", "zzz", "a good film",
             "the plot was dull and the acting worse , and long " * 4]  # fmt: skip

    def module(sub_batch):
        return ServingModule(embedder.model, embedder.preprocessor, {}, embedder.labels, sub_batch=sub_batch)

    whole, modules = module(None), {size: module(size) for size in (2, 3)}  # each traced once, as an export is
    for function, key in ((lambda m: m.embed, "embedding"), (lambda m: m.classify, "probabilities")):
        expected = function(whole)(tf.constant(texts))[key].numpy()
        for size in (2, 3):
            for batch in (texts, texts[:size], texts[::-1]):
                got = function(modules[size])(tf.constant(batch))[key].numpy()
                reference = function(whole)(tf.constant(batch))[key].numpy()
                np.testing.assert_allclose(got, reference, atol=1e-5)
        assert not np.allclose(expected[0], expected[1], atol=1e-3)  # rows differ, so a mix-up would show
    assert modules[2].embed(tf.constant([], tf.string))["embedding"].shape == (0, embedder.embedding_dim)


def _parse_saved_model_cli(text: str) -> dict:
    signatures, current, section = {}, None, None
    for line in text.splitlines():
        if m := re.match(r"signature_def\['(.+)'\]:", line):
            current = signatures.setdefault(m.group(1), {"inputs": {}, "outputs": {}})
        elif "contains the following input" in line:
            section = "inputs"
        elif "contains the following output" in line:
            section = "outputs"
        elif current is not None and (m := re.match(r"\s+(inputs|outputs)\['(.+)'\] tensor_info:", line)):
            current[section][m.group(2)] = {}
            last = current[section][m.group(2)]
        elif current is not None and (m := re.match(r"\s+(dtype|shape): (.+)", line)):
            last[m.group(1)] = m.group(2)
        elif line.startswith("Concrete Functions") or line.startswith("The MetaGraph"):
            current = None
    return signatures


def test_saved_model_cli_lists_exactly_the_documented_signatures(exported_models):
    embedder, version_dir = exported_models["structured"]
    cli = Path(sys.executable).with_name("saved_model_cli")
    text = subprocess.run(
        [str(cli), "show", "--all", "--dir", str(version_dir)],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    ).stdout
    signatures = _parse_saved_model_cli(text)
    signatures.pop("__saved_model_init_op")
    dim, rows, width, classes = embedder.embedding_dim, embedder.attention_rows, TINY_MAX_LENGTH, len(embedder.labels)
    text_input = {contract.INPUT_TEXT: {"dtype": "DT_STRING", "shape": "(-1)"}}
    assert signatures == {
        contract.SIGNATURE_EMBED: {
            "inputs": text_input,
            "outputs": {contract.OUTPUT_EMBEDDING: {"dtype": "DT_FLOAT", "shape": f"(-1, {dim})"}},
        },
        contract.SIGNATURE_CLASSIFY: {
            "inputs": text_input,
            "outputs": {
                contract.OUTPUT_PROBABILITIES: {"dtype": "DT_FLOAT", "shape": f"(-1, {classes})"},
                contract.OUTPUT_LABELS: {"dtype": "DT_STRING", "shape": f"(-1, {classes})"},
            },
        },
        contract.SIGNATURE_ATTENTION: {
            "inputs": text_input,
            "outputs": {
                contract.OUTPUT_TOKENS: {"dtype": "DT_STRING", "shape": f"(-1, {width})"},
                contract.OUTPUT_ATTENTION: {"dtype": "DT_FLOAT", "shape": f"(-1, {rows}, {width})"},
            },
        },
        contract.SIGNATURE_METADATA: {
            "inputs": text_input,
            "outputs": {contract.OUTPUT_METADATA: {"dtype": "DT_STRING", "shape": "(-1)"}},
        },
    }


def test_a_model_without_head_has_no_classify_signature(tiny_vocabulary, tmp_path):
    embedder = make_tiny_embedder("classic", tiny_vocabulary, labels=None)
    loaded = tf.saved_model.load(str(embedder.export(tmp_path / "m")))
    assert set(loaded.signatures) == {
        contract.SIGNATURE_EMBED,
        contract.SIGNATURE_ATTENTION,
        contract.SIGNATURE_METADATA,
    }


def test_exported_graphs_use_only_allowlisted_core_ops_and_no_penalty(exported_models, tiny_vocabulary, tmp_path):
    exported = {name: version_dir for name, (_, version_dir) in exported_models.items()}
    exported["bilstm_max"] = make_tiny_embedder("bilstm_max", tiny_vocabulary).export(tmp_path / "b")
    exported["gru"] = make_tiny_embedder("classic", tiny_vocabulary, rnn_type="gru").export(tmp_path / "g")
    for name, version_dir in exported.items():
        loaded = tf.saved_model.load(str(version_dir))
        for signature, function in loaded.signatures.items():
            ops, node_names = _graph_ops(function)
            assert ops <= ALLOWED_OPS, f"{name}/{signature} uses ops outside the allowlist: {ops - ALLOWED_OPS}"
            assert not [n for n in node_names if "attention_penalty" in n], f"{name}/{signature} computes the penalty"

    # The check above can fail: a training-mode trace of the same model does contain the penalty.
    embedder, _ = exported_models["structured"]
    training_trace = tf.function(lambda ids: embedder.model(ids, training=True)).get_concrete_function(
        tf.TensorSpec([None, None], tf.int32)
    )
    assert [n for n in _graph_ops(training_trace)[1] if "attention_penalty" in n]


def test_versions_are_numbered_atomic_and_never_overwritten(tiny_vocabulary, tmp_path, monkeypatch):
    embedder = make_tiny_embedder("classic", tiny_vocabulary)
    base = tmp_path / "models" / "demo"
    assert embedder.export(base).name == "1"
    assert export_saved_model(embedder, base, run_config={"epochs": 3}).name == "2"
    assert json.loads((base / "2" / contract.ASSETS_EXTRA_DIR / contract.RUN_CONFIG_FILE).read_text()) == {"epochs": 3}
    assert embedder.export(base, version=10).name == "10"
    with pytest.raises(FileExistsError, match="Version 2 already exists"):
        embedder.export(base, version=2)
    with pytest.raises(ValueError, match="argument `version`, expected a non-negative integer"):
        embedder.export(base, version=-1)

    def broken_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(embedder.model, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        embedder.export(base)
    assert sorted(p.name for p in base.iterdir()) == ["1", "10", "2"], "a failed export must leave nothing behind"


def test_warmup_file_holds_one_predict_request_per_signature(exported_models):
    from tensorflow_serving.apis import prediction_log_pb2

    _, version_dir = exported_models["transformer"]
    records = tf.data.TFRecordDataset(str(version_dir / contract.ASSETS_EXTRA_DIR / contract.WARMUP_FILE))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    signatures = sorted(log.predict_log.request.model_spec.signature_name for log in logs)
    assert signatures == sorted(contract.SIGNATURE_OUTPUTS)
    request = logs[0].predict_log.request
    texts = tf.make_ndarray(request.inputs[contract.INPUT_TEXT])
    assert texts.shape == (3,) and request.model_spec.name == "transformer"


def test_reload_from_version_dir_or_base_path_gives_the_same_model(exported_models, tmp_path):
    embedder, version_dir = exported_models["structured"]
    texts = BATCHES[0]
    from_version = SentenceEmbedder.load(version_dir)
    from_base = SentenceEmbedder.load(version_dir.parent)
    np.testing.assert_allclose(from_version.encode(texts), embedder.encode(texts), atol=1e-6)
    np.testing.assert_allclose(from_base.predict_proba(texts), embedder.predict_proba(texts), atol=1e-6)
    assert (
        from_version.labels == embedder.labels
        and from_version.preprocessor.vocabulary == embedder.preprocessor.vocabulary
    )
    with pytest.raises(FileNotFoundError, match="no numeric version directory"):
        SentenceEmbedder.load(tmp_path)


def test_project_root_has_no_stray_exports():
    # Exports in tests go to tmp dirs; a models/ dir in the checkout would be committed by accident.
    assert not (PROJECT_ROOT / "tests" / "models").exists()


def _bfloat16_nodes(function) -> list[str]:
    graph_def = function.graph.as_graph_def()
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return [n.op for n in nodes if n.attr["T"].type == tf.bfloat16.as_datatype_enum]


def test_a_bfloat16_export_has_the_same_signatures_in_float32_and_computes_in_bfloat16(exported_models, tmp_path):
    names = list(exported_models)  # classic, structured, transformer, exported in float32 by the fixture
    fast = {
        name: embedder.export(tmp_path / name, precision="bfloat16") for name, (embedder, _) in exported_models.items()
    }
    versions = [exported_models[name][1] for name in names] + [fast[name] for name in names]
    served = run_in_tensorflow_only_process(versions, BATCHES, tmp_path)
    for index, name in enumerate(names):
        full_key, fast_key = f"{index}/", f"{index + len(names)}/"
        for key in [k for k in served.files if k.startswith(full_key)]:
            value, other = served[key], served[fast_key + key[len(full_key) :]]
            assert other.dtype == value.dtype and other.shape == value.shape, key
            if value.dtype == np.float32:  # bfloat16 keeps about 3 significant digits
                np.testing.assert_allclose(other, value, atol=0.03, rtol=0.03, err_msg=f"{name} {key}")
            elif not key.endswith(contract.OUTPUT_METADATA):
                np.testing.assert_array_equal(other, value, err_msg=f"{name} {key}")
        attention = served[f"{fast_key}{contract.SIGNATURE_ATTENTION}/0/{contract.OUTPUT_ATTENTION}"]
        # Our attention softmaxes run in float32; Keras's MultiHeadAttention (transformer) runs its own in bfloat16.
        np.testing.assert_allclose(attention.sum(-1), 1.0, atol=1e-5 if name != "transformer" else 1e-2)
        stored = json.loads((fast[name] / contract.ASSETS_EXTRA_DIR / contract.METADATA_FILE).read_text())
        assert stored[contract.META_PRECISION] == "bfloat16"
        for version_dir, expect_bfloat16 in ((exported_models[name][1], False), (fast[name], True)):
            function = tf.saved_model.load(str(version_dir)).signatures[contract.SIGNATURE_EMBED]
            ops = _graph_ops(function)[0]
            assert ops <= ALLOWED_OPS, f"{name} uses ops outside the allowlist: {ops - ALLOWED_OPS}"
            matmuls = [op for op in _bfloat16_nodes(function) if "MatMul" in op or op == "Einsum"]
            assert bool(matmuls) == expect_bfloat16, (version_dir, matmuls)
    embedder = exported_models["transformer"][0]
    reloaded = SentenceEmbedder.load(fast["transformer"])  # the stored Keras model stays float32, for fine-tuning
    assert {w.dtype for w in reloaded.model.weights} == {"float32"}
    assert reloaded.model.dtype_policy.name == "float32"
    np.testing.assert_array_equal(reloaded.encode(BATCHES[1]), embedder.encode(BATCHES[1]))


def test_an_unknown_precision_is_refused(tiny_vocabulary, tmp_path):
    embedder = make_tiny_embedder("classic", tiny_vocabulary)
    with pytest.raises(ValueError, match="expected one of 'float32', 'bfloat16'. Received: precision='float16'"):
        embedder.export(tmp_path / "m", precision="float16")
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


@pytest.mark.slow
def test_an_export_with_the_old_attention_pooling_loads_and_serves_the_same(tiny_vocabulary, tmp_path, monkeypatch):
    """Export format 1 kept a learned global query beside the attention pooling's bias: its SavedModel is a frozen
    graph (unaffected) and its Keras file loads with that query folded into the bias, computing the same vectors."""
    from embedder.encoders import classic_attention_encoder
    from tests.embedder.layers import legacy_additive_attention_pooling as legacy

    with monkeypatch.context() as patch:
        patch.setattr(classic_attention_encoder, "AdditiveAttentionPooling", legacy.AdditiveAttentionPooling)
        old = make_tiny_embedder("classic", tiny_vocabulary)
        assert any(w.path.endswith("attention_pooling/global_query") for w in old.model.weights)
        version_dir = old.export(tmp_path / "old")
        expected = old.encode(BATCHES[0]), old.predict_proba(BATCHES[0])
    loaded = SentenceEmbedder.load(version_dir)
    assert not any("global_query" in w.path for w in loaded.model.weights)
    np.testing.assert_allclose(loaded.encode(BATCHES[0]), expected[0], atol=1e-6)
    np.testing.assert_allclose(loaded.predict_proba(BATCHES[0]), expected[1], atol=1e-6)
    serving = tf.saved_model.load(str(version_dir)).signatures[contract.SIGNATURE_EMBED]
    served = serving(**{contract.INPUT_TEXT: tf.constant(BATCHES[0])})[contract.OUTPUT_EMBEDDING].numpy()
    np.testing.assert_allclose(served, expected[0], atol=1e-5)
