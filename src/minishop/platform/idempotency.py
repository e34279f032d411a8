"""``Idempotency-Key`` for write requests: the same key and body never act twice.

The first request with a key claims it by inserting a row (a unique primary key
makes that race-free on both databases); requests that arrive while it runs wait
for its outcome and replay it. A different body under the same key is refused.

A claim is a lease: while its operation runs, the claiming process renews it every
``CLAIM_RENEW_SECONDS``. A claim nobody renewed for ``CLAIM_LEASE_SECONDS`` was left
by a process that died (a crash, a SIGKILL) and is taken over by the next request
with that key, so a retry after a crash goes through within seconds instead of
being refused as "in progress" for minutes. An operation may therefore run again
after a crash; what it must never do twice is enforced by the operation itself (one
active payment per order is a unique index, for example), not by this table.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson

from minishop.observability.logging import get_logger
from minishop.platform.problems import Problem
from minishop.platform.sql import Database, UniqueViolation

_log = get_logger("minishop.idempotency")

MAX_KEY_LENGTH = 255
CLAIM_LEASE_SECONDS = 6.0
"""A claim not renewed for this long belongs to a dead process and may be taken over."""
CLAIM_RENEW_SECONDS = 2.0
"""How often a running operation renews its claim: three renewals fit in one lease."""


TABLE = "idempotency_keys"
"""Every writing service keeps one, created by its migrations
(``platform.migrations.idempotency_table`` declares its columns)."""


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: bytes


def canonical_body(body: bytes) -> bytes:
    """The body as a replay should compare it: JSON by meaning, anything else by bytes.

    A client retrying with the same JSON re-ordered or re-spaced sends the same request,
    so keys are sorted and whitespace dropped. A body that is not JSON orjson can read
    (or holds an integer beyond 64 bits) is compared byte for byte.
    """
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return body


def fingerprint(method: str, path: str, body: bytes) -> str:
    canonical = canonical_body(body)
    return hashlib.sha256(b"%s %s\n%s" % (method.encode(), path.encode(), canonical)).hexdigest()


def validate_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
            type_="invalid-idempotency-key",
        )
    return key


class _Lease:
    """Our claim on a key: the time the row holds, renewed while the operation runs."""

    def __init__(self, claimed_at: datetime) -> None:
        self.at = claimed_at
        self._stopped = asyncio.Event()

    async def stopped_within(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True once the operation is over."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)
        return self._stopped.is_set()

    async def stop(self, renewer: asyncio.Task[None]) -> None:
        """End the renewals, letting one under way finish, so ``at`` is what the row holds."""
        self._stopped.set()
        await renewer


class IdempotencyStore:
    def __init__(
        self,
        database: Database,
        table: str = TABLE,
        *,
        wait_seconds: float = 10.0,
        poll_seconds: float = 0.02,
        stale_after: timedelta = timedelta(seconds=CLAIM_LEASE_SECONDS),
        renew_seconds: float = CLAIM_RENEW_SECONDS,
    ) -> None:
        self._database = database
        self._table = table
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds
        self._stale_after = stale_after
        self._renew_seconds = renew_seconds

    async def run(
        self,
        scope: str,
        key: str,
        request_fingerprint: str,
        operation: Callable[[], Awaitable[StoredResponse]],
    ) -> tuple[StoredResponse, bool]:
        """Run ``operation`` once per key; replay its response to every repeat.

        Returns the response and whether it was a replay.

        A raised exception releases the key so the client may retry; a returned
        response (a success, or a business outcome such as a declined payment) is
        kept and replayed.
        """
        scoped_key = f"{scope}:{validate_key(key)}"
        claimed = await self._claim(scoped_key, request_fingerprint)
        if isinstance(claimed, StoredResponse):
            return claimed, True
        lease = _Lease(claimed)
        renewer = asyncio.get_running_loop().create_task(self._keep_renewed(scoped_key, lease))
        try:
            response = await operation()
        except BaseException:
            await lease.stop(renewer)
            await self._release(scoped_key, only_if_created_at=lease.at)
            raise
        await lease.stop(renewer)
        await self._complete(scoped_key, response, lease.at)
        return response, False

    async def _keep_renewed(self, key: str, lease: _Lease) -> None:
        """Renew the claim while its operation runs; stop once another process took it.

        A renewal is never cut in half by the stop: the lease's time must be the one
        the row holds, or the release or completion that follows would miss it.
        """
        while not await lease.stopped_within(self._renew_seconds):
            renewed_at = datetime.now(UTC)
            with contextlib.suppress(Exception):  # a missed renewal is retried next round
                async with self._database.transaction() as connection:
                    renewed = await connection.execute(
                        f"UPDATE {self._table} SET created_at = $1"
                        " WHERE key = $2 AND created_at = $3 AND status_code IS NULL",
                        renewed_at,
                        key,
                        lease.at,
                    )
                if renewed == 0:
                    return  # taken over after we went quiet too long: it is not ours now
                lease.at = renewed_at

    async def _claim(self, key: str, request_fingerprint: str) -> StoredResponse | datetime:
        """The stored response to replay, or the time we claimed the key at (our lease)."""
        deadline = time.monotonic() + self._wait_seconds
        while True:
            claimed_at = datetime.now(UTC)
            try:
                async with self._database.transaction() as connection:
                    await connection.execute(
                        f"INSERT INTO {self._table} (key, fingerprint, created_at)"
                        " VALUES ($1, $2, $3)",
                        key,
                        request_fingerprint,
                        claimed_at,
                    )
                return claimed_at
            except UniqueViolation:
                pass
            async with self._database.connection() as connection:
                row = await connection.fetchrow(
                    "SELECT fingerprint, status_code, response_body, created_at"
                    f" FROM {self._table} WHERE key = $1",
                    key,
                )
            if row is None:
                continue  # released between our insert and our read: try again
            if row["fingerprint"] != request_fingerprint:
                raise Problem(
                    422,
                    "This Idempotency-Key was already used with a different request.",
                    type_="idempotency-key-reused",
                )
            if row["status_code"] is not None:
                return StoredResponse(row["status_code"], bytes(row["response_body"]))
            created_at = row["created_at"]
            if datetime.now(UTC) - created_at > self._stale_after:
                await self._release(key, only_if_created_at=created_at)
                continue
            if time.monotonic() >= deadline:
                raise Problem(
                    409,
                    "A request with this Idempotency-Key is still being processed; retry later.",
                    type_="idempotency-key-in-progress",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(self._poll_seconds)

    async def _complete(self, key: str, response: StoredResponse, claimed_at: datetime) -> None:
        """Store the response under our claim only: a claim another process took over
        after ours lapsed is theirs to complete."""
        async with self._database.transaction() as connection:
            stored = await connection.execute(
                f"UPDATE {self._table} SET status_code = $1, response_body = $2"
                " WHERE key = $3 AND created_at = $4 AND status_code IS NULL",
                response.status_code,
                response.body,
                key,
                claimed_at,
            )
        if stored == 0:
            _log.warning(
                "idempotency claim lost before its response was stored",
                idempotency_scope=key.split(":", 1)[0],
            )

    async def _release(self, key: str, only_if_created_at: datetime | None = None) -> None:
        async with self._database.transaction() as connection:
            if only_if_created_at is None:
                await connection.execute(f"DELETE FROM {self._table} WHERE key = $1", key)
            else:
                await connection.execute(
                    f"DELETE FROM {self._table} WHERE key = $1 AND created_at = $2",
                    key,
                    only_if_created_at,
                )
