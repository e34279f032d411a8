"""``minishop profile SERVICE``: record a CPU profile of a running service and save it.

It calls the service's ``GET /debug/pprof/profile?seconds=N`` (platform/profiling.py) with
the admin token from ``MINISHOP_ADMIN_TOKEN``, saves the speedscope file under
``<data dir>/profiles/`` (where the console serves it from) and prints the console link that
opens it in the speedscope viewer, offline. The gateway and the lab's tools are never given
the admin token by ``minishop up``, so they refuse; run one alone with a token of its own to
profile it (``MINISHOP_ADMIN_TOKEN=... minishop serve gateway``).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import orjson
import typer

from minishop.cli.output import fail
from minishop.manifest import LOCAL_HOST, MANIFEST, ServiceEntry
from minishop.platform.profiling import (
    DEFAULT_SECONDS,
    MAX_SECONDS,
    MIN_SECONDS,
    PROFILE_PATH,
    SPEEDSCOPE_SCHEMA,
    profile_filename,
)
from minishop.platform.settings import ADMIN_TOKEN_VARIABLE

CONSOLE = "console"
PROFILES_FOLDER = "profiles"  # under the data dir; the console serves it at /profiles/
ANSWER_MARGIN_SECONDS = 30.0  # beyond the profile itself: rendering it, a busy service
_ANY_ADDRESS = {"", "0.0.0.0", "::"}


def _base_url(entry: ServiceEntry) -> str:
    """Where ``entry`` listens, from its settings as ``minishop up`` would give them."""
    from minishop.cli.app import load_settings  # the command line's own settings reader

    settings = load_settings(entry)
    host = LOCAL_HOST if settings.host in _ANY_ADDRESS else settings.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}"


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except (ValueError, AttributeError):
        return response.text[:500]


def _record(url: str, token: str, seconds: int, service: str) -> bytes:
    """The speedscope file the service answers, or a one-line failure."""
    timeout = httpx.Timeout(5.0, read=seconds + ANSWER_MARGIN_SECONDS)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = httpx.get(url, params={"seconds": seconds}, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise fail(
            f"{service} is not reachable at {url}: {type(exc).__name__} "
            "(is the shop running? `minishop up`)"
        ) from None
    if response.status_code != 200:
        raise fail(f"{service} answered {response.status_code}: {_detail(response)}")
    try:
        document = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        document = None
    if not isinstance(document, dict) or document.get("$schema") != SPEEDSCOPE_SCHEMA:
        raise fail(f"{service} answered something that is not a speedscope file")
    return response.content


def _save(path: Path, body: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("xb") as file:  # never overwrite an earlier profile
            file.write(body)
    except FileExistsError:
        raise fail(f"{path} exists already: choose another --out") from None
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror}") from None


def profile(
    service: Annotated[
        str, typer.Argument(help=f"The service to profile: {', '.join(MANIFEST.names)}.")
    ],
    seconds: Annotated[
        int,
        typer.Option(min=MIN_SECONDS, max=MAX_SECONDS, help="How long to sample, in seconds."),
    ] = DEFAULT_SECONDS,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where to save it (default: <data dir>/profiles/<service>-<UTC time>"
            ".speedscope.json, which the console serves)."
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="The data folder `minishop up` was given, if any (default: ./data)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(help="The service's base URL (default: from its <SERVICE>_PORT setting)."),
    ] = None,
) -> None:
    """Record a CPU profile of a running service (speedscope JSON) and say how to open it."""
    if service not in MANIFEST:
        raise fail(f"unknown service {service!r}: choose from {', '.join(MANIFEST.names)}")
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "").strip()
    if not token:
        raise fail(
            f"set {ADMIN_TOKEN_VARIABLE} to the admin token (`minishop up` prints it at start)"
        )
    entry = MANIFEST.service(service)
    endpoint = f"{(url or _base_url(entry)).rstrip('/')}{PROFILE_PATH}"
    typer.echo(f"Profiling {service} for {seconds} s ({endpoint})...", err=True)
    body = _record(endpoint, token, seconds, service)
    from minishop.cli.app import data_dir_default

    profiles = (data_dir if data_dir is not None else data_dir_default()) / PROFILES_FOLDER
    path = out if out is not None else profiles / profile_filename(service, datetime.now(UTC))
    _save(path, body)
    typer.echo(f"Saved {path} ({len(body) / 1024:.0f} KB).")
    viewer = f"{_base_url(MANIFEST.service(CONSOLE))}/speedscope/"
    if path.resolve().parent == profiles.resolve() and path.name.endswith(".speedscope.json"):
        typer.echo("Open it in the console's speedscope viewer (while `minishop up` runs):")
        typer.echo(f"  {viewer}#profileURL={quote(f'/profiles/{path.name}', safe='/')}")
    else:
        typer.echo(
            f"Open {viewer} (the console, while `minishop up` runs) and choose the file with "
            f"Browse; files in {profiles} are also listed at the console's /profiles."
        )
