from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresSchemas
from tests.support.shop import SERVICES_WITH_DATABASES, Shop, running_shop


@pytest.fixture
async def postgres() -> AsyncIterator[PostgresSchemas]:
    schemas = PostgresSchemas()
    try:
        yield schemas
    finally:
        await schemas.drop_all()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_settings(
    request: pytest.FixtureRequest, postgres: PostgresSchemas
) -> dict[str, dict[str, str]]:
    """Per-service database settings: SQLite files (the default), then the real PostgreSQL."""
    if request.param == "sqlite":
        return {}
    return {service: postgres.settings_for(service) for service in SERVICES_WITH_DATABASES}


@pytest.fixture
async def shop(tmp_path: Path, database_settings: dict[str, dict[str, str]]) -> AsyncIterator[Shop]:
    async with running_shop(tmp_path, database_settings, record_spans=True) as running:
        yield running


@pytest.fixture
async def sqlite_shop(tmp_path: Path) -> AsyncIterator[Shop]:
    async with running_shop(tmp_path, record_spans=True) as running:
        yield running
