"""The shared settings base: one set of optimisation fields and checks, each run keeping its own defaults and
choices, and the settings saved by earlier versions (exports' run_config.json, --resume work dirs) still loading."""

import json

import pytest

from training.config import TRAIN_ENCODER_DEFAULTS, FinetuneConfig, TrainConfig, config_from_document
from training.distill.config import DistillConfig
from training.settings import ModelSettings, OptimizationSettings

# Written by the version before the shared base (json.dumps(..., sort_keys=True) of each class's defaults).
OLD_TRAIN_DOCUMENT = """{"kind": "train", "result": {}, "settings": {"architecture": "structured", "batch_size": 32,
"clipnorm": 1.0, "deterministic": false, "dev_fraction": 0.1, "dev_path": null, "distribution": "auto", "encoder": {},
"epochs": 10, "extend_vocabulary": 0, "file_format": null, "freeze_word_vectors": false, "head": {},
"label_column": "label", "label_smoothing": 0.0, "learning_rate": 0.001, "lowercase": true, "max_length": 128,
"min_count": 1, "optimizer": "adam", "patience": 3, "precision": "float32", "schedule": "constant", "seed": 0,
"text_column": "text", "train_path": "t.tsv", "vocabulary_size": 30000, "warmup_epochs": 0.0, "weight_decay": 0.0,
"word_vectors": null}}"""
OLD_FINETUNE_DOCUMENT = """{"kind": "finetune", "result": {}, "settings": {"batch_size": 32, "clipnorm": 1.0,
"deterministic": false, "dev_fraction": 0.1, "dev_path": null, "distribution": "auto", "epochs": 10,
"file_format": null, "first_column": "sentence1", "freeze_epochs": 0, "head": {}, "label_column": "label",
"label_smoothing": 0.0, "learning_rate": 0.001, "max_score": 5.0, "new_word_min_count": 2,
"new_word_vectors": "glove-50d", "new_words": 20000, "optimizer": "adam", "pairs": false, "patience": 3,
"penalty_coefficient": null, "precision": "float32", "schedule": "constant", "score_column": "score",
"second_column": "sentence2", "seed": 0, "source": "m", "text_column": "text", "train_path": "t.tsv",
"warmup_epochs": 0.0, "weight_decay": 0.0}}"""
OLD_DISTILL_SETTINGS = """{"architecture": "transformer", "batch_size": 128, "cache_dir": null,
"cache_dtype": "float16", "clipnorm": 1.0, "corpus": ["c.txt"], "dev_sentences": 2000, "encoder": {}, "epochs": 5,
"exclude": [], "extend_vocabulary": 0, "learning_rate": 0.001, "loss": "cosine", "lowercase": true,
"max_length": 64, "max_per_file": null, "max_sentences": null, "max_words": 64, "min_count": 2, "min_words": 2,
"optimizer": "adam", "patience": 2, "schedule": "cosine", "seed": 0, "teacher": "all-MiniLM-L6-v2",
"teacher_batch_size": 64, "teacher_embeddings": null, "teacher_precision": "float32", "teacher_threads": null,
"vocabulary_size": 40000, "warmup_epochs": 0.1, "weight_decay": 0.0, "word_vectors": null}"""
#: Settings added since those documents were written, at their defaults (an old document loads as these).
ADDED_SINCE = {"export_precision": "float32"}
#: `embedder train`'s defaults when OLD_TRAIN_DOCUMENT was written (bench/defaults_sweep.py changed them since).
TRAIN_DEFAULTS_THEN = dict(
    epochs=10,
    max_length=128,
    word_vectors=None,
    extend_vocabulary=0,
    learning_rate=1e-3,
    schedule="constant",
    warmup_epochs=0.0,
    patience=3,
)


@pytest.mark.parametrize(
    "document, fresh",
    [
        (OLD_TRAIN_DOCUMENT, TrainConfig(architecture="structured", train_path="t.tsv", **TRAIN_DEFAULTS_THEN)),
        (
            OLD_FINETUNE_DOCUMENT,
            FinetuneConfig(source="m", train_path="t.tsv", few_shot_iterations=0, new_word_min_count=2),
        ),
    ],
)
def test_run_documents_of_the_earlier_version_load_with_the_same_keys_and_defaults(document, fresh):
    document = json.loads(document)
    config = config_from_document(document)
    assert config == fresh
    # same keys and values (plus the settings added since): exports and work dirs compare equal
    # a train document from before `encoder_defaults` loads with this version's (what resuming it always did), one
    # from before `fallback_word_vectors` with None (its run left the words its vectors lacked random)
    since = {
        "finetune": {"few_shot_iterations": 0, "pair_loss": "cosine_mse"},
        "train": {"encoder_defaults": TRAIN_ENCODER_DEFAULTS["structured"], "fallback_word_vectors": None},
    }
    added = ADDED_SINCE | since[document["kind"]]
    assert config.to_dict() == {**document["settings"], **added}
    assert fresh.differences(config) == []


