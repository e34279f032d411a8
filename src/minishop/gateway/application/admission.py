"""Who may pass the gateway: a known API key when keys are configured, within its rate.

Every limit is keyed by the client (the connection's peer, or the address trusted
proxies forwarded for), never by what the client presents: a made-up ``X-API-Key``
or ``X-Forwarded-For`` must not open a fresh bucket. Failed authentication counts
against the client, and a client that failed too often is refused for a while even
with a correct key.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

from minishop.gateway.domain.client_address import ClientResolver, bucket_key
from minishop.gateway.domain.rate_limit import FailureThrottle, RateLimiter


class Unauthorized(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: float, message: str = "Too many requests; slow down.") -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthThrottled(RateLimited):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            retry_after, "Too many failed authentication attempts from this client; wait."
        )


class Admission:
    def __init__(
        self,
        api_keys: Iterable[str],
        limiter: RateLimiter,
        failures: FailureThrottle,
        clients: ClientResolver | None = None,
    ) -> None:
        self._api_keys = tuple(key.encode() for key in api_keys if key)
        self._limiter = limiter
        self._failures = failures
        self._clients = clients or ClientResolver()

    @property
    def requires_key(self) -> bool:
        return bool(self._api_keys)

    @property
    def reads_forwarded_for(self) -> bool:
        """Whether ``admit`` looks at X-Forwarded-For at all (only with trusted proxies)."""
        return self._clients.reads_forwarded_for

    def admit(
        self, api_key: str | None, peer: str | None, forwarded_for: Sequence[str] = ()
    ) -> None:
        """Raise Unauthorized or RateLimited, or return to let the request through."""
        client = bucket_key(self._clients.client(peer, forwarded_for))
        blocked = self._failures.blocked_for(client)
        if blocked > 0:
            raise AuthThrottled(blocked)
        if self._api_keys and not self._known(api_key):
            self._failures.record_failure(client)
            raise Unauthorized("A valid API key is required (header X-API-Key).")
        wait = self._limiter.retry_after(client)
        if wait > 0:
            raise RateLimited(wait)

    def _known(self, api_key: str | None) -> bool:
        presented = (api_key or "").encode()
        # Compare with every key, always: the time taken says nothing about which matched.
        matches = [hmac.compare_digest(presented, key) for key in self._api_keys]
        return any(matches)
