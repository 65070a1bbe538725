"""The job's progress bar: sentences done, sentences/s and ETA, on stderr.

tqdm draws it when installed (the ``tf`` extra has it); a client-only install gets a plain line every few seconds
with the same numbers.
"""

from __future__ import annotations

import sys
import time


class _PlainProgress:
    def __init__(self, total: int | None, initial: int, desc: str, interval: float = 5.0):
        self.total, self.n, self.desc, self.interval = total, initial, desc, interval
        self._start_n, self._start = initial, time.monotonic()
        self._last = self._start

    def update(self, n: int) -> None:
        self.n += n
        now = time.monotonic()
        if now - self._last < self.interval and (self.total is None or self.n < self.total):
            return
        self._last = now
        rate = (self.n - self._start_n) / max(now - self._start, 1e-9)
        if self.total is None:
            line = f"{self.desc}: {self.n} sentences, {rate:.0f} sentences/s"
        else:
            eta = (self.total - self.n) / rate if rate > 0 else float("inf")
            line = f"{self.desc}: {self.n}/{self.total} sentences, {rate:.0f} sentences/s, ETA {eta:.0f} s"
        print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int | None, initial: int = 0, desc: str = "embedding", enabled: bool | None = None):
    """A progress bar object with ``update(n)`` and ``close()``.

    Args:
        total: the number of sentences of the whole job (None: unknown, no ETA).
        initial: the number already done (a resumed job starts there).
        desc: the label.
        enabled: show it; None shows it when stderr is a terminal.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return _NoProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainProgress(total, initial, desc)
    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit=" sentences",
        unit_scale=True,
        smoothing=0.1,
        dynamic_ncols=True,
        file=sys.stderr,
    )
