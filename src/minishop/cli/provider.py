"""``minishop provider``: show or change the simulated payment provider (fault injection).

It calls payments' ``/admin/provider`` with the admin token from ``MINISHOP_ADMIN_TOKEN``.
Where the payments port is not published (the Compose stack keeps the services private),
it runs inside the container, which has both the token and the port:
``docker compose exec payments minishop provider --failure-rate 0.5``.
"""

from __future__ import annotations

import os
from typing import Annotated

import httpx
import orjson
import typer

from minishop.cli.output import fail
from minishop.manifest import LOCAL_HOST, MANIFEST
from minishop.platform.settings import ADMIN_TOKEN_VARIABLE

PAYMENTS = MANIFEST.service("payments")


def _default_url() -> str:
    port = os.environ.get(PAYMENTS.port_variable, "").strip() or str(PAYMENTS.port)
    return f"http://{LOCAL_HOST}:{port}"


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text


def provider(
    failure_rate: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Share of payments the provider declines, 0 to 1."),
    ] = None,
    latency_min_ms: Annotated[
        float | None, typer.Option(min=0, help="Shortest provider latency, ms.")
    ] = None,
    latency_max_ms: Annotated[
        float | None, typer.Option(min=0, help="Longest provider latency, ms.")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            help=f"The payments service (default: {_default_url()}, port from PAYMENTS_PORT)."
        ),
    ] = None,
) -> None:
    """Show the payment provider's behaviour; with options, change it (fault injection)."""
    token = os.environ.get(ADMIN_TOKEN_VARIABLE, "").strip()
    if not token:
        raise fail(
            f"set {ADMIN_TOKEN_VARIABLE} to the admin token (`minishop up` prints it at start)"
        )
    endpoint = f"{(url or _default_url()).rstrip('/')}/admin/provider"
    headers = {"Authorization": f"Bearer {token}"}
    change = {
        key: value
        for key, value in (
            ("failure_rate", failure_rate),
            ("latency_min_ms", latency_min_ms),
            ("latency_max_ms", latency_max_ms),
        )
        if value is not None
    }
    try:
        with httpx.Client(timeout=5.0, headers=headers) as client:
            response = client.get(endpoint)
            if response.status_code == 200 and change:
                response = client.put(endpoint, json={**response.json(), **change})
    except httpx.HTTPError as exc:
        raise fail(f"payments is not reachable at {endpoint}: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise fail(f"payments answered {response.status_code}: {_detail(response)}")
    typer.echo(orjson.dumps(response.json()).decode())
