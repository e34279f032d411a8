"""Fixtures of the console's store and receiver tests."""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from minishop.console.adapters.sqlite_store import SqliteTelemetryStore
from minishop.console.domain.logql import LineFilter, LogQuery
from tests.support.helpers import wait_until


def _stand_in_log_sql() -> types.ModuleType:
    """Equality selectors on columns and ``|=`` only: enough for the store's own tests."""
    module = types.ModuleType("minishop.console.adapters.log_sql")

    def compile_log_query(query: LogQuery) -> tuple[str, list[object]]:
        parts, params = ["1"], []
        for matcher in query.selectors:
            parts.append(f"{matcher.name} = ?")
            params.append(matcher.value)
        for stage in query.pipeline:
            if isinstance(stage, LineFilter):
                parts.append("instr(message, ?) > 0")
                params.append(stage.value)
        return " AND ".join(parts), params

    def register_log_functions(connection: sqlite3.Connection) -> None:
        connection.create_function(
            "regexp",
            2,
            lambda pattern, text: re.search(pattern, text or "") is not None,
            deterministic=True,
        )

    module.compile_log_query = compile_log_query  # type: ignore[attr-defined]
    module.register_log_functions = register_log_functions  # type: ignore[attr-defined]
    return module


@pytest.fixture(autouse=True)
def log_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LogQL compiler, or a stand-in while it is not in this branch."""
    try:
        import minishop.console.adapters.log_sql  # noqa: F401
    except ImportError:
        monkeypatch.setitem(sys.modules, "minishop.console.adapters.log_sql", _stand_in_log_sql())


@pytest.fixture
def store(tmp_path: Path, log_sql: None) -> Iterator[SqliteTelemetryStore]:
    opened = SqliteTelemetryStore(
        tmp_path / "telemetry.db", max_spans=100_000, max_logs=100_000, max_age_seconds=86_400
    )
    try:
        yield opened
    finally:
        opened.close()


class ServerThread:
    """An ASGI app served by uvicorn on a free port, in a thread."""

    def __init__(self, app: object) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10, interval=0.02, message="uvicorn start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
