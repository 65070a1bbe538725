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


@pytest.mark.slow
@pytest.mark.usefixtures("eager_functions")
def test_held_back_set_is_the_distill_runs_own(tmp_path):
    # The sentences and teacher vectors rebuilt from an export's run record are the ones the run held back: the
    # export's cosine to the teacher on them is the dev score its run recorded.
    from tests.training.distill.stand_in_teacher import StandInTeacher, corpus_sentences, tiny_config
    from training.distill.distill import distill

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(corpus_sentences(400, seed=0)), encoding="utf-8")
    config = tiny_config(corpus, tmp_path / "cache", dev_sentences=50, epochs=2)
    result = distill(config, tmp_path / "student", teacher=StandInTeacher(), verbose=0, show_progress_bar=False)
    teacher = StandInTeacher()
    sentences, targets = select_pretrained.held_back_set(result.version_dir, teacher)
    assert len(sentences) == 50 and teacher.calls == 0  # every vector from the run's cache
    np.testing.assert_allclose(targets, StandInTeacher().encode(sentences), atol=2e-3)
    cosine = select_pretrained.mean_cosine(result.embedder.encode(sentences), targets)
    assert cosine == pytest.approx(result.dev_score, abs=2e-3)
