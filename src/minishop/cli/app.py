"""``minishop``: ``up`` starts the shop, ``status`` checks it, ``serve`` runs one service."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import typer
from pydantic import ValidationError

from minishop.cli.chaos import chaos
from minishop.cli.console_wiring import (
    CONSOLE,
    ENDPOINT_VARIABLES,
    NO_EXPORT,
    OTLP_PORT_VARIABLE,
    PAYMENT_FAILED_QUERY,
    console_endpoint,
    export_to_console,
)
from minishop.cli.deploy_files import check_deploy_files
from minishop.cli.load import load, load_processes
from minishop.cli.output import fail
from minishop.cli.profile import profile
from minishop.cli.serving import ServeError, describe_bad_setting, read_settings
from minishop.cli.serving import run as run_service
from minishop.cli.stack import (
    StackPlan,
    StackSettings,
    find_repository_root,
    plan_stack,
    prometheus_pages,
)
from minishop.cli.supervisor import (
    ProcessSpec,
    StartupError,
    Supervisor,
)
from minishop.cli.supervisor_state import read_state, state_file
from minishop.cli.tokens import TOKEN_VARIABLES, ShopTokens, shop_tokens
from minishop.cli.zero_code import AgentMissing, agent_env, agent_path
from minishop.flags.document import default_document, write_document
from minishop.manifest import MANIFEST, Manifest, ServiceEntry
from minishop.observability.mode import TELEMETRY_VARIABLE, TelemetryMode, telemetry_mode
from minishop.platform.settings import FLAGS_FILE_VARIABLE, ServiceSettings

SUPERVISE_INTERVAL_SECONDS = 0.1  # how soon a crash is noticed and its restart begins
DRAIN_MARGIN_SECONDS = 0.25  # the gateway's graceful window ends; its cut requests unwind
ALERT_RECEIVER = "slack-receiver"  # where the local Alertmanager sends notifications

cli = typer.Typer(
    help="MiniShop: a small shop built to be observed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

cli.add_typer(chaos, name="chaos")  # fault flags (cli/chaos.py)
cli.command()(load)  # simulated shoppers, Locust in a child process (cli/load.py)
cli.command()(profile)  # CPU profiles through each service's /debug route (cli/profile.py)


def load_settings(entry: ServiceEntry, env: Mapping[str, str] | None = None) -> ServiceSettings:
    """The service's settings as its process will see them, with ``env`` added to ours."""
    try:
        return read_settings(entry, env)
    except ServeError as exc:
        raise fail(str(exc)) from None


@cli.command()
def serve(
    service: Annotated[
        str,
        typer.Argument(help=f"One of: {', '.join(MANIFEST.names)}."),
    ],
) -> None:
    """Run one service in this process (``up`` runs each as ``python -m minishop serve``,
    which skips the command line's libraries: see ``minishop.serve``)."""
    try:
        code = run_service(service)
    except ServeError as exc:
        raise fail(str(exc)) from None
    if code:
        sys.exit(code)


def _telemetry_mode() -> TelemetryMode:
    try:
        return telemetry_mode()
    except ValueError as exc:
        raise fail(f"bad setting {exc}") from None


def _zero_code(
    manifest: Manifest, entries: Sequence[ServiceEntry], envs: dict[str, dict[str, str]]
) -> str | None:
    """In zero-code mode: the agent to start the shop's services under, with its settings
    added to their environments; None in MiniShop's own mode.

    Only the shop is instrumented that way: the lab's tools (console, Slack receiver) keep
    MiniShop's own telemetry, so the console still exports nothing to itself.
    """
    if _telemetry_mode() is not TelemetryMode.ZERO_CODE:
        return None
    try:
        agent = agent_path()
    except AgentMissing as exc:
        raise fail(str(exc)) from None
    shop = {entry.name for entry in manifest.shop}
    for entry in entries:
        if entry.name in shop:
            envs[entry.name].update(agent_env(entry.name, {**os.environ, **envs[entry.name]}))
        else:
            envs[entry.name][TELEMETRY_VARIABLE] = TelemetryMode.MINISHOP.value
    return agent


