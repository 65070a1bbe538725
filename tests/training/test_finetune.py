import dataclasses
from pathlib import Path

import numpy as np
import pytest

from embedder import contract
from tests.helpers.keyword_task import keyword_pairs, keyword_sentences, write_tsv
from training.checkpoints import read_state
from training.config import FinetuneConfig
from training.evaluate import evaluate_pairs
from training.finetune import finetune

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def animal_files(tmp_path_factory):
    """A new label set on the same sentences: is the keyword an animal?"""
    folder = tmp_path_factory.mktemp("animal")

    def relabel(rows):
        return [("animal" if label == "animal" else "other", text) for label, text, _ in rows]

    return {
        "train": write_tsv(folder / "train.tsv", relabel(keyword_sentences(240, seed=5))),
        "dev": write_tsv(folder / "dev.tsv", relabel(keyword_sentences(60, seed=6))),
        "test": relabel(keyword_sentences(100, seed=7)),
    }


def finetune_config(source, files, **overrides):
    values = dict(
        source=str(source),
        train_path=files["train"],
        dev_path=files["dev"],
        batch_size=16,
        epochs=2,
        learning_rate=1e-2,
        head={"hidden_layers": 0, "dropout": 0.0},
        patience=0,
    )
    return FinetuneConfig(**(values | overrides))


def test_new_head_with_a_frozen_encoder_rolls_the_model_forward(keyword_models, animal_files, tmp_path):
    source = keyword_models["transformer"]
    base = tmp_path / "served"
    base.mkdir()
    (base / "1").symlink_to(source.version_dir, target_is_directory=True)
    config = finetune_config(base, animal_files, freeze_epochs=2)
    result = finetune(config, base, work_dir=tmp_path / "run", verbose=0)

    assert result.version_dir == base / "2"  # the next version of the model it came from
    assert result.embedder.labels == ["animal", "other"]
    source_encoder = source.embedder.encoder.get_weights()
    for tuned, original in zip(result.embedder.encoder.get_weights(), source_encoder, strict=True):
        np.testing.assert_array_equal(tuned, original)  # frozen throughout
    texts = [text for _, text in animal_files["test"]]
    accuracy = np.mean([p == label for p, (label, _) in zip(result.embedder.predict(texts), animal_files["test"])])
    assert accuracy >= 0.9  # the new head learned the new labels (majority class: about 2/3)
    assert result.extra["source"] == str(base / "1")


def test_unfreezing_trains_the_encoder_after_the_head(keyword_models, animal_files, tmp_path):
    source = keyword_models["transformer"]
    config = finetune_config(source.version_dir, animal_files, freeze_epochs=1, epochs=2)
    result = finetune(config, None, work_dir=tmp_path / "run", verbose=0)
    assert [h["epoch"] for h in result.history] == [1, 2]
    # The kept weights may be epoch 1's (the best dev score); the last checkpoint has epoch 2's.
    state = read_state(tmp_path / "run" / "checkpoints")
    with np.load(tmp_path / "run" / "checkpoints" / state["checkpoint"]) as archive:
        last = {v.path: archive[f"arr_{i}"] for i, v in enumerate(result.embedder.model.variables)}
    for name, before in [(w.path, w) for w in source.embedder.encoder.weights]:
        assert last[name].shape == tuple(before.shape)
    assert any(not np.array_equal(last[w.path], np.asarray(w)) for w in source.embedder.encoder.weights)
    assert result.embedder.preprocessor.vocabulary == source.embedder.preprocessor.vocabulary


