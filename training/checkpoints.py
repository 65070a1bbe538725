"""Resumable training state: per-epoch checkpoints, early stopping on the dev score, and the best weights.

After every epoch `RunCheckpoint` writes, into the run's ``checkpoints/`` directory:

- ``epoch-<k>.npz``: every variable of the model (weights and the dropout layers' random-generator states) and of
  the optimizer (step count, moments, loss scale), enough to continue bit-for-bit;
- ``best-<k>.npz``: the model's weights at the best dev score so far;
- ``state.json``: the epochs done, the early-stopping counters, the history, and which files are current.

Files are written under temporary names and renamed, and ``state.json`` is written last, so a run killed at any
moment leaves the previous epoch's consistent state behind. `RunCheckpoint.restore` loads it into a freshly built
model and optimizer; training continues with ``initial_epoch`` = the epochs done.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from embedder.validation import check_choice

STATE_FILE = "state.json"
#: The run's settings, in the work directory beside `checkpoints/` (training.loop writes it).
CONFIG_FILE = "config.json"


def _save_arrays(path: Path, arrays: list[np.ndarray]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        np.savez(handle, *arrays)
    os.replace(temporary, path)


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as archive:
        return [archive[f"arr_{i}"] for i in range(len(archive.files))]


def _assign(variables, arrays, what: str) -> None:
    if len(variables) != len(arrays):
        raise ValueError(f"The checkpoint holds {len(arrays)} {what} variables but the model has {len(variables)}.")
    for variable, value in zip(variables, arrays):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"Checkpoint shape {value.shape} does not fit {what} variable {variable.path} {tuple(variable.shape)}."
            )
        variable.assign(value)


def read_state(directory: str | Path) -> dict | None:
    """The saved state of the run in `directory`, or None when it has none."""
    path = Path(directory) / STATE_FILE
    return json.loads(path.read_text("utf-8")) if path.is_file() else None


class RunCheckpoint(keras.callbacks.Callback):
    """Checkpoints every epoch, stops early on the dev score, and restores the best weights at the end.

    Args:
        directory: where the checkpoints go.
        monitor: the logged dev score, e.g. "val_accuracy". Defaults to "val_accuracy".
        mode: "max" or "min". Defaults to "max".
        patience: epochs without improvement before stopping; 0 never stops. Defaults to 3.
        phase: a name for the optimizer in use; a restore loads the optimizer only if it was saved in the same
            phase (fine-tuning replaces the optimizer when it unfreezes the encoder). Defaults to "main".
        write: whether this process writes files (False on non-chief workers). Defaults to True.
    """

    def __init__(
        self,
        directory: str | Path,
        monitor: str = "val_accuracy",
        mode: str = "max",
        patience: int = 3,
        phase: str = "main",
        write: bool = True,
    ):
        super().__init__()
        check_choice("mode", mode, ("max", "min"))
        self.directory = Path(directory)
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.phase = phase
        self.write = write
        self.state = {
            "epochs_done": 0,
            "best": None,
            "best_epoch": None,
            "wait": 0,
            "history": [],
            "checkpoint": None,
            "best_checkpoint": None,
            "phase": phase,
            "stopped_early": False,
            "fit_seconds": 0.0,  # every epoch's, the resumed processes' included (absent: a run from before)
        }
        self._epoch_start = None
        self._best_weights: list[np.ndarray] | None = None

    # ------------------------------------------------------------------------------------------ restoring
    def restore(self, model: keras.Model, optimizer: keras.optimizers.Optimizer | None = None) -> int:
        """Loads the saved state into `model` (and `optimizer`); returns the epochs already done (0 if none)."""
        state = read_state(self.directory)
        if state is None:
            return 0
        saved_phase = state.get("phase")
        self.state = dict(state, phase=self.phase)
        arrays = _load_arrays(self.directory / state["checkpoint"])
        model_count = int(state["model_variables"])
        try:
            _assign(model.variables, arrays[:model_count], "model")
        except ValueError as error:
            raise ValueError(
                f"{error} The checkpoint in {self.directory} was written by a model of other shapes than these "
                "settings build: a version that changed the encoder defaults builds another model. Settings saved "
                f"before runs recorded their defaults take this version's: write the run's into \"encoder_defaults\" "
                f"of {self.directory.parent / CONFIG_FILE} and resume, or start afresh with --overwrite."
            ) from error
        if optimizer is not None and saved_phase == self.phase:
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
            _assign(optimizer.variables, arrays[model_count:], "optimizer")
        elif optimizer is not None:
            # A new phase starts with a fresh optimizer and fresh patience.
            self.state.update(wait=0, stopped_early=False)
        if state.get("best_checkpoint"):
            self._best_weights = _load_arrays(self.directory / state["best_checkpoint"])
        return int(state["epochs_done"])

    # --------------------------------------------------------------------------------------------- saving
    def _improved(self, value: float) -> bool:
        best = self.state["best"]
        if best is None:
            return True
        return value > best if self.mode == "max" else value < best

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if "fit_seconds" in self.state and self._epoch_start is not None:
            self.state["fit_seconds"] += time.perf_counter() - self._epoch_start
        logs = dict(logs or {})
        if self.monitor not in logs:
            raise KeyError(f"The dev score {self.monitor!r} is not among the logged values {sorted(logs)}.")
        value = float(logs[self.monitor])
        self.state["history"].append({"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}})
        if self._improved(value):
            self.state.update(best=value, best_epoch=epoch + 1, wait=0)
            self._best_weights = [np.array(w) for w in self.model.get_weights()]
            best_file = f"best-{epoch + 1}.npz"
            if self.write:
                self.directory.mkdir(parents=True, exist_ok=True)
                _save_arrays(self.directory / best_file, self._best_weights)
            self.state["best_checkpoint"] = best_file
        else:
            self.state["wait"] += 1
        self.state["epochs_done"] = epoch + 1
        if self.patience and self.state["wait"] >= self.patience:
            self.state["stopped_early"] = True
            self.model.stop_training = True
        if self.write:
            self._write(epoch + 1)

    def _write(self, epochs_done: int) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        model_arrays = [np.array(v) for v in self.model.variables]
        optimizer = self.model.optimizer
        optimizer_arrays = [np.array(v) for v in optimizer.variables] if optimizer is not None else []
        name = f"epoch-{epochs_done}.npz"
        _save_arrays(self.directory / name, model_arrays + optimizer_arrays)
        previous = read_state(self.directory)
        self.state.update(checkpoint=name, model_variables=len(model_arrays), phase=self.phase)
        temporary = self.directory / (STATE_FILE + ".tmp")
        temporary.write_text(json.dumps(self.state, indent=1), "utf-8")
        os.replace(temporary, self.directory / STATE_FILE)
        # Only now are the older files unreferenced.
        if previous:
            for key in ("checkpoint", "best_checkpoint"):
                old = previous.get(key)
                if old and old not in (self.state["checkpoint"], self.state["best_checkpoint"]):
                    (self.directory / old).unlink(missing_ok=True)

    def restore_best(self, model: keras.Model) -> None:
        """Sets `model`'s weights to the best dev score's (no-op before any epoch)."""
        if self._best_weights is not None:
            model.set_weights(self._best_weights)

    @property
    def history(self) -> list[dict]:
        return list(self.state["history"])
