"""No personal data or secret reaches a log line: by key, by value, in exception texts."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
import structlog

from minishop.observability.logging import configure_logging
from minishop.observability.scrubbing import REDACTED, scrub_event, scrub_text
from minishop.platform.sql import Database, DatabaseError, placeholders
from tests.support.databases import scratch_database
from tests.support.postgres import PostgresSchemas


def _log_lines(stream: io.BytesIO) -> list[dict]:
    return [orjson.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail from ada.l+shop@example.co.uk", "mail from a***@example.co.uk"),
        # Internationalised addresses (RFC 6531) and an "@" a path still carries encoded.
        ("/api/v1/users/ĳĳ@piimarker.org", "/api/v1/users/ĳ***@piimarker.org"),
        ("/api/v1/users/zeb@pïimarker.org", "/api/v1/users/z***@pïimarker.org"),
        ("/api/v1/users/zeb@xn--bcher-kva.example", "/api/v1/users/z***@xn--bcher-kva.example"),
        ("/api/v1/users/zeb%40piimarker.org", "/api/v1/users/z***%40piimarker.org"),
        ("/api/v1/users/zeb%2540piimarker.org", "/api/v1/users/z***%2540piimarker.org"),
        ("/api/v1/users/4111+1111+1111+1111", f"/api/v1/users/{REDACTED}"),
        ("card 4111.1111.1111.1111", f"card {REDACTED}"),
        ("card 4111_1111_1111_1111", f"card {REDACTED}"),
        ("card 4242 4242 4242 4242 paid", f"card {REDACTED} paid"),
        ("card 4111-1111-1111-1111", f"card {REDACTED}"),
        ("pan 4242424242424242", f"pan {REDACTED}"),
        ("Authorization: Bearer abc.def-ghi", f"Authorization: {REDACTED}"),
        ("sent bearer abc.def", f"sent bearer {REDACTED}"),
        ("{'x-internal-token': 's3cret'}", f"{{'x-internal-token': '{REDACTED}'}}"),
        ('{"password": "hunter2"}', f'{{"password": "{REDACTED}"}}'),
        ("X-Internal-Token: s3cret", f"X-Internal-Token: {REDACTED}"),
        (
            "[SQL: INSERT INTO users (email) VALUES ($1)]\n[parameters: ('ada@example.com',)]",
            f"[SQL: INSERT INTO users (email) VALUES ($1)]\n[parameters: {REDACTED}]",
        ),
        (
            "DETAIL:  Key (email)=(ada@example.com) already exists.",
            f"DETAIL:  Key (email)=({REDACTED}) already exists.",
        ),
        (
            'DETAIL:  Key (user_id)=(5) is not present in table "users".',
            f'DETAIL:  Key (user_id)=({REDACTED}) is not present in table "users".',
        ),
        (
            "DETAIL:  Failing row contains (1, Ada (the first), null).",
            f"DETAIL:  Failing row contains ({REDACTED}).",
        ),
        (
            "invalid input for query argument $1: 'Ada Lovelace' (expected int, got str)",
            f"invalid input for query argument $1: {REDACTED} (expected int, got str)",
        ),
        (
            'invalid input syntax for type integer: "Ada"',
            f"invalid input syntax for type integer: {REDACTED}",
        ),
    ],
)
def test_values_are_scrubbed_wherever_they_appear(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "POST /api/v1/orders/12 201",
        "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
        "2026-11-24T05:02:29.123456Z 127.0.0.1:50000",
        "a 22-digit number 1234567890123456789012 is no card",
        "order 123456789012 (12 digits)",
        "tokens: 5 and an email-less @ sign",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) is text  # not even copied


def test_nested_fields_and_secret_keys_are_scrubbed() -> None:
    event = {
        "message": "checkout for bob@example.org",
        "headers": {"X-Internal-Token": "t0k", "Authorization": "Bearer x", "Accept": "*/*"},
        "user_email": "bob@example.org",
        "admin_token": "adm",
        "lines": [("4242424242424242", 2), {"note": "call ada@example.com"}],
        "attempts": 3,
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    }
    scrubbed = scrub_event(None, "info", event)
    assert scrubbed["message"] == "checkout for b***@example.org"
    assert scrubbed["headers"] == {
        "X-Internal-Token": REDACTED,
        "Authorization": REDACTED,
        "Accept": "*/*",
    }
    assert scrubbed["user_email"] == "b***@example.org" and scrubbed["admin_token"] == REDACTED
    assert scrubbed["lines"] == [[REDACTED, 2], {"note": "call a***@example.com"}]
    assert scrubbed["attempts"] == 3
    assert scrubbed["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_odd_values_never_break_the_line_nor_leak() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no text")

        def __repr__(self) -> str:
            return "Broken(ada@example.com)"

    class Person:
        def __str__(self) -> str:
            return "Person(ada@example.com)"

    looped: list[object] = []
    looped.append(looped)
    stream = io.BytesIO()
    configure_logging("users", "INFO", stream=stream)
    structlog.get_logger("test").info("odd", broken=Broken(), person=Person(), looped=looped)
    (line,) = _log_lines(stream)
    assert line["broken"] == "[UNPRINTABLE]"
    assert line["person"] == "Person(a***@example.com)"
    assert "[TOO DEEP]" in str(line["looped"])


def test_a_line_that_cannot_be_scrubbed_is_withheld(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(_text: str) -> str:
        raise MemoryError

    monkeypatch.setattr("minishop.observability.scrubbing.scrub_text", failing)
    event = {"message": "for ada@example.com", "level": "info", "service": "users"}
    assert scrub_event(None, "info", event) == {
        "level": "info",
        "service": "users",
        "message": "[log line withheld: it could not be scrubbed]",
    }


def test_an_exception_text_is_scrubbed_on_the_log_line() -> None:
    stream = io.BytesIO()
    configure_logging("users", "INFO", stream=stream)
    try:
        raise ValueError("no account for ada@example.com with card 4242-4242-4242-4242")
    except ValueError as error:
        structlog.get_logger("test").error("lookup failed", exc_info=error)
    (line,) = _log_lines(stream)
    assert "ValueError: no account for a***@example.com with card [REDACTED]" in line["exception"]
    assert "ada@example.com" not in stream.getvalue().decode()


# --- a real failed write, on both databases -------------------------------------------

_PEOPLE = {
    "sqlite": "id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE,"
    " name VARCHAR(100) NOT NULL, age INTEGER",
    "postgresql": "id SERIAL PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE,"
    " name VARCHAR(100) NOT NULL, age INTEGER",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: PostgresSchemas
) -> AsyncIterator[Database]:
    database = await scratch_database(request.param, tmp_path, postgres, "people")
    async with database.transaction() as connection:
        await connection.execute(f"CREATE TABLE people ({_PEOPLE[request.param]})")
    try:
        yield database
    finally:
        await database.close()


async def _failed_write(database: Database, values: dict[str, object]) -> DatabaseError:
    try:
        async with database.transaction() as connection:
            await connection.execute(
                f"INSERT INTO people ({', '.join(values)}) VALUES ({placeholders(len(values))})",
                *values.values(),
            )
    except DatabaseError as error:
        return error
    raise AssertionError("the write was expected to fail")


async def test_a_failed_write_logs_no_personal_data(database: Database) -> None:
    """The case from the issue: the row's values inside the exception, on either database."""
    async with database.transaction() as connection:
        await connection.execute(
            "INSERT INTO people (email, name) VALUES ($1, $2)", "ada@example.com", "Ada Lovelace"
        )
    postgresql = database.system == "postgresql"
    failures = [
        await _failed_write(database, {"email": "ada@example.com", "name": "Ada Lovelace"}),
        # PostgreSQL: DETAIL:  Failing row contains (2, grace@example.com, null, null).
        await _failed_write(database, {"email": "grace@example.com", "name": None}),
    ]
    if postgresql:  # asyncpg quotes the argument it could not encode (SQLite takes any type)
        failures.append(
            await _failed_write(
                database, {"email": "alan@example.com", "name": "x", "age": "Alan Turing"}
            )
        )
    stream = io.BytesIO()
    configure_logging("users", "INFO", stream=stream)
    log = structlog.get_logger("minishop.access")
    for error in failures:
        log.error("POST /api/v1/users 500", exc_info=error)

    lines = _log_lines(stream)
    assert len(lines) == len(failures)
    assert "UniqueViolation" in lines[0]["exception"]
    written = stream.getvalue().decode()
    for personal in ("ada@example.com", "Ada Lovelace", "grace@example.com", "Alan Turing"):
        assert personal not in written, personal
    if postgresql:  # its DETAIL keeps the column, not the value
        assert "Key (email)=([REDACTED]) already exists" in lines[0]["exception"]
        assert "Failing row contains ([REDACTED])" in lines[1]["exception"]
        assert "invalid input for query argument $3: [REDACTED]" in lines[2]["exception"]


def test_a_uuid_whose_last_groups_are_digits_is_not_taken_for_a_card() -> None:
    """A payment id can end in 16 digits split by a dash; a card beside it is still redacted."""
    payment_id = "5002d1d6-d20b-4c5d-9123-570640037258"
    assert scrub_text(f"payment {payment_id} refunded") == f"payment {payment_id} refunded"
    mixed = scrub_text(f"card 4111 1111 1111 1111 paid {payment_id}")
    assert mixed == f"card {REDACTED} paid {payment_id}"
    assert scrub_text("4111-1111-1111-1111") == REDACTED
