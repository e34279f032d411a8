"""The console's pages: home, traces, one trace, logs (with live tail) and the service map.

Server-rendered HTML, every state in the query string so any view is a link to share. The
results part of each page refreshes itself (htmx polling, ``refresh=off`` pauses it); the
pages still work, without the refresh and the charts, when the front-end files are missing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from minishop import __version__
from minishop.console.adapters.web.api import DEFAULT_LOG_QUERY, TRACE_ID_LENGTH
from minishop.console.adapters.web.map_svg import render_service_map
from minishop.console.adapters.web.templating import (
    STATIC_DIR,
    templates,
    vendor_available,
)
from minishop.console.application.lab import LabDirectory, LabProcess, ProcessStatus
from minishop.console.application.ports import TelemetryStore, TraceQuery
from minishop.console.application.service_map import error_ratio, is_error_heavy, layout_map
from minishop.console.application.time_window import (
    NS_PER_SECOND,
    RANGES,
    InvalidTime,
    parse_bound,
    relative_seconds,
)
from minishop.console.application.waterfall import build_waterfall
from minishop.console.domain import logql
from minishop.console.settings import ConsoleSettings

DEFAULT_RANGE = "1h"
MAP_WINDOWS = ("5m", "15m", "1h")
TRACE_LIMITS = (20, 50, 100, 500)
LOG_LIMIT = 200
TAIL_LIMIT = 200
STATUSES = ("", "ok", "error")
CONSOLE = "console"


def mount_static(app: FastAPI) -> None:
    """``/static``: the stylesheet and the vendor files ``./dev`` copies from npm."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


def link(request: Request, **changes: Any) -> str:
    """This page with some query parameters changed (``None`` removes one): deep links."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


def _param(request: Request, name: str, default: str = "", limit: int = 4000) -> str:
    return request.query_params.get(name, default).strip()[:limit]


class _Page:
    """What every page's template gets: refresh settings and the front-end's presence."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings

    def render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any],
        status_code: int = 200,
    ) -> HTMLResponse:
        paused = request.query_params.get("refresh") == "off"
        htmx = vendor_available("htmx.min.js")
        full: dict[str, Any] = {
            "refresh_seconds": self.settings.refresh_seconds,
            "refreshing": bool(self.settings.refresh_seconds) and not paused and htmx,
            "paused": paused,
            "pause_link": link(request, refresh="off"),
            "resume_link": link(request, refresh=None),
            "self_link": link(request),
            "htmx": htmx,
            "uplot": vendor_available("uPlot.iife.min.js"),
            "link": lambda **changes: link(request, **changes),
        }
        full.update(context)
        return templates.TemplateResponse(request, name, full, status_code=status_code)


def page_renderer(settings: ConsoleSettings) -> _Page:
    """How the console's other routers render a page like these ones (profiles)."""
    return _Page(settings)


def _window(
    request: Request, default_since: str = DEFAULT_RANGE
) -> tuple[str, str, int | None, int | None, str]:
    """``since`` and ``until`` as typed and as ns, and the error to show when one is bad."""
    since = _param(request, "since", default_since, 64)
    until = _param(request, "until", "", 64)
    now = time.time_ns()
    since_ns = until_ns = None
    error = ""
    try:
        since_ns = parse_bound(since, now) if since else None
    except InvalidTime as exc:
        error = f"since: {exc}"
    try:
        until_ns = parse_bound(until, now) if until else None
    except InvalidTime as exc:
        error = f"until: {exc}"
    return since, until, since_ns, until_ns, error