def test_sentence_pairs_make_a_model_without_head(keyword_models, tmp_path):
    header = ("score", "sentence1", "sentence2")
    train_path = write_tsv(tmp_path / "train.tsv", keyword_pairs(200, 8), header)
    test_path = write_tsv(tmp_path / "test.tsv", keyword_pairs(60, 9), header)
    source = keyword_models["transformer"].version_dir
    config = FinetuneConfig(
        source=str(source), train_path=train_path, pairs=True, epochs=2, batch_size=16, learning_rate=3e-3, patience=0
    )
    result = finetune(config, tmp_path / "similar", verbose=0)

    assert result.version_dir.name == "1" and result.embedder.labels == []
    assert result.monitor == "val_spearman" and "val_spearman" in result.history[-1]
    import tensorflow as tf

    loaded = tf.saved_model.load(str(result.version_dir))
    assert contract.SIGNATURE_CLASSIFY not in loaded.signatures and contract.SIGNATURE_EMBED in loaded.signatures
    report = evaluate_pairs(result.embedder, test_path)
    assert report.pairs == 60 and report.spearman > 0.7


def test_penalty_override_for_a_structured_source(keyword_models, tmp_path, caplog):
    from embedder.sentence_embedder import SentenceEmbedder
    from training.finetune import _set_penalty

    train_path = write_tsv(tmp_path / "train.tsv", keyword_pairs(60, 10), ("score", "sentence1", "sentence2"))
    source = keyword_models["structured"].embedder.export(tmp_path / "structured", warmup=False)
    encoder = SentenceEmbedder.load(source).encoder
    assert encoder.penalty_coefficient == 1.0
    values = dict(source=str(source), train_path=train_path, pairs=True, epochs=1, batch_size=16, patience=0)

    # Pairs with the penalty on: the user is told (what finetune does with the source's encoder, without a run).
    with caplog.at_level("WARNING", logger="training.finetune"):
        _set_penalty(encoder, FinetuneConfig(**values))
    assert "redundancy penalty (coefficient 1)" in caplog.text and encoder.penalty_coefficient == 1.0

    caplog.clear()
    result = finetune(FinetuneConfig(**values, penalty_coefficient=0.0), tmp_path / "off", verbose=0)
    assert "redundancy penalty" not in caplog.text
    reloaded = SentenceEmbedder.load(result.version_dir).encoder
    assert reloaded.penalty_coefficient == 0.0 and reloaded.self_attention.penalty_coefficient == 0.0

    with pytest.raises(ValueError, match="only a structured encoder has a redundancy penalty"):
        transformer = keyword_models["transformer"].version_dir
        finetune(
            FinetuneConfig(**(values | {"source": str(transformer)}), penalty_coefficient=0.5),
            None,
            work_dir=tmp_path / "bad",
            verbose=0,
        )
    with pytest.raises(ValueError, match="penalty_coefficient"):
        FinetuneConfig(**values, penalty_coefficient=-1.0)


def test_finetune_from_a_shipped_model_by_name(animal_files, tmp_path, monkeypatch):
    """`embedder finetune --from default`: the shipped model is exported once into the cache and fine-tuned."""
    from embedder import pretrained

    monkeypatch.setenv("EMBEDDER_CACHE_DIR", str(tmp_path / "cache"))
    config = finetune_config("default", animal_files, epochs=1, freeze_epochs=1)
    result = finetune(config, None, work_dir=tmp_path / "run", verbose=0)  # no export: nothing here reads one
    cached = pretrained.resolve_model_path("default")
    assert cached.parent == tmp_path / "cache" / "pretrained" and (cached / "1" / "saved_model.pb").is_file()
    assert result.extra["source"] == str(cached / "1")
    assert result.embedder.labels == ["animal", "other"]
    shipped = pretrained.load("default")
    # The shipped vocabulary, then the task's frequent words it lacked (w1, w2, ... are not English).
    shipped_words = list(shipped.preprocessor.vocabulary)
    grown = list(result.embedder.preprocessor.vocabulary)
    assert grown[: len(shipped_words)] == shipped_words and "w1" in grown[len(shipped_words) :]
    # The frozen encoder is the shipped one, weight for weight (the token table's shipped rows included).
    for mine, theirs in zip(result.embedder.encoder.get_weights(), shipped.encoder.get_weights()):
        if mine.shape != theirs.shape:  # the token table: more rows, the same width
            assert mine.shape[1:] == theirs.shape[1:] and len(mine) == len(grown)
            mine = mine[: len(theirs)]
        np.testing.assert_allclose(mine, theirs, atol=1e-6)
    assert result.dev_score > 0.5


