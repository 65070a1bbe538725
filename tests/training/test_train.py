import dataclasses
import json

import numpy as np
import pytest

from embedder import contract
from tests.helpers.keyword_task import KEYWORD_ENCODERS, keyword_config, keyword_pairs, write_tsv
from training.data import DataError
from training.loop import RunStateError
from training.train import train

pytestmark = pytest.mark.slow


def keyword_scores(embedder, test_rows):
    from training.explain import explain_with_embedder

    texts = [text for _, text, _ in test_rows]
    predictions = embedder.predict(texts)
    accuracy = np.mean([p == label for p, (label, _, _) in zip(predictions, test_rows)])
    explanations = explain_with_embedder(embedder, texts)
    peaks = np.mean([np.argmax(e.overall) == position for e, (_, _, position) in zip(explanations, test_rows)])
    return accuracy, peaks


# Attention over plain BiLSTM states need not sit on the word that decides the label: the recurrent states carry
# the keyword to every later position (Jain & Wallace 2019, "Attention is not Explanation"); measured here, 4-38 %
# of sentences. The attention encoders therefore add each word's projected embedding to its state
# (`word_residual`, on by default), and then peak on the keyword. The max-pooling baseline has no attention: its
# map (which token supplied each maximum) is only checked to learn the task.
ATTENTION_PEAKS_ON_KEYWORD = ("classic", "structured", "transformer")
# How often must the attention peak on the keyword (chance: about 1 in 15)? It depends on the seed for every encoder:
# `python bench/attention_keyword.py --seed N` (these settings) measured, for seeds 0 / 1 / 2, classic 71 / 65 / 63 %,
# structured 100 / 68 / 93 %, transformer 100 / 100 / 73 %, always at 99-100 % accuracy; over the paper's plain
# BiLSTM states (no `word_residual`) 4-38 %. 60 % separates the two on every seed measured.
PEAK_SHARE = dict.fromkeys(ATTENTION_PEAKS_ON_KEYWORD, 0.6)


@pytest.mark.parametrize("architecture", list(KEYWORD_ENCODERS))
def test_keyword_task_is_learned_and_attention_peaks_on_the_keyword(keyword_models, keyword_files, architecture):
    test_rows = keyword_files["test"]
    labels = [label for label, _, _ in test_rows]
    majority = max(labels.count(c) for c in set(labels)) / len(labels)
    accuracy, peaks = keyword_scores(keyword_models[architecture].embedder, test_rows)
    assert accuracy >= majority + 0.4, (accuracy, majority)
    if architecture in ATTENTION_PEAKS_ON_KEYWORD:
        assert peaks >= PEAK_SHARE[architecture], f"attention peaked on the keyword in {peaks:.0%} of sentences"


