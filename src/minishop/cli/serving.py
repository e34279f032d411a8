"""One service in this process, without the command line's libraries.

``minishop up`` starts each service as ``python -m minishop serve NAME``; the package's
``__main__`` sends exactly that form to ``minishop.serve`` before anything imports typer
(this module imports none of it), so a service process does not load typer and the
command line's modules only to read two words of argv. With the terminal libraries kept
out (``minishop.serve``) and uvicorn's WebSocket support off, a service holds 7 to 11 MB
less after start-up (``bench/import_cost.py``). The ``minishop serve`` command runs the
same code, in a process that already holds the command line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import trace
from pydantic import ValidationError

from minishop.cli.loading import ServiceCodeError, app_factory, settings_type
from minishop.cli.supervisor import SUPERVISOR_PID_VARIABLE, stop_when_orphaned
from minishop.manifest import MANIFEST, ServiceEntry
from minishop.observability.mode import TELEMETRY_VARIABLE, TelemetryMode, telemetry_mode
from minishop.platform.settings import ServiceSettings

USAGE = "usage: python -m minishop serve SERVICE"
EXIT_BAD_USAGE = 2  # the command line's code for a refused start (cli/output.py)


class ServeError(Exception):
    """A one-line reason the service cannot start: an unknown name, a bad setting."""


def describe_bad_setting(prefix: str, error: ValidationError) -> str:
    """``PREFIX_FIELD: what is wrong``, for the first setting pydantic refused."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    if not field:  # a check of several settings at once: its message names them
        return str(first["msg"]).removeprefix("Value error, ")
    if field.startswith("MINISHOP_"):  # a shared variable (the tokens): no service prefix
        return f"{field}: {first['msg']}"
    return f"{prefix}{field.upper()}: {first['msg']}"


def service_entry(name: str) -> ServiceEntry:
    if name not in MANIFEST:
        raise ServeError(f"unknown service {name!r}: choose from {', '.join(MANIFEST.names)}")
    return MANIFEST.service(name)


def read_settings(entry: ServiceEntry, env: Mapping[str, str] | None = None) -> ServiceSettings:
    """The service's settings as its process will see them, with ``env`` added to ours."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        return settings_type(entry)()
    except ServiceCodeError as exc:
        raise ServeError(str(exc)) from None
    except ValidationError as exc:
        reason = describe_bad_setting(entry.env_prefix, exc)
        raise ServeError(f"bad setting for {entry.name}: {reason}") from None
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build(name: str) -> tuple[Any, ServiceSettings]:
    """The service's ASGI app and settings, its tracer provider made the process's own.

    Tests and ``bench/import_cost.py`` call this to see what a started service has loaded.
    """
    entry = service_entry(name)
    try:
        mode = telemetry_mode()
    except ValueError as exc:
        raise ServeError(f"bad setting {exc}") from None
    settings = read_settings(entry)
    try:
        app = app_factory(entry)(settings)
    except ServiceCodeError as exc:
        raise ServeError(str(exc)) from None
    provider = app.state.telemetry.tracer_provider
    if provider is not None:  # one service per process: its provider is the process's
        trace.set_tracer_provider(provider)
    elif mode is TelemetryMode.ZERO_CODE and _no_global_provider():
        sys.stderr.write(
            f"{TELEMETRY_VARIABLE}=zero-code, but {name} was not started under "
            "opentelemetry-instrument: it will make no spans (minishop up starts it so)\n"
        )
    return app, settings


def _no_global_provider() -> bool:
    """True while nothing (``opentelemetry-instrument``) has set the global tracer provider."""
    return isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def run(name: str) -> int:
    """Serve ``name`` until told to stop: 0 after a clean stop, 1 when it never started."""
    app, settings = build(name)
    from minishop.platform.server import serve  # uvicorn: only once there is an app to serve

    supervisor_pid = os.environ.get(SUPERVISOR_PID_VARIABLE)
    if supervisor_pid:
        stop_when_orphaned(int(supervisor_pid))
    return 0 if serve(app, settings, extra_ports=getattr(app.state, "extra_ports", ())) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        sys.stderr.write(f"{USAGE}\n  SERVICE: one of {', '.join(MANIFEST.names)}\n")
        return EXIT_BAD_USAGE
    try:
        return run(args[0])
    except ServeError as exc:
        sys.stderr.write(f"minishop: {exc}\n")
        return EXIT_BAD_USAGE
