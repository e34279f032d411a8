"""The store and receiver tests use the real SQLite store and a real uvicorn server (the page
and API tests use the fake store of ``fakes``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from minishop.console.adapters.sqlite_store import SqliteTelemetryStore
from tests.support.helpers import wait_until


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteTelemetryStore]:
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
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
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