def test_new_domain_words_grow_the_vocabulary_and_are_learned(keyword_models, tmp_path):
    from embedder.sentence_embedder import SentenceEmbedder

    # The same task with keywords the source never saw: kept vocabulary, they would all be the one [UNK] token and
    # the label (decided by the keyword alone) could not be learned (measured: 32 % accuracy with new_words=0).
    new_keywords = {"apple": "banana", "tiger": "lion", "violin": "cello"}

    def new_domain(count, seed):
        rows = keyword_sentences(count, seed)
        return [(label, " ".join(new_keywords.get(w, w) for w in text.split())) for label, text, _ in rows]

    files = {
        "train": write_tsv(tmp_path / "train.tsv", new_domain(240, 20)),
        "dev": write_tsv(tmp_path / "dev.tsv", new_domain(60, 21)),
    }
    test = new_domain(90, 22)
    source = keyword_models["transformer"]
    config = finetune_config(source.version_dir, files, epochs=3, new_word_vectors=None)
    result = finetune(config, tmp_path / "grown", verbose=0)

    assert result.extra["new_words"] == 3 and result.extra["new_words_from_vectors"] == 0
    assert result.extra["unknown_rate_before"] > 0.04 and result.extra["unknown_rate_after"] == 0.0
    reloaded = SentenceEmbedder.load(result.version_dir)
    old_vocabulary = source.embedder.preprocessor.vocabulary
    vocabulary = list(reloaded.preprocessor.vocabulary)
    assert vocabulary[: len(old_vocabulary)] == old_vocabulary  # old ids unchanged; new words most frequent first
    assert sorted(vocabulary[len(old_vocabulary) :]) == ["banana", "cello", "lion"]
    accuracy = np.mean([p == label for p, (label, _) in zip(reloaded.predict([t for _, t in test]), test)])
    assert accuracy >= 0.8  # majority class: about 1/3


def test_label_pairs_are_setfits_one_positive_and_one_negative_per_example_and_round():
    from training.data import LabelledExamples
    from training.few_shot import label_pairs

    examples = LabelledExamples(("a1", "a2", "a3", "b1", "c1"), ("a", "a", "a", "b", "c"))
    label = dict(zip(examples.texts, examples.labels))
    pairs = label_pairs(examples, iterations=3, seed=4)
    assert len(pairs) == 2 * 3 * len(examples)
    for first, second, score in zip(pairs.first, pairs.second, pairs.scores):
        assert score == (1.0 if label[first] == label[second] else 0.0)
        assert score == 0.0 or first != second or label[first] in ("b", "c")  # a lone example pairs with itself
    assert pairs.scores.count(1.0) == pairs.scores.count(0.0)
    assert label_pairs(examples, 3, seed=4) == pairs  # seeded
    with pytest.raises(ValueError, match="at least two classes"):
        label_pairs(LabelledExamples(("x", "y"), ("a", "a")), 1, 0)