@dataclass(frozen=True)
class Plan:
    shop: list[ProcessSpec]
    stack: list[ProcessSpec]  # Slack receiver, Alertmanager, Prometheus: what could start
    missing: list[str]
    backends: StackPlan | None = None
    tokens: ShopTokens | None = None
    flags_path: Path | None = None  # the fault flag file every process watches

    @property
    def all(self) -> list[ProcessSpec]:
        """Start order; the supervisor stops in reverse (gateway first)."""
        return [*self.stack, *self.shop]


def _load_stack_settings() -> StackSettings:
    try:
        return StackSettings()
    except ValidationError as exc:
        raise fail(f"bad setting {describe_bad_setting('MINISHOP_', exc)}") from None


def _plan(
    data_dir: Path | None,
    log_level: str | None,
    *,
    stack: bool = True,
    tokens: ShopTokens | None = None,
    manifest: Manifest = MANIFEST,
) -> Plan:
    """The environment each process of ``manifest`` gets, validated before anything starts.

    Command-line flags apply to every service; each service is pointed at the
    ports its downstream services will really listen on. ``tokens`` go to every
    service that holds credentials, alike; every other process (the gateway, the lab's
    tools, Prometheus, Alertmanager) is kept from inheriting them.
    """
    entries = manifest.entries if stack else manifest.shop
    flags = {"DATA_DIR": str(data_dir) if data_dir else None, "LOG_LEVEL": log_level}
    envs = {
        entry.name: {
            f"{entry.env_prefix}{key}": value for key, value in flags.items() if value is not None
        }
        for entry in entries
    }
    if tokens is not None:
        for entry in entries:
            if entry.holds_credentials:
                envs[entry.name].update(tokens.env())
    resolved = {entry.name: load_settings(entry, envs[entry.name]) for entry in entries}
    flags_path = _flags_path(resolved[manifest.shop[0].name])
    for entry in entries:  # one file for the whole lab, wherever each process runs from
        envs[entry.name][FLAGS_FILE_VARIABLE] = str(flags_path)
    for entry in entries:
        for downstream in manifest.downstream(entry):
            variable = entry.url_variable(downstream)
            if variable not in os.environ and downstream.name in resolved:
                target = resolved[downstream.name]
                envs[entry.name][variable] = downstream.local_url(target.host, target.port)
    stack_settings = _load_stack_settings() if stack else None
    console = resolved.get(CONSOLE)
    console_url = None
    if console is not None and stack_settings is not None:
        console_url = f"http://{console.host}:{console.port}"
        _wire_console(manifest, envs, resolved, stack_settings)
    agent = _zero_code(manifest, entries, envs)
    shop_names = {entry.name for entry in manifest.shop}
    specs = {
        entry.name: ProcessSpec(
            entry.name,
            resolved[entry.name].host,
            resolved[entry.name].port,
            envs[entry.name],
            port_variable=entry.port_variable,
            withheld=frozenset() if entry.holds_credentials else TOKEN_VARIABLES,
            drain_seconds=_drain_seconds(entry, resolved[entry.name]),
            extra_ports=_extra_ports(resolved[entry.name]),
            agent=agent if entry.name in shop_names else None,
        )
        for entry in entries
    }
    shop = [specs[entry.name] for entry in manifest.shop]
    if not stack:
        return Plan(shop, [], [], tokens=tokens, flags_path=flags_path)
    tools = [specs[entry.name] for entry in manifest.tools]
    assert stack_settings is not None
    backends = plan_stack(
        stack_settings,
        data_dir or resolved[manifest.shop[0].name].data_dir,
        {name: f"{spec.host}:{spec.port}" for name, spec in specs.items()},
        specs[ALERT_RECEIVER].url,
        console_url=console_url,
    )
    servers = [replace(spec, withheld=TOKEN_VARIABLES) for spec in backends.specs]
    return Plan(shop, [*tools, *servers], backends.missing, backends, tokens, flags_path)


def _flags_path(settings: ServiceSettings) -> Path:
    """The lab's flag file, absolute: ``MINISHOP_FLAGS_FILE``, else flags.json in the data dir."""
    return settings.flags_path().resolve()


