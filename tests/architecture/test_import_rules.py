"""Every import rule can fail: a forbidden import, written into a copy of the package, is
rejected by the check that owns the rule, and the report names that rule and that import.

A rule that cannot fail protects nothing: the issue found 12 of 18 forbidden imports passing
``lint-imports``. Each case below writes one forbidden import into a scratch copy (then puts the
file back), runs the one check that owns the rule the way ``./dev lint`` runs it, and requires
both a failure and a report that points at the injected line under the expected rule, so a
failure for an unrelated reason does not count. The clean copy must pass, or every "rejected"
would mean nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from minishop.manifest import MANIFEST

PROJECT = Path(__file__).resolve().parents[2]
PACKAGE = PROJECT / "src" / "minishop"
BIN = Path(sys.executable).parent
LINT_IMPORTS = BIN / "lint-imports" if (BIN / "lint-imports").exists() else "lint-imports"

# The checks, by the rule names they report.
DOMAINS = "Domains import only the standard library and their own domain"
APPLICATION = "Application layers import only stdlib, own domain, money, OpenTelemetry API"
INDEPENDENT = "Services and the command line never import each other"
LAYERS = "Each service is layered: bootstrap > adapters > application > domain"
SETTINGS = "Settings import no adapter, application, bootstrap or command line"
SHARED = "Shared packages do not depend on services or the command line"
OBSERVABILITY = "Observability does not depend on the platform plumbing"
LEAVES = "Leaf modules (manifest, money) import only the standard library"
EXPORT_WORKER = "The span exporter process imports only the standard library"
IMPORTLIB = "Only the command line loads modules by name (importlib)"
LOADGEN = "Nothing imports the load generator, Locust or gevent"
ORM = "Only the migrations use SQLAlchemy and Alembic"
SDK_BAN = "TID251"  # ruff banned-api: opentelemetry.sdk outside minishop.observability

RUFF_RULES = {SDK_BAN}


@dataclass(frozen=True)
class Case:
    """One forbidden import: appended to ``module`` (a file under src/), caught by ``rule``."""

    id: str
    module: str
    code: str
    rule: str
    imported: str  # what the report must show the module importing

    @property
    def path(self) -> str:
        return "src/" + self.module.replace(".", "/") + ".py"


CASES = [
    # The eighteen of the issue.
    Case("domain-aiohttp", "minishop.orders.domain.model", "import aiohttp", DOMAINS, "aiohttp"),
    Case("domain-asyncpg", "minishop.payments.domain.model", "import asyncpg", DOMAINS, "asyncpg"),
    Case("domain-pydantic-settings", "minishop.users.domain.model", "from pydantic_settings import BaseSettings", DOMAINS, "pydantic_settings"),
    Case("domain-own-settings", "minishop.orders.domain.model", "from minishop.orders.settings import OrdersSettings", DOMAINS, "minishop.orders.settings"),
    Case("domain-cli", "minishop.products.domain.model", "from minishop.cli.output import fail", DOMAINS, "minishop.cli.output"),
    Case("application-sqlalchemy", "minishop.orders.application.services", "import sqlalchemy", APPLICATION, "sqlalchemy"),
    Case("application-httpx", "minishop.payments.application.services", "import httpx", APPLICATION, "httpx"),
    Case("application-fastapi", "minishop.users.application.services", "from fastapi import HTTPException", APPLICATION, "fastapi"),
    Case("adapter-otel-sdk", "minishop.orders.adapters.telemetry", "from opentelemetry.sdk.trace import TracerProvider", SDK_BAN, "opentelemetry.sdk"),
    Case("cli-service-bootstrap", "minishop.cli.app", "from minishop.orders.bootstrap import create_app", INDEPENDENT, "minishop.orders.bootstrap"),
    Case("settings-adapter", "minishop.orders.settings", "from minishop.orders.adapters import orm", SETTINGS, "minishop.orders.adapters.orm"),
    Case("service-importlib", "minishop.orders.adapters.clients", "import importlib", IMPORTLIB, "importlib"),
    Case("service-imports-service", "minishop.orders.adapters.clients", "from minishop.users.domain.model import User", INDEPENDENT, "minishop.users.domain.model"),
    Case("domain-fastapi", "minishop.gateway.domain.routing", "import fastapi", DOMAINS, "fastapi"),
    Case("domain-sqlalchemy", "minishop.products.domain.model", "import sqlalchemy", DOMAINS, "sqlalchemy"),
    Case("domain-otel-api", "minishop.payments.domain.model", "from opentelemetry import trace", DOMAINS, "opentelemetry"),
    Case("application-own-adapters", "minishop.orders.application.services", "from minishop.orders.adapters.repository import SqlOrderRepository", LAYERS, "minishop.orders.adapters.repository"),
    Case("platform-service", "minishop.platform.http", "from minishop.orders.domain.model import Order", SHARED, "minishop.orders.domain.model"),
    # Beyond them: the next library nobody listed, other arrows into and out of each layer.
    Case("domain-unlisted-library", "minishop.slack_receiver.domain.model", "import yaml", DOMAINS, "yaml"),
    Case("domain-lazy-import", "minishop.users.domain.model", "def _later() -> None:\n    import httpx", DOMAINS, "httpx"),
    Case("domain-other-domain", "minishop.gateway.domain.routing", "from minishop.users.domain.model import User", DOMAINS, "minishop.users.domain.model"),
    Case("domain-platform", "minishop.orders.domain.model", "from minishop.platform.http import MAX_PAGE_SIZE", DOMAINS, "minishop.platform.http"),
    Case("application-own-settings", "minishop.products.application.services", "from minishop.products.settings import ProductsSettings", APPLICATION, "minishop.products.settings"),
    Case("application-observability", "minishop.orders.application.services", "from minishop.observability import ServiceMetrics", APPLICATION, "minishop.observability"),
    Case("application-prometheus", "minishop.payments.application.services", "import prometheus_client", APPLICATION, "prometheus_client"),
    Case("application-otel-sdk", "minishop.products.application.services", "from opentelemetry.sdk.trace import TracerProvider", SDK_BAN, "opentelemetry.sdk"),
    Case("bootstrap-otel-sdk", "minishop.users.bootstrap", "from opentelemetry.sdk.trace.export import SpanExporter", SDK_BAN, "opentelemetry.sdk"),
    Case("platform-otel-sdk", "minishop.platform.service_app", "import opentelemetry.sdk.trace", SDK_BAN, "opentelemetry.sdk"),
    Case("bootstrap-importlib", "minishop.gateway.bootstrap", "from importlib import import_module", IMPORTLIB, "importlib"),
    Case("settings-application", "minishop.payments.settings", "from minishop.payments.application import services", SETTINGS, "minishop.payments.application.services"),
    Case("settings-cli", "minishop.users.settings", "from minishop.cli.output import fail", SETTINGS, "minishop.cli.output"),
    Case("adapter-cli", "minishop.payments.adapters.http_api", "import minishop.cli.tokens", INDEPENDENT, "minishop.cli.tokens"),
    Case("adapter-bootstrap", "minishop.orders.adapters.http_api", "from minishop.orders import bootstrap", LAYERS, "minishop.orders.bootstrap"),
    Case("observability-platform", "minishop.observability.metrics", "from minishop.platform import problems", OBSERVABILITY, "minishop.platform.problems"),
    Case("domain-manifest", "minishop.orders.domain.model", "from minishop.manifest import MANIFEST", DOMAINS, "minishop.manifest"),
    Case("application-manifest", "minishop.payments.application.services", "from minishop.manifest import MANIFEST", APPLICATION, "minishop.manifest"),
    Case("manifest-pydantic", "minishop.manifest", "import pydantic", LEAVES, "pydantic"),
    Case("manifest-platform", "minishop.manifest", "from minishop.platform.settings import ServiceSettings", LEAVES, "minishop.platform.settings"),
    Case("money-pydantic", "minishop.platform.money", "from pydantic import BaseModel", LEAVES, "pydantic"),
    Case("application-platform", "minishop.orders.application.services", "from minishop.platform.http import MAX_PAGE_SIZE", APPLICATION, "minishop.platform.http"),
    Case("worker-sdk", "minishop.export_worker.wire", "import opentelemetry.sdk.trace", EXPORT_WORKER, "opentelemetry"),
    Case("worker-observability", "minishop.export_worker.sender", "from minishop.observability import metrics", EXPORT_WORKER, "minishop.observability.metrics"),
    Case("manifest-importlib", "minishop.manifest", "import importlib", IMPORTLIB, "importlib"),
    # The load generator's process is apart: Locust and gevent patch the standard library.
    Case("cli-loadgen", "minishop.cli.app", "from minishop.loadgen.journeys import Catalog", LOADGEN, "minishop.loadgen.journeys"),
    Case("service-locust", "minishop.orders.adapters.clients", "import locust", LOADGEN, "locust"),
    Case("observability-gevent", "minishop.observability.metrics", "from gevent import monkey", LOADGEN, "gevent"),
    Case("repository-sqlalchemy", "minishop.users.adapters.repository", "from sqlalchemy import select", ORM, "sqlalchemy"),
    Case("platform-sqlalchemy", "minishop.platform.idempotency", "import sqlalchemy.ext.asyncio", ORM, "sqlalchemy"),
    Case("service-app-alembic", "minishop.platform.service_app", "from alembic import command", ORM, "alembic"),
]  # fmt: skip


@dataclass(frozen=True)
class Result:
    returncode: int
    output: str


class ScratchProject:
    """A copy of the package and the configuration the checks read, to break one rule at a time."""

    def __init__(self, root: Path) -> None:
        self.root = root
        shutil.copytree(
            PACKAGE, root / "src" / "minishop", ignore=shutil.ignore_patterns("__pycache__")
        )
        shutil.copy(PROJECT / "pyproject.toml", root)
        # The allow-list contract type, found as tests.architecture.contracts like in ./dev lint.
        (root / "tests" / "architecture").mkdir(parents=True)
        for name in (
            "tests/__init__.py",
            "tests/architecture/__init__.py",
            "tests/architecture/contracts.py",
        ):
            shutil.copy(PROJECT / name, root / name)
        self.env = {
            **os.environ,
            "PYTHONPATH": str(root / "src"),  # the copy, not the installed package
            "COLUMNS": "1000",  # one report line per rule, whatever the terminal
            "NO_COLOR": "1",
        }

    def run(self, *command: str | Path) -> Result:
        done = subprocess.run(
            [str(part) for part in command],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(done.returncode, done.stdout + done.stderr)

    def lint_imports(self) -> Result:
        # The cache is the copy's own: only the file a case changed is parsed again.
        return self.run(LINT_IMPORTS, "--cache-dir", self.root / ".import_linter_cache")

    def ruff(self, *paths: str) -> Result:
        return self.run(
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            *paths,
        )

    @contextmanager
    def inject(self, case: Case) -> Iterator[int]:
        """Append the case's code to its module; yield the line of its import; restore."""
        target = self.root / case.path
        original = target.read_text()
        assert original.endswith("\n"), case.path
        lines = case.code.splitlines()
        offset = max(i for i, line in enumerate(lines) if "import" in line)
        target.write_text(f"{original}\n{case.code}\n")
        try:
            yield original.count("\n") + 2 + offset
        finally:
            target.write_text(original)


