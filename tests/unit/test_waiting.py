"""The tests' one way of waiting: it returns what it waited for, or says what never came."""

from __future__ import annotations

import itertools

import pytest

from tests.support.helpers import wait_until, wait_until_async


def test_it_returns_the_first_truthy_answer() -> None:
    answers = iter([None, [], "ready"])
    assert wait_until(lambda: next(answers), timeout=5, interval=0.001, message="x") == "ready"


def test_a_timeout_names_what_was_awaited() -> None:
    calls = itertools.count()
    with pytest.raises(AssertionError, match=r"^the shop starting: not within 0\.05 s$"):
        wait_until(
            lambda: next(calls) < 0, timeout=0.05, interval=0.01, message="the shop starting"
        )
    assert next(calls) >= 2  # tried more than once, and once more at the end


def test_a_message_known_only_at_the_end_is_read_then() -> None:
    log: list[str] = []

    def tail() -> str:
        return f"log: {log}"

    log.append("booting")
    with pytest.raises(AssertionError, match=r"log: \['booting', 'failed'\]"):
        wait_until(lambda: log.append("failed") and False, timeout=0, interval=0, message=tail)


def test_only_the_listed_exceptions_mean_not_yet() -> None:
    attempts = iter([ConnectionError("refused"), ConnectionError("refused"), None])

    def probe() -> bool:
        error = next(attempts)
        if error is not None:
            raise error
        return True

    assert wait_until(probe, timeout=5, interval=0.001, message="x", ignoring=(ConnectionError,))

    def dead() -> bool:
        raise RuntimeError("the process exited")

    with pytest.raises(RuntimeError, match="exited"):
        wait_until(dead, timeout=5, interval=0.001, message="x", ignoring=(ConnectionError,))


async def test_the_async_variant_waits_the_same_way() -> None:
    answers = iter([0, 0, 7])

    async def probe() -> int:
        return next(answers)

    assert await wait_until_async(probe, timeout=5, interval=0.001, message="x") == 7

    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match=r"^stock given back: not within 0\.02 s$"):
        await wait_until_async(never, timeout=0.02, interval=0.005, message="stock given back")