def test_result_records_the_run(keyword_models):
    result = keyword_models["classic"]
    assert [h["epoch"] for h in result.history] == list(range(1, 7))
    assert result.dev_score == max(h["val_accuracy"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val_accuracy"] == result.dev_score
    assert result.train_tokens > 6 * 480 * 10 and result.wall_time_s > 0
    assert result.extra["labels"] == ["animal", "fruit", "music"]


def test_export_reloads_with_the_same_predictions(keyword_models, keyword_files):
    import tensorflow as tf

    from embedder.sentence_embedder import SentenceEmbedder

    result = keyword_models["transformer"]
    assert result.version_dir.name == "1"
    texts = [text for _, text, _ in keyword_files["test"][:20]]
    reloaded = SentenceEmbedder.load(result.version_dir.parent)
    np.testing.assert_allclose(reloaded.predict_proba(texts), result.embedder.predict_proba(texts), atol=1e-6)
    served = tf.saved_model.load(str(result.version_dir)).signatures[contract.SIGNATURE_CLASSIFY]
    probabilities = served(text=tf.constant(texts))[contract.OUTPUT_PROBABILITIES].numpy()
    np.testing.assert_allclose(probabilities, result.embedder.predict_proba(texts), atol=1e-5)
    document = json.loads((result.version_dir / contract.ASSETS_EXTRA_DIR / contract.RUN_CONFIG_FILE).read_text())
    assert document["kind"] == "train" and document["settings"]["architecture"] == "transformer"
    assert document["result"]["best_epoch"] == result.best_epoch


def test_run_state_errors(small_keyword_files, tmp_path):
    config = keyword_config(small_keyword_files, "transformer", epochs=1)
    with pytest.raises(RunStateError, match="Nothing to resume"):
        train(config, None, work_dir=tmp_path / "run", resume=True, verbose=0)
    train(config, None, work_dir=tmp_path / "run", verbose=0)
    with pytest.raises(RunStateError, match="holds an earlier run.*--resume.*--overwrite"):
        train(config, None, work_dir=tmp_path / "run", verbose=0)
    with pytest.raises(RunStateError, match=r"other settings \(seed: 1 != 0\)"):
        train(dataclasses.replace(config, seed=1), None, work_dir=tmp_path / "run", resume=True, verbose=0)


def test_a_resumed_run_keeps_the_encoder_defaults_it_started_with(small_keyword_files, tmp_path, monkeypatch):
    # An upgrade between start and resume changed `TRAIN_ENCODER_DEFAULTS`: the run goes on with the model it began
    # (the new defaults would build weights that its checkpoint does not fit), and its settings say which.
    from training.config import TRAIN_ENCODER_DEFAULTS

    encoder = {k: v for k, v in KEYWORD_ENCODERS["transformer"].items() if k != "intermediate_dim"}
    monkeypatch.setitem(TRAIN_ENCODER_DEFAULTS, "transformer", {"intermediate_dim": 8})
    config = keyword_config(small_keyword_files, "transformer", encoder=encoder, epochs=1)
    first = train(config, None, work_dir=tmp_path / "run", verbose=0)
    monkeypatch.setitem(TRAIN_ENCODER_DEFAULTS, "transformer", {"intermediate_dim": 24})
    upgraded = keyword_config(small_keyword_files, "transformer", encoder=encoder, epochs=2)
    assert upgraded.encoder_arguments()["intermediate_dim"] == 24
    resumed = train(upgraded, None, work_dir=tmp_path / "run", resume=True, verbose=0)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    # the training time counts both processes' epochs
    assert resumed.extra["fit_seconds_all_epochs"] > first.extra["fit_seconds_all_epochs"] > 0
    assert resumed.embedder.encoder.get_config()["intermediate_dim"] == 8
    saved = json.loads((tmp_path / "run" / "config.json").read_text("utf-8"))
    assert saved["encoder_defaults"] == {"intermediate_dim": 8} and saved["epochs"] == 2


def test_a_resumed_run_keeps_the_word_vectors_it_started_with(small_keyword_files, tmp_path, monkeypatch, caplog):
    # A run started when its architecture's default vectors were others (an earlier version) resumes with them when
    # no flag asks otherwise; an explicit other choice is still refused.
    from training import config as config_module
    from training.loop import RunStateError

    words = tmp_path / "words.txt"
    words.write_text("".join(f"{w} " + " ".join(["0.5"] * 16) + "\n" for w in ("film", "movie", "keyword")), "utf-8")
    monkeypatch.setitem(config_module.TRAIN_WORD_VECTORS, "classic", str(words))
    first = keyword_config(small_keyword_files, "classic", epochs=1, word_vectors=config_module.BY_ARCHITECTURE)
    assert (first.word_vectors, first.freeze_word_vectors) == (str(words), False)
    train(first, None, work_dir=tmp_path / "run", verbose=0)
    monkeypatch.setitem(config_module.TRAIN_WORD_VECTORS, "classic", "pretrained:default")  # the upgrade
    upgraded = keyword_config(small_keyword_files, "classic", epochs=2, word_vectors=config_module.BY_ARCHITECTURE)
    assert (upgraded.word_vectors, upgraded.freeze_word_vectors) == ("pretrained:default", True)
    with caplog.at_level("INFO", logger="training.loop"):
        resumed = train(upgraded, None, work_dir=tmp_path / "run", resume=True, verbose=0)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert "resuming with the run's own word_vectors, freeze_word_vectors" in caplog.text
    saved = json.loads((tmp_path / "run" / "config.json").read_text("utf-8"))
    assert (saved["word_vectors"], saved["freeze_word_vectors"], saved["epochs"]) == (str(words), False, 2)
    with pytest.raises(RunStateError, match="other settings.*word_vectors"):
        random_vectors = dataclasses.replace(first, word_vectors=None, extend_vocabulary=0)
        train(random_vectors, None, work_dir=tmp_path / "run", resume=True, verbose=0)


def test_a_run_saved_before_encoder_defaults_were_recorded_says_how_to_resume(
    small_keyword_files, tmp_path, monkeypatch
):
    # Settings written before `encoder_defaults` existed take this version's defaults: when those changed, the
    # checkpoint does not fit, and the error names the remedy, which works.
    from training.config import TRAIN_ENCODER_DEFAULTS

    encoder = {k: v for k, v in KEYWORD_ENCODERS["transformer"].items() if k != "intermediate_dim"}
    monkeypatch.setitem(TRAIN_ENCODER_DEFAULTS, "transformer", {"intermediate_dim": 8})
    train(
        keyword_config(small_keyword_files, "transformer", encoder=encoder, epochs=1),
        None,
        work_dir=tmp_path / "run",
        verbose=0,
    )
    settings = tmp_path / "run" / "config.json"
    legacy = json.loads(settings.read_text("utf-8"))
    del legacy["encoder_defaults"]
    settings.write_text(json.dumps(legacy), "utf-8")
    monkeypatch.setitem(TRAIN_ENCODER_DEFAULTS, "transformer", {"intermediate_dim": 24})
    upgraded = keyword_config(small_keyword_files, "transformer", encoder=encoder, epochs=2)
    with pytest.raises(ValueError, match=r"does not fit.*write the run's into \"encoder_defaults\" of .*config\.json"):
        train(upgraded, None, work_dir=tmp_path / "run", resume=True, verbose=0)
    settings.write_text(json.dumps(legacy | {"encoder_defaults": {"intermediate_dim": 8}}), "utf-8")
    resumed = train(upgraded, None, work_dir=tmp_path / "run", resume=True, verbose=0)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_pairs_train_a_new_encoder_without_head_for_cosine_similarity(tmp_path):
    from training.evaluate import evaluate_pairs

    header = ("score", "sentence1", "sentence2")
    train_path = write_tsv(tmp_path / "train.tsv", keyword_pairs(240, 8), header)
    test_path = write_tsv(tmp_path / "test.tsv", keyword_pairs(60, 9), header)
    files = {"train": train_path, "dev": None}
    config = keyword_config(files, "classic", pairs=True, epochs=3, dev_fraction=0.2, learning_rate=1e-2)
    result = train(config, tmp_path / "sts", verbose=0)

    assert result.embedder.labels == [] and result.monitor == "val_spearman"
    assert (result.extra["train_examples"], result.extra["dev_examples"]) == (192, 48)
    import tensorflow as tf

    signatures = tf.saved_model.load(str(result.version_dir)).signatures
    assert contract.SIGNATURE_CLASSIFY not in signatures and contract.SIGNATURE_EMBED in signatures
    report = evaluate_pairs(result.embedder, test_path)
    assert report.pairs == 60 and report.spearman > 0.7
    saved = json.loads((result.version_dir / "assets.extra" / "run_config.json").read_text("utf-8"))
    assert saved["kind"] == "train" and saved["settings"]["pairs"] and saved["settings"]["pair_loss"] == "cosine_mse"
    # a run on labels keeps the settings document it had before pairs existed
    assert "pairs" not in keyword_config(files, "classic").to_dict()
    with pytest.raises(ValueError, match=r"`chunk_length`, expected None with pairs"):
        keyword_config(files, "classic", pairs=True, max_length=64, chunk_length=16)


def test_bad_input_raises_before_training(keyword_files, tmp_path):
    dev = write_tsv(tmp_path / "dev.tsv", [("fruit", "apple w1"), ("vegetable", "leek w2")])
    with pytest.raises(DataError, match=r"'vegetable' appear only in the dev data"):
        train(keyword_config(keyword_files, "classic", dev_path=dev), tmp_path / "m")
    with pytest.raises(DataError, match=r"no column 'sentence'"):
        train(keyword_config(keyword_files, "classic", text_column="sentence"), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_pretrained_word_vectors_and_a_dev_holdout(small_keyword_files, tmp_path):
    keyword_files = small_keyword_files
    vectors = {"apple": [1.0, 0.0, 0.0, 0.5], "tiger": [0.0, 1.0, 0.0, 0.5], "pear": [0.5, 0.5, 0.5, 0.5]}
    path = tmp_path / "vectors.txt"
    path.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in vectors.items()), encoding="utf-8")
    config = keyword_config(
        keyword_files,
        "transformer",
        epochs=1,
        word_vectors=str(path),
        extend_vocabulary=3,
        freeze_word_vectors=True,
        encoder=dict(hidden_dim=8, num_heads=2, num_layers=1),
        dev_path=None,
        dev_fraction=0.25,
    )
    result = train(config, None, work_dir=tmp_path / "run", verbose=0)
    assert (result.extra["train_examples"], result.extra["dev_examples"]) == (120, 40)
    vocabulary = result.embedder.preprocessor.vocabulary
    assert "pear" in vocabulary  # added from the vectors though training never saw it
    table = np.asarray(result.embedder.encoder.token_embedding.embeddings)
    for word, vector in vectors.items():
        np.testing.assert_allclose(table[vocabulary.index(word)], vector)  # frozen: still the pretrained vector
    assert result.extra["word_vector_coverage"] == pytest.approx(3 / (len(vocabulary) - 3), abs=1e-4)


def test_words_the_word_vectors_lack_start_from_the_fallback_vectors(small_keyword_files, tmp_path):
    from embedder.text_preprocessor import count_words
    from training.data import read_labelled
    from training.word_vectors import read_glove_text

    words = sorted(count_words(read_labelled(small_keyword_files["train"]).texts))
    rng = np.random.default_rng(0)
    main, fallback = tmp_path / "main.txt", tmp_path / "fallback.txt"
    main.write_text("".join(f"{w} {' '.join(map(str, rng.standard_normal(16)))}\n" for w in words[:12]), "utf-8")
    fallback.write_text("".join(f"{w} {' '.join(map(str, rng.standard_normal(2)))}\n" for w in words), "utf-8")
    settings = dict(epochs=1, word_vectors=str(main), freeze_word_vectors=True, extend_vocabulary=0)
    config = keyword_config(small_keyword_files, "classic", fallback_word_vectors=str(fallback), **settings)
    result = train(config, None, work_dir=tmp_path / "run", verbose=0)
    vocabulary = result.embedder.preprocessor.vocabulary
    expected, found = read_glove_text(main).embedding_matrix(vocabulary, seed=config.seed)
    filled, _ = read_glove_text(main).fill_missing(expected, vocabulary, read_glove_text(fallback))
    assert filled == result.extra["fallback_word_vectors_found"] == len(words) - 12 == len(vocabulary) - 3 - found
    np.testing.assert_allclose(np.asarray(result.embedder.encoder.token_embedding.embeddings), expected, rtol=1e-6)
    assert result.extra["word_vector_coverage"] == 1.0
    plain = train(
        keyword_config(small_keyword_files, "classic", fallback_word_vectors=None, **settings),
        None,
        work_dir=tmp_path / "plain",
        verbose=0,
    )
    assert "fallback_word_vectors_found" not in plain.extra and plain.extra["word_vector_coverage"] < 1.0


def test_a_run_without_pretrained_vectors_says_so(small_keyword_files, tmp_path, caplog):
    import logging

    config = keyword_config(small_keyword_files, "classic", epochs=1)
    assert config.word_vectors is None
    with caplog.at_level(logging.WARNING, logger="training"):
        train(config, None, work_dir=tmp_path / "run", verbose=0)
    assert "Training without pretrained word vectors" in caplog.text


def test_max_length_none_reads_the_training_texts_95th_length_percentile(small_keyword_files, tmp_path):
    from embedder.text_preprocessor import text_lengths
    from training.data import max_length_for, read_labelled

    config = keyword_config(small_keyword_files, "classic", epochs=1, max_length=None)
    result = train(config, None, work_dir=tmp_path / "run", verbose=0)
    lengths = text_lengths(read_labelled(small_keyword_files["train"]).texts)
    expected = max_length_for(lengths)
    assert result.extra["max_length"] == expected == result.embedder.preprocessor.max_length
    assert text_lengths(["don't stop!", "", "a  b"]) == [4, 0, 2]  # the graph's split: "do n't stop !"


def test_an_embedding_dim_other_than_the_word_vectors_names_both_ways_out(small_keyword_files, tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("apple 1 0 0 0\ntiger 0 1 0 0\n", encoding="utf-8")
    config = keyword_config(small_keyword_files, "classic", epochs=1, word_vectors=str(path))
    assert config.encoder["embedding_dim"] != 4
    with pytest.raises(ValueError, match=r"4-dimensional .* leave embedding_dim out, or .*--word-vectors none"):
        train(config, None, work_dir=tmp_path / "run", verbose=0)


def test_resuming_a_run_that_finished_its_epochs_but_not_its_export_exports_it(small_keyword_files, tmp_path):
    # A crash after the last epoch (in the export) left every checkpoint: `--resume` exports the best epoch without
    # training again (it had refused: "examples make no batch", from a plan of zero epochs).
    config = keyword_config(small_keyword_files, "transformer", epochs=2)
    finished = train(config, None, work_dir=tmp_path / "run", verbose=0)
    assert finished.version_dir is None
    resumed = train(config, tmp_path / "model", work_dir=tmp_path / "run", resume=True, verbose=0)
    assert resumed.version_dir == tmp_path / "model" / "1" and (resumed.version_dir / "saved_model.pb").is_file()
    assert [h["epoch"] for h in resumed.history] == [1, 2] and resumed.wall_time_s == 0
    assert resumed.best_epoch == finished.best_epoch
    assert resumed.extra["fit_seconds_all_epochs"] == finished.extra["fit_seconds_all_epochs"] > 0
    for mine, theirs in zip(resumed.embedder.encoder.get_weights(), finished.embedder.encoder.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
