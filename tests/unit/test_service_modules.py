"""A started service holds no library it never uses (each costs every process its RSS).

Each process is started the way ``python -m minishop serve NAME`` starts it (the terminal
libraries kept out, the app built, uvicorn's configuration loaded, the app's start-up and
shut-down run) in a subprocess, which prints its ``sys.modules``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minishop.manifest import MANIFEST

ROOT = Path(__file__).resolve().parents[2]

NEVER = {
    "typer": "the command line's; `python -m minishop serve` skips it",
    "rich": "structlog's and httpx's pretty printing: kept out by minishop.serve",
    "pygments": "rich's and httpx's syntax highlighting: kept out by minishop.serve",
    "yaml": "the local Prometheus and Alertmanager configuration, read by the command line",
    "jinja2": "the console's pages only",
    "markdown_it": "the console's runbooks only",
    "websockets": "no route speaks WebSocket: uvicorn runs with ws='none'",
    "locust": "the load generator's own process",
    "sqlalchemy": "the migrations', run by a child process: repositories use platform.sql",
    "alembic": "the migrations' child process only (platform.schema_upgrade)",
    "mako": "Alembic's templates",
    "aiosqlite": "SQLite is called through sqlite3 on the event loop",
}
"""Never in a started service (but where a service named here is the exception)."""
EXCEPT = {"jinja2": {"console"}, "markdown_it": {"console"}}

PROBE = """
import asyncio, json, sys
from minishop.serve import keep_out_terminal_libraries

keep_out_terminal_libraries()
from minishop.cli.serving import build
from minishop.platform.server import build_config

app, settings = build(sys.argv[1])
build_config(app, settings).load()


async def start_and_stop():
    async with app.router.lifespan_context(app):
        pass


asyncio.run(start_and_stop())
loaded = sorted({name.split(".")[0] for name, module in sys.modules.items() if module})
print("MODULES " + json.dumps(loaded))
"""


def _started_modules(service: str, tmp_path: Path) -> set[str]:
    entry = MANIFEST.service(service)
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
        f"{entry.env_prefix}DATA_DIR": str(tmp_path),
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    run = subprocess.run(
        [sys.executable, "-c", PROBE, service],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("MODULES ")), None)
    assert run.returncode == 0 and line is not None, run.stderr[-3000:]
    return set(json.loads(line.removeprefix("MODULES ")))


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Each service's modules, probed once for the tests of this file."""
    return {}


def _modules(
    service: str, started: dict[str, set[str]], factory: pytest.TempPathFactory
) -> set[str]:
    if service not in started:
        started[service] = _started_modules(service, factory.mktemp(service))
    return started[service]


@pytest.mark.parametrize("service", MANIFEST.names)
def test_a_started_service_holds_no_library_it_never_uses(
    service: str, started: dict[str, set[str]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    loaded = _modules(service, started, tmp_path_factory)
    unexpected = {
        name: why
        for name, why in NEVER.items()
        if name in loaded and service not in EXCEPT.get(name, set())
    }
    assert not unexpected, f"{service} loaded {unexpected}"
