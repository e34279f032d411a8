"""Prometheus and Alertmanager beside the shop, configured from the repository's files.

``deploy/`` holds one configuration, written for the Compose stack (targets such as
``orders:8003``). Locally the same files are used with only what must differ
rewritten: scrape targets and ports, absolute paths, and, when asked for, shorter
intervals or a real Slack webhook. The rules and templates themselves are never copied,
so the local stack cannot drift from the Compose one.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import minishop
from minishop.cli.supervisor import ProcessSpec

PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian's name first
_DURATION = r"^[0-9]+(ms|s|m|h|d)$"


class StackSettings(BaseSettings):
    """Environment: ``MINISHOP_PROMETHEUS_PORT``, ``MINISHOP_SLACK_WEBHOOK_URL``, ..."""

    model_config = SettingsConfigDict(env_prefix="MINISHOP_", extra="ignore")

    host: str = "127.0.0.1"
    prometheus_port: int = Field(default=9090, ge=1, le=65535)
    alertmanager_port: int = Field(default=9093, ge=1, le=65535)
    deploy_dir: Path | None = Field(
        default=None, description="The repository's deploy/ folder (found next to the code)."
    )
    slack_webhook_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="Post alerts to this incoming webhook instead of the local receiver.",
    )
    scrape_interval: str | None = Field(default=None, pattern=_DURATION)
    evaluation_interval: str | None = Field(default=None, pattern=_DURATION)
    alert_group_wait: str | None = Field(default=None, pattern=_DURATION)
    alert_group_interval: str | None = Field(default=None, pattern=_DURATION)
    alert_repeat_interval: str | None = Field(default=None, pattern=_DURATION)


def find_deploy_dir(settings: StackSettings) -> Path | None:
    """The configuration files: set explicitly, or at the root of this source checkout."""
    if settings.deploy_dir is not None:
        return settings.deploy_dir.resolve()
    candidate = Path(minishop.__file__).resolve().parents[2] / "deploy"
    return candidate if (candidate / "prometheus" / "prometheus.yml").is_file() else None


def find_repository_root(settings: StackSettings) -> Path | None:
    """The source checkout the deployment files belong to (``deploy/``'s parent)."""
    deploy = find_deploy_dir(settings)
    return deploy.parent if deploy is not None else None


def find_binary(names: Sequence[str]) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def local_prometheus_config(
    template: Mapping[str, Any],
    *,
    targets: Mapping[str, str],
    alertmanager: str | None,
    rules_dir: Path,
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
) -> dict[str, Any]:
    """The Compose configuration pointed at local ports.

    Jobs without a target are dropped; a target without a job (a service just added to
    the manifest, not yet to ``prometheus.yml``) gets a job of its own name, so the local
    stack scrapes every process it runs.
    """
    config = dict(template)
    global_ = dict(config.get("global", {}))
    if scrape_interval:
        global_["scrape_interval"] = scrape_interval
        global_["scrape_timeout"] = scrape_interval  # may not exceed the interval
    if evaluation_interval:
        global_["evaluation_interval"] = evaluation_interval
    config["global"] = global_
    config["rule_files"] = [str(rules_dir / "*.yml")]
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    else:
        config.pop("alerting", None)
    jobs = [
        {**job, "static_configs": [{"targets": [targets[job["job_name"]]]}]}
        for job in config.get("scrape_configs", [])
        if job["job_name"] in targets
    ]
    named = {job["job_name"] for job in jobs}
    jobs += [
        {"job_name": name, "static_configs": [{"targets": [address]}]}
        for name, address in targets.items()
        if name not in named
    ]
    config["scrape_configs"] = jobs
    return config


def local_alertmanager_config(
    template: Mapping[str, Any],
    *,
    webhook_url: str,
    templates_dir: Path,
    group_wait: str | None = None,
    group_interval: str | None = None,
    repeat_interval: str | None = None,
) -> dict[str, Any]:
    """The Compose configuration with every Slack receiver posting to ``webhook_url``."""
    config = dict(template)
    route = dict(config["route"])
    for key, value in (
        ("group_wait", group_wait),
        ("group_interval", group_interval),
        ("repeat_interval", repeat_interval),
    ):
        if value:
            route[key] = value
    config["route"] = route
    config["templates"] = [str(templates_dir / "*.tmpl")]
    receivers = []
    for receiver in config.get("receivers", []):
        slack = [{**item, "api_url": webhook_url} for item in receiver.get("slack_configs", [])]
        receivers.append({**receiver, "slack_configs": slack} if slack else receiver)
    config["receivers"] = receivers
    return config


@dataclass(frozen=True)
class StackPlan:
    """What ``minishop up`` starts beside the shop, and what it could not.

    Planning writes nothing (``minishop status`` plans too); ``write_configs`` puts the
    generated configuration files in place just before the processes start.
    """

    specs: list[ProcessSpec]
    missing: list[str]  # one line per part left out, saying how to get it
    configs: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def write_configs(self) -> None:
        for path, content in self.configs.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "# Generated by `minishop up` from deploy/: edit those files, not this one.\n"
                + yaml.safe_dump(content, sort_keys=False)
            )


