"""The machinery every training run shares: seeds, precision, the work directory, the optimizer, and `fit`.

`train`, `finetune` and `distill` build their models and data, then hand them to `run_fit`, which adds the
callbacks (progress bar, checkpoints, early stopping, TensorBoard) and resumes from the work directory's checkpoint,
and end with `finish_run` (best weights back, the result, the export).

A run's work directory (default: ``<out>.run`` beside the model base path, so a server watching the base path
never sees it) holds ``config.json`` (the run's settings), ``vocabulary.txt``, ``checkpoints/`` and ``logs/``
(TensorBoard: ``tensorboard --logdir models/NAME.run/logs``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from embedder.precision import with_dtype_policy
from training import keras_patches
from training.checkpoints import CONFIG_FILE, RunCheckpoint, read_state
from training.config import RunConfig, run_config_document

logger = logging.getLogger(__name__)

#: Settings that may change when a run is resumed (train longer, wait longer).
RESUMABLE_CHANGES = ("epochs", "patience", "export_precision")
#: Settings that a resumed run keeps from its start whatever this version's default: the encoder defaults that
#: `TrainConfig` resolves (a newer version's defaults would build another model than the checkpoint holds).
KEPT_ON_RESUME = ("encoder_defaults",)


class RunStateError(RuntimeError):
    """A work directory that does not match the requested run (resume without checkpoint, or old checkpoints)."""


@dataclass
class TrainResult:
    """What a training or fine-tuning run produced.

    Attributes:
        embedder: the trained `SentenceEmbedder` (the exported, float32 one).
        version_dir: the exported version directory (None on non-chief workers or when export was off).
        history: per-epoch logs (loss, accuracy, dev scores), the resumed epochs included.
        best_epoch: the epoch whose weights were kept (best dev score).
        dev_score: that epoch's dev score (the value of ``monitor``).
        monitor: the dev score's name, e.g. "val_accuracy".
        stopped_early: whether early stopping ended the run.
        wall_time_s: seconds spent in `fit` in this process (``extra["fit_seconds_all_epochs"]``: in every
            process of a resumed run, when its checkpoints recorded them).
        train_tokens: tokens processed by `fit` in this process (padding excluded).
        extra: anything else worth recording (vocabulary coverage, parameters ...).
    """

    embedder: Any
    version_dir: Path | None
    history: list[dict]
    best_epoch: int | None
    dev_score: float | None
    monitor: str
    stopped_early: bool
    wall_time_s: float
    train_tokens: int
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_checkpoint(
        cls, embedder, checkpoint: RunCheckpoint, monitor: str, wall_time_s: float, train_tokens: int, extra: dict
    ) -> TrainResult:
        """The result of a run whose best epoch `checkpoint` has restored (not exported yet)."""
        if checkpoint.state.get("fit_seconds") is not None:
            extra = dict(extra, fit_seconds_all_epochs=round(checkpoint.state["fit_seconds"], 3))
        return cls(
            embedder=embedder,
            version_dir=None,
            history=checkpoint.history,
            best_epoch=checkpoint.state["best_epoch"],
            dev_score=checkpoint.state["best"],
            monitor=monitor,
            stopped_early=bool(checkpoint.state.get("stopped_early")),
            wall_time_s=wall_time_s,
            train_tokens=train_tokens,
            extra=extra,
        )

    def summary(self) -> dict:
        """The JSON-serialisable outcome saved in ``run_config.json``."""
        return {
            "best_epoch": self.best_epoch,
            "dev_score": self.dev_score,
            "monitor": self.monitor,
            "stopped_early": self.stopped_early,
            "epochs_run": len(self.history),
            "wall_time_s": round(self.wall_time_s, 3),
            "train_tokens": self.train_tokens,
            "history": self.history,
            **self.extra,
        }


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seeds Python, numpy and TensorFlow; with `deterministic`, also turns on op determinism (process-wide)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def prepare_work_dir(work_dir: Path, config: RunConfig, resume: bool, overwrite: bool) -> RunConfig:
    """Checks the work directory against the request and records the settings.

    Returns:
        The settings to run with: `config`, with the `KEPT_ON_RESUME` fields of the run being resumed.

    Raises:
        RunStateError: `resume` without a checkpoint or with different settings, or old checkpoints without
            `resume` or `overwrite`.
    """
    state = read_state(work_dir / "checkpoints")
    saved_path = work_dir / CONFIG_FILE
    if resume:
        if state is None:
            raise RunStateError(f"Nothing to resume: {work_dir} holds no checkpoint. Start the run without --resume.")
        saved = type(config).from_saved(json.loads(saved_path.read_text("utf-8")))
        kept = {name: getattr(saved, name) for name in KEPT_ON_RESUME if hasattr(saved, name)}
        # Settings that this version's defaults filled in (e.g. word vectors chosen anew by a later sweep): the run
        # goes on with its own, which its checkpoint was trained with.
        kept |= {
            name: getattr(saved, name)
            for name, value in config.version_defaults().items()
            if getattr(config, name) == value
        }
        changed = [name for name, value in kept.items() if getattr(config, name) != value]
        if changed:
            logger.info("resuming with the run's own %s (this version's defaults differ)", ", ".join(changed))
            config = dataclasses.replace(config, **kept)
        differences = [d for d in config.differences(saved) if d.split(":")[0] not in RESUMABLE_CHANGES]
        if differences:
            raise RunStateError(
                f"The run in {work_dir} was started with other settings ({'; '.join(differences)}); resume it with "
                "the same settings, or start afresh with --overwrite."
            )
    elif state is not None or saved_path.exists():
        if not overwrite:
            raise RunStateError(
                f"{work_dir} holds an earlier run (epoch {state['epochs_done'] if state else 0} done). Continue it "
                "with --resume, or pass --overwrite to start afresh."
            )
        for name in ("checkpoints", "logs", CONFIG_FILE):
            path = work_dir / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    work_dir.mkdir(parents=True, exist_ok=True)
    saved_path.write_text(json.dumps(config.to_dict(), indent=2, sort_keys=True), "utf-8")
    return config


def default_work_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".run")


def make_optimizer(config: RunConfig, steps_per_epoch: int, epochs: int | None = None) -> keras.optimizers.Optimizer:
    """The optimizer of `config`, with its learning-rate schedule laid over ``epochs`` × `steps_per_epoch` steps."""
    epochs = epochs or config.epochs
    total = max(1, steps_per_epoch * epochs)
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    rate = config.learning_rate
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0 if warmup else config.learning_rate,
            decay_steps=max(1, total - warmup),
            warmup_target=config.learning_rate if warmup else None,
            warmup_steps=warmup,
        )
    elif warmup:
        rate = keras.optimizers.schedules.PolynomialDecay(
            0.0, warmup, end_learning_rate=config.learning_rate, power=1.0
        )
    kwargs = {"learning_rate": rate}
    if config.clipnorm:
        kwargs["clipnorm"] = config.clipnorm
    clipping = keras_patches.clipping_after_all_reduce
    if config.optimizer == "adam":
        return clipping(keras.optimizers.Adam)(**kwargs)
    if config.optimizer == "adamw":
        return clipping(keras.optimizers.AdamW)(weight_decay=config.weight_decay, **kwargs)
    return clipping(keras.optimizers.SGD)(momentum=0.9, **kwargs)


def count_tokens(*id_matrices: np.ndarray) -> int:
    return int(sum((m != 0).sum() for m in id_matrices))


def run_fit(
    model: keras.Model,
    train_input,
    steps_per_epoch: int,
    checkpoint: RunCheckpoint,
    first_epoch: int,
    last_epoch: int,
    validation=None,
    extra_callbacks: list | None = None,
    log_dir: Path | None = None,
    verbose: int | str = "auto",
) -> float:
    """Runs `model.fit` over epochs ``first_epoch .. last_epoch - 1`` with checkpoints and early stopping.

    Args:
        validation: ``(dev_input, dev_steps)`` for Keras's own dev evaluation, or None when a callback in
            `extra_callbacks` logs the monitored score.

    Returns:
        Seconds spent in `fit`.
    """
    if first_epoch >= last_epoch:
        return 0.0
    keras_patches.prepare_fit(model)
    callbacks = list(extra_callbacks or []) + [checkpoint]
    if log_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(log_dir), update_freq="epoch", write_graph=False))
    kwargs = {}
    if validation is not None:
        kwargs.update(validation_data=validation[0], validation_steps=validation[1])
    start = time.perf_counter()
    model.fit(
        train_input,
        epochs=last_epoch,
        initial_epoch=first_epoch,
        steps_per_epoch=steps_per_epoch,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the input is already shuffled, per epoch, from the seed
        **kwargs,
    )
    return time.perf_counter() - start


def export_embedder(embedder, out, document: dict, precision: str = "float32"):
    """Exports `embedder` (whatever precision it trained in) as the next version under `out`, computing in
    `precision`; returns the float32 embedder and the version directory."""
    from embedder.export import export_saved_model
    from embedder.sentence_embedder import SentenceEmbedder

    model = with_dtype_policy(embedder.model, "float32")
    portable = SentenceEmbedder(model, embedder.preprocessor, embedder.labels)
    return portable, export_saved_model(portable, out, run_config=document, precision=precision)


def finish_run(
    embedder,
    trained: keras.Model,
    checkpoint: RunCheckpoint,
    config: RunConfig,
    out,
    *,
    monitor: str,
    wall_time_s: float,
    train_tokens: int,
    extra: dict,
    export: bool = True,
    document=run_config_document,
) -> TrainResult:
    """How every run ends (train, finetune, distill): the best epoch's weights back into `trained` (the model
    `fit` ran, which shares its layers with `embedder`), the result, and, with `out` and `export`, an export
    computing in `config.export_precision` as the next version under `out` whose run config,
    ``document(config, result summary)``, records the result.
    """
    checkpoint.restore_best(trained)
    result = TrainResult.from_checkpoint(embedder, checkpoint, monitor, wall_time_s, train_tokens, extra)
    if out is not None and export:
        result.embedder, result.version_dir = export_embedder(
            embedder, out, document(config, result.summary()), precision=config.export_precision
        )
        logger.info(
            "exported %s (%s %.4f at epoch %s)", result.version_dir, monitor, result.dev_score or 0, result.best_epoch
        )
    return result