def test_few_shot_runs_the_contrastive_stage_then_the_classifier_and_resumes(keyword_models, animal_files, tmp_path):
    source = keyword_models["transformer"]
    # Other column names than the stage files' own: the stages read what few_shot wrote, not the user's names.
    renamed = {}
    for part in ("train",):
        lines = Path(animal_files[part]).read_text().splitlines()
        renamed[part] = str(tmp_path / f"renamed-{part}.tsv")
        Path(renamed[part]).write_text("\n".join(["y\tsentence", *lines[1:]]) + "\n")
    config = finetune_config(
        source.version_dir,
        renamed | {"dev": None},
        few_shot_iterations=2,
        epochs=1,
        text_column="sentence",
        label_column="y",
    )
    result = finetune(config, tmp_path / "few", work_dir=tmp_path / "run", verbose=0)

    assert result.embedder.labels == ["animal", "other"] and result.version_dir == tmp_path / "few" / "1"
    assert result.extra["contrastive_pairs"] == 2 * 2 * result.extra["train_examples"]
    assert -1.0 <= result.extra["contrastive_dev_spearman"] <= 1.0
    contrastive = tmp_path / "run" / "contrastive-model" / "1"
    assert result.extra["contrastive_model"] == str(contrastive)  # the classifier started from that stage's encoder
    assert result.extra["source"] == str(source.version_dir)  # the record names the model the user started from
    assert result.extra["new_words"] == 0 or result.extra["unknown_rate_after"] <= result.extra["unknown_rate_before"]
    changed = [
        not np.array_equal(a, b)
        for a, b in zip(contrastive_weights(contrastive), source.embedder.encoder.get_weights(), strict=True)
    ]
    assert any(changed)
    # One hold-out for both stages: the classifier's dev examples are the ones the dev pairs were built from.
    dev_texts = {line.split("\t", 1)[1] for line in (tmp_path / "run" / "dev.tsv").read_text().splitlines()[1:]}
    pair_texts = {
        t for line in (tmp_path / "run" / "pairs-dev.tsv").read_text().splitlines()[1:] for t in line.split("\t")[1:]
    }
    assert pair_texts <= dev_texts
    train_texts = {line.split("\t", 1)[1] for line in (tmp_path / "run" / "train.tsv").read_text().splitlines()[1:]}
    assert not dev_texts & train_texts - {""}

    # --resume after both stages finished: the contrastive stage is not run again.
    again = finetune(config, tmp_path / "few", work_dir=tmp_path / "run", resume=True, verbose=0)
    assert "contrastive_dev_spearman" not in again.extra and again.extra["source"] == str(source.version_dir)
    assert not (tmp_path / "run" / "contrastive-model" / "2").exists()


def contrastive_weights(version_dir):
    from embedder.sentence_embedder import SentenceEmbedder

    return SentenceEmbedder.load(version_dir).encoder.get_weights()


def decide(config: FinetuneConfig) -> FinetuneConfig:
    """`config` with the settings `finetune` decides from the training examples (which it has read once)."""
    from training.finetune import _decide_from_data
    from training.train import load_labelled_data

    return _decide_from_data(config, None if config.pairs else load_labelled_data(config)[0])


def test_few_shot_is_decided_from_the_number_of_examples_per_class(tmp_path, caplog):
    import logging

    rows = keyword_sentences(200, seed=3)
    few = write_tsv(tmp_path / "few.tsv", [(label, text) for label, text, _ in rows][:30])
    many = write_tsv(tmp_path / "many.tsv", [(label, text) for label, text, _ in rows])
    with caplog.at_level(logging.INFO, logger="training"):
        decided = decide(FinetuneConfig(source="m", train_path=few, dev_path=many))
    assert decided.few_shot_iterations == 20 and "SetFit's contrastive stage first, 20 rounds" in caplog.text
    assert decided.new_word_min_count == 1 and "seen at least 1 time(s) added" in caplog.text  # few: every word
    plenty = decide(FinetuneConfig(source="m", train_path=many, dev_path=few))
    assert (plenty.few_shot_iterations, plenty.new_word_min_count) == (0, 2)
    given = decide(FinetuneConfig(source="m", train_path=few, new_word_min_count=3, few_shot_iterations=0))
    assert (given.few_shot_iterations, given.new_word_min_count) == (0, 3)  # what is given stands
    pair_file = write_tsv(tmp_path / "pairs.tsv", keyword_pairs(5, 1), ("score", "sentence1", "sentence2"))
    pairs = decide(FinetuneConfig(source="m", train_path=pair_file, pairs=True))
    assert (pairs.few_shot_iterations, pairs.new_word_min_count) == (0, 2)


def test_few_shot_stays_off_when_the_encoder_is_frozen_throughout(tmp_path):
    rows = [(label, text) for label, text, _ in keyword_sentences(30, seed=3)]
    few = write_tsv(tmp_path / "few.tsv", rows)
    frozen = FinetuneConfig(source="m", train_path=few, dev_path=few, epochs=2, freeze_epochs=2)
    assert decide(frozen).few_shot_iterations == 0
    assert decide(dataclasses.replace(frozen, freeze_epochs=1)).few_shot_iterations == 20
