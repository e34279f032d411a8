"""Orders remembers, briefly and boundedly, which users exist: only what users said yes to."""

from __future__ import annotations

import pytest

from minishop.orders.adapters.user_cache import CachedUserDirectory


class CountingUsers:
    def __init__(self, known: set[int]) -> None:
        self.known = known
        self.asked: list[int] = []

    async def exists(self, user_id: int) -> bool:
        self.asked.append(user_id)
        return user_id in self.known


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_known_user_is_asked_about_once_per_lifetime() -> None:
    users, clock = CountingUsers({1}), Clock()
    cache = CachedUserDirectory(users, ttl_seconds=30, clock=clock)
    assert [await cache.exists(1) for _ in range(3)] == [True, True, True]
    assert users.asked == [1]
    clock.now += 29.9
    assert await cache.exists(1)
    assert users.asked == [1]
    clock.now += 0.2  # 30.1 s after the answer: asked again
    assert await cache.exists(1)
    assert users.asked == [1, 1]


async def test_an_unknown_user_is_never_remembered() -> None:
    users = CountingUsers(set())
    cache = CachedUserDirectory(users, ttl_seconds=30, clock=Clock())
    assert await cache.exists(2) is False
    users.known.add(2)  # registered a moment later: can order at once
    assert await cache.exists(2) is True
    assert users.asked == [2, 2]


async def test_the_cache_holds_at_most_its_size_and_forgets_the_oldest_first() -> None:
    users, clock = CountingUsers({1, 2, 3}), Clock()
    cache = CachedUserDirectory(users, ttl_seconds=30, max_users=2, clock=clock)
    for user_id in (1, 2, 3):
        assert await cache.exists(user_id)
        clock.now += 1
    assert len(cache._known_until) == 2
    users.asked.clear()
    assert await cache.exists(3) and await cache.exists(2)
    assert users.asked == []
    assert await cache.exists(1)  # forgotten: asked again
    assert users.asked == [1]


async def test_an_error_from_users_is_not_an_answer() -> None:
    class Down:
        async def exists(self, user_id: int) -> bool:
            raise ConnectionError("users down")

    cache = CachedUserDirectory(Down(), ttl_seconds=30)
    with pytest.raises(ConnectionError):
        await cache.exists(1)


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (-1, 10), (30, 0)])
def test_a_cache_that_could_hold_nothing_is_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="cache of users"):
        CachedUserDirectory(CountingUsers(set()), ttl_seconds=ttl, max_users=size)
