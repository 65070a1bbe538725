import dataclasses

import pytest

from training.config import (
    ARCHITECTURES,
    TRAIN_ENCODER_DEFAULTS,
    FinetuneConfig,
    TrainConfig,
    config_from_document,
    run_config_document,
)


def test_round_trip_and_frozen():
    config = TrainConfig(architecture="structured", train_path="t.tsv", encoder={"attention_hops": 2}, epochs=3)
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert config_from_document(run_config_document(config, {"dev_score": 0.5})) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 4
    finetune = FinetuneConfig(source="models/a", train_path="t.tsv", pairs=True)
    assert config_from_document(run_config_document(finetune)) == finetune


def test_chunking_settings_round_trip_and_an_unchunked_document_is_unchanged():
    chunked = TrainConfig(architecture="classic", train_path="t.tsv", max_length=512, chunk_length=64)
    chunked = dataclasses.replace(chunked, chunk_pooling="mean")
    document = run_config_document(chunked)
    assert (document["settings"]["chunk_length"], document["settings"]["chunk_pooling"]) == (64, "mean")
    assert config_from_document(document) == chunked
    plain = TrainConfig(architecture="classic", train_path="t.tsv")
    assert not {"chunk_length", "chunk_pooling"} & set(plain.to_dict())
    assert TrainConfig.from_dict(plain.to_dict()) == plain


def test_encoder_dict_is_copied():
    options = {"rnn_units": 4}
    config = TrainConfig(architecture="classic", train_path="t.tsv", encoder=options)
    options["rnn_units"] = 99
    assert config.encoder == {"rnn_units": 4}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"architecture": "cnn"}, r"argument `architecture`, expected one of 'classic'.*Received: architecture='cnn'"),
        ({"epochs": 0}, r"argument `epochs`, expected a positive integer. Received: epochs=0"),
        ({"precision": "float8"}, r"argument `precision`.*Received: precision='float8'"),
        ({"distribution": "tpu"}, r"argument `distribution`.*Received: distribution='tpu'"),
        ({"dev_fraction": 1.0}, r"argument `dev_fraction`.*Received: dev_fraction=1.0"),
        ({"extend_vocabulary": 100, "word_vectors": None}, r"`extend_vocabulary`, expected 0 when no word_vectors"),
        ({"learning_rate": -1}, r"argument `learning_rate`, expected a number > 0. Received: learning_rate=-1"),
        ({"chunk_length": 128, "max_length": 128}, r"`chunk_length`, expected fewer tokens than max_length=128"),
        ({"chunk_length": 0}, r"argument `chunk_length`, expected a positive integer or None"),
        ({"chunk_length": 32, "chunk_pooling": "max"}, r"`chunk_pooling`, expected one of 'mean', 'attention'"),
        ({"chunk_pooling": "mean"}, r"`chunk_pooling`, expected 'attention' \(the default\) when chunk_length"),
    ],
)
def test_invalid_settings(kwargs, message):
    values = dict(architecture="classic", train_path="t.tsv") | kwargs
    with pytest.raises(ValueError, match=message):
        TrainConfig(**values)


def test_unknown_setting_and_differences():
    with pytest.raises(ValueError, match="Unknown TrainConfig setting"):
        TrainConfig.from_dict({"architecture": "classic", "train_path": "t", "colour": "red"})
    a = TrainConfig(architecture="classic", train_path="t.tsv")
    b = dataclasses.replace(a, seed=2)
    assert a.differences(b) == ["seed: 0 != 2"]
    with pytest.raises(ValueError, match=r"argument `freeze_epochs`, expected 0 with pairs"):
        FinetuneConfig(source="m", train_path="t", pairs=True, freeze_epochs=1)


def test_finetune_flags_for_new_words():
    from embedder.cli import build_parser
    from embedder.cli.train import _settings
    from training.config import FinetuneConfig

    base = ["finetune", "--from", "models/a", "--train", "t.tsv", "--out", "o"]
    defaults = _settings(build_parser().parse_args(base), FinetuneConfig)
    assert (defaults.new_words, defaults.new_word_min_count, defaults.new_word_vectors) == (20000, None, "glove-50d")
    flags = ["--new-words", "0", "--new-word-min-count", "3", "--new-word-vectors", "none"]
    settings = _settings(build_parser().parse_args(base + flags), FinetuneConfig)
    assert (settings.new_words, settings.new_word_min_count, settings.new_word_vectors) == (0, 3, None)
    with pytest.raises(ValueError, match="argument `new_words`, expected a non-negative integer"):
        FinetuneConfig(source="m", train_path="t.tsv", new_words=-1)