def _server(
    name: str,
    binary: str,
    host: str,
    port: int,
    config_file: Path,
    *flags: str,
    external_url: str | None = None,
) -> ProcessSpec:
    """Prometheus or Alertmanager: the flags they share (same flag names), then their own.

    ``external_url`` is where the links they put in alerts lead (Prometheus' ``generatorURL``,
    Alertmanager's ``ExternalURL`` in every Slack message): the console's pages when it runs,
    since Debian's Prometheus has only its classic UI and Debian's Alertmanager none. The
    routes stay at ``/`` whatever that URL's path.
    """
    address = f"{host}:{port}"
    return ProcessSpec(
        name,
        host,
        port,
        {},
        command=[
            binary,
            f"--config.file={config_file}",
            f"--web.listen-address={address}",
            f"--web.external-url={external_url or f'http://{address}/'}",
            "--web.route-prefix=/",
            "--log.level=warn",
            *flags,
        ],
        ready_path="/-/ready",
        port_variable=f"MINISHOP_{name.upper()}_PORT",
    )


def plan_stack(
    settings: StackSettings,
    data_dir: Path,
    service_targets: Mapping[str, str],
    slack_receiver_url: str,
    *,
    console_url: str | None = None,
) -> StackPlan:
    """Process specs for Prometheus and Alertmanager, with their configuration written out.

    ``service_targets`` maps each scrape job (the services and the Slack receiver) to
    the ``host:port`` it listens on locally.
    """
    deploy = find_deploy_dir(settings)
    if deploy is None:
        return StackPlan(
            [], ["Prometheus, Alertmanager: no deploy/ folder found (set MINISHOP_DEPLOY_DIR)"]
        )
    data_dir = data_dir.resolve()
    prometheus = find_binary(PROMETHEUS_BINARIES)
    alertmanager = find_binary(ALERTMANAGER_BINARIES)
    host = settings.host
    prometheus_address = f"{host}:{settings.prometheus_port}"
    alertmanager_address = f"{host}:{settings.alertmanager_port}"
    specs: list[ProcessSpec] = []
    missing: list[str] = []
    configs: dict[Path, dict[str, Any]] = {}

    if alertmanager:
        template = yaml.safe_load((deploy / "alertmanager" / "alertmanager.yml").read_text())
        config = local_alertmanager_config(
            template,
            webhook_url=settings.slack_webhook_url
            or f"{slack_receiver_url}/services/minishop/alerts",
            templates_dir=deploy / "alertmanager" / "templates",
            group_wait=settings.alert_group_wait,
            group_interval=settings.alert_group_interval,
            repeat_interval=settings.alert_repeat_interval,
        )
        config_file = data_dir / "alertmanager" / "alertmanager.yml"
        configs[config_file] = config
        specs.append(
            _server(
                "alertmanager",
                alertmanager,
                host,
                settings.alertmanager_port,
                config_file,
                f"--storage.path={data_dir / 'alertmanager' / 'store'}",
                "--cluster.listen-address=",  # one instance: no gossip port to collide
                external_url=f"{console_url}/alerts" if console_url else None,
            )
        )
    else:
        missing.append("Alertmanager: not installed (sudo apt-get install prometheus-alertmanager)")

    if prometheus:
        template = yaml.safe_load((deploy / "prometheus" / "prometheus.yml").read_text())
        targets = {**service_targets, "prometheus": prometheus_address}
        if alertmanager:
            targets["alertmanager"] = alertmanager_address
        config = local_prometheus_config(
            template,
            targets=targets,
            alertmanager=alertmanager_address if alertmanager else None,
            rules_dir=deploy / "prometheus" / "rules",
            scrape_interval=settings.scrape_interval,
            evaluation_interval=settings.evaluation_interval,
        )
        config_file = data_dir / "prometheus" / "prometheus.yml"
        configs[config_file] = config
        specs.append(
            _server(
                "prometheus",
                prometheus,
                host,
                settings.prometheus_port,
                config_file,
                f"--storage.tsdb.path={data_dir / 'prometheus' / 'tsdb'}",
                "--storage.tsdb.retention.time=7d",
                "--enable-feature=exemplar-storage",
                external_url=f"{console_url}/" if console_url else None,
            )
        )
    else:
        missing.append("Prometheus: not installed (sudo apt-get install prometheus)")
    return StackPlan(specs, missing, configs)


def prometheus_pages(url: str, timeout: float = 2.0) -> str:
    """Where a running Prometheus serves its pages (``/targets``, ``/alerts``, ``/rules``).

    Prometheus' new UI serves them at the root; Debian's package (2.42) ships only the
    classic UI, under ``/classic``, and answers 404 at the root. The banner must print
    links that answer, so ask the server which one it is.
    """
    try:
        with httpx.Client(timeout=timeout) as client:
            if client.get(f"{url}/targets").status_code == 200:
                return url
            if client.get(f"{url}/classic/targets").status_code == 200:
                return f"{url}/classic"
    except httpx.HTTPError:
        pass
    return url
