"""The base of every run's settings: a frozen dataclass that serialises itself, and the optimisation and model
settings that training, fine-tuning and distillation share.

`Settings` gives a frozen settings class its JSON form (`to_dict`, `from_dict`, which names unknown keys) and the
``name: mine != theirs`` lines with which ``--resume`` refuses other settings (`differences`).
`OptimizationSettings` holds the fields that `training.loop.make_optimizer` and the training loop read (epochs,
batch size, optimiser, learning-rate schedule, clipping, early stopping, seed), `ModelSettings` those of a new
model's encoder and vocabulary (training from scratch and distillation); each checks its fields. A subclass may
change their defaults by declaring the field again, and the values it allows by setting the class variables
(`optimizers`, `schedules`, `architectures`). Standard library only, so the CLI can build and check settings
before TensorFlow loads.

Example:
    >>> @dataclasses.dataclass(frozen=True, kw_only=True)
    ... class Run(OptimizationSettings):
    ...     epochs: int = 5
    >>> Run.from_dict(Run(seed=1).to_dict()) == Run(seed=1)
    True
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from embedder import contract
from embedder.validation import check_choice, check_int, check_number, invalid

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True, kw_only=True)
class Settings:
    """A frozen, JSON-serialisable dataclass of settings; subclasses check their fields in `__post_init__` (calling
    ``super().__post_init__()``)."""

    def __post_init__(self):
        pass

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]):
        """The inverse of `to_dict`; unknown keys raise `ValueError` naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} setting(s): {', '.join(unknown)}.")
        return cls(**values)

    #: Settings added after runs were saved with their defaults then, and the value such a saved run used.
    saved_before: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_saved(cls, values: dict[str, Any]):
        """`from_dict` for settings a run saved (an export's run_config.json, a work directory's config.json),
        which may predate settings added since: those take what such a run did (`saved_before`)."""
        return cls.from_dict({**cls.saved_before, **values})

    def version_defaults(self) -> dict[str, Any]:
        """Settings this version fills in by default and a later version may choose anew (name → this version's
        value): a resumed run whose settings hold these keeps the ones it started with
        (`training.loop.prepare_work_dir`). None here."""
        return {}

    def differences(self, other: Settings) -> list[str]:
        """Human-readable ``name: mine != theirs`` lines for the settings that differ from `other`."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{k}: {mine.get(k)!r} != {theirs.get(k)!r}"
            for k in sorted(set(mine) | set(theirs))
            if mine.get(k) != theirs.get(k)
        ]


@dataclass(frozen=True, kw_only=True)
class ExportSettings(Settings):
    """How a finished run is exported.

    Args:
        export_precision: what the exported SavedModel computes in: "float32", or "bfloat16" (matmuls in
            bfloat16, softmax and outputs in float32; see `embedder.precision`). Defaults to "float32".
    """

    export_precision: str = "float32"

    def __post_init__(self):
        super().__post_init__()
        check_choice("export_precision", self.export_precision, contract.EXPORT_PRECISIONS)


@dataclass(frozen=True, kw_only=True)
class OptimizationSettings(Settings):
    """How a model is optimised: the settings `training.loop.make_optimizer` and the training loop read.

    Args:
        epochs: the most epochs. Defaults to 10.
        batch_size: the global batch size (split over replicas). Defaults to 32.
        optimizer: one of the class's `optimizers` ("adam", "adamw", "sgd"). Defaults to "adam".
        learning_rate: the peak learning rate. Defaults to 1e-3.
        schedule: one of the class's `schedules`: "constant" or "cosine" (decay to 0 over `epochs`, after
            `warmup_epochs`). Defaults to "constant".
        warmup_epochs: linear warm-up length in epochs (may be fractional). Defaults to 0.
        weight_decay: decoupled weight decay (adamw). Defaults to 0.
        clipnorm: clip each gradient to this norm (Lin et al. clip at 0.5); None or 0 for no clipping.
            Defaults to 1.0.
        patience: stop after this many epochs without a better dev score; 0 never stops early. Defaults to 3.
        seed: seeds weights, dropout, shuffling and data sampling. Defaults to 0.
    """

    #: The values `optimizer` and `schedule` may take (a subclass may allow fewer).
    optimizers: ClassVar[tuple[str, ...]] = OPTIMIZERS
    schedules: ClassVar[tuple[str, ...]] = SCHEDULES

    epochs: int = 10
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    clipnorm: float | None = 1.0
    patience: int = 3
    seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_int("epochs", self.epochs)
        check_int("batch_size", self.batch_size)
        check_choice("optimizer", self.optimizer, self.optimizers)
        check_number("learning_rate", self.learning_rate, minimum=0, strict=True)
        check_choice("schedule", self.schedule, self.schedules)
        check_number("warmup_epochs", self.warmup_epochs, minimum=0)
        check_number("weight_decay", self.weight_decay, minimum=0)
        check_number("clipnorm", self.clipnorm, minimum=0, optional=True)
        check_int("patience", self.patience, minimum=0)
        check_int("seed", self.seed, minimum=0)


@dataclass(frozen=True, kw_only=True)
class ModelSettings(Settings):
    """A new model's encoder and vocabulary: what `embedder train` and `embedder distill` build.

    Args:
        architecture: one of the class's `architectures` ("classic", "structured", "transformer", "bilstm_max").
        encoder: the encoder's keyword arguments (e.g. ``{"rnn_units": 128, "attention_hops": 4}``).
        max_length: the most tokens read from a text. Defaults to 128.
        vocabulary_size: the most vocabulary entries, the 3 reserved ones included. Defaults to 30000.
        min_count: words seen fewer times in the training texts are not in the vocabulary. Defaults to 1.
        lowercase: lower-case texts. Defaults to True.
        word_vectors: pretrained vectors for the token embedding: "glove-50d" (the optional `glove` extra),
            "pretrained:NAME" (a shipped model's token embedding) or the path of a GloVe-format text file; None
            trains embeddings from scratch. Subclasses may allow more.
        extend_vocabulary: add up to this many of the vectors' most frequent words that the training texts lack, so
            test-time words have a vector. Defaults to 0.
    """

    #: The values `architecture` may take (a subclass may allow fewer).
    architectures: ClassVar[tuple[str, ...]] = contract.ARCHITECTURES
    #: Whether `max_length` may be None (a subclass that derives it from the training texts).
    derives_max_length: ClassVar[bool] = False

    architecture: str
    encoder: dict[str, Any] = field(default_factory=dict)
    max_length: int = 128
    vocabulary_size: int = 30000
    min_count: int = 1
    lowercase: bool = True
    word_vectors: str | None = None
    extend_vocabulary: int = 0

    def __post_init__(self):
        super().__post_init__()
        check_choice("architecture", self.architecture, self.architectures)
        if not isinstance(self.encoder, dict):
            raise invalid("encoder", "a dict of encoder arguments", self.encoder)
        # Frozen means frozen: keep a private copy of the caller's dict.
        object.__setattr__(self, "encoder", dict(self.encoder))
        check_int("max_length", self.max_length, optional=self.derives_max_length)
        check_int("vocabulary_size", self.vocabulary_size, minimum=4)  # 3 reserved tokens and a word
        check_int("min_count", self.min_count)
        check_int("extend_vocabulary", self.extend_vocabulary, minimum=0)