def _wire_console(
    manifest: Manifest,
    envs: dict[str, dict[str, str]],
    resolved: Mapping[str, ServiceSettings],
    stack_settings: StackSettings,
) -> None:
    """Point every process's telemetry at the console, and the console at every process."""
    console_entry = manifest.service(CONSOLE)
    console = resolved[CONSOLE]
    otlp_url = f"http://{console.host}:{_otlp_port(console)}"
    for name, env in envs.items():
        if name == CONSOLE:
            env.update(NO_EXPORT)
        else:
            env.update(export_to_console(otlp_url, os.environ))
    where = {
        manifest.service(name): settings for name, settings in resolved.items() if name != CONSOLE
    }
    for entry, settings in where.items():
        variable = console_entry.url_variable(entry)
        if variable not in os.environ:
            envs[CONSOLE][variable] = entry.local_url(settings.host, settings.port)
    host = stack_settings.host
    for tool, port in (
        ("prometheus", stack_settings.prometheus_port),
        ("alertmanager", stack_settings.alertmanager_port),
    ):
        variable = f"{console_entry.env_prefix}{tool.upper()}_URL"
        if variable not in os.environ:
            envs[CONSOLE][variable] = f"http://{host}:{port}"


def _otlp_port(settings: ServiceSettings) -> int:
    return int(getattr(settings, "otlp_port"))  # noqa: B009 - the console's own setting


def _extra_ports(settings: ServiceSettings) -> tuple[tuple[int, str], ...]:
    """The console's OTLP receiver listens beside its web UI."""
    if not hasattr(settings, "otlp_port"):
        return ()
    return ((_otlp_port(settings), OTLP_PORT_VARIABLE),)


def _drain_seconds(entry: ServiceEntry, settings: ServiceSettings) -> float:
    """The gateway, the shop's entry point, stops first and alone: once its graceful window
    is over it sends nothing downstream, so the services behind it may stop too."""
    if not entry.entry_point:
        return 0.0
    return settings.graceful_shutdown_seconds + DRAIN_MARGIN_SECONDS


def _self_command() -> str:
    """How to call this command again from another terminal (the venv is not always on PATH)."""
    if shutil.which("minishop"):
        return "minishop"
    launcher = Path(sys.argv[0]).resolve()
    if launcher.name != "minishop":
        return f"{sys.executable} -m minishop"
    try:
        return str(launcher.relative_to(Path.cwd()))
    except ValueError:
        return str(launcher)


