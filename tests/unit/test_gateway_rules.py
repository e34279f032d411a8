"""Gateway rules: routing, API keys and token buckets."""

from __future__ import annotations

import pytest

from minishop.gateway.application.admission import Admission, RateLimited, Unauthorized
from minishop.gateway.domain.rate_limit import FailureThrottle, RateLimiter
from minishop.gateway.domain.routing import (
    SHORTCUTS,
    MalformedPath,
    NoPublicRoute,
    PublicApis,
    check_forwardable,
)

resource_route = PublicApis(frozenset({"users", "products", "orders", "payments"})).route


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
    uuid = "0b5c1f3e-8a1d-4c55-9d1e-3f0a7e2b9c41"
    assert resource_route("payments", uuid).upstream_path == f"/api/v1/payments/{uuid}"


@pytest.mark.parametrize(
    "rest", ["1/payment-result", "..", ".", "a.b", "1 2", "x" * 129, "%2e", "\\x", "é"]
)
def test_only_one_id_segment_follows_a_resource(rest: str) -> None:
    with pytest.raises(NoPublicRoute, match="one id"):
        resource_route("orders", rest)


@pytest.mark.parametrize(
    ("raw", "decoded", "why"),
    [
        ("/api/v1/orders/..%2f..%2finternal", "/api/v1/orders/../../internal", "percent-encoded"),
        ("/api/v1/orders/../internal", "/api/v1/orders/../internal", "dot-segment"),
        ("/api/v1/orders/./1", "/api/v1/orders/./1", "dot-segment"),
        ("/api/v1/orders/%2E%2e", "/api/v1/orders/..", "percent-encoded"),
        ("/api/v1/orders/%252e%252e", "/api/v1/orders/%2e%2e", "percent-encoded"),
        ("/api/v1/orders/..%5cx", "/api/v1/orders/..\\x", "percent-encoded"),
        ("/api/v1/orders/..\\x", "/api/v1/orders/..\\x", "backslash"),
        ("/api/v1/orders//1", "/api/v1/orders//1", "empty segment"),
        ("/api/v1/orders/1/", "/api/v1/orders/1/", "empty segment"),
        ("/api/v1/orders/1%00", "/api/v1/orders/1\x00", "percent-encoded"),
        ("/api/v1/orders/1\x00", "/api/v1/orders/1\x00", "control character"),
        ("/api/v1/orders/1\x7f", "/api/v1/orders/1\x7f", "control character"),
        ("/api/v1/orders/1", "/api/v1/orders/1\x00", "control character"),  # decoded disagrees
        ("/api/v1/orders/" + "9" * 129, "/api/v1/orders/" + "9" * 129, "longer than 128"),
        ("/api/v1/orders/1;x", "/api/v1/orders/1;x", "other than letters"),
        ("api/v1/orders", "api/v1/orders", "other than letters"),
    ],
)
def test_paths_out_of_normal_form_are_not_forwarded(raw: str, decoded: str, why: str) -> None:
    with pytest.raises(MalformedPath, match=why):
        check_forwardable(raw, decoded)


@pytest.mark.parametrize(
    "path", ["/order", "/payment/pay", "/api/v1/users", "/api/v1/payments/0b5c1f3e-8a1d-4c55"]
)
def test_public_paths_are_forwarded(path: str) -> None:
    check_forwardable(path, path)


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
