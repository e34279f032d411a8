"""Is a service's database at its newest schema? Asked with the raw driver, before Alembic.

Alembic (with SQLAlchemy and Mako under it) is ~12 MB of RSS and ~0.3 s of start-up per
process (``bench/import_cost.py``), and on every start but the first the answer is
"nothing to do". Each service's migrations package declares its head revision as a
constant (``HEAD_REVISION``; a test holds it equal to what Alembic computes from the
versions folder), so a start reads ``alembic_version`` with the driver the service already
has (``sqlite3``; ``asyncpg`` for PostgreSQL) and imports Alembic only when the database is
behind, or new. Once imported, a module stays: a process that did migrate keeps Alembic,
the next start of the same service does not load it.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

VERSION_TABLE = "alembic_version"  # Alembic's default, which the services' env.py keep
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")  # as ServiceSettings.database_schema


class SchemaVersionError(ValueError):
    """The database URL or schema name cannot be read: the message says which and why."""


async def applied_revisions(url: str, schema: str | None = None) -> frozenset[str]:
    """The revisions recorded in the database at ``url`` (in ``schema`` on PostgreSQL):
    empty for a database not created yet or never migrated."""
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise SchemaVersionError(f"not a database URL: {url!r}")
    driver = scheme.split("+", 1)[0]
    if driver == "sqlite":
        return await asyncio.to_thread(_sqlite_revisions, _sqlite_path(rest))
    if driver in ("postgresql", "postgres"):
        return await _postgres_revisions(f"postgresql://{rest}", _checked_schema(schema))
    raise SchemaVersionError(f"use a postgresql:// or sqlite:// URL, not {scheme}://")


async def upgrade_if_behind(
    url: str,
    schema: str | None,
    head: str,
    upgrade: Callable[[], Awaitable[None]],
) -> bool:
    """Run ``upgrade`` (which imports Alembic) unless the database is at ``head`` already;
    True when it ran."""
    if await applied_revisions(url, schema) == {head}:
        return False
    await upgrade()
    return True


def _sqlite_path(rest: str) -> Path | None:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db`` (SQLAlchemy's forms); None for
    an in-memory database, which is new on every connection."""
    path = rest.removeprefix("/").split("?", 1)[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def _sqlite_revisions(path: Path | None) -> frozenset[str]:
    """Read-only, so that asking never creates the file (the migration does that)."""
    if path is None or not path.is_file():
        return frozenset()
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except sqlite3.OperationalError as exc:  # no such table: never migrated
        if "no such table" in str(exc):
            return frozenset()
        raise
    finally:
        connection.close()
    return frozenset(row[0] for row in rows)


def _checked_schema(schema: str | None) -> str | None:
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise SchemaVersionError(
            f"schema {schema!r}: use lower-case letters, digits and _, at most 63 characters"
        )
    return schema


async def _postgres_revisions(dsn: str, schema: str | None) -> frozenset[str]:
    import asyncpg  # only where PostgreSQL is configured (~15 MB)

    table = f'"{schema}".{VERSION_TABLE}' if schema else VERSION_TABLE
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(f"SELECT version_num FROM {table}")
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return frozenset()
    finally:
        await connection.close()
    return frozenset(row["version_num"] for row in rows)
