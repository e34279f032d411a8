"""The console's page and API tests run against the fake store, with the LogQL parser the
domain provides, or the stand-in of ``fakes`` while it is not there."""

from __future__ import annotations

import pytest

from minishop.console.domain import logql
from tests.console import fakes


@pytest.fixture(autouse=True)
def logql_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(logql, "parse_logql"):
        monkeypatch.setattr(logql, "parse_logql", fakes.parse_logql_stand_in, raising=False)
