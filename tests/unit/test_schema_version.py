"""A start reads the schema version with the raw driver and runs Alembic only when behind."""

from __future__ import annotations

import importlib
import sqlite3
import uuid
from pathlib import Path

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from minishop.manifest import MANIFEST
from minishop.platform.schema_version import (
    SchemaVersionError,
    applied_revisions,
    upgrade_if_behind,
)
from tests.support.postgres import ADMIN_DSN

WITH_MIGRATIONS = [entry.package for entry in MANIFEST.with_database if entry.part_of_shop]


def _migrations(package: str) -> tuple[Path, str]:
    module = importlib.import_module(f"{package}.adapters.migrations")
    return Path(module.__file__).parent, module.HEAD_REVISION


class Upgrade:
    """Stands in for the Alembic upgrade: counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> None:
        self.calls += 1


def _sqlite_with_versions(path: Path, *versions: str) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        connection.executemany("INSERT INTO alembic_version VALUES (?)", [(v,) for v in versions])
    connection.close()
    return f"sqlite+aiosqlite:///{path}"


@pytest.mark.parametrize("package", WITH_MIGRATIONS)
def test_each_declared_head_is_alembics_head(package: str) -> None:
    directory, declared = _migrations(package)
    config = Config()
    config.set_main_option("script_location", str(directory))
    assert ScriptDirectory.from_config(config).get_current_head() == declared


@pytest.mark.parametrize("package", WITH_MIGRATIONS)
async def test_a_database_alembic_migrated_is_read_at_head_and_not_upgraded_again(
    package: str, tmp_path: Path
) -> None:
    directory, head = _migrations(package)
    path = tmp_path / "service.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(directory))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
    upgrade = Upgrade()
    url = f"sqlite+aiosqlite:///{path}"
    assert await applied_revisions(url) == {head}
    assert await upgrade_if_behind(url, None, head, upgrade) is False
    assert upgrade.calls == 0


async def test_a_new_database_is_upgraded_and_the_check_does_not_create_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "new.db"
    upgrade = Upgrade()
    assert await upgrade_if_behind(f"sqlite+aiosqlite:///{path}", None, "0001", upgrade) is True
    assert upgrade.calls == 1
    assert not path.exists()


@pytest.mark.parametrize(
    ("versions", "behind"),
    [(("0001",), False), ((), True), (("0000",), True), (("0001", "0002a"), True)],
)
async def test_anything_but_exactly_the_head_is_behind(
    tmp_path: Path, versions: tuple[str, ...], behind: bool
) -> None:
    url = _sqlite_with_versions(tmp_path / "service.db", *versions)
    upgrade = Upgrade()
    assert await upgrade_if_behind(url, None, "0001", upgrade) is behind
    assert upgrade.calls == int(behind)


async def test_a_database_without_the_version_table_is_behind(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE something (id INTEGER)")
    connection.close()
    assert await applied_revisions(f"sqlite:///{path}") == frozenset()


async def test_relative_and_in_memory_sqlite_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _sqlite_with_versions(tmp_path / "here.db", "0001")
    assert await applied_revisions("sqlite+aiosqlite:///here.db") == {"0001"}
    assert await applied_revisions("sqlite+aiosqlite:///:memory:") == frozenset()


@pytest.mark.parametrize(
    ("url", "schema", "reason"),
    [
        ("mysql://localhost/shop", None, "use a postgresql:// or sqlite:// URL"),
        ("shop.db", None, "not a database URL"),
        ("postgresql://localhost/shop", 'x"; DROP TABLE orders; --', "schema"),
    ],
)
async def test_bad_input_is_a_clear_error(url: str, schema: str | None, reason: str) -> None:
    with pytest.raises(SchemaVersionError, match=reason):
        await applied_revisions(url, schema)


@pytest.mark.postgres
async def test_postgresql_schema_read_with_asyncpg() -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}_version"
    url = "postgresql+asyncpg://" + ADMIN_DSN.split("://", 1)[1]
    assert await applied_revisions(url, schema) == frozenset()  # no schema yet
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(f'CREATE SCHEMA "{schema}"')
        assert await applied_revisions(url, schema) == frozenset()  # no table yet
        await connection.execute(
            f'CREATE TABLE "{schema}".alembic_version (version_num VARCHAR(32) NOT NULL)'
        )
        await connection.execute(f"INSERT INTO \"{schema}\".alembic_version VALUES ('0001')")
        upgrade = Upgrade()
        assert await upgrade_if_behind(url, schema, "0001", upgrade) is False
        assert await upgrade_if_behind(url, schema, "0002", upgrade) is True
        assert upgrade.calls == 1
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await connection.close()
