"""An Idempotency-Key claim is a lease: kept while its operation runs, free soon after a crash."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from minishop.platform.idempotency import (
    CLAIM_LEASE_SECONDS,
    IdempotencyStore,
    StoredResponse,
)
from minishop.platform.sql import Database
from tests.support.databases import idempotency_keys_database
from tests.support.postgres import PostgresSchemas

LEASE = timedelta(seconds=1.0)  # wide enough that a loaded machine still renews in time
RENEW = 0.1


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store_parts(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresSchemas
) -> AsyncIterator[Database]:
    database = await idempotency_keys_database(request.param, tmp_path, postgres)
    yield database
    await database.close()


async def test_a_long_operation_keeps_its_claim_past_the_lease(
    store_parts: Database,
) -> None:
    database = store_parts
    store = IdempotencyStore(database, wait_seconds=10, stale_after=LEASE, renew_seconds=RENEW)
    calls = 0

    async def slow() -> StoredResponse:
        nonlocal calls
        calls += 1
        await asyncio.sleep(4 * LEASE.total_seconds())  # four leases long: renewed meanwhile
        return StoredResponse(200, b'{"charged": true}')

    first = asyncio.create_task(store.run("/pay", "k", "f", slow))
    await asyncio.sleep(0.05)
    second, replayed = await store.run("/pay", "k", "f", slow)
    assert (second.body, replayed, calls) == (b'{"charged": true}', True, 1)
    assert (await first) == (StoredResponse(200, b'{"charged": true}'), False)


async def test_a_claim_of_a_dead_process_is_taken_over_after_one_lease(
    store_parts: Database,
) -> None:
    database = store_parts
    async with database.transaction() as connection:  # claimed just now by a process that then died
        await connection.execute(
            "INSERT INTO idempotency_keys (key, fingerprint, created_at) VALUES ($1, $2, $3)",
            "/pay:k",
            "f",
            datetime.now(UTC),
        )
    store = IdempotencyStore(database, wait_seconds=10, stale_after=LEASE, renew_seconds=RENEW)

    async def charge() -> StoredResponse:
        return StoredResponse(200, b"{}")

    started = asyncio.get_running_loop().time()
    response, replayed = await store.run("/pay", "k", "f", charge)
    waited = asyncio.get_running_loop().time() - started
    assert (response.status_code, replayed) == (200, False)
    assert waited >= LEASE.total_seconds() * 0.9  # not before the lease ran out


def test_the_default_lease_lets_a_retry_through_well_within_fifteen_seconds() -> None:
    assert CLAIM_LEASE_SECONDS <= 6


async def test_a_process_that_lost_its_claim_leaves_the_new_owners_claim_alone(
    store_parts: Database,
) -> None:
    """A stalled process (no renewal for a lease) comes back after another took the key over:
    neither its failure nor its late answer may delete or overwrite the new owner's claim."""
    database = store_parts
    stalled = IdempotencyStore(
        database, wait_seconds=10, stale_after=LEASE, renew_seconds=60
    )  # it never renews in time: as if its event loop stalled
    owner = IdempotencyStore(database, wait_seconds=10, stale_after=LEASE, renew_seconds=RENEW)
    owner_may_finish = asyncio.Event()

    async def stalls_then(outcome: str) -> StoredResponse:
        await asyncio.sleep(3 * LEASE.total_seconds())
        if outcome == "fails":
            raise RuntimeError("the stalled operation failed")
        return StoredResponse(200, b'{"by": "stalled"}')

    async def owned() -> StoredResponse:
        await owner_may_finish.wait()
        return StoredResponse(200, b'{"by": "owner"}')

    for key, outcome in (("a", "fails"), ("b", "answers late")):
        late = asyncio.create_task(stalled.run("/pay", key, "f", lambda o=outcome: stalls_then(o)))
        await asyncio.sleep(0.05)
        taken_over = asyncio.create_task(owner.run("/pay", key, "f", owned))
        await asyncio.sleep(3 * LEASE.total_seconds() + 0.3)  # the stalled one has ended now
        with pytest.raises(RuntimeError) if outcome == "fails" else contextlib.nullcontext():
            await late
        # The owner's claim survived: a third request waits for it and replays its answer.
        third = asyncio.create_task(owner.run("/pay", key, "f", owned))
        await asyncio.sleep(0.1)
        assert not third.done()
        owner_may_finish.set()
        assert (await taken_over)[0].body == b'{"by": "owner"}'
        assert (await third) == (StoredResponse(200, b'{"by": "owner"}'), True)
        owner_may_finish.clear()
