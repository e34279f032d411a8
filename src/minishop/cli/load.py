"""``minishop load``: simulated shoppers against the gateway, and ``up --load N``'s process.

The generator runs as a child process (``python -m minishop.loadgen``), never in this
one: Locust patches the standard library with gevent when it is imported. This module only
checks the options, builds that command line, and relays Ctrl-C to it: the first stops
the users and prints the summary, a second one kills it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from minishop.cli.output import fail
from minishop.cli.supervisor import SUPERVISOR_PID_VARIABLE, ProcessSpec
from minishop.cli.tokens import TOKEN_VARIABLES
from minishop.manifest import LOCAL_HOST, MANIFEST

LOADGEN_MODULE = "minishop.loadgen"
LOADGEN = "loadgen"  # its name among the processes of `minishop up`
API_KEY_VARIABLE = "MINISHOP_LOAD_API_KEY"  # read by the generator (loadgen/options.py)
GATEWAY_KEYS_VARIABLE = "GATEWAY_API_KEYS"
WEB_PORT_VARIABLE = "MINISHOP_LOADGEN_PORT"
DEFAULT_WEB_PORT = 8089  # Locust's own
UP_THINK_SECONDS = (1.0, 3.0)  # `up --load`: a gentle background, dashboards fill at once
UP_PROGRESS_SECONDS = 60.0  # a line a minute among the services' logs
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``2m``, ``1h``, ``1m30s``; 0 means until stopped."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(f"a duration such as 30s, 2m, 1h or 1m30s, not {text!r}")
    hours, minutes, seconds = (float(group) if group else 0.0 for group in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def gateway_url(environ: dict[str, str] | None = None) -> str:
    """The local gateway, on the port ``GATEWAY_PORT`` gives it (as ``minishop up`` does)."""
    env = os.environ if environ is None else environ
    gateway = MANIFEST.entry_point
    assert gateway is not None, "the manifest names the shop's entry point"
    raw = env.get(gateway.port_variable, "").strip()
    if not raw:
        return gateway.local_url()
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ValueError(f"{gateway.port_variable} must be a port number, not {raw!r}")
    return gateway.local_url(port=int(raw))


def _api_key_env(environ: dict[str, str]) -> dict[str, str]:
    """The key the generator sends when the gateway requires one: MINISHOP_LOAD_API_KEY,
    else the first of GATEWAY_API_KEYS (passed in the environment, never on the command line)."""
    if environ.get(API_KEY_VARIABLE):
        return {}
    keys = [key.strip() for key in environ.get(GATEWAY_KEYS_VARIABLE, "").split(",")]
    first = next((key for key in keys if key), None)
    return {API_KEY_VARIABLE: first} if first else {}


def loadgen_command(
    host: str,
    users: int,
    spawn_rate: float,
    think: tuple[float, float],
    flags_file: Path | None,
    progress_interval: float,
    *,
    duration: float = 0.0,
    web_port: int | None = None,
    autostart: bool = False,
    wait_ready: float = 0.0,
) -> list[str]:
    """``python -m minishop.loadgen ...`` with these settings (loadgen/options.py reads it)."""
    command = [
        sys.executable, "-m", LOADGEN_MODULE,
        "--host", host,
        "--users", str(users),
        "--spawn-rate", f"{spawn_rate:g}",
        "--duration", f"{duration:g}",
        "--think-min", f"{think[0]:g}",
        "--think-max", f"{think[1]:g}",
        "--progress-interval", f"{progress_interval:g}",
        "--wait-ready", f"{wait_ready:g}",
    ]  # fmt: skip
    if flags_file is not None:
        command += ["--flags-file", str(flags_file)]
    if web_port is not None:
        command += ["--web", "--web-port", str(web_port)]
    if autostart:
        command.append("--autostart")
    return command


def _web_port(environ: dict[str, str]) -> int:
    raw = environ.get(WEB_PORT_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_WEB_PORT
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise fail(f"{WEB_PORT_VARIABLE} must be a port number, not {raw!r}")
    return int(raw)


def load_processes(
    users: int, shop: Sequence[ProcessSpec], data_dir: Path | None
) -> list[ProcessSpec]:
    """``minishop up --load N``: the generator as one more supervised process, or nothing.

    It runs Locust's web UI (``MINISHOP_LOADGEN_PORT``, 8089) with N users started at
    once, a person's think time, and a progress line a minute. It is started last, so it
    is stopped first, before the gateway; it gets neither token.
    """
    if users <= 0:
        return []
    gateway = MANIFEST.entry_point
    assert gateway is not None, "the manifest names the shop's entry point"
    (entry,) = [spec for spec in shop if spec.name == gateway.name]
    port = _web_port(dict(os.environ))
    command = loadgen_command(
        entry.url,
        users,
        spawn_rate=max(1.0, users / 10),
        think=UP_THINK_SECONDS,
        flags_file=_flags_file(None, data_dir),
        progress_interval=UP_PROGRESS_SECONDS,
        web_port=port,
        autostart=True,
        wait_ready=60.0,
    )
    return [
        ProcessSpec(
            LOADGEN,
            LOCAL_HOST,
            port,
            _api_key_env(dict(os.environ)),
            command=command,
            ready_path="/",  # Locust's UI answers once the users are starting
            port_variable=WEB_PORT_VARIABLE,
            withheld=TOKEN_VARIABLES,
        )
    ]


def _flags_file(flags_file: Path | None, data_dir: Path | None) -> Path:
    """The flag file the services watch: the option, else MINISHOP_FLAGS_FILE, else the
    data folder's flags.json."""
    from minishop.cli.chaos import flags_path
    from minishop.flags.document import default_flags_path

    if flags_file is None and data_dir is not None:
        return default_flags_path(data_dir)
    return flags_path(flags_file)


