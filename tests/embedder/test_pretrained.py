"""Packed pretrained models: the folder format round-trips, int8 storage stays close, bad folders are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedder import pretrained
from tests.helpers.models import TINY_TEXTS

TEACHER_DIM = 12


def tiny_student(tiny_vocabulary, architecture="classic", seed=0, **encoder):
    import keras

    from embedder.student import build_student

    keras.utils.set_random_seed(seed)
    settings = dict(embedding_dim=16, attention_units=8, rnn_layers=0, dropout=0.0)
    if architecture == "transformer":
        settings = dict(hidden_dim=16, num_heads=2, num_layers=1, intermediate_dim=32, dropout=0.0)
    return build_student(architecture, tiny_vocabulary, TEACHER_DIM, max_length=12, **dict(settings, **encoder))


@pytest.fixture(scope="module")
def exported_student(tmp_path_factory, tiny_vocabulary):
    student = tiny_student(tiny_vocabulary)
    return student, student.export(tmp_path_factory.mktemp("students") / "student")


def test_int8_rows_are_within_half_a_step_of_the_original():
    table = np.random.default_rng(0).normal(size=(50, 24)).astype(np.float32)
    table[3] = 0.0  # an all-zero row (padding) must survive
    stored = pretrained.encode_weights({"student/encoder/token_embedding/embeddings": table}, "int8", "float32")
    assert stored["student/encoder/token_embedding/embeddings.int8"].dtype == np.int8
    restored = pretrained.decode_weights(stored)["student/encoder/token_embedding/embeddings"]
    scale = stored["student/encoder/token_embedding/embeddings.scale"]
    assert np.all(np.abs(restored - table) <= scale[:, None] / 2 + 1e-7)
    np.testing.assert_array_equal(restored[3], 0.0)


@pytest.mark.parametrize(
    "embedding_storage, dense_storage, atol", [("float32", "float32", 1e-6), ("int8", "float16", 3e-2)]
)
def test_pack_then_load_gives_the_students_vectors(tmp_path, exported_student, embedding_storage, dense_storage, atol):
    student, version_dir = exported_student
    folder = pretrained.pack(
        version_dir, tmp_path / "packed", embedding_storage, dense_storage, provenance={"command": "test"}
    )
    config = json.loads((folder / pretrained.CONFIG_FILE).read_text())
    assert config["architecture"] == "classic" and config["teacher_dim"] == TEACHER_DIM
    assert config["encoder"]["rnn_layers"] == 0 and config["provenance"] == {"command": "test"}
    with np.load(folder / pretrained.WEIGHTS_FILE, allow_pickle=False) as arrays:  # no pickle needed
        assert all(arrays[key].dtype != object for key in arrays)
    loaded = pretrained.load_dir(folder)
    expected = student.encode(TINY_TEXTS)
    np.testing.assert_allclose(loaded.encode(TINY_TEXTS), expected, atol=atol)
    cosines = np.sum(
        pretrained_unit(loaded.encode(TINY_TEXTS)) * pretrained_unit(expected), axis=1
    )  # storage must not move the vectors' directions
    assert cosines.min() > 0.999


def pretrained_unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_a_transformer_student_packs_too(tmp_path, tiny_vocabulary):
    student = tiny_student(tiny_vocabulary, "transformer")
    folder = pretrained.pack(student.export(tmp_path / "t"), tmp_path / "packed", "float32", "float32")
    np.testing.assert_allclose(pretrained.load_dir(folder).encode(TINY_TEXTS), student.encode(TINY_TEXTS), atol=1e-5)


def test_a_folder_whose_weights_do_not_match_its_config_is_refused(tmp_path, exported_student):
    folder = pretrained.pack(exported_student[1], tmp_path / "packed")
    config = json.loads((folder / pretrained.CONFIG_FILE).read_text())
    config["encoder"]["attention_units"] = 9
    (folder / pretrained.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="attention_pooling.*has shape"):
        pretrained.load_dir(folder)
    config["format_version"] = 99
    (folder / pretrained.CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format 99"):
        pretrained.load_dir(folder)


def test_a_pack_of_format_1_loads_with_the_global_query_folded_into_the_bias(tmp_path, tiny_vocabulary, monkeypatch):
    from embedder.encoders import classic_attention_encoder
    from tests.embedder.layers import legacy_additive_attention_pooling as legacy

    with monkeypatch.context() as patch:  # a student of the old layout, packed as the old code packed it
        patch.setattr(classic_attention_encoder, "AdditiveAttentionPooling", legacy.AdditiveAttentionPooling)
        student = tiny_student(tiny_vocabulary)
        folder = pretrained.pack(student.export(tmp_path / "old"), tmp_path / "packed", "float32", "float32")
        expected = student.encode(TINY_TEXTS)
    config = json.loads((folder / pretrained.CONFIG_FILE).read_text())
    with np.load(folder / pretrained.WEIGHTS_FILE) as arrays:
        assert "encoder/attention_pooling/global_query_projection" in arrays
    with pytest.raises(ValueError, match="do not match.*unexpected.*global_query"):
        pretrained.load_dir(folder)  # labelled with the current format, the old weights are refused
    (folder / pretrained.CONFIG_FILE).write_text(json.dumps(dict(config, format_version=1)))
    loaded = pretrained.load_dir(folder)
    assert not any("global_query" in w.path for w in loaded.model.weights)
    np.testing.assert_allclose(loaded.encode(TINY_TEXTS), expected, atol=1e-6)


def test_a_pack_of_the_current_format_stores_no_global_query(tmp_path, exported_student):
    folder = pretrained.pack(exported_student[1], tmp_path / "packed")
    assert json.loads((folder / pretrained.CONFIG_FILE).read_text())["format_version"] == 2
    with np.load(folder / pretrained.WEIGHTS_FILE) as arrays:
        assert not [key for key in arrays if "global_query" in key]


def test_a_classifier_is_not_packed(tmp_path, exported_models):
    with pytest.raises(ValueError, match="not a distilled student"):
        pretrained.pack(exported_models["classic"][1], tmp_path / "packed")


def test_unknown_names_list_the_shipped_models():
    with pytest.raises(ValueError, match=r"expected one of the shipped models .*Received: name='nope'"):
        pretrained.model_dir("nope")
    with pytest.raises(FileNotFoundError, match="not a shipped model"):
        pretrained.resolve_model_path("nope")


def test_unknown_storages_are_refused_in_the_keras_form():
    with pytest.raises(
        ValueError,
        match=r"`embedding_storage`, expected one of 'int8', 'float16', 'float32'. Received: embedding_storage='int4'",
    ):
        pretrained.encode_weights({}, "int4", "float16")
    with pytest.raises(
        ValueError, match=r"`dense_storage`, expected one of 'float16', 'float32'. Received: dense_storage='int8'"
    ):
        pretrained.encode_weights({}, "int8", "int8")