def test_fallback_word_vectors_flag_saved_settings_and_checks():
    from embedder.cli import build_parser
    from embedder.cli.train import _settings

    base = ["train", "--arch", "classic", "--train", "t.tsv", "--out", "o"]
    assert _settings(build_parser().parse_args(base), TrainConfig).fallback_word_vectors == "glove-50d"  # classic's
    flags = ["--fallback-word-vectors", "none"]
    assert _settings(build_parser().parse_args(base + flags), TrainConfig).fallback_word_vectors is None
    config = TrainConfig(architecture="classic", train_path="t.tsv", fallback_word_vectors="words.txt")
    assert TrainConfig.from_saved(config.to_dict()) == config
    # A run saved before the option existed gave the words its vectors lacked random vectors.
    earlier = {k: v for k, v in config.to_dict().items() if k != "fallback_word_vectors"}
    assert TrainConfig.from_saved(earlier).fallback_word_vectors is None
    assert TrainConfig.from_dict(earlier).fallback_word_vectors == "glove-50d"
    with pytest.raises(ValueError, match=r"`fallback_word_vectors`, expected 'glove-50d', 'pretrained:NAME'"):
        TrainConfig(architecture="classic", train_path="t.tsv", fallback_word_vectors="")


def test_train_defaults_are_the_swept_ones_and_extension_follows_the_word_vectors():
    config = TrainConfig(architecture="classic", train_path="t.tsv")
    joined = "pretrained:default+glove-50d"
    assert (config.word_vectors, config.extend_vocabulary, config.max_length) == (joined, 20000, None)
    assert config.freeze_word_vectors  # a shipped model's vectors (here joined with GloVe) stay fixed unless asked
    chosen = {
        a: (c.word_vectors, c.fallback_word_vectors)
        for a in TrainConfig.architectures
        for c in [TrainConfig(architecture=a, train_path="t.tsv")]
    }
    assert chosen == {
        "classic": (joined, "glove-50d"),
        "structured": (joined, None),
        "transformer": ("glove-50d", None),
        "bilstm_max": ("glove-50d", None),
    }
    assert TrainConfig(
        architecture="classic", train_path="t.tsv", word_vectors="glove-50d+pretrained:default"
    ).freeze_word_vectors
    glove = TrainConfig(architecture="classic", train_path="t.tsv", word_vectors="glove-50d")
    assert not glove.freeze_word_vectors and glove.extend_vocabulary == 20000
    trained = TrainConfig(architecture="classic", train_path="t.tsv", freeze_word_vectors=False)
    assert (trained.word_vectors, trained.freeze_word_vectors) == (joined, False)
    assert TrainConfig.from_dict(config.to_dict()) == config  # the saved settings hold the resolved values
    assert (config.to_dict()["word_vectors"], config.to_dict()["fallback_word_vectors"]) == (joined, "glove-50d")
    stopping = {
        a: (c.epochs, c.patience)
        for a in TrainConfig.architectures
        for c in [TrainConfig(architecture=a, train_path="t.tsv")]
    }
    assert stopping == {"classic": (25, 5), "structured": (25, 5), "transformer": (15, 3), "bilstm_max": (15, 3)}
    assert TrainConfig(architecture="classic", train_path="t.tsv", patience=0).patience == 0  # 0: never stop early
    assert TrainConfig(architecture="classic", train_path="t.tsv", epochs=3).epochs == 3
    assert (config.learning_rate, config.schedule, config.warmup_epochs) == (2e-3, "cosine", 0.5)
    random_vectors = TrainConfig(architecture="classic", train_path="t.tsv", word_vectors=None)
    assert random_vectors.extend_vocabulary == 0
    assert TrainConfig.from_dict(config.to_dict()) == config  # the resolved extension round-trips
    assert config.encoder_arguments() == {"dropout": 0.3}  # recurrent encoders: the swept dropout
    assert TrainConfig(architecture="classic", train_path="t", encoder={"dropout": 0.0}).encoder_arguments() == {
        "dropout": 0.0
    }
    # Every architecture has swept defaults; the Transformer its own width and learning rate, recorded as numbers.
    assert set(TRAIN_ENCODER_DEFAULTS) == set(ARCHITECTURES)
    transformer = TrainConfig(architecture="transformer", train_path="t")
    assert transformer.encoder_arguments() == {"dropout": 0.1, "hidden_dim": 128, "intermediate_dim": 256}
    assert transformer.learning_rate == 1e-3 and transformer.to_dict()["learning_rate"] == 1e-3
    assert TrainConfig.from_dict(transformer.to_dict()) == transformer
    assert TrainConfig(architecture="transformer", train_path="t", learning_rate=5e-4).learning_rate == 5e-4
    with pytest.raises(ValueError, match="extend_vocabulary"):
        TrainConfig(architecture="classic", train_path="t.tsv", word_vectors=None, extend_vocabulary=5)