def _checked(
    users: int, spawn_rate: float, duration: str | None, host: str | None, web: bool,
    think_min: float, think_max: float, progress_interval: float,
) -> tuple[str, float]:  # fmt: skip
    """The gateway URL and the duration in seconds, or a clear exit for the first bad option."""
    if users < 1:
        raise fail("--users must be at least 1")
    if spawn_rate <= 0:
        raise fail("--spawn-rate must be above 0 (users started per second)")
    if not 0 <= think_min <= think_max:
        raise fail("--think-min must be between 0 and --think-max (seconds)")
    if progress_interval < 0:
        raise fail("--progress-interval must be 0 (none) or more seconds")
    if web and duration is not None:
        raise fail("--web runs until Ctrl-C: start and stop the test in Locust's UI")
    try:
        seconds = parse_duration(duration) if duration is not None else 60.0
    except ValueError as exc:
        raise fail(f"--duration: {exc}") from None
    try:
        url = host if host is not None else gateway_url()
    except ValueError as exc:
        raise fail(str(exc)) from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fail(f"--host must be an http(s) URL such as http://127.0.0.1:8080, not {url!r}")
    return url.rstrip("/"), seconds


def load(
    users: Annotated[int, typer.Option(help="Simulated shoppers.")] = 10,
    spawn_rate: Annotated[float, typer.Option(help="Shoppers started per second.")] = 2.0,
    duration: Annotated[
        str | None,
        typer.Option(help="How long: 30s, 2m, 1h; 0 until Ctrl-C (default 60s)."),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="The gateway's URL (default http://127.0.0.1:$GATEWAY_PORT)."),
    ] = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve Locust's web UI and drive the test from it.")
    ] = False,
    web_port: Annotated[int, typer.Option(help="The web UI's port.", min=1, max=65535)] = 8089,
    think_min: Annotated[float, typer.Option(help="Shortest pause between steps (s).")] = 1.0,
    think_max: Annotated[float, typer.Option(help="Longest pause between steps (s).")] = 3.0,
    flags_file: Annotated[
        Path | None,
        typer.Option(help="The flag file to watch for traffic_flood (default: the shop's)."),
    ] = None,
    progress_interval: Annotated[
        float, typer.Option(help="Seconds between progress lines; 0 for none.")
    ] = 5.0,
) -> None:
    """Run simulated shoppers against the gateway (Locust), then print a summary per route.

    Journeys: browse the catalog (often), register, order and pay (retrying a declined
    payment), and a few bad requests. Every request carries W3C baggage
    synthetic_request=true and a session id, which the shop copies onto its spans.
    The traffic_flood flag (minishop chaos set traffic_flood ROUTE RPS) adds RPS requests
    per second to ROUTE while it is on. Ctrl-C stops and prints the summary; exit 1 if a
    request failed (a 5xx or an unexpected status).
    """
    url, seconds = _checked(
        users, spawn_rate, duration, host, web, think_min, think_max, progress_interval
    )
    command = loadgen_command(
        url,
        users,
        spawn_rate,
        (think_min, think_max),
        _flags_file(flags_file, None),
        progress_interval,
        duration=0.0 if web else seconds,
        web_port=web_port if web else None,
    )
    raise typer.Exit(code=run_child(command))


def run_child(command: list[str]) -> int:
    """Run the generator in its own session and wait; relay Ctrl-C (then SIGKILL on a second)."""
    env = {
        **os.environ,
        **_api_key_env(dict(os.environ)),
        SUPERVISOR_PID_VARIABLE: str(os.getpid()),  # it stops if we are gone
        "PYTHONUNBUFFERED": "1",
    }
    child = subprocess.Popen(command, env=env, start_new_session=True)
    interrupts = 0

    def relay(signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts > 1 and signum == signal.SIGINT:
            child.kill()
        else:
            child.send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    previous = {sig: signal.signal(sig, relay) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = child.wait()
        return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
