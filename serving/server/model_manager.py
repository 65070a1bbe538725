"""`ModelManager`: which versions of which models are loaded, and routing requests to them.

It follows TF Serving's ``AspiredVersionsManager`` with the ``AvailabilityPreservingPolicy``:

- A poller lists the numeric version directories under each model's base path every
  ``file_system_poll_wait_seconds`` and applies the model's version policy (latest N, all, specific).
- A new aspired version is loaded and warmed up *before* it is routed to (state LOADING, then AVAILABLE);
  only then are versions that are no longer aspired taken out of routing (UNLOADING), and they are unloaded
  after the requests already running on them have finished (END). A model always keeps an available version
  while a newer one loads or fails.
- A version that fails to load is logged and reported by `status` (END with the error), retried
  ``max_num_load_retries`` times ``load_retry_interval`` apart, and the versions already serving go on serving.
- Under a ``latest`` policy, each aspired version that failed is stood in for by the next older version on disk
  that loads (logged as an error), so a server restarted onto a corrupt newest version serves the one before it
  instead of nothing. TF Serving serves nothing in that case.

All state is guarded by one lock, held only for bookkeeping: loading, warm-up and waiting for in-flight
requests happen outside it, so requests are never blocked by a load.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.config import model_server_config_pb2

from embedder.versions import numeric_versions
from serving.server.config_files import validate_model_server_config
from serving.server.errors import ServingError, from_exception, invalid_argument, not_found
from serving.server.version_policy import aspired_versions

log = logging.getLogger(__name__)

State = get_model_status_pb2.ModelVersionStatus.State


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    """A version's state for GetModelStatus; `error` is set for a version that failed to load."""

    version: int
    state: int
    error: ServingError | None = None


@dataclasses.dataclass
class _Version:
    version: int
    state: int = State.START
    error: ServingError | None = None
    servable: object | None = None
    attempts: int = 0
    retry_at: float = 0.0


@dataclasses.dataclass
class _Model:
    config: model_server_config_pb2.ModelConfig
    versions: dict[int, _Version] = dataclasses.field(default_factory=dict)
    #: The AVAILABLE versions: what requests are routed to.
    serving: dict[int, object] = dataclasses.field(default_factory=dict)
    removed: bool = False
    warned_empty: bool = False
    #: The failed and fallback versions last logged, so a fallback is logged when it changes, not every poll.
    fallback_warned: set[int] = dataclasses.field(default_factory=set)


