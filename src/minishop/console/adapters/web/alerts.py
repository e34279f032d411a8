"""The alerts page (``/alerts``), silences from the page, and the runbooks (``/runbooks``).

One page for the person on call: every rule and its state (Prometheus), what Alertmanager
holds and silences, and what was notified (the Slack receiver). Each part is read on its own,
so a source that is not running is a sentence in its section, not a broken page.
The forms that change Alertmanager are POSTs checked to come from the console's own pages.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from markdown_it import MarkdownIt

import minishop
from minishop.console.adapters.alert_sources import (
    AlertmanagerClient,
    SlackReceiverClient,
    SourceDown,
    SourceRefused,
    alert_rules,
)
from minishop.console.adapters.prometheus import PrometheusClient
from minishop.console.adapters.web.templating import templates
from minishop.console.domain.alerts import (
    DURATIONS,
    InvalidSilence,
    matchers_text,
    runbook_link,
    silence_request,
)
from minishop.console.settings import ConsoleSettings

MAX_FORM_BYTES = 16 * 1024
_SILENCE_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
T = TypeVar("T")


def default_runbooks_dir() -> Path | None:
    """``docs/runbooks`` of this source checkout."""
    candidate = Path(minishop.__file__).resolve().parents[2] / "docs" / "runbooks"
    return candidate if candidate.is_dir() else None


def same_origin(request: Request) -> bool:
    """The request comes from a page of this console (its ``Origin``, else its ``Referer``).

    Without this a page elsewhere could post a form that silences every alert.
    """
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer")
    return referer is not None and (referer == own or referer.startswith(own + "/"))


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _back(fragment: str = "", **params: str) -> RedirectResponse:
    query = urlencode({key: value for key, value in params.items() if value})
    target = "/alerts" + (f"?{query}" if query else "") + (f"#{fragment}" if fragment else "")
    return RedirectResponse(target, status_code=303)


_REFUSED = PlainTextResponse(
    "Refused: this form changes Alertmanager and must be sent from the console's own pages "
    "(the Origin or Referer header is missing or another site's).",
    status_code=403,
)


async def _read(source: Awaitable[T]) -> tuple[T | None, str | None]:
    try:
        return await source, None
    except (SourceDown, SourceRefused) as exc:
        return None, str(exc)


def build_alerts_router(
    prometheus_url: str,
    alertmanager_url: str,
    slack_receiver_url: str,
    runbooks_dir: Path | None,
    settings: ConsoleSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> APIRouter:
    """Pages ``/alerts`` and ``/runbooks/{name}``, and the silence forms.

    ``transport`` lets tests answer for the three sources without servers.
    """
    router = APIRouter(tags=["alerts"])
    prometheus = PrometheusClient(prometheus_url, transport=transport)
    alertmanager = AlertmanagerClient(alertmanager_url, transport=transport)
    slack = SlackReceiverClient(slack_receiver_url, transport=transport)
    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")

    def runbooks() -> dict[str, Path]:
        """The only names served: the folder's markdown files, nothing computed from a URL."""
        if runbooks_dir is None or not runbooks_dir.is_dir():
            return {}
        return {path.name: path for path in sorted(runbooks_dir.glob("*.md")) if path.is_file()}

    @router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
    @router.get("/alerts/", response_class=HTMLResponse, include_in_schema=False)
    async def alerts_page(request: Request) -> HTMLResponse:
        params = request.query_params
        (
            (groups, rules_error),
            (alerts, am_error),
            (silences, silences_error),
            (
                messages,
                slack_error,
            ),
        ) = await asyncio.gather(
            _read(alert_rules(prometheus)),
            _read(alertmanager.alerts()),
            _read(alertmanager.silences()),
            _read(slack.messages()),
        )
        firing = sum(1 for group in groups or [] for rule in group.rules if rule.state == "firing")
        return templates.TemplateResponse(
            request,
            "alerts.html",
            {
                "groups": groups or [],
                "rules_error": rules_error,
                "alerts": alerts or [],
                "alertmanager_error": am_error,
                "silences": silences or [],
                "silences_error": silences_error if am_error is None else None,
                "messages": messages or [],
                "slack_error": slack_error,
                "firing": firing,
                "message": params.get("message"),
                "error": params.get("error"),
                "form": {
                    "matchers": params.get("matchers", ""),
                    "duration": params.get("duration", "2h"),
                    "author": params.get("author", ""),
                    "comment": params.get("comment", ""),
                },
                "durations": DURATIONS,
                "matchers_text": matchers_text,
                "runbook_link": runbook_link,
                "refresh_seconds": settings.refresh_seconds,
            },
        )

    @router.post("/alerts/silences", include_in_schema=False)
    async def create_silence(request: Request) -> Response:
        if not same_origin(request):
            return _REFUSED
        form = await _form(request)
        kept = {key: form.get(key, "") for key in ("matchers", "duration", "author", "comment")}
        try:
            silence = silence_request(
                matchers=kept["matchers"],
                duration=kept["duration"],
                author=kept["author"],
                comment=kept["comment"],
                now=datetime.now(UTC),
            )
            silence_id = await alertmanager.create_silence(silence)
        except (InvalidSilence, SourceDown, SourceRefused) as exc:
            return _back("new-silence", error=f"No silence created: {exc}", **kept)
        until = f"{silence.ends_at:%Y-%m-%d %H:%M} UTC"
        return _back("silences", message=f"Silence {silence_id} created, until {until}.")

    @router.post("/alerts/silences/{silence_id}/expire", include_in_schema=False)
    async def expire_silence(request: Request, silence_id: str) -> Response:
        if not same_origin(request):
            return _REFUSED
        if not _SILENCE_ID.match(silence_id):
            return _back("silences", error=f"No silence {silence_id!r}.")
        try:
            await alertmanager.expire_silence(silence_id)
        except (SourceDown, SourceRefused) as exc:
            return _back("silences", error=f"Silence {silence_id} not expired: {exc}")
        return _back("silences", message=f"Silence {silence_id} expired.")

    @router.get("/runbooks", response_class=HTMLResponse, include_in_schema=False)
    async def runbooks_page(request: Request) -> HTMLResponse:
        names = await asyncio.to_thread(runbooks)
        return templates.TemplateResponse(
            request, "runbook.html", {"names": list(names), "name": None, "html": None}
        )

    @router.get("/runbooks/{name}", response_class=HTMLResponse, include_in_schema=False)
    async def runbook_page(request: Request, name: str) -> HTMLResponse:
        names = await asyncio.to_thread(runbooks)
        path = names.get(name)
        if path is None:
            return templates.TemplateResponse(
                request,
                "runbook.html",
                {"names": list(names), "name": None, "html": None, "missing": name},
                status_code=404,
            )
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        return templates.TemplateResponse(
            request,
            "runbook.html",
            {"names": list(names), "name": name, "html": markdown.render(text)},
        )

    return router