def build_pages_router(
    store: TelemetryStore, lab: LabDirectory, settings: ConsoleSettings
) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = _Page(settings)
    started = time.monotonic()

    def itself(request: Request) -> ProcessStatus:
        """The console's own row: it answers this page, so it is ready; no probe of itself."""
        base = str(request.base_url).rstrip("/")
        process = LabProcess(CONSOLE, base, "tool", docs=True)
        uptime = round(time.monotonic() - started, 3)
        return ProcessStatus(process, "ready", version=__version__, uptime_seconds=uptime)

    @router.get("/", response_class=HTMLResponse)
    async def home(request: Request) -> HTMLResponse:
        statuses, counts = await asyncio.gather(lab.statuses(), asyncio.to_thread(store.counts))
        host = request.url.hostname or "127.0.0.1"
        return page.render(
            request,
            "home.html",
            {
                "statuses": [itself(request), *statuses],
                "console": CONSOLE,
                "counts": counts,
                "otlp_endpoint": f"http://{host}:{settings.otlp_port}",
            },
        )

    @router.get("/traces", response_class=HTMLResponse)
    async def traces(request: Request) -> HTMLResponse:
        service = _param(request, "service", "", 200)
        operation = _param(request, "operation", "", 500)
        status = _param(request, "status", "", 10)
        min_duration = _param(request, "min_duration_ms", "", 20)
        attr = _param(request, "attr", "", 1000)
        since, until, since_ns, until_ns, error = _window(request)
        limit_text = _param(request, "limit", str(TRACE_LIMITS[0]), 10)
        limit = int(limit_text) if limit_text.isdigit() else TRACE_LIMITS[0]
        limit = min(max(limit, 1), 1000)
        errors = [error] if error else []
        if status not in STATUSES:
            errors.append(f"status: {status!r} is not ok or error")
        min_duration_ms: float | None = None
        if min_duration:
            try:
                min_duration_ms = float(min_duration)
                if not 0 <= min_duration_ms <= 86_400_000:
                    raise ValueError
            except ValueError:
                errors.append(f"min duration: {min_duration!r} is not a number of ms")
                min_duration_ms = None
        attribute: tuple[str, str] | None = None
        if attr:
            key, sep, value = attr.partition("=")
            if sep and key.strip():
                attribute = (key.strip(), value.strip())
            else:
                errors.append(f"attribute: {attr!r} is not key=value (for example order.id=42)")
        services, operations = await asyncio.gather(
            asyncio.to_thread(store.services),
            asyncio.to_thread(store.operations, service or None),
        )
        found = []
        if not errors:
            query = TraceQuery(
                service=service or None,
                operation=operation or None,
                status=status or None,  # type: ignore[arg-type]
                min_duration_ms=min_duration_ms,
                attribute=attribute,
                since_ns=since_ns,
                until_ns=until_ns,
                limit=limit,
            )
            found = await asyncio.to_thread(store.search_traces, query)
        longest = max((summary.duration_ns for summary in found), default=0)
        return page.render(
            request,
            "traces.html",
            {
                "form": {
                    "service": service,
                    "operation": operation,
                    "status": status,
                    "min_duration_ms": min_duration,
                    "attr": attr,
                    "since": since,
                    "until": until,
                    "limit": limit,
                },
                "services": services,
                "operations": operations,
                "ranges": RANGES,
                "limits": TRACE_LIMITS,
                "traces": found,
                "longest": longest,
                "errors": errors,
            },
            status_code=400 if errors else 200,
        )

    @router.get("/traces/{trace_id}", response_class=HTMLResponse)
    async def trace(request: Request, trace_id: str) -> HTMLResponse:
        wanted = trace_id.strip().lower()
        valid = len(wanted) == TRACE_ID_LENGTH and all(c in "0123456789abcdef" for c in wanted)
        spans = await asyncio.to_thread(store.get_trace, wanted) if valid else []
        if not spans:
            return page.render(request, "not_found.html", {"trace_id": trace_id}, status_code=404)
        logs = await asyncio.to_thread(store.trace_logs, wanted)
        waterfall = build_waterfall(spans)
        names = {span.span_id: f"{span.service}: {span.name}" for span in spans}
        return page.render(
            request,
            "trace.html",
            {
                "trace_id": wanted,
                "waterfall": waterfall,
                "services": sorted({span.service for span in spans}),
                "errors": sum(span.status == "error" for span in spans),
                "logs": logs,
                "span_names": names,
            },
        )

    def _log_query(request: Request) -> tuple[str, logql.LogQuery | None, dict[str, Any] | None]:
        text = _param(request, "query", DEFAULT_LOG_QUERY) or DEFAULT_LOG_QUERY
        try:
            return text, logql.parse_logql(text), None
        except logql.LogQueryError as exc:
            return text, None, {"message": exc.message, "position": exc.position}

    @router.get("/logs", response_class=HTMLResponse)
    async def logs(request: Request) -> HTMLResponse:
        text, parsed, query_error = _log_query(request)
        since, until, since_ns, until_ns, window_error = _window(request)
        tail = request.query_params.get("tail") == "on"
        rows = []
        if parsed is not None and not window_error:
            rows = await asyncio.to_thread(
                lambda: store.query_logs(
                    parsed, since_ns=since_ns, until_ns=until_ns, limit=LOG_LIMIT
                )
            )
        bad = query_error is not None or bool(window_error)
        return page.render(
            request,
            "logs.html",
            {
                "query": text,
                "query_error": query_error,
                "window_error": window_error,
                "since": since,
                "until": until,
                "ranges": RANGES,
                "rows": rows,
                "tail": tail,
                "last_id": max((row.id for row in rows), default=0),
                "tail_url": f"/logs/tail?{urlencode({'query': text})}",
            },
            status_code=400 if bad else 200,
        )

    @router.get("/logs/tail", response_class=HTMLResponse)
    async def tail(request: Request) -> Response:
        """Rows written after ``after``, newest first, led by the poller that asks for more."""
        text, parsed, query_error = _log_query(request)
        after_text = _param(request, "after", "0", 20)
        if parsed is None or not after_text.isdigit():
            reason = query_error["message"] if query_error else "after must be a row id"
            return Response(reason, status_code=400, media_type="text/plain")
        after = int(after_text)
        rows = await asyncio.to_thread(
            lambda: store.query_logs(parsed, after_id=after, limit=TAIL_LIMIT)
        )
        return page.render(
            request,
            "logs_tail.html",
            {
                "rows": rows,
                "last_id": max([after, *(row.id for row in rows)]),
                "tail_url": f"/logs/tail?{urlencode({'query': text})}",
            },
        )

    @router.get("/map", response_class=HTMLResponse)
    async def service_map(request: Request) -> HTMLResponse:
        window = _param(request, "window", "15m", 16)
        error = ""
        try:
            seconds = relative_seconds(window)
        except InvalidTime as exc:
            seconds, error = None, str(exc)
        if not seconds and not error:
            error = f"window: {window!r} is not a duration such as 5m, 15m or 1h"
        nodes: list[str] = []
        edges = []
        if seconds:
            now = time.time_ns()
            nodes, edges = await asyncio.to_thread(
                store.service_map, now - int(seconds * NS_PER_SECOND), now
            )
        layout = layout_map(nodes, edges)
        return page.render(
            request,
            "map.html",
            {
                "window": window,
                "windows": MAP_WINDOWS,
                "error": error,
                "nodes": nodes,
                "edges": sorted(edges, key=lambda e: (layout.depth[e.caller], e.caller, e.callee)),
                "svg": Markup(render_service_map(nodes, edges)),  # every name in it is escaped
                "error_ratio": error_ratio,
                "is_error_heavy": is_error_heavy,
            },
            status_code=400 if error else 200,
        )

    return router
