"""bench/select_pretrained.py: candidates resolve to SavedModel versions; the selection measures read what they say."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import select_pretrained


def test_version_dir_takes_a_version_or_the_highest_of_a_base_path(tmp_path):
    for version in ("1", "3", "12"):
        (tmp_path / "base" / version).mkdir(parents=True)
        (tmp_path / "base" / version / "saved_model.pb").write_bytes(b"")
    assert select_pretrained.version_dir(str(tmp_path / "base"), tmp_path) == tmp_path / "base" / "12"
    assert select_pretrained.version_dir(str(tmp_path / "base" / "3"), tmp_path) == tmp_path / "base" / "3"
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="neither a shipped model"):
        select_pretrained.version_dir(str(tmp_path / "empty"), tmp_path)


def test_held_back_cosine_comes_from_the_exports_run_record(tmp_path):
    assert select_pretrained.held_back_cosine(tmp_path) is None
    (tmp_path / "assets.extra").mkdir()
    (tmp_path / "assets.extra" / "run_config.json").write_text(json.dumps({"result": {"dev_score": 0.8123}}))
    assert select_pretrained.held_back_cosine(tmp_path) == 0.8123


def test_dev_accuracy_is_high_on_separable_vectors_and_chance_on_noise():
    rng = np.random.default_rng(0)
    labels = [i % 2 for i in range(200)]
    texts = [f"t{i}" for i in range(200)]
    separable = {t: rng.normal(size=8) + 4.0 * y for t, y in zip(texts, labels)}
    noise = {t: rng.normal(size=8) for t in texts}
    split = {"train": (texts[:150], labels[:150]), "dev": (texts[150:], labels[150:])}
    assert select_pretrained.dev_accuracy(separable, split) > 95
    assert select_pretrained.dev_accuracy(noise, split) < 75