def broken_rules(report: str) -> set[str]:
    return {
        match[1]
        for match in re.finditer(r"^(.+) BROKEN( \(\d+ ignored imports?\))?$", report, re.MULTILINE)
    }


def rule_section(report: str, rule: str) -> str:
    """The part of lint-imports' report under one broken contract's heading."""
    lines = report.splitlines()
    underlined = [i for i in range(len(lines) - 1) if lines[i] and set(lines[i + 1]) == {"-"}]
    headings = [i for i in underlined if lines[i] == rule]
    assert headings, f"no section for {rule!r} in:\n{report}"
    start = headings[0] + 2
    end = next((i for i in underlined if i > start), len(lines))
    return "\n".join(lines[start:end])


def contract_names() -> list[str]:
    with (PROJECT / "pyproject.toml").open("rb") as file:
        config = tomllib.load(file)
    return [contract["name"] for contract in config["tool"]["importlinter"]["contracts"]]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> ScratchProject:
    return ScratchProject(tmp_path_factory.mktemp("rules"))


def test_the_clean_copy_passes_every_check(scratch: ScratchProject) -> None:
    lint = scratch.lint_imports()
    assert lint.returncode == 0, lint.output
    assert f"Contracts: {len(contract_names())} kept, 0 broken." in lint.output, lint.output
    ruff = scratch.ruff("src")
    assert ruff.returncode == 0, ruff.output


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_forbidden_import_is_rejected_by_its_rule(scratch: ScratchProject, case: Case) -> None:
    with scratch.inject(case) as line:
        if case.rule in RUFF_RULES:
            result = scratch.ruff(case.path)
            report = result.output
            shown = rf"^{re.escape(case.path)}:{line}:\d+: {case.rule} `{re.escape(case.imported)}`"
        else:
            result = scratch.lint_imports()
            assert case.rule in broken_rules(result.output), result.output
            report = rule_section(result.output, case.rule)
            shown = (
                rf"{re.escape(case.module)} -> {re.escape(case.imported)} \((l\.\d+, )*l\.{line}\b"
            )
    assert result.returncode != 0, result.output
    assert re.search(shown, report, re.MULTILINE), result.output


def test_every_import_linter_contract_has_a_case_that_breaks_it() -> None:
    assert set(contract_names()) == {case.rule for case in CASES} - RUFF_RULES


def test_the_independence_contract_names_every_service() -> None:
    """The one hand-kept list: every service of the manifest (and every package with a
    composition root) is in it, beside the command line."""
    with (PROJECT / "pyproject.toml").open("rb") as file:
        contracts = tomllib.load(file)["tool"]["importlinter"]["contracts"]
    (independence,) = [contract for contract in contracts if contract["name"] == INDEPENDENT]
    listed = set(independence["modules"]) - {"minishop.cli"}
    assert listed == {entry.package for entry in MANIFEST}
    assert listed == {f"minishop.{path.parent.name}" for path in PACKAGE.glob("*/bootstrap.py")}
