"""The settings of a training or fine-tuning run: frozen dataclasses that the CLI fills and the export keeps.

A finished run's settings are written beside the model as ``assets.extra/run_config.json`` (see
`run_config_document`), and a run's work directory keeps them too, so that ``--resume`` can refuse to continue a
run with different settings. Standard library only, so the CLI can build and check them before TensorFlow loads.

Example:
    >>> config = TrainConfig(architecture="structured", train_path="train.tsv", epochs=5)
    >>> TrainConfig.from_dict(config.to_dict()) == config
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from embedder import contract
from embedder.validation import check_choice, check_int, check_number, check_rate, invalid
from training.settings import OPTIMIZERS, SCHEDULES, ExportSettings, ModelSettings, OptimizationSettings, Settings
from training.word_vectors import GLOVE_50D, JOIN, PRETRAINED_PREFIX

__all__ = [
    "ARCHITECTURES",
    "DISTRIBUTIONS",
    "OPTIMIZERS",
    "PAIR_LOSSES",
    "PRECISIONS",
    "SCHEDULES",
    "FinetuneConfig",
    "RunConfig",
    "TrainConfig",
    "config_from_document",
    "run_config_document",
]

ARCHITECTURES = contract.ARCHITECTURES
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
DISTRIBUTIONS = ("auto", "none", "mirrored", "multi_worker")
#: `PairSettings.pair_loss` choices (`training.pairs.pair_loss`).
PAIR_LOSSES = ("cosine_mse", "cosent")


@dataclass(frozen=True, kw_only=True)
class RunConfig(OptimizationSettings, ExportSettings):
    """Settings shared by training and fine-tuning: data columns, optimisation (see `OptimizationSettings`),
    stopping, hardware.

    Args:
        train_path: the training file (TSV, CSV or JSONL).
        dev_path: the dev file for early stopping and model selection; None carves a hold-out from `train_path`.
        dev_fraction: the share of the training file held out when there is no dev file. Defaults to 0.1.
        text_column: the text column. Defaults to "text".
        label_column: the label column. Defaults to "label".
        file_format: "tsv", "csv" or "jsonl"; None reads it from each file's suffix.
        head: keyword arguments of the `ClassificationHead` (hidden_units, hidden_layers, dropout, activation).
        epochs, batch_size, optimizer, learning_rate, schedule, warmup_epochs, weight_decay, clipnorm, patience,
            seed: optimisation, see `OptimizationSettings` (the defaults are its own).
        label_smoothing: label smoothing of the cross-entropy. Defaults to 0.
        deterministic: enable TensorFlow's op determinism (same seed → same weights, also after `--resume`).
            Defaults to False.
        precision: "float32", "mixed_float16" or "mixed_bfloat16". The export always computes in float32.
            Defaults to "float32".
        distribution: "auto" (TF_CONFIG → multi-worker, several GPUs → mirrored, else none), "none", "mirrored" or
            "multi_worker". Defaults to "auto".
        export_precision: "float32" or "bfloat16": what the export computes in (see `ExportSettings`).
            Defaults to "float32".
    """

    train_path: str
    dev_path: str | None = None
    dev_fraction: float = 0.1
    text_column: str = "text"
    label_column: str = "label"
    file_format: str | None = None
    head: dict[str, Any] = field(default_factory=dict)
    label_smoothing: float = 0.0
    deterministic: bool = False
    precision: str = "float32"
    distribution: str = "auto"

    def __post_init__(self):
        super().__post_init__()
        if not self.train_path:
            raise invalid("train_path", "a file path", self.train_path)
        check_number("dev_fraction", self.dev_fraction, minimum=0, maximum=1, strict=True)
        check_rate("label_smoothing", self.label_smoothing)
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("distribution", self.distribution, DISTRIBUTIONS)
        if not isinstance(self.head, dict):
            raise invalid("head", "a dict of ClassificationHead arguments", self.head)
        # Frozen means frozen: keep a private copy of the caller's dict.
        object.__setattr__(self, "head", dict(self.head))


#: Rounds of label pairs of the few-shot contrastive stage when `FinetuneConfig.few_shot_iterations` is None and the
#: data are few: SetFit's default `num_iterations`; "few" is at most `FEW_SHOT_MAX_PER_CLASS` examples per class,
#: the largest size where the stage gained dev accuracy on average over TREC and SST-2 (bench/learning_curve.py's
#: `few_shot_threshold`; a test holds the two together).
FEW_SHOT_ROUNDS = 20
FEW_SHOT_MAX_PER_CLASS = 64


def few_shot_rounds_for(examples: int, classes: int) -> int:
    """`FinetuneConfig.few_shot_iterations=None`'s choice: `FEW_SHOT_ROUNDS` for at most `FEW_SHOT_MAX_PER_CLASS`
    training examples per class (on average), else 0.

    >>> few_shot_rounds_for(384, 6), few_shot_rounds_for(4000, 2)
    (20, 0)
    """
    return FEW_SHOT_ROUNDS if examples <= FEW_SHOT_MAX_PER_CLASS * max(classes, 1) else 0


#: `FinetuneConfig.new_word_min_count` when None: every word (1) for at most `EVERY_WORD_MAX_PER_CLASS` training
#: examples per class, else 2 (bench/learning_curve.py's `threshold` of "finetune_all_words"; a test holds them).
EVERY_WORD_MAX_PER_CLASS = 64
NEW_WORD_MIN_COUNT = 2


def new_word_min_count_for(examples: int, classes: int) -> int:
    """`FinetuneConfig.new_word_min_count=None`'s choice: 1 for at most `EVERY_WORD_MAX_PER_CLASS` training
    examples per class (few examples: a word seen once is still worth a GloVe row), else `NEW_WORD_MIN_COUNT`.

    >>> new_word_min_count_for(384, 6), new_word_min_count_for(4000, 2)
    (1, 2)
    """
    return 1 if examples <= EVERY_WORD_MAX_PER_CLASS * max(classes, 1) else NEW_WORD_MIN_COUNT


@dataclass(frozen=True, kw_only=True)
class PairSettings(Settings):
    """Training on scored sentence pairs instead of labels (`training.pairs`): a siamese encoder whose cosine
    similarity follows the pairs' scores; the exported model has no classification head.

    Args:
        pairs: train on scored pairs. Defaults to False.
        score_column, first_column, second_column: the pair file's columns. Default to STS-B's names.
        max_score: the score that means "identical" (STS-B: 5); scores are divided by it. Defaults to 5.0.
        pair_loss: the objective: "cosine_mse" (Sentence-BERT's CosineSimilarityLoss: the cosine regressed onto
            ``score / max_score``) or "cosent" (Su's CoSENT: within a batch, every pair scored above another should
            have the higher cosine; scale 20). Defaults to "cosine_mse", what measured best from scratch on STS-B's
            hold-out (bench/pair_loss.py); settings saved before the option existed load as "cosine_mse".
    """

    pairs: bool = False
    score_column: str = "score"
    first_column: str = "sentence1"
    second_column: str = "sentence2"
    max_score: float = 5.0
    pair_loss: str = "cosine_mse"

    def __post_init__(self):
        super().__post_init__()
        check_choice("pair_loss", self.pair_loss, PAIR_LOSSES)
        check_number("max_score", self.max_score, minimum=0, strict=True)


#: The vectors' most frequent words added to a new model's vocabulary when it trains with word vectors.
EXTEND_WITH_VECTORS = 20000
#: Encoder arguments `embedder train` gives an architecture unless `encoder` sets them (bench/defaults_sweep.py
#: swept the classic encoder's dropout; every recurrent result in docs/RESULTS.md used 0.3, the Transformer 0.1).
TRAIN_ENCODER_DEFAULTS = {
    "classic": {"dropout": 0.3},
    # bench/defaults_sweep.py's choice for `--arch structured` on dev: the paper's 30 hops of 350 units, no penalty.
    "structured": {"dropout": 0.3, "attention_hops": 30, "attention_units": 350, "penalty_coefficient": 0.0},
    "bilstm_max": {"dropout": 0.3},
    # The choice for `--arch transformer`: 128 wide (feed-forward 256), post-norm, dropout 0.1, at lr 1e-3 (below).
    "transformer": {"dropout": 0.1, "hidden_dim": 128, "intermediate_dim": 256},
}
#: The word vectors `embedder train` gives an architecture unless `word_vectors` is set (bench/defaults_sweep.py's
#: choice for each, on dev): the shipped `default` model's token embedding (40,000 words, 192-d, distilled from
#: all-MiniLM-L6-v2) and GloVe-50d side by side (242-d), kept fixed (see `freeze_word_vectors`), for the classic and
#: structured encoders; GloVe-50d for the others (the Transformer with the shipped vectors collapsed on SST-2;
#: BiLSTM-max was not swept).
TRAIN_WORD_VECTORS = {"classic": "pretrained:default+glove-50d", "structured": "pretrained:default+glove-50d"}
TRAIN_WORD_VECTORS_OTHERWISE = GLOVE_50D
#: Where words that the word vectors lack start, per architecture (`fallback_word_vectors`; the sweep's choice):
#: GloVe-50d, mapped, for the classic encoder; random for the others (the structured encoder's SST-2 runs stopped
#: at epoch 2 with it).
TRAIN_FALLBACK_WORD_VECTORS = {"classic": GLOVE_50D}
TRAIN_FALLBACK_WORD_VECTORS_OTHERWISE = None
#: Early-stopping patience `embedder train` gives an architecture unless `patience` is set: 5 for the attention
#: encoders on the shipped vectors (with 3, one classic TREC seed of three stopped at epoch 6, its best 3, and two
#: structured SST-2 seeds at epochs 5 and 8, their best 2 and 5), else 3.
TRAIN_PATIENCE = {"classic": 5, "structured": 5}
TRAIN_PATIENCE_OTHERWISE = 3
#: The most epochs `embedder train` gives an architecture unless `epochs` is set (the cosine schedule spans them):
#: 25 for the attention encoders (with 15, most of their TREC runs peaked in the last two epochs), else 15.
TRAIN_EPOCHS = {"classic": 25, "structured": 25}
TRAIN_EPOCHS_OTHERWISE = 15


def per_architecture_named(chosen: dict[str, object], otherwise: object) -> str:
    """ "A for --arch x and y, B for the others": a setting that `embedder train` resolves per architecture."""
    architectures: dict[object, list[str]] = {}
    for architecture, value in chosen.items():
        architectures.setdefault(value, []).append(architecture)
    special = "".join(f"{value} for --arch {' and '.join(names)}, " for value, names in architectures.items())
    return f"{special}{otherwise} for the others"


#: `TrainConfig.word_vectors`' default: the architecture's entry of `TRAIN_WORD_VECTORS`.
BY_ARCHITECTURE = "by-architecture"


def _kept_fixed(word_vectors: str | None) -> bool:
    """`freeze_word_vectors`' default: a shipped model's vectors ("pretrained:NAME", alone or joined with others by
    "+") stay fixed, others train."""
    return bool(word_vectors) and any(part.startswith(PRETRAINED_PREFIX) for part in word_vectors.split(JOIN))


#: `embedder train`'s peak learning rate, and the architectures whose own sweep chose another.
TRAIN_LEARNING_RATE = 2e-3
TRAIN_LEARNING_RATES = {"transformer": 1e-3}


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RunConfig, ModelSettings, PairSettings):
    """Settings of `embedder train` (a new model from scratch); see `RunConfig` for the shared ones.

    The defaults are the configuration that measured best on the dev splits (bench/defaults_sweep.py,
    docs/results/defaults-sweep.md), not `ModelSettings`' and `OptimizationSettings`' generic ones.

    Args:
        architecture, vocabulary_size, min_count, lowercase: the new model, see `ModelSettings`.
        encoder: the encoder's keyword arguments, over `TRAIN_ENCODER_DEFAULTS` (a recurrent encoder's dropout 0.3;
            the structured encoder's 30 hops of 350 units without penalty; see `encoder_arguments`). Defaults to {}.
        max_length: the most tokens read from a text; None reads the training texts' 95th length percentile,
            rounded up to a multiple of 8, within 16-512 (`training.data.max_length_for`). Defaults to None.
        word_vectors: "glove-50d" (installed with the tf extra), "pretrained:NAME" (shipped model NAME's token
            embedding, e.g. "pretrained:default"), a GloVe-format text file, several of these joined by "+" (side by
            side, `training.word_vectors.join_word_vectors`), or None for random vectors. Defaults to
            `BY_ARCHITECTURE`: `TRAIN_WORD_VECTORS` for the architecture ("pretrained:default+glove-50d", 242-d, for
            the classic and structured encoders), else "glove-50d"; the saved settings record the resolved name.
        fallback_word_vectors: where vocabulary words that `word_vectors` lacks get their first vector: "glove-50d"
            (installed with the tf extra; without it, a warning and random vectors), "pretrained:NAME", a GloVe text
            file, or None for random vectors. The fallback's vectors are carried into `word_vectors`' space by the
            affine map fitted on the words both know (`training.word_vectors.WordVectors.fill_missing`): a shipped
            model knows 40,000 words, GloVe 400,000 (22 % of SST-2's training words are not among the 40,000; GloVe
            holds 91 % of those). Settings saved before the option existed load as None, what such a run did.
            Defaults to `BY_ARCHITECTURE`: `TRAIN_FALLBACK_WORD_VECTORS` for the architecture ("glove-50d" for the
            classic encoder), else None.
        extend_vocabulary: add up to this many of the vectors' most frequent words that the training texts lack;
            None adds 20000 with word vectors and none without. Defaults to None.
        epochs, learning_rate, schedule, warmup_epochs: see `OptimizationSettings`. Default to None
            (`TRAIN_EPOCHS` for the architecture: 25 for the attention encoders, else 15; early stopping ends most
            runs sooner), None (`TRAIN_LEARNING_RATES` for the architecture, else `TRAIN_LEARNING_RATE`, 2e-3),
            "cosine", 0.5; the saved settings record the numbers.
        patience: see `OptimizationSettings`. None takes `TRAIN_PATIENCE` for the architecture (5 for the classic
            and structured encoders), else 3; the saved settings record the number. Defaults to None.
        freeze_word_vectors: keep the pretrained vectors fixed. None keeps a shipped model's ("pretrained:NAME",
            already distilled for sentences: trained further they overfit within a few epochs; alone or joined with
            others) fixed and trains the others (GloVe, a file). Defaults to None.
        chunk_length: read each text as consecutive chunks of this many tokens (below `max_length`), up to
            ``ceil(max_length / chunk_length)`` of them; the encoder reads every chunk as a sentence and the chunk
            vectors are pooled into the text's vector. None reads the first `max_length` tokens as one sequence.
            Defaults to None.
        chunk_pooling: how the chunk vectors are pooled: "attention" (one learned attention vector over the
            text's non-empty chunks; on 20ng's dev hold-out it beat the mean) or "mean". Needs `chunk_length`.
            Defaults to "attention".
        pairs, score_column, first_column, second_column, max_score, pair_loss: train the new encoder on scored
            sentence pairs instead of labels (no head; `chunk_length` must stay None), see `PairSettings`.
        encoder_defaults: the encoder arguments that `encoder` is laid over. None takes this version's
            `TRAIN_ENCODER_DEFAULTS` for the architecture; the run's saved settings record the resolved dict, so a
            run resumed (or re-run from its settings) after an upgrade that changed the defaults rebuilds the model
            it started with. Settings saved before the field existed load as None. Defaults to None.
    """

    derives_max_length: ClassVar[bool] = True

    max_length: int | None = None
    word_vectors: str | None = BY_ARCHITECTURE
    fallback_word_vectors: str | None = BY_ARCHITECTURE
    extend_vocabulary: int | None = None
    epochs: int | None = None
    learning_rate: float | None = None
    schedule: str = "cosine"
    warmup_epochs: float = 0.5
    freeze_word_vectors: bool | None = None
    patience: int | None = None
    chunk_length: int | None = None
    chunk_pooling: str = "attention"
    encoder_defaults: dict[str, Any] | None = None

    def __post_init__(self):
        if self.learning_rate is None:
            rate = TRAIN_LEARNING_RATES.get(self.architecture, TRAIN_LEARNING_RATE)
            object.__setattr__(self, "learning_rate", rate)
        if self.epochs is None:
            object.__setattr__(self, "epochs", TRAIN_EPOCHS.get(self.architecture, TRAIN_EPOCHS_OTHERWISE))
        if self.patience is None:
            object.__setattr__(self, "patience", TRAIN_PATIENCE.get(self.architecture, TRAIN_PATIENCE_OTHERWISE))
        if self.encoder_defaults is None:
            object.__setattr__(self, "encoder_defaults", dict(TRAIN_ENCODER_DEFAULTS.get(self.architecture, {})))
        elif not isinstance(self.encoder_defaults, dict):
            raise invalid("encoder_defaults", "a dict of encoder arguments or None", self.encoder_defaults)
        else:  # frozen means frozen: a private copy of the caller's dict
            object.__setattr__(self, "encoder_defaults", dict(self.encoder_defaults))
        if self.word_vectors == BY_ARCHITECTURE:
            object.__setattr__(self, "word_vectors", self.version_defaults()["word_vectors"])
        if self.fallback_word_vectors == BY_ARCHITECTURE:
            object.__setattr__(self, "fallback_word_vectors", self.version_defaults()["fallback_word_vectors"])
        if self.freeze_word_vectors is None:
            object.__setattr__(self, "freeze_word_vectors", _kept_fixed(self.word_vectors))
        if self.extend_vocabulary is None:
            object.__setattr__(self, "extend_vocabulary", EXTEND_WITH_VECTORS if self.word_vectors else 0)
        super().__post_init__()
        if self.fallback_word_vectors is not None and (
            not isinstance(self.fallback_word_vectors, str) or not self.fallback_word_vectors
        ):
            raise invalid(
                "fallback_word_vectors",
                "'glove-50d', 'pretrained:NAME', a GloVe text file or None",
                self.fallback_word_vectors,
            )
        if self.extend_vocabulary and not self.word_vectors:
            raise invalid("extend_vocabulary", "0 when no word_vectors are given", self.extend_vocabulary)
        check_int("chunk_length", self.chunk_length, optional=True)
        if self.chunk_length is not None and self.max_length is not None and self.chunk_length >= self.max_length:
            raise invalid("chunk_length", f"fewer tokens than max_length={self.max_length} or None", self.chunk_length)
        check_choice("chunk_pooling", self.chunk_pooling, contract.CHUNK_POOLINGS)
        if self.chunk_length is None and self.chunk_pooling != "attention":
            raise invalid("chunk_pooling", "'attention' (the default) when chunk_length is None", self.chunk_pooling)
        if self.pairs and self.chunk_length is not None:
            raise invalid(
                "chunk_length",
                "None with pairs (chunks are for long documents, pairs are sentences)",
                self.chunk_length,
            )

    def version_defaults(self) -> dict[str, Any]:
        """The word-vector settings this version gives the architecture when none are set (`TRAIN_WORD_VECTORS`,
        `TRAIN_FALLBACK_WORD_VECTORS`)."""
        word_vectors = TRAIN_WORD_VECTORS.get(self.architecture, TRAIN_WORD_VECTORS_OTHERWISE)
        return {
            "word_vectors": word_vectors,
            "freeze_word_vectors": _kept_fixed(word_vectors),
            "fallback_word_vectors": TRAIN_FALLBACK_WORD_VECTORS.get(
                self.architecture, TRAIN_FALLBACK_WORD_VECTORS_OTHERWISE
            ),
        }

    # A run saved before `fallback_word_vectors` existed gave the words its vectors lacked random vectors.
    saved_before: ClassVar[dict[str, Any]] = {"fallback_word_vectors": None}

    def encoder_arguments(self) -> dict[str, Any]:
        """The encoder's arguments: `encoder` over `encoder_defaults` (`TRAIN_ENCODER_DEFAULTS` when the run began)."""
        return self.encoder_defaults | self.encoder

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        if self.chunk_length is None:  # an unchunked run's settings document stays what it was before chunking
            del values["chunk_length"], values["chunk_pooling"]
        if not self.pairs:  # a run on labels keeps the document it had before `embedder train` could train on pairs
            for pair_field in dataclasses.fields(PairSettings):
                del values[pair_field.name]
        return values


