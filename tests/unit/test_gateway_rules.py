"""Gateway rules: routing, API keys and token buckets."""

from __future__ import annotations

import pytest

from minishop.gateway.application.admission import Admission, RateLimited, Unauthorized
from minishop.gateway.domain.rate_limit import FailureThrottle, RateLimiter
from minishop.gateway.domain.routing import SHORTCUTS, resource_route


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: FakeClock) -> FailureThrottle:
    return FailureThrottle(max_failures=3, window_seconds=60, block_seconds=30, clock=clock)


def test_routes_reach_only_the_public_api() -> None:
    assert SHORTCUTS[("POST", "/order")].upstream_path == "/api/v1/orders"
    assert resource_route("users", "7").upstream_path == "/api/v1/users/7"
    assert resource_route("orders").upstream_path == "/api/v1/orders"
    with pytest.raises(ValueError, match="unknown service"):
        resource_route("internal")


def test_token_bucket_allows_bursts_then_the_steady_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("a") == pytest.approx(0.5)
    assert limiter.retry_after("b") == 0  # buckets are per client
    clock.now = 0.5
    assert limiter.retry_after("a") == 0


def test_rate_limiter_forgets_the_least_recent_clients() -> None:
    limiter = RateLimiter(rate=1, burst=1, clock=FakeClock(), max_clients=2)
    limiter.retry_after("a")
    limiter.retry_after("b")
    limiter.retry_after("c")  # evicts a
    assert limiter.retry_after("a") == 0


def test_admission_checks_the_key_then_the_rate() -> None:
    open_door = Admission([], RateLimiter(0, 1, FakeClock()), throttle(FakeClock()))
    open_door.admit(None, "10.0.0.1")
    guarded = Admission(["s3cret"], RateLimiter(1, 1, FakeClock()), throttle(FakeClock()))
    with pytest.raises(Unauthorized):
        guarded.admit(None, "10.0.0.1")
    with pytest.raises(Unauthorized):
        guarded.admit("wrong", "10.0.0.1")
    guarded.admit("s3cret", "10.0.0.1")
    with pytest.raises(RateLimited):
        guarded.admit("s3cret", "10.0.0.1")
