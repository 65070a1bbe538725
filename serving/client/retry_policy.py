"""When and how long the light client waits before trying an RPC again.

Only UNAVAILABLE (server down, restarting, or its batching queue full), RESOURCE_EXHAUSTED (overloaded) and
CANCELLED (a server shutting down cancels the calls it holds, with an HTTP/2 GOAWAY; the client itself never
cancels a call it still waits for) are retried: TF Serving's Predict, GetModelMetadata and GetModelStatus have no
side effects, so a retry is safe, and every other status means the same request would fail again. Waits grow
exponentially with random jitter (so many clients that failed together do not retry together) and never run past
the call's deadline.
"""

from __future__ import annotations

import dataclasses
import random

import grpc

from embedder.validation import check_positive_int, check_rate, invalid

RETRYABLE_CODES = frozenset(
    {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.CANCELLED}
)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff.

    Args:
        max_attempts: tries per RPC, the first included; 1 disables retries. Defaults to 5.
        initial_backoff: seconds before the second try. Defaults to 0.1.
        max_backoff: cap on one wait, in seconds. Defaults to 2.0.
        multiplier: growth of the wait from one try to the next. Defaults to 2.0.
        jitter: each wait is scaled by a random factor in [1 - jitter, 1 + jitter]. Defaults to 0.2.

    The retry budget in time is `total_backoff()`: with the defaults a call gives up after about 1.5 s of waiting
    (0.1 + 0.2 + 0.4 + 0.8; at least 1.2 s with jitter), far shorter than a server restart (10-18 s on a 2-core
    machine). A caller that must ride through an outage of known length asks for it in seconds:
    ``RetryPolicy.riding_through(30)`` has enough tries that even the shortest jittered waits add up to 30 s.
    The call's deadline (``timeout``) still bounds everything.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self):
        check_positive_int("max_attempts", self.max_attempts)
        # Not check_number: an infinite backoff or multiplier is a valid (if odd) setting; waits are capped anyway.
        for name in ("initial_backoff", "max_backoff"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                raise invalid(name, "a non-negative number", value)
        if not isinstance(self.multiplier, (int, float)) or self.multiplier < 1:
            raise invalid("multiplier", "a number >= 1", self.multiplier)
        check_rate("jitter", self.jitter)

    def should_retry(self, code: grpc.StatusCode, details: str | None, attempt: int) -> bool:
        """Whether try number `attempt` (1-based), which failed with `code`, gets another try."""
        if attempt >= self.max_attempts or code not in RETRYABLE_CODES:
            return False
        # gRPC's own "message larger than max" is RESOURCE_EXHAUSTED too, but the same message fails every time.
        return "larger than max" not in (details or "")

    def total_backoff(self, lowest: bool = False) -> float:
        """Seconds a call waits between its `max_attempts` tries before it gives up (nominal; `lowest`: with every
        wait at the low end of its jitter, the least it can be)."""
        scale = 1 - self.jitter if lowest else 1.0
        return sum(
            min(self.max_backoff, self.initial_backoff * self.multiplier**i) * scale
            for i in range(self.max_attempts - 1)
        )

    @classmethod
    def riding_through(cls, seconds: float, **kwargs) -> RetryPolicy:
        """The policy (other settings from `kwargs`) with the fewest tries whose waits add up to at least
        `seconds` even at the low end of their jitter: what a caller needs to outlast an outage that long.

        Example:
            >>> RetryPolicy.riding_through(18).max_attempts   # 0.1+0.2+0.4+0.8+1.6, then 2 s waits, jitter 0.2
            16
        """
        if not isinstance(seconds, (int, float)) or seconds < 0:
            raise invalid("seconds", "a non-negative number", seconds)
        policy = cls(max_attempts=1, **kwargs)
        if policy.max_backoff == 0 or policy.initial_backoff == 0:
            raise ValueError("riding_through needs positive `initial_backoff` and `max_backoff`.")
        attempts = 1
        while policy.total_backoff(lowest=True) < seconds:
            attempts += 1
            policy = dataclasses.replace(policy, max_attempts=attempts)
        return policy

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed try number `attempt` (1-based)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return base * (1 + self.jitter * (2 * (rng or random).random() - 1))


#: No retries: every failure is raised at once.
NO_RETRY = RetryPolicy(max_attempts=1)
