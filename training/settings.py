"""The base of every run's settings: a frozen dataclass that serialises itself, and the optimisation settings that
training, fine-tuning and distillation share.

`Settings` gives a frozen settings class its JSON form (`to_dict`, `from_dict`, which names unknown keys) and the
``name: mine != theirs`` lines with which ``--resume`` refuses other settings (`differences`).
`OptimizationSettings` holds the fields that `training.loop.make_optimizer` and the training loop read (epochs,
batch size, optimiser, learning-rate schedule, clipping, early stopping, seed) and checks them; a subclass may
change their defaults by declaring the field again, and the optimisers and schedules it allows by setting
`optimizers` and `schedules`. Standard library only, so the CLI can build and check settings before TensorFlow
loads.

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
from dataclasses import dataclass
from typing import Any, ClassVar

from embedder.validation import check_choice, check_int, check_number

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

    def differences(self, other: Settings) -> list[str]:
        """Human-readable ``name: mine != theirs`` lines for the settings that differ from `other`."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [
            f"{k}: {mine.get(k)!r} != {theirs.get(k)!r}"
            for k in sorted(set(mine) | set(theirs))
            if mine.get(k) != theirs.get(k)
        ]


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