def test_distill_settings_of_the_earlier_version_load_with_the_same_keys_and_defaults():
    settings = json.loads(OLD_DISTILL_SETTINGS)
    config = DistillConfig.from_dict(settings)
    fresh = DistillConfig(architecture="transformer", corpus=("c.txt",), teacher="all-MiniLM-L6-v2")
    assert config == fresh and config.to_dict() == {**settings, **ADDED_SINCE} and fresh.differences(config) == []


def test_each_run_keeps_its_own_optimisation_defaults_and_choices():
    train = TrainConfig(architecture="classic", train_path="t.tsv")
    distill = DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t")
    assert isinstance(train, OptimizationSettings) and isinstance(distill, OptimizationSettings)
    shared = ("epochs", "batch_size", "schedule", "warmup_epochs", "patience")
    assert [getattr(train, name) for name in shared] == [25, 32, "cosine", 0.5, 5]  # the sweep's (classic)
    assert [getattr(distill, name) for name in shared] == [5, 128, "cosine", 0.1, 2]
    assert TrainConfig(architecture="classic", train_path="t.tsv", optimizer="sgd").optimizer == "sgd"
    with pytest.raises(ValueError, match=r"`optimizer`, expected one of 'adam', 'adamw'. Received: optimizer='sgd'"):
        DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t", optimizer="sgd")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(epochs=0), "`epochs`, expected a positive integer. Received: epochs=0"),
        (dict(batch_size=True), "`batch_size`, expected a positive integer. Received: batch_size=True"),
        (dict(learning_rate=float("inf")), "`learning_rate`, expected a number > 0. Received: learning_rate=inf"),
        (dict(schedule="step"), "`schedule`, expected one of 'constant', 'cosine'. Received: schedule='step'"),
        (dict(warmup_epochs=-0.5), "`warmup_epochs`, expected a number >= 0. Received: warmup_epochs=-0.5"),
        (dict(weight_decay="0.1"), "`weight_decay`, expected a number >= 0. Received: weight_decay='0.1'"),
        (dict(clipnorm=-1.0), "`clipnorm`, expected a number >= 0 or None. Received: clipnorm=-1.0"),
        (dict(patience=-1), "`patience`, expected a non-negative integer. Received: patience=-1"),
        (dict(seed=1.5), "`seed`, expected a non-negative integer. Received: seed=1.5"),
    ],
)
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: TrainConfig(architecture="classic", train_path="t.tsv", **kw),
        lambda **kw: FinetuneConfig(source="m", train_path="t.tsv", **kw),
        lambda **kw: DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t", **kw),
    ],
    ids=["train", "finetune", "distill"],
)
def test_every_run_checks_the_optimisation_settings_alike(make, overrides, message):
    with pytest.raises(ValueError, match="Received an invalid value for argument " + message.replace("(", r"\(")):
        make(**overrides)


def test_new_models_share_the_model_settings_with_their_own_defaults_and_architectures():
    train = TrainConfig(architecture="bilstm_max", train_path="t.tsv")
    distill = DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t")
    assert isinstance(train, ModelSettings) and isinstance(distill, ModelSettings)
    assert not isinstance(FinetuneConfig(source="m", train_path="t"), ModelSettings)  # the source's model
    shared = ("max_length", "vocabulary_size", "min_count", "lowercase", "word_vectors", "extend_vocabulary")
    assert [getattr(train, name) for name in shared] == [None, 30000, 1, True, "glove-50d", 20000]  # the sweep's
    assert [getattr(distill, name) for name in shared] == [64, 40000, 2, True, None, 0]
    message = (
        r"`architecture`, expected one of 'classic', 'structured', 'transformer'. Received: architecture='bilstm_max'"
    )
    with pytest.raises(ValueError, match=message):
        DistillConfig(architecture="bilstm_max", corpus=("c.txt",), teacher="t")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(encoder=[("units", 4)]), "`encoder`, expected a dict of encoder arguments"),
        (dict(max_length=0), "`max_length`, expected a positive integer( or None)?. Received: max_length=0"),
        (dict(vocabulary_size=3), "`vocabulary_size`, expected an integer >= 4. Received: vocabulary_size=3"),
        (dict(min_count=0), "`min_count`, expected a positive integer. Received: min_count=0"),
        (dict(extend_vocabulary=-1), "`extend_vocabulary`, expected a non-negative integer"),
    ],
)
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: TrainConfig(architecture="classic", train_path="t.tsv", **kw),
        lambda **kw: DistillConfig(architecture="classic", corpus=("c.txt",), teacher="t", **kw),
    ],
    ids=["train", "distill"],
)
def test_every_new_model_checks_the_model_settings_alike(make, overrides, message):
    with pytest.raises(ValueError, match="Received an invalid value for argument " + message):
        make(**overrides)
