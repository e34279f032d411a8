"""A service's migration runs in a child process, once, and a failing one says why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from minishop.platform.schema_upgrade import MigrationFailed, upgrade_database
from minishop.platform.schema_version import applied_revisions
from minishop.users.adapters.migrations import HEAD_REVISION

MIGRATIONS = Path(__file__).resolve().parents[2] / "src/minishop/users/adapters/migrations"


async def test_a_fresh_database_is_migrated_by_a_child_and_only_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"
    before = "alembic" in sys.modules
    ran = await upgrade_database(url, None, MIGRATIONS, HEAD_REVISION, in_process=False)
    assert ran
    assert await applied_revisions(url) == {HEAD_REVISION}
    assert ("alembic" in sys.modules) == before  # the child imported it, not this process
    again = await upgrade_database(url, None, MIGRATIONS, HEAD_REVISION, in_process=False)
    assert not again


async def test_a_failing_migration_child_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'users.db'}"
    with pytest.raises(MigrationFailed, match="exited with 1"):
        await upgrade_database(url, None, tmp_path / "no-such-folder", "0001", in_process=False)
    assert await applied_revisions(url) == frozenset()
