"""A service's database brought to its newest schema at start, without keeping Alembic loaded.

Alembic and SQLAlchemy weigh ~24 MB in a service that would keep them for nothing after
its first second (``bench/import_cost.py``). So a service first reads the revision its
database is at (``schema_version``, raw drivers); only when that is not its head does a
migration run, and by default in a short-lived child process
(``python -m minishop.platform.migrations``) that exits when done. Settings
``migrations_in_process`` runs it in the service instead (tests building hundreds of shops
save the child's start that way).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from opentelemetry.instrumentation.utils import suppress_instrumentation

from minishop.platform.schema_version import upgrade_if_behind

MIGRATION_TIMEOUT_SECONDS = 120.0
URL_VARIABLE = "MINISHOP_MIGRATE_URL"
SCHEMA_VARIABLE = "MINISHOP_MIGRATE_SCHEMA"
DIRECTORY_VARIABLE = "MINISHOP_MIGRATE_DIRECTORY"


class MigrationFailed(RuntimeError):
    """The migration child failed: the message carries the end of what it printed."""


async def upgrade_database(
    url: str, schema: str | None, migrations_dir: Path, head: str, *, in_process: bool
) -> bool:
    """Migrate the database at ``url`` to ``head`` if it is behind; True when it ran."""

    async def here() -> None:
        from minishop.platform.migrations import upgrade_to_head

        with suppress_instrumentation():
            await upgrade_to_head(url, schema, migrations_dir)

    async def in_child() -> None:
        await _migrate_in_child(url, schema, migrations_dir)

    return await upgrade_if_behind(url, schema, head, here if in_process else in_child)


async def _migrate_in_child(url: str, schema: str | None, migrations_dir: Path) -> None:
    environment = {
        **os.environ,
        URL_VARIABLE: url,
        SCHEMA_VARIABLE: schema or "",
        DIRECTORY_VARIABLE: str(migrations_dir),
        "OTEL_SDK_DISABLED": "true",
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "minishop.platform.migrations",
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(child.communicate(), MIGRATION_TIMEOUT_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()
        raise MigrationFailed(
            f"the migration did not finish within {MIGRATION_TIMEOUT_SECONDS:.0f} s"
        ) from None
    if child.returncode != 0:
        tail = output.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise MigrationFailed(f"the migration exited with {child.returncode}: " + " | ".join(tail))
