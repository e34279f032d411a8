"""The deployment files that cannot read the manifest, checked against it.

``docker-compose.yml``, ``deploy/prometheus/prometheus.yml``, ``deploy/postgres/init.sql``
and the Dockerfile each name the services again, in their own language. Rather than
generate them (they carry comments and hand-written parts a generator would flatten),
``minishop manifest --check`` compares each with the manifest and names every
difference as an edit to make: a service added to the manifest shows up here as the
lines it still needs in each file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from minishop.manifest import Manifest, ServiceEntry
from minishop.platform.settings import ADMIN_TOKEN_VARIABLE, INTERNAL_TOKEN_VARIABLE

COMPOSE_FILE = "docker-compose.yml"
PROMETHEUS_FILE = "deploy/prometheus/prometheus.yml"
DATABASES_FILE = "deploy/postgres/init.sql"
DOCKERFILE = "Dockerfile"
ALL_INTERFACES = "0.0.0.0"
_CREATE_DATABASE = re.compile(r"^\s*CREATE DATABASE\s+(\w+)\s*;", re.IGNORECASE | re.MULTILINE)
_EXPOSE = re.compile(r"^EXPOSE\s+(.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Difference:
    """One place where a file and the manifest disagree, said as the edit that fixes it."""

    file: str
    service: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.service}: {self.problem}"


def check_deploy_files(manifest: Manifest, root: Path) -> list[Difference]:
    """Every difference between ``manifest`` and the deployment files under ``root``."""
    return [
        *_compose(manifest, _yaml(root / COMPOSE_FILE)),
        *_prometheus(manifest, _yaml(root / PROMETHEUS_FILE)),
        *_databases(manifest, (root / DATABASES_FILE).read_text()),
        *_dockerfile(manifest, (root / DOCKERFILE).read_text()),
    ]


def _yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    return loaded if isinstance(loaded, dict) else {}


def _served(services: Mapping[str, Any]) -> dict[str, str]:
    """Compose service name → the MiniShop service it runs (``command: [serve, NAME]``)."""
    served = {}
    for name, service in services.items():
        command = service.get("command") if isinstance(service, dict) else None
        if isinstance(command, list) and len(command) == 2 and command[0] == "serve":
            served[name] = str(command[1])
    return served


def _compose(manifest: Manifest, compose: Mapping[str, Any]) -> Iterator[Difference]:
    services: Mapping[str, Any] = compose.get("services") or {}
    for name, runs in _served(services).items():
        if runs not in manifest:
            yield Difference(COMPOSE_FILE, name, f"runs `serve {runs}`, which the manifest lacks")
        elif runs != name:
            yield Difference(COMPOSE_FILE, name, f"runs `serve {runs}`: name it {runs}")
    for entry in manifest:
        service = services.get(entry.name)
        if not isinstance(service, dict):
            yield Difference(
                COMPOSE_FILE,
                entry.name,
                f"missing: add a service with command [serve, {entry.name}] on port {entry.port}",
            )
            continue
        yield from (
            Difference(COMPOSE_FILE, entry.name, problem)
            for problem in _compose_service(manifest, entry, service)
        )


def _compose_service(
    manifest: Manifest, entry: ServiceEntry, service: Mapping[str, Any]
) -> Iterator[str]:
    variables = service.get("environment") or {}
    environment = {str(key): str(value) for key, value in variables.items()}
    prefix = entry.env_prefix
    if service.get("command") != ["serve", entry.name]:
        yield f"command must be [serve, {entry.name}]"
    if environment.get(f"{prefix}HOST") != ALL_INTERFACES:
        yield f"set {prefix}HOST: {ALL_INTERFACES} (other containers must reach it)"
    port = str(entry.port)
    listening = [str(item) for item in (*service.get("expose", []), *service.get("ports", []))]
    if not any(item.rsplit(":", 1)[-1] == port for item in listening):
        yield f"expose (or publish) port {port}"
    if entry.public_api and not entry.entry_point and service.get("ports"):
        yield "publishes a port: a public API is reached through the gateway only (use expose)"
    health = " ".join(str(part) for part in (service.get("healthcheck") or {}).get("test", []))
    if f":{port}/health/ready" not in health:
        yield f"the healthcheck must ask :{port}/health/ready"
    for variable in (INTERNAL_TOKEN_VARIABLE, ADMIN_TOKEN_VARIABLE):
        given = environment.get(variable)
        if entry.holds_credentials and not (given or "").startswith(f"${{{variable}:-"):
            yield f"set {variable}: ${{{variable}:-...}} (the shop's shared credentials)"
        elif not entry.holds_credentials and given is not None:
            yield f"remove {variable}: it holds no credentials (see the manifest)"
    database_url = environment.get(f"{prefix}DATABASE_URL")
    if entry.owns_database and (
        database_url is None or not database_url.endswith(f"/{entry.database}")
    ):
        yield f"set {prefix}DATABASE_URL to the PostgreSQL database {entry.database}"
    if not entry.owns_database and database_url is not None:
        yield f"{prefix}DATABASE_URL is set, but the manifest gives it no database"
    depends = service.get("depends_on") or {}
    for downstream in manifest.downstream(entry):
        variable = entry.url_variable(downstream)
        wanted = f"http://{downstream.name}:{downstream.port}"
        if environment.get(variable) != wanted:
            yield f"set {variable}: {wanted}"
        if downstream.name not in depends:
            yield f"depends_on {downstream.name} (condition: service_healthy)"
    if entry.owns_database and "postgres" not in depends:
        yield "depends_on postgres (condition: service_healthy)"


def _prometheus(manifest: Manifest, config: Mapping[str, Any]) -> Iterator[Difference]:
    jobs: dict[str, list[str]] = {}
    for job in config.get("scrape_configs") or []:
        targets = [
            str(target)
            for static in job.get("static_configs") or []
            for target in static.get("targets") or []
        ]
        jobs[str(job.get("job_name"))] = targets
    for entry in manifest:
        wanted = f"{entry.name}:{entry.port}"
        if entry.name not in jobs:
            yield Difference(
                PROMETHEUS_FILE, entry.name, f"missing: add a scrape job {entry.name} → {wanted}"
            )
        elif jobs[entry.name] != [wanted]:
            found = ", ".join(jobs[entry.name])
            yield Difference(PROMETHEUS_FILE, entry.name, f"scrape {wanted}, not [{found}]")
    known_hosts = set(manifest.names)
    for job, targets in jobs.items():
        for target in targets:
            host = target.rsplit(":", 1)[0]
            if host == job and job not in known_hosts and _looks_like_a_service(job, config):
                yield Difference(PROMETHEUS_FILE, job, "scraped, but the manifest lacks it")


def _looks_like_a_service(job: str, config: Mapping[str, Any]) -> bool:
    """Jobs for the stack's own servers (Prometheus, Alertmanager) are not shop services."""
    alertmanagers = [
        str(target).rsplit(":", 1)[0]
        for manager in (config.get("alerting") or {}).get("alertmanagers") or []
        for static in manager.get("static_configs") or []
        for target in static.get("targets") or []
    ]
    return job not in {"prometheus", *alertmanagers}


def _databases(manifest: Manifest, sql: str) -> Iterator[Difference]:
    created = set(_CREATE_DATABASE.findall(sql))
    wanted = {entry.database: entry.name for entry in manifest.with_database}
    for database, name in wanted.items():
        if database not in created:
            yield Difference(DATABASES_FILE, name, f"add CREATE DATABASE {database};")
    for database in sorted(created - set(wanted)):
        yield Difference(DATABASES_FILE, database, "created, but no service owns it")


def _dockerfile(manifest: Manifest, dockerfile: str) -> Iterator[Difference]:
    exposed = {port for line in _EXPOSE.findall(dockerfile) for port in line.split()}
    for entry in manifest:
        if str(entry.port) not in exposed:
            yield Difference(DOCKERFILE, entry.name, f"add {entry.port} to EXPOSE")
    ports = {str(entry.port) for entry in manifest}
    for port in sorted(exposed - ports):
        yield Difference(DOCKERFILE, port, "exposed, but no service listens there")
