"""A short memory of the users known to exist, in front of the users service.

Every order asks whether its user exists; the same customers order again and again, so
most of those calls (one hop, one SELECT at users) tell orders what it heard seconds
ago. A user is never deleted, so a positive answer stays true; it is still kept only
``ttl_seconds`` so that the cache is a bounded convenience, not a copy of the users
table. A negative answer is never kept: a user created a moment later can order at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from minishop.orders.application.ports import UserDirectory

DEFAULT_MAX_USERS = 10_000
"""Users remembered at most; the oldest is forgotten first (~1 MB at this size)."""


class CachedUserDirectory:
    def __init__(
        self,
        directory: UserDirectory,
        ttl_seconds: float,
        *,
        max_users: int = DEFAULT_MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError("a cache of users needs a positive lifetime; use the directory")
        if max_users < 1:
            raise ValueError("a cache of users holds at least one user")
        self._directory = directory
        self._ttl = ttl_seconds
        self._max = max_users
        self._clock = clock
        self._known_until: dict[int, float] = {}
        """user id -> when the answer expires; insertion order is the order of expiry."""

    async def exists(self, user_id: int) -> bool:
        now = self._clock()
        until = self._known_until.get(user_id)
        if until is not None:
            if until > now:
                return True
            del self._known_until[user_id]
        if not await self._directory.exists(user_id):
            return False
        self._remember(user_id, self._clock() + self._ttl)
        return True

    def _remember(self, user_id: int, until: float) -> None:
        self._known_until.pop(user_id, None)  # re-inserted last: the newest to expire
        while len(self._known_until) >= self._max:
            del self._known_until[next(iter(self._known_until))]
        self._known_until[user_id] = until
