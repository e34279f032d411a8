"""Who may pass the gateway: a known API key when keys are configured, within its rate."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from minishop.gateway.domain.rate_limit import RateLimiter


class Unauthorized(Exception):
    pass


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("Too many requests; slow down.")
        self.retry_after = retry_after


class Admission:
    def __init__(self, api_keys: Iterable[str], limiter: RateLimiter) -> None:
        self._api_keys = tuple(key.encode() for key in api_keys if key)
        self._limiter = limiter

    @property
    def requires_key(self) -> bool:
        return bool(self._api_keys)

    def admit(self, api_key: str | None, client_address: str) -> None:
        """Raise Unauthorized or RateLimited, or return to let the request through."""
        if self._api_keys:
            presented = (api_key or "").encode()
            if not any(hmac.compare_digest(presented, key) for key in self._api_keys):
                raise Unauthorized("A valid API key is required (header X-API-Key).")
        wait = self._limiter.retry_after(api_key or client_address)
        if wait > 0:
            raise RateLimited(wait)