class ModelManager:
    """Loads, routes to and unloads the versions of the models in a ``ModelServerConfig``.

    Args:
        config: the models to serve.
        loader: ``loader(model_name, version, version_dir)`` → a loaded, warmed-up servable (with ``acquire``,
            ``release``, ``wait_until_idle`` and ``unload``); raises when the version cannot be served.
        file_system_poll_wait_seconds: seconds between polls of the base paths; 0 or less polls once, at start.
        max_num_load_retries: retries of a failed load before giving up on that version. Defaults to 5.
        load_retry_interval: seconds between those retries. Defaults to 60.
        on_change: called (without the lock) after a version's state changes, e.g. to update health status.
    """

    def __init__(
        self,
        config: model_server_config_pb2.ModelServerConfig,
        loader: Callable[[str, int, Path], object],
        file_system_poll_wait_seconds: float = 1.0,
        max_num_load_retries: int = 5,
        load_retry_interval: float = 60.0,
        on_change: Callable[[], None] | None = None,
    ):
        validate_model_server_config(config)
        self._loader = loader
        self.poll_wait_seconds = file_system_poll_wait_seconds
        self.max_num_load_retries = max_num_load_retries
        self.load_retry_interval = load_retry_interval
        self._on_change = on_change
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._models: dict[str, _Model] = {
            model.name: _Model(_copy(model)) for model in config.model_config_list.config
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Loads the initial versions (waiting for them, as TF Serving does before it listens), then polls."""
        self.poll()
        if self.poll_wait_seconds > 0:
            self._thread = threading.Thread(target=self._poll_loop, name="model-version-poller", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stops polling and unloads every version once its in-flight requests are done."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._poll_lock:
            with self._lock:
                targets = [(name, v) for name, model in self._models.items() for v in model.serving]
            for name, version in targets:
                self._unload(name, version, timeout)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_wait_seconds):
            try:
                self.poll()
            except Exception:  # noqa: BLE001 - the poller must outlive any one bad poll
                log.exception("Polling the model base paths failed")

    def _changed(self) -> None:
        if self._on_change is not None:
            try:
                self._on_change()
            except Exception:  # noqa: BLE001 - a status listener must not break loading
                log.exception("Model state listener failed")

    # -------------------------------------------------------------------------------------------- polling
    def poll(self) -> None:
        """One pass over every model: load new aspired versions, then retire versions no longer aspired."""
        with self._poll_lock:
            with self._lock:
                models = [(name, _copy(m.config), m.removed) for name, m in self._models.items()]
            for name, config, removed in models:
                if removed:
                    self._retire_model(name)
                else:
                    self._poll_model(name, config)

    def _poll_model(self, name: str, config: model_server_config_pb2.ModelConfig) -> None:
        base = Path(config.base_path)
        on_disk = numeric_versions(base)
        aspired = aspired_versions(config, on_disk)
        with self._lock:
            model = self._models[name]
            # Forget failed or unloaded versions whose directory is gone, so a new one of that number loads.
            for version in [v for v, r in model.versions.items() if v not in on_disk and r.state == State.END]:
                del model.versions[version]
            if not aspired and not model.warned_empty:
                if base.is_dir():
                    log.warning("No versions of servable %s found under base path %s", name, base)
                else:
                    log.error("Could not find base path %s for servable %s", base, name)
            model.warned_empty = not aspired
            now = time.monotonic()
            to_load = [v for v in sorted(aspired, reverse=True) if self._should_load(model.versions.get(v), now)]
        for version in to_load:
            self._load(name, version, base / str(version))
        keep = set(aspired)
        if config.model_version_policy.WhichOneof("policy_choice") in (None, "latest"):
            keep |= self._fall_back(name, base, aspired, on_disk)
        with self._lock:
            model = self._models[name]
            # Availability preserving: retire old versions only once an aspired one serves (or none is aspired
            # any more because the model has no versions at all: then keep what serves).
            retire = [v for v in model.serving if v not in keep] if set(model.serving) & keep else []
        for version in retire:
            self._unload(name, version)

    def _fall_back(self, name: str, base: Path, aspired: set[int], on_disk) -> set[int]:
        """For each aspired version of a ``latest`` policy that failed to load, the next older version that loads.

        Without this, a server (re)started while its newest version is corrupt would serve nothing although a good
        older version is on disk. Returns the older versions kept (already serving or loaded now).
        """
        with self._lock:
            model = self._models[name]
            failed = sorted(v for v in aspired if _failed(model.versions.get(v)))
        if not failed:
            return set()
        missing, kept = len(failed), set()
        now = time.monotonic()
        for version in sorted((v for v in on_disk if v not in aspired), reverse=True):
            if missing == 0:
                break
            with self._lock:
                record = self._models[name].versions.get(version)
                serving = version in self._models[name].serving
            if not serving:
                if record is not None and (record.state != State.END or not self._should_load(record, now)):
                    continue  # loading elsewhere, or failed and not due for a retry
                self._load(name, version, base / str(version))
                with self._lock:
                    serving = version in self._models[name].serving
            if serving:
                kept.add(version)
                missing -= 1
        with self._lock:
            warned = self._models[name].fallback_warned
            self._models[name].fallback_warned = set(failed) | kept
        if set(failed) | kept != warned:
            if kept:
                log.error(
                    "Model %s: version(s) %s failed to load; serving the newest older version(s) that load, %s, "
                    "instead (GetModelStatus reports the failure)",
                    name,
                    failed,
                    sorted(kept, reverse=True),
                )
            else:
                log.error("Model %s: version(s) %s failed to load, and no older version loads either", name, failed)
        return kept

    def _should_load(self, record: _Version | None, now: float) -> bool:
        if record is None:
            return True
        if record.state != State.END:
            return False
        if record.error is None:  # unloaded earlier, aspired again (e.g. a newer version was deleted)
            return True
        return record.attempts <= self.max_num_load_retries and now >= record.retry_at

    def _load(self, name: str, version: int, path: Path) -> None:
        with self._lock:
            record = self._models[name].versions.setdefault(version, _Version(version))
            record.state, record.error = State.LOADING, None
        self._changed()
        log.info("Loading servable version {name: %s version: %d} from %s", name, version, path)
        started = time.monotonic()
        try:
            servable = self._loader(name, version, path)
        except Exception as error:  # noqa: BLE001 - a bad version is reported, never fatal
            failure = from_exception(error)
            failure = ServingError(
                failure.code, f"Failed to load servable version {{name: {name} version: {version}}}: {failure.message}"
            )
            with self._lock:
                record.attempts += 1
                record.state, record.error = State.END, failure
                record.retry_at = time.monotonic() + self.load_retry_interval
                retries_left = self.max_num_load_retries - record.attempts + 1
            log.error("%s (%s; %d retries left)", failure.message, failure.code.name, max(retries_left, 0))
            self._changed()
            return
        with self._lock:
            model = self._models[name]
            record.state, record.servable = State.AVAILABLE, servable
            model.serving[version] = servable
        log.info(
            "Successfully loaded servable version {name: %s version: %d} in %.1f s",
            name,
            version,
            time.monotonic() - started,
        )
        self._changed()

    def _unload(self, name: str, version: int, timeout: float | None = None) -> None:
        with self._lock:
            model = self._models[name]
            servable = model.serving.pop(version, None)
            record = model.versions.get(version)
            if servable is None or record is None:
                return
            record.state = State.UNLOADING
        self._changed()
        # Out of routing now: no new request can acquire it. Let the running ones finish.
        if not servable.wait_until_idle(timeout):
            log.warning("Unloading {name: %s version: %d} with requests still running", name, version)
        servable.unload()
        with self._lock:
            record.state, record.servable = State.END, None
        log.info("Unloaded servable version {name: %s version: %d}", name, version)
        self._changed()

    def _retire_model(self, name: str) -> None:
        with self._lock:
            versions = list(self._models[name].serving)
        for version in versions:
            self._unload(name, version)
        with self._lock:
            if self._models.get(name) is not None and self._models[name].removed:
                del self._models[name]
        log.info("Removed model %s", name)

    # ---------------------------------------------------------------------------------------- reconfiguring
    def reload_config(self, config: model_server_config_pb2.ModelServerConfig) -> None:
        """Serves the models of a new config: adds new ones, updates policies and labels, removes the others.

        Returns after the new models' versions have loaded (or failed), as TF Serving's ReloadConfig does.
        """
        validate_model_server_config(config)
        wanted = {model.name: model for model in config.model_config_list.config}
        with self._lock:
            for name, model in self._models.items():
                new = wanted.get(name)
                if new is None:
                    model.removed = True
                elif new.base_path != model.config.base_path:
                    raise invalid_argument(
                        f"Model {name!r} changed its base_path from {model.config.base_path} to {new.base_path}; "
                        "serve it under a new name instead."
                    )
                else:
                    model.config = _copy(new)
                    model.removed = False
            for name, new in wanted.items():
                if name not in self._models:
                    self._models[name] = _Model(_copy(new))
        log.info("Reloaded model config: %s", ", ".join(sorted(wanted)) or "(no models)")
        self.poll()

    # ------------------------------------------------------------------------------------------ routing
    def _resolve(self, model: _Model, name: str, version: int | None, label: str | None) -> int:
        if label:
            if label not in model.config.version_labels:
                raise invalid_argument(f"Unrecognized servable version label: {label}")
            version = model.config.version_labels[label]
        if version is None:
            if not model.serving:
                raise not_found(f"Servable not found for request: Latest({name}); no version of it is available yet.")
            return max(model.serving)
        if version not in model.serving:
            available = sorted(model.serving)
            raise not_found(
                f"Servable not found for request: Specific({name}, {version}). Available versions of {name!r}: "
                f"{available}."
            )
        return version

    @contextlib.contextmanager
    def servable(self, name: str, version: int | None = None, label: str | None = None) -> Iterator[object]:
        """The servable a request asks for, held for the request's duration (it is not unloaded meanwhile).

        Args:
            name: the model name.
            version: a specific version; None for the latest available one.
            label: a version label from the config (``version_labels``), instead of `version`.

        Raises:
            ServingError: NOT_FOUND for an unknown model or version, INVALID_ARGUMENT for an unknown label.
        """
        with self._lock:
            model = self._models.get(name)
            if model is None or model.removed:
                raise not_found(
                    f"Servable not found for request: {_request_text(name, version, label)}; "
                    f"models served: {sorted(n for n, m in self._models.items() if not m.removed)}."
                )
            servable = model.serving[self._resolve(model, name, version, label)]
            servable.acquire()
        try:
            yield servable
        finally:
            servable.release()

    # ------------------------------------------------------------------------------------------- status
    def status(self, name: str, version: int | None = None, label: str | None = None) -> list[VersionStatus]:
        """The versions of a model, newest first, as GetModelStatus reports them.

        Raises:
            ServingError: NOT_FOUND for an unknown model or version.
        """
        with self._lock:
            model = self._models.get(name)
            if model is None or model.removed or not model.versions:
                raise not_found(f"Could not find any versions of model {name}")
            if label:
                if label not in model.config.version_labels:
                    raise invalid_argument(f"Unrecognized servable version label: {label}")
                version = model.config.version_labels[label]
            if version is not None:
                if version not in model.versions:
                    raise not_found(f"Could not find version {version} of model {name}")
                records = [model.versions[version]]
            else:
                records = sorted(model.versions.values(), key=lambda r: -r.version)
            return [VersionStatus(r.version, r.state, r.error) for r in records]

    def model_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, model in self._models.items() if not model.removed)

    def all_models_available(self) -> bool:
        """True when every configured model has at least one AVAILABLE version (the server is healthy)."""
        with self._lock:
            models = [m for m in self._models.values() if not m.removed]
            return bool(models) and all(model.serving for model in models)

    def loaded_servables(self) -> list[object]:
        """The servables currently routed to (for statistics)."""
        with self._lock:
            return [s for model in self._models.values() for s in model.serving.values()]


def _failed(record: _Version | None) -> bool:
    return record is not None and record.state == State.END and record.error is not None


def _copy(config: model_server_config_pb2.ModelConfig) -> model_server_config_pb2.ModelConfig:
    copy = model_server_config_pb2.ModelConfig()
    copy.CopyFrom(config)
    return copy


def _request_text(name: str, version: int | None, label: str | None) -> str:
    if label:
        return f"Label({name}, {label})"
    return f"Specific({name}, {version})" if version is not None else f"Latest({name})"