def _banner(plan: Plan, seconds: float, load: Sequence[ProcessSpec] = ()) -> str:
    by_name = {spec.name: spec for spec in plan.all}
    entry_point = MANIFEST.entry_point
    gateway = by_name[entry_point.name if entry_point is not None else plan.shop[-1].name]
    lines = ["", f"MiniShop is up ({seconds:.1f} s). Where to look:"]
    lines += _console_lines(by_name.get(CONSOLE))
    lines.append(f"  shop (gateway)  {gateway.url}")
    for spec in plan.shop:
        lines.append(f"  {spec.name:<9} docs {spec.url}/docs   metrics {spec.url}/metrics")
    if "prometheus" in by_name:
        url = prometheus_pages(by_name["prometheus"].url)
        lines.append(f"  prometheus      {url}/targets  alerts {url}/alerts  rules {url}/rules")
    if "alertmanager" in by_name:
        lines.append(f"  alertmanager    {by_name['alertmanager'].url}/api/v2/alerts (API only)")
    if ALERT_RECEIVER in by_name:
        url = by_name[ALERT_RECEIVER].url
        lines.append(f"  alerts (Slack)  {url}/   as JSON {url}/messages")
    for spec in load:
        lines.append(f"  load (Locust)   {spec.url}/   simulated shoppers: charts, stop, restart")
    lines += [f"  not started     {reason}" for reason in plan.missing]
    lines += [
        "  logs            below too, one JSON line per event, prefixed by service",
        "  grafana, jaeger, loki: in the Compose stack (docker compose up -d)",
        "",
        "Place an order:",
        f"  curl -s -X POST {gateway.url}/order -H 'content-type: application/json' "
        '-d \'{"user_id": 1, "items": [{"product_id": 1, "quantity": 2}]}\'',
        *_fault_lines(plan.tokens, plan.flags_path),
        f"Health of every service: {_self_command()} status. Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _console_lines(console: ProcessSpec | None) -> list[str]:
    """The console first: the one place to open. Without it, where the traces go instead."""
    if console is None:
        endpoint = next(
            (os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None
        )
        where = f"exported over OTLP to {endpoint}" if endpoint else "not exported (no console)"
        return [f"  traces          {where}"]
    url = console.url
    otlp_port = next(port for port, _variable in console.extra_ports)
    otlp_url = f"http://{console.host}:{otlp_port}"
    endpoint = console_endpoint(os.environ, otlp_url)
    lines = [
        f"  console         {url}/   traces, logs, dashboards, alerts, service map",
        f"    traces        {url}/traces",
        f"    logs          {url}/logs?query={quote(PAYMENT_FAILED_QUERY, safe='')}",
        f"    dashboards    {url}/dashboards/minishop-overview",
        f"    alerts        {url}/alerts",
        f"    service map   {url}/map",
    ]
    if endpoint is None:
        lines.append(
            f"    OTLP receiver {otlp_url}  (every service exports its traces and logs here)"
        )
    else:
        lines.append(f"    OTLP receiver {otlp_url}  (idle: traces go to {endpoint}, as you set)")
    return lines


def _fault_lines(tokens: ShopTokens | None, flags_path: Path | None) -> list[str]:
    """The admin token and ready-to-paste fault injection (never the internal token)."""
    admin = tokens.admin if tokens is not None else "$MINISHOP_ADMIN_TOKEN"
    origin = (
        "generated for this run; set MINISHOP_ADMIN_TOKEN to choose it"
        if tokens is None or tokens.admin_generated
        else "from MINISHOP_ADMIN_TOKEN"
    )
    chaos = f"{_self_command()} chaos"
    if flags_path is not None and flags_path != (Path.cwd() / "data" / "flags.json").resolve():
        chaos = f"{FLAGS_FILE_VARIABLE}={flags_path} {chaos}"
    return [
        f"Admin token (/admin and /debug routes, Authorization: Bearer; {origin}):",
        f"  {admin}",
        "Simulated shoppers (Locust; or start the lab with --load 5):",
        f"  {_self_command()} load --users 10 --duration 2m",
        "Inject a fault (all off at start; HighErrorRate reaches the Slack receiver in ~2 min):",
        f"  {chaos} set payment_failure 30",
        f"  {chaos} list     (the eight faults; clear: all off; schedule: a game day)",
        "A CPU profile of a service, opened in the console's speedscope viewer:",
        f"  MINISHOP_ADMIN_TOKEN={admin} {_self_command()} profile orders --seconds 10",
    ]


@cli.command()
def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="Where the SQLite files live (default: ./data).")
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="debug, info, warning or error.")] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness.")] = 60.0,
    stack: Annotated[
        bool,
        typer.Option(
            help="Also start Prometheus and Alertmanager (when installed) and the Slack receiver."
        ),
    ] = True,
    load_users: Annotated[
        int,
        typer.Option("--load", min=0, help="Also run N simulated shoppers (Locust's UI on :8089)."),
    ] = 0,
) -> None:
    """Start the five services and their telemetry stack, wait until ready, show the logs.

    A service that crashes once the shop is up is restarted (with backoff) while the
    others keep serving; one that keeps crashing is left down with a message.
    """
    plan = _plan(data_dir, log_level, stack=stack, tokens=shop_tokens())
    load = load_processes(load_users, plan.shop, data_dir)
    processes = [*plan.all, *load]  # load: last, so it stops first
    supervisor = Supervisor(
        processes, colour=sys.stdout.isatty(), state_path=state_file(_data_dir(data_dir))
    )
    try:
        supervisor.check_ports()
    except StartupError as exc:
        raise fail(str(exc)) from None
    if plan.backends is not None:
        plan.backends.write_configs()
    if plan.flags_path is not None:  # every lab starts healthy: faults are switched on by hand
        write_document(plan.flags_path, default_document())

    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    started = time.monotonic()
    supervisor.start()
    try:
        supervisor.wait_ready(ready_timeout)
    except StartupError as exc:  # a child that cannot start is a setup problem: stop
        supervisor.stop()
        raise fail(str(exc)) from None
    typer.echo(_banner(plan, time.monotonic() - started, load))
    while not stopping:
        supervisor.supervise()
        time.sleep(SUPERVISE_INTERVAL_SECONDS)
    typer.echo("Stopping MiniShop: letting requests finish and flushing telemetry...")
    supervisor.stop()
    typer.echo("MiniShop stopped.")


