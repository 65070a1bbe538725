"""Which failures are retried, how long the waits are, and argument checks."""

from __future__ import annotations

import dataclasses
import random

import grpc
import pytest

from serving.client.retry_policy import NO_RETRY, RetryPolicy


def test_only_transient_codes_are_retried_and_attempts_are_bounded():
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(grpc.StatusCode.UNAVAILABLE, "down", 1)
    assert policy.should_retry(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full", 2)
    assert policy.should_retry(grpc.StatusCode.CANCELLED, "Cancelling all calls", 1)  # a server shutting down
    assert not policy.should_retry(grpc.StatusCode.UNAVAILABLE, "down", 3)
    assert not policy.should_retry(grpc.StatusCode.INVALID_ARGUMENT, "bad", 1)
    assert not policy.should_retry(grpc.StatusCode.DEADLINE_EXCEEDED, "slow", 1)
    assert not policy.should_retry(grpc.StatusCode.RESOURCE_EXHAUSTED, "Sent message larger than max (9 vs. 4)", 1)
    assert not NO_RETRY.should_retry(grpc.StatusCode.UNAVAILABLE, "down", 1)


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap():
    policy = RetryPolicy(initial_backoff=0.1, multiplier=2.0, max_backoff=0.5, jitter=0.2)
    rng = random.Random(0)
    for attempt, base in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.5), (9, 0.5)]:
        waits = [policy.backoff(attempt, rng) for _ in range(200)]
        assert base * 0.8 <= min(waits) and max(waits) <= base * 1.2
        assert max(waits) - min(waits) > base * 0.2  # the jitter spreads the waits
    assert RetryPolicy(jitter=0.0).backoff(2) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(max_attempts=0), "`max_attempts`.*Received: max_attempts=0"),
        (dict(initial_backoff=-1), "`initial_backoff`"),
        (dict(max_backoff="1"), "`max_backoff`"),
        (dict(multiplier=0.5), "`multiplier`"),
        (dict(jitter=1.0), "`jitter`"),
    ],
)
def test_invalid_settings_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RetryPolicy(**kwargs)


def test_retry_budget_in_seconds_outlasts_an_outage_of_that_length_whatever_the_jitter():
    assert RetryPolicy().total_backoff() == pytest.approx(1.5)  # the default rides through 1.5 s, not a restart
    policy = RetryPolicy.riding_through(18.0)
    assert policy.max_attempts == 16 and policy.total_backoff(lowest=True) >= 18.0
    assert dataclasses.replace(policy, max_attempts=15).total_backoff(lowest=True) < 18.0  # the fewest tries
    for seed in range(200):
        rng = random.Random(seed)
        assert sum(policy.backoff(attempt, rng) for attempt in range(1, policy.max_attempts)) >= 18.0
    assert RetryPolicy.riding_through(5.0, max_backoff=0.5, jitter=0.0).total_backoff() >= 5.0
    with pytest.raises(ValueError, match="expected a non-negative number. Received: seconds=-1"):
        RetryPolicy.riding_through(-1)
