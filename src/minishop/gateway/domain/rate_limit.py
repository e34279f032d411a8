"""Token buckets: a steady rate with room for bursts, per client."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float
    updated_at: float

    def take(self, now: float) -> float:
        """Take one token; returns 0 when allowed, else the seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimiter:
    """One bucket per client, the least recently seen forgotten past ``max_clients``."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float], max_clients: int = 10_000
    ) -> None:
        if rate < 0 or burst < 0:
            raise ValueError("rate and burst cannot be negative")
        self.enabled = rate > 0
        self._rate = rate
        self._burst = max(burst, 1.0)
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """0 when ``client`` may go ahead, else how long it should wait."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, self._burst, now)
            self._buckets[client] = bucket
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(client)
        return bucket.take(now)


@dataclass
class Strikes:
    """Failures of one client in its current window, and until when it is shut out."""

    window_start: float
    count: int = 0
    blocked_until: float = 0.0


class FailureThrottle:
    """Shuts a client out for ``block_seconds`` after ``max_failures`` failures in a window.

    Meant for failed authentication: guessing keys costs the guesser, and a correct key
    presented while shut out is refused too (otherwise the lockout would only slow a
    guesser down by the failures it absorbs). The least recently seen clients are
    forgotten past ``max_clients``; a client that never failed takes no memory.
    """

    def __init__(
        self,
        max_failures: int,
        window_seconds: float,
        block_seconds: float,
        clock: Callable[[], float],
        max_clients: int = 10_000,
    ) -> None:
        if max_failures < 1 or window_seconds <= 0 or block_seconds <= 0:
            raise ValueError("max_failures, window_seconds and block_seconds must be positive")
        self._max_failures = max_failures
        self._window = window_seconds
        self._block = block_seconds
        self._clock = clock
        self._max_clients = max_clients
        self._strikes: OrderedDict[str, Strikes] = OrderedDict()

    def blocked_for(self, client: str) -> float:
        """0 when ``client`` may try, else the seconds until it may try again."""
        strikes = self._strikes.get(client)
        if strikes is None:
            return 0.0
        return max(0.0, strikes.blocked_until - self._clock())

    def record_failure(self, client: str) -> None:
        now = self._clock()
        strikes = self._strikes.get(client)
        if strikes is None or now - strikes.window_start >= self._window:
            strikes = Strikes(window_start=now)
            self._strikes[client] = strikes
        self._strikes.move_to_end(client)
        if len(self._strikes) > self._max_clients:
            self._strikes.popitem(last=False)
        strikes.count += 1
        if strikes.count >= self._max_failures:
            strikes.blocked_until = now + self._block
            strikes.window_start = strikes.blocked_until  # a fresh count once the block ends
            strikes.count = 0
