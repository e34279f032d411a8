"""Who a client is, and the limits keyed by it: forwarded-for rules, failure throttle, admission."""

from __future__ import annotations

import pytest

from minishop.gateway.application.admission import (
    Admission,
    AuthThrottled,
    RateLimited,
    Unauthorized,
)
from minishop.gateway.domain.client_address import ClientResolver, bucket_key, parse_address
from minishop.gateway.domain.rate_limit import FailureThrottle, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_without_trusted_proxies_the_client_is_the_peer() -> None:
    resolver = ClientResolver()
    assert not resolver.reads_forwarded_for
    assert resolver.client("127.0.0.1", ["203.0.113.9"]) == "127.0.0.1"
    assert resolver.client(None, ["203.0.113.9"]) == "unknown"


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        # The peer is a trusted proxy: the right-most hop that is not one of ours.
        ("10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["1.1.1.1, 2.2.2.2, 198.51.100.7"], "198.51.100.7"),
        ("10.0.0.5", ["1.1.1.1, 198.51.100.7, 10.0.0.6"], "198.51.100.7"),
        ("10.0.0.5", ["1.1.1.1", "198.51.100.7, 10.0.0.6"], "198.51.100.7"),  # two headers
        # Only trusted hops: the left-most of them (the first proxy saw no further).
        ("10.0.0.5", ["10.0.0.7, 10.0.0.6"], "10.0.0.7"),
        # No header: the proxy itself.
        ("10.0.0.5", [], "10.0.0.5"),
        # Garbage where an address should be: stop at the last hop a trusted proxy vouched for.
        ("10.0.0.5", ["1.1.1.1, not-an-address, 10.0.0.6"], "10.0.0.6"),
        # A peer that is not trusted: its header is ignored, whatever it says.
        ("192.0.2.44", ["10.0.0.6, 1.1.1.1"], "192.0.2.44"),
        # Ports, brackets and IPv4-mapped IPv6 are read as the address they carry.
        ("10.0.0.5", ["198.51.100.7:5555"], "198.51.100.7"),
        ("10.0.0.5", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("::ffff:10.0.0.5", ["198.51.100.7"], "198.51.100.7"),
    ],
)
def test_trusted_proxies_forward_the_right_most_untrusted_address(
    peer: str, forwarded_for: list[str], client: str
) -> None:
    resolver = ClientResolver(["10.0.0.0/24"])
    assert resolver.reads_forwarded_for
    assert resolver.client(peer, forwarded_for) == client


def test_addresses_are_parsed_strictly() -> None:
    assert str(parse_address(" 192.0.2.1 ")) == "192.0.2.1"
    assert parse_address("192.0.2.1:99:1") is None
    assert parse_address("example.com") is None
    assert parse_address("") is None


def test_an_ipv6_client_is_limited_per_64() -> None:
    assert bucket_key("2001:db8:1:2:aaaa::1") == bucket_key("2001:db8:1:2:bbbb::9")
    assert bucket_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert bucket_key("2001:db8:1:3::1") != bucket_key("2001:db8:1:2::1")
    assert bucket_key("192.0.2.1") == "192.0.2.1"
    assert bucket_key("::ffff:192.0.2.1") == "192.0.2.1"  # a dual-stack socket's IPv4 peer
    assert bucket_key("::ffff:192.0.2.1") != bucket_key("::ffff:192.0.2.2")
    assert bucket_key("unknown") == "unknown"


def test_failure_throttle_shuts_a_client_out_after_the_limit() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(max_failures=3, window_seconds=60, block_seconds=30, clock=clock)
    for _ in range(2):
        throttle.record_failure("a")
    assert throttle.blocked_for("a") == 0
    throttle.record_failure("a")
    assert throttle.blocked_for("a") == pytest.approx(30)
    assert throttle.blocked_for("b") == 0  # per client
    clock.now = 29.5
    assert throttle.blocked_for("a") == pytest.approx(0.5)
    clock.now = 30
    assert throttle.blocked_for("a") == 0


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = FakeClock()
    throttle = FailureThrottle(max_failures=3, window_seconds=10, block_seconds=30, clock=clock)
    throttle.record_failure("a")
    throttle.record_failure("a")
    clock.now = 10
    throttle.record_failure("a")  # a new window: one failure, not three
    assert throttle.blocked_for("a") == 0


def test_failure_throttle_memory_is_bounded() -> None:
    throttle = FailureThrottle(1, 60, 30, FakeClock(), max_clients=2)
    for client in ("a", "b", "c"):
        throttle.record_failure(client)
    assert throttle.blocked_for("a") == 0  # forgotten, the least recently seen
    assert throttle.blocked_for("c") > 0
    with pytest.raises(ValueError, match="positive"):
        FailureThrottle(0, 60, 30, FakeClock())


def admission(keys: list[str], clock: FakeClock, trusted: list[str] | None = None) -> Admission:
    return Admission(
        keys,
        RateLimiter(rate=1, burst=2, clock=clock),
        FailureThrottle(max_failures=3, window_seconds=60, block_seconds=30, clock=clock),
        ClientResolver(trusted or []),
    )


def test_rotating_forwarded_for_or_random_keys_opens_no_new_bucket() -> None:
    door = admission([], FakeClock())
    door.admit("random-1", "127.0.0.1", ["1.1.1.1"])
    door.admit("random-2", "127.0.0.1", ["2.2.2.2"])
    with pytest.raises(RateLimited):
        door.admit("random-3", "127.0.0.1", ["3.3.3.3"])
    door.admit(None, "127.0.0.2")  # another peer has its own bucket


def test_a_trusted_proxy_forwards_one_bucket_per_client() -> None:
    door = admission([], FakeClock(), trusted=["127.0.0.1"])
    for client in ("1.1.1.1", "2.2.2.2", "3.3.3.3"):
        door.admit(None, "127.0.0.1", [client])
    door.admit(None, "127.0.0.1", ["1.1.1.1"])
    with pytest.raises(RateLimited):
        door.admit(None, "127.0.0.1", ["1.1.1.1"])


def test_failed_keys_throttle_the_peer_even_with_the_right_key() -> None:
    clock = FakeClock()
    door = admission(["s3cret"], clock)
    for guess in ("a", "b", "c"):
        with pytest.raises(Unauthorized):
            door.admit(guess, "192.0.2.1")
    with pytest.raises(AuthThrottled) as refused:
        door.admit("s3cret", "192.0.2.1")
    assert refused.value.retry_after == pytest.approx(30)
    door.admit("s3cret", "192.0.2.2")  # other peers are unaffected
    clock.now = 30
    door.admit("s3cret", "192.0.2.1")
