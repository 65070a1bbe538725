"""Distillation end to end with the stand-in teacher: the student learns it, the cache is used, the export works."""

import numpy as np
import pytest

from tests.training.distill.stand_in_teacher import DIM, TINY_STUDENT, StandInTeacher, corpus_sentences, tiny_config
from training.distill.distill import corpus_of, distill, split_dev, teacher_vectors


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(axis=1).mean())


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    path.write_text("\n".join(corpus_sentences(600, seed=0)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, corpus_file):
    """(config, result, model base path, teacher) of one tiny distillation run."""
    tmp_path = tmp_path_factory.mktemp("distilled")
    teacher = StandInTeacher()
    config = tiny_config(corpus_file, tmp_path / "cache")
    result = distill(config, tmp_path / "models" / "student", teacher=teacher, verbose=0, show_progress_bar=False)
    return config, result, tmp_path / "models" / "student", teacher


@pytest.mark.slow
def test_distillation_moves_the_student_towards_the_teacher(distilled):
    import keras

    from embedder.sentence_embedder import SentenceEmbedder
    from training.distill.student import build_student

    config, result, model_path, teacher = distilled
    assert teacher.calls > 0

    held_back = [s for s in corpus_sentences(700, seed=1) if s not in set(corpus_sentences(600, seed=0))][:100]
    targets = StandInTeacher().encode(held_back)
    keras.utils.set_random_seed(config.seed)
    untrained = build_student("transformer", result.embedder.preprocessor.vocabulary, DIM, 12, **TINY_STUDENT)
    before = mean_cosine(untrained.encode(held_back), targets)
    after = mean_cosine(result.embedder.encode(held_back), targets)
    print(f"held-back mean cosine to the teacher: untrained {before:.3f}, distilled {after:.3f}")
    assert after > 0.75 and after > before + 0.4, (before, after)
    assert result.dev_score > result.extra["untrained_dev_cosine"] + 0.4

    # Exported like any model: the served embedding is the projected, teacher-space vector.
    reloaded = SentenceEmbedder.load(model_path)
    assert reloaded.embedding_dim == DIM and reloaded.architecture == "transformer"
    np.testing.assert_allclose(reloaded.encode(held_back), result.embedder.encode(held_back), atol=1e-5)
    tokens, weights = reloaded.attention(held_back[:1])
    assert weights[0].shape == (TINY_STUDENT["num_heads"], len(tokens[0]))

    # Another run on the same corpus (another student, say) takes every teacher vector from the cache.
    again = StandInTeacher()
    corpus = corpus_of(config)
    vectors, origin = teacher_vectors(config, corpus, teacher=again, show_progress_bar=False)
    assert again.calls == 0 and origin["rows_from_cache"] == len(corpus) == len(vectors)


@pytest.mark.slow
def test_finetune_starts_from_the_distilled_encoder(distilled, tmp_path):
    from embedder.sentence_embedder import SentenceEmbedder
    from training.config import FinetuneConfig
    from training.finetune import finetune

    _, result, model_path, _ = distilled
    rows = ["label\ttext"] + [f"{'yes' if 'w1' in s.split() else 'no'}\t{s}" for s in corpus_sentences(80, seed=5)]
    (tmp_path / "train.tsv").write_text("\n".join(rows[:61]), encoding="utf-8")
    (tmp_path / "dev.tsv").write_text("\n".join(rows[:1] + rows[61:]), encoding="utf-8")
    config = FinetuneConfig(
        source=str(model_path),
        train_path=str(tmp_path / "train.tsv"),
        dev_path=str(tmp_path / "dev.tsv"),
        epochs=1,
        freeze_epochs=1,
        batch_size=16,
    )
    tuned = finetune(config, tmp_path / "tuned", verbose=0)
    reloaded = SentenceEmbedder.load(tmp_path / "tuned")
    assert reloaded.labels == ["no", "yes"]
    assert reloaded.predict_proba(["w1 w2 w3", "w4 w5"]).shape == (2, 2)
    # The encoder was frozen for the only epoch: its weights are still the distilled ones.
    for mine, theirs in zip(tuned.embedder.encoder.get_weights(), result.embedder.encoder.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_split_dev_is_seeded_and_disjoint():
    train, dev = split_dev(100, 10, seed=3)
    assert len(dev) == 10 and len(train) == 90 and not set(train) & set(dev)
    assert np.array_equal(dev, split_dev(100, 10, seed=3)[1])
    assert len(split_dev(20, 10, seed=0)[1]) == 4  # at most a fifth
    with pytest.raises(ValueError, match="at least 2"):
        split_dev(1, 10, seed=0)


class TeacherStopped(Exception):
    pass


class StoppingTeacher(StandInTeacher):
    def encode(self, sentences):
        raise TeacherStopped("stopped while the teacher ran")


def test_resume_of_a_run_stopped_while_the_teacher_ran_starts_its_training(corpus_file, tmp_path):
    # The teacher phase comes before the first checkpoint: `--resume` of such a run trains from epoch 1 (it was
    # refused with "Nothing to resume" after the teacher had finished its vectors).
    config = tiny_config(corpus_file, tmp_path / "cache", epochs=1)
    work_dir = tmp_path / "run"
    with pytest.raises(TeacherStopped):
        distill(config, None, teacher=StoppingTeacher(), work_dir=work_dir, verbose=0, show_progress_bar=False)
    result = distill(
        config, None, teacher=StandInTeacher(), work_dir=work_dir, resume=True, verbose=0, show_progress_bar=False
    )
    assert [h["epoch"] for h in result.history] == [1]
    assert (work_dir / "checkpoints" / "state.json").is_file()


def test_resuming_a_distillation_that_finished_its_epochs_but_not_its_export_exports_it(corpus_file, tmp_path):
    config = tiny_config(corpus_file, tmp_path / "cache", epochs=1)
    work_dir = tmp_path / "run"
    finished = distill(config, None, teacher=StandInTeacher(), work_dir=work_dir, verbose=0, show_progress_bar=False)
    resumed = distill(
        config,
        tmp_path / "model",
        teacher=StandInTeacher(),
        work_dir=work_dir,
        resume=True,
        verbose=0,
        show_progress_bar=False,
    )
    assert (tmp_path / "model" / "1" / "saved_model.pb").is_file() and resumed.wall_time_s == 0
    assert [h["epoch"] for h in resumed.history] == [1] and resumed.best_epoch == finished.best_epoch
    for measure in ("untrained_dev_cosine", "fit_seconds_all_epochs"):  # the run's, not this process's
        assert resumed.extra[measure] == finished.extra[measure] and finished.extra[measure] is not None
    for mine, theirs in zip(resumed.embedder.encoder.get_weights(), finished.embedder.encoder.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