def _data_dir(data_dir: Path | None) -> Path:
    """Where ``up`` keeps its files: ``--data-dir``, else the services' own default."""
    return data_dir if data_dir is not None else data_dir_default()


def data_dir_default() -> Path:
    """The services' own default data folder (``DATA_DIR`` settings, else ``data``)."""
    return load_settings(MANIFEST.shop[0]).data_dir


def _liveness(client: httpx.Client, spec: ProcessSpec) -> str:
    """``restarts N  up 12 s`` from a service's ``/health/live``; empty if it does not say."""
    try:
        live = client.get(f"{spec.url}/health/live").json()
        restarts, uptime = int(live["restarts"]), float(live["uptime_seconds"])
    except (httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError):
        return ""
    return f"restarts {restarts:<3} up {_duration(uptime)}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@cli.command()
def status(
    data_dir: Annotated[
        Path | None, typer.Option(help="The data folder `minishop up` was given, if any.")
    ] = None,
) -> None:
    """Show each service's readiness, restarts and uptime (and the telemetry stack's)."""
    plan = _plan(None, None)
    supervised = read_state(state_file(_data_dir(data_dir)))
    healthy = True
    with httpx.Client(timeout=3.0) as client:
        for spec in [*plan.shop, *plan.stack]:
            essential = spec in plan.shop  # the stack is optional (`up --no-stack`)
            liveness = ""
            try:
                response = client.get(f"{spec.url}{spec.ready_path}")
                is_json = response.headers.get("content-type", "").startswith("application/")
                checks = response.json().get("checks", {}) if is_json else {}
                failing = [
                    f"{name}: {check.get('error', 'fail')}"
                    for name, check in checks.items()
                    if check.get("status") != "pass"
                ]
                state = "ready" if response.status_code == 200 else "NOT READY"
                detail = "; ".join(failing)
                if is_json:
                    liveness = _liveness(client, spec)
            except httpx.HTTPError as exc:
                state = "DOWN" if essential else "not running"
                detail = type(exc).__name__ if essential else ""
            child = supervised.get(spec.name)
            if child is not None and child.state == "gave up":
                state, detail = "GAVE UP", f"not restarted: {child.detail}"
            elif child is not None and child.state == "restarting" and state != "ready":
                state, detail = "RESTARTING", child.detail
            healthy &= state == "ready" or (not essential and state != "GAVE UP")
            line = f"{spec.name:<14} {spec.url:<24} {state:<11} {liveness:<22} {detail}"
            typer.echo(line.rstrip())
    raise typer.Exit(code=0 if healthy else 1)


@cli.command()
def manifest(
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also compare docker-compose.yml, prometheus.yml, init.sql and the Dockerfile "
            "with it; exit 1 naming each difference.",
        ),
    ] = False,
) -> None:
    """Show the services the shop runs (src/minishop/manifest.py), in start order."""
    typer.echo(f"{'service':<15} {'port':<6} {'package':<24} {'database':<9} {'public':<7} calls")
    for entry in MANIFEST:
        calls = ", ".join(service.name for service in MANIFEST.downstream(entry)) or "-"
        typer.echo(
            f"{entry.name:<15} {entry.port:<6} {entry.package:<24} "
            f"{'yes' if entry.owns_database else '-':<9} "
            f"{'yes' if entry.public_api else '-':<7} {calls}"
        )
    if not check:
        return
    root = find_repository_root(_load_stack_settings())
    if root is None:
        raise fail("no deployment files to check: run from a source checkout")
    differences = check_deploy_files(MANIFEST, root)
    if differences:
        typer.echo(f"\n{len(differences)} difference(s) from the manifest:", err=True)
        for difference in differences:
            typer.echo(f"  {difference}", err=True)
        raise typer.Exit(code=1)
    typer.echo("\nThe deployment files agree with the manifest.")


def main() -> None:
    cli()