@dataclass(frozen=True, kw_only=True)
class FinetuneConfig(RunConfig, PairSettings):
    """Settings of `embedder finetune`: a trained model's encoder and vocabulary, a new head or a pair objective.

    Args:
        source: the model to start from: a model base path (latest version) or a version directory.
        pairs, score_column, first_column, second_column, max_score, pair_loss: fine-tune on scored sentence pairs
            instead of labels, see `PairSettings`.
        freeze_epochs: train only the new head for this many epochs first (ignored with `pairs`). Defaults to 0.
        penalty_coefficient: the redundancy penalty's weight while fine-tuning a *structured* encoder, replacing the
            source's (which the exported model then records); None keeps the source's. With `pairs`, 0 is the
            measured choice: the penalty (1.0 by default) outweighs the cosine loss and collapses the embeddings
            (docs/RESULTS.md, STS-B). Defaults to None.
        new_words: grow the vocabulary with up to this many of the training texts' words that the source's
            vocabulary lacks (seen at least `new_word_min_count` times), so that a new domain's words stop being
            [UNK]; 0 keeps the source's vocabulary. Defaults to 20000.
        new_word_min_count: how often a word must occur in the training texts to be added; None decides from the
            data (`new_word_min_count_for`): 1, every word, for at most 64 training examples per class, where adding
            every word gained dev accuracy on average (docs/PRETRAINED.md's learning curve), else 2. Defaults to
            None.
        new_word_vectors: where new words' first vectors come from: "glove-50d" (the `glove` extra; without it, a
            warning and [UNK] rows), a GloVe text file, or None: every new word starts at the [UNK] row (see
            `training.vocabulary_growth`). Defaults to "glove-50d".
        few_shot_iterations: SetFit's contrastive stage first (`training.few_shot`): the encoder is trained for an
            epoch on this many rounds of pairs built from the labels (same class: similarity 1, other class: 0), then
            the classifier as usual; 0 skips it. None decides from the data (`few_shot_rounds_for`): 20 rounds
            (SetFit's default) when the training examples number at most 64 per class, where it measured better on
            dev on average (docs/PRETRAINED.md's learning curve), and the encoder is not frozen throughout
            (`freeze_epochs` < `epochs`), else none. Settings saved before the option existed load as 0, what that
            run did. Defaults to None.
    """

    source: str
    freeze_epochs: int = 0
    penalty_coefficient: float | None = None
    new_words: int = 20000
    new_word_min_count: int | None = None
    new_word_vectors: str | None = "glove-50d"
    few_shot_iterations: int | None = None

    def __post_init__(self):
        super().__post_init__()
        check_int("new_words", self.new_words, minimum=0)
        check_int("few_shot_iterations", self.few_shot_iterations, minimum=0, optional=True)
        if self.few_shot_iterations and self.pairs:
            raise invalid("few_shot_iterations", "0 with pairs (its pairs come from labels)", self.few_shot_iterations)
        check_int("new_word_min_count", self.new_word_min_count, optional=True)
        if self.new_word_vectors is not None and (
            not isinstance(self.new_word_vectors, str) or not self.new_word_vectors
        ):
            raise invalid(
                "new_word_vectors", "'glove-50d', 'pretrained:NAME', a GloVe text file or None", self.new_word_vectors
            )
        if not self.source:
            raise invalid("source", "a model path", self.source)
        check_int("freeze_epochs", self.freeze_epochs, minimum=0)
        check_number("penalty_coefficient", self.penalty_coefficient, minimum=0, optional=True)
        if self.pairs and self.freeze_epochs:
            raise invalid("freeze_epochs", "0 with pairs (a pair model has no head to train alone)", self.freeze_epochs)

    # A run saved before `few_shot_iterations` existed ran without the contrastive stage (and every saved run holds
    # its `new_word_min_count`).
    saved_before: ClassVar[dict[str, Any]] = {"few_shot_iterations": 0, "pair_loss": "cosine_mse"}


_KINDS = {"train": TrainConfig, "finetune": FinetuneConfig}


def run_config_document(config: RunConfig, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``assets.extra/run_config.json`` holds: the kind of run, its settings and its outcome."""
    kind = next(k for k, cls in _KINDS.items() if type(config) is cls)
    return {"kind": kind, "settings": config.to_dict(), "result": dict(result or {})}


def config_from_document(document: dict[str, Any]) -> RunConfig:
    """The settings saved by `run_config_document`."""
    if document.get("kind") not in _KINDS:
        raise ValueError(f"Unknown run kind {document.get('kind')!r}; expected one of {', '.join(_KINDS)}.")
    return _KINDS[document["kind"]].from_saved(document["settings"])