def test_max_length_for_takes_the_95th_percentile_rounded_up_within_range():
    from training.data import max_length_for

    assert max_length_for([10] * 96 + [200] * 4) == 16  # the 95th percentile is 10 → 16, the floor
    assert max_length_for(list(range(1, 101))) == 96  # 95.05 → the next multiple of 8
    assert max_length_for([5000] * 10) == 512
    with pytest.raises(ValueError, match="no text lengths"):
        max_length_for([])


def test_few_shot_setting_checks_and_round_trips():
    config = FinetuneConfig(source="m", train_path="t", few_shot_iterations=20)
    assert FinetuneConfig.from_dict(config.to_dict()) == config
    automatic = FinetuneConfig(source="m", train_path="t")
    assert automatic.few_shot_iterations is None and FinetuneConfig.from_dict(automatic.to_dict()) == automatic
    before = automatic.to_dict()
    del before["few_shot_iterations"]
    assert FinetuneConfig.from_saved(before).few_shot_iterations == 0  # a run saved before the option: what ran
    assert FinetuneConfig.from_dict(before).few_shot_iterations is None  # settings given now: decided from the data
    from training.config import few_shot_rounds_for

    assert [few_shot_rounds_for(n, 6) for n in (48, 384, 385)] == [20, 20, 0]
    with pytest.raises(ValueError, match=r"argument `few_shot_iterations`, expected 0 with pairs"):
        FinetuneConfig(source="m", train_path="t", pairs=True, few_shot_iterations=5)
    from embedder.cli import build_parser
    from embedder.cli.train import _settings
    from training.config import FEW_SHOT_ROUNDS

    base = ["finetune", "--from", "m", "--train", "t.tsv", "--out", "o"]
    assert _settings(build_parser().parse_args([*base, "--few-shot"]), FinetuneConfig).few_shot_iterations == 20
    assert FEW_SHOT_ROUNDS == 20
    assert _settings(build_parser().parse_args([*base, "--few-shot", "5"]), FinetuneConfig).few_shot_iterations == 5


def test_pair_loss_flag_and_its_checked_choices():
    from embedder.cli import build_parser
    from embedder.cli.train import _settings

    base = ["finetune", "--from", "m", "--train", "t.tsv", "--out", "o", "--pairs"]
    assert _settings(build_parser().parse_args([*base, "--pair-loss", "cosent"]), FinetuneConfig).pair_loss == "cosent"
    train = ["train", "--arch", "classic", "--train", "t.tsv", "--out", "o", "--pairs", "--pair-loss", "cosent"]
    config = _settings(build_parser().parse_args(train), TrainConfig)
    assert config.pairs and config.pair_loss == "cosent" and config.to_dict()["pair_loss"] == "cosent"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--pair-loss", "triplet"])
    with pytest.raises(ValueError, match=r"`pair_loss`, expected one of 'cosine_mse', 'cosent'"):
        FinetuneConfig(source="m", train_path="t", pairs=True, pair_loss="triplet")
