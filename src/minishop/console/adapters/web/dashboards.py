"""The dashboards (``/dashboards``, ``/dashboards/{uid}``), their panel API, and Explore.

Pages are rendered on the server with the panels' layout; each panel then fetches its data
from ``/api/dashboards/{uid}/panels/{id}``, which asks Prometheus on the server side (the
browser never needs to reach Prometheus) and falls back to the stored spans for the overview.
"""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

import minishop
from minishop.console.adapters.prometheus import PrometheusClient
from minishop.console.adapters.web.templating import templates
from minishop.console.application.panel_queries import (
    DEFAULT_RANGE,
    TIME_RANGES,
    InvalidRange,
    PanelData,
    Series,
    last_value,
)
from minishop.console.application.panels import (
    MetricsQueryError,
    MetricsUnavailable,
    PanelQueries,
)
from minishop.console.application.ports import TelemetryStore
from minishop.console.domain.dashboards import (
    Dashboard,
    Panel,
    Target,
    Variable,
    format_value,
    parse_dashboard,
)
from minishop.console.settings import ConsoleSettings
from minishop.platform.problems import problem_response

EXPLORE_PANEL_ID = 0


def default_dashboards_dir() -> Path | None:
    """``deploy/grafana/dashboards`` of this source checkout, as ``find_deploy_dir`` finds it."""
    candidate = Path(minishop.__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
    return candidate if candidate.is_dir() else None


def load_dashboards(folder: Path | None) -> tuple[dict[str, Dashboard], list[str]]:
    """Every dashboard of the folder by uid, and a message per file that cannot be read.

    Read on every request: an edited file shows at the next reload, as in Grafana.
    """
    found: dict[str, Dashboard] = {}
    problems: list[str] = []
    if folder is None or not folder.is_dir():
        return found, [f"no dashboards folder ({folder or 'not found'})"]
    for path in sorted(folder.glob("*.json")):
        try:
            dashboard = parse_dashboard(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:  # DashboardError and JSONDecodeError included
            problems.append(f"{path.name}: {exc}")
            continue
        found[dashboard.uid] = dashboard
    return found, problems


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def panel_json(panel: Panel, data: PanelData) -> dict[str, Any]:
    """What the page script draws: uPlot's columns, exemplars, thresholds, stat numbers."""
    body: dict[str, Any] = {
        "panel_id": panel.id,
        "title": panel.title,
        "type": panel.type,
        "unit": panel.unit,
        "source": data.source,
        "notice": data.notice,
        "error": data.error,
        "timestamps": data.timestamps,
        "series": [
            {"name": series.name, "values": [_finite(v) for v in series.values]}
            for series in data.series
        ],
        "exemplars": [
            {"time": e.time, "value": e.value, "trace_id": e.trace_id, "series": e.series}
            for e in data.exemplars
            if math.isfinite(e.value)
        ],
        "thresholds": [
            {"value": step.value, "colour": step.colour, "red": step.red}
            for step in panel.threshold_lines
        ],
    }
    if panel.type == "stat":
        body["stat"] = [_stat(panel, series) for series in data.series]
    return body


def _stat(panel: Panel, series: Series) -> dict[str, Any]:
    value = _finite(last_value(series))
    return {
        "name": series.name,
        "value": value,
        "text": format_value(value, panel.unit),
        "colour": panel.colour_for(value),
    }


def _variables(dashboard: Dashboard, service: str | None) -> dict[str, str]:
    """Template variables as the expressions see them: ``All`` is the variable's regex."""
    values = {}
    for variable in dashboard.variables:
        chosen = service if variable.name == "service" and service else variable.default
        if not chosen or chosen in {"All", "$__all"}:
            chosen = variable.all_value if variable.include_all else ""
        values[variable.name] = chosen
    return values


def _range_or_message(range_key: str | None) -> tuple[str, str | None]:
    if range_key is None or range_key == "":
        return DEFAULT_RANGE, None
    if range_key not in TIME_RANGES:
        choices = ", ".join(TIME_RANGES)
        return DEFAULT_RANGE, f"Unknown range {range_key!r}: showing {DEFAULT_RANGE} ({choices})."
    return range_key, None


def build_dashboards_router(
    dashboards_dir: Path | None,
    prometheus_url: str,
    store: TelemetryStore | None,
    settings: ConsoleSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> APIRouter:
    """Pages ``/dashboards``, ``/dashboards/{uid}``, ``/graph`` and their JSON API.

    ``transport`` lets tests answer for Prometheus without a server.
    """
    router = APIRouter(tags=["dashboards"])
    prometheus = PrometheusClient(prometheus_url, transport=transport)
    queries = PanelQueries(prometheus, store)

    async def variable_options(variable: Variable) -> tuple[list[str], str | None]:
        """The select's choices: Prometheus' label values, else the services seen in spans."""
        try:
            return await prometheus.label_values(variable.label_name, variable.metric), None
        except (MetricsUnavailable, MetricsQueryError) as exc:
            seen = sorted(store.services()) if store is not None else []
            return seen, f"Prometheus is not reachable ({exc}): services seen in traces"

    @router.get("/dashboards", response_class=HTMLResponse, include_in_schema=False)
    async def dashboards_page(request: Request) -> HTMLResponse:
        found, problems = await asyncio.to_thread(load_dashboards, dashboards_dir)
        return templates.TemplateResponse(
            request,
            "dashboards.html",
            {"dashboards": list(found.values()), "problems": problems},
        )

    @router.get("/dashboards/{uid}", response_class=HTMLResponse, include_in_schema=False)
    async def dashboard_page(
        request: Request,
        uid: str,
        range_key: Annotated[str | None, Query(alias="range")] = None,
        service: str | None = None,
    ) -> HTMLResponse:
        found, _ = await asyncio.to_thread(load_dashboards, dashboards_dir)
        dashboard = found.get(uid)
        if dashboard is None:
            return templates.TemplateResponse(
                request,
                "dashboards.html",
                {
                    "dashboards": list(found.values()),
                    "problems": [f"No dashboard with uid {uid!r}."],
                },
                status_code=404,
            )
        chosen_range, message = _range_or_message(range_key)
        selects = []
        for variable in dashboard.variables:
            options, note = await variable_options(variable)
            selected = service or variable.default or ("All" if variable.include_all else "")
            if variable.include_all:
                options = ["All", *options]
            if selected and selected not in options:
                options.append(selected)
            selects.append(
                {"variable": variable, "options": options, "selected": selected, "note": note}
            )
        return templates.TemplateResponse(
            request,
            "dashboard.html",
            {
                "dashboard": dashboard,
                "ranges": list(TIME_RANGES),
                "range": chosen_range,
                "service": service or "",
                "selects": selects,
                "message": message,
                "refresh_seconds": settings.refresh_seconds,
            },
        )

    @router.get(
        "/api/dashboards/{uid}/panels/{panel_id}",
        summary="One panel's series (uPlot columns), exemplars and thresholds",
    )
    async def panel_api(
        uid: str,
        panel_id: int,
        range_key: Annotated[str, Query(alias="range")] = DEFAULT_RANGE,
        service: str | None = None,
    ) -> JSONResponse:
        found, _ = await asyncio.to_thread(load_dashboards, dashboards_dir)
        dashboard = found.get(uid)
        panel = dashboard.panel(panel_id) if dashboard is not None else None
        if dashboard is None or panel is None:
            return problem_response(404, f"no panel {panel_id} in dashboard {uid!r}")
        try:
            data = await queries.panel_data(panel, _variables(dashboard, service), range_key)
        except InvalidRange as exc:
            return problem_response(400, str(exc))
        return JSONResponse(panel_json(panel, data))

    @router.get("/graph", response_class=HTMLResponse, include_in_schema=False)
    async def graph_page(request: Request) -> HTMLResponse:
        """Prometheus' ``/graph?g0.expr=...`` (alerts' generatorURL) as an Explore page."""
        params = request.query_params
        expr = params.get("g0.expr") or params.get("expr") or ""
        chosen_range, message = _range_or_message(
            params.get("g0.range_input") or params.get("range")
        )
        return templates.TemplateResponse(
            request,
            "graph.html",
            {
                "expr": expr,
                "ranges": list(TIME_RANGES),
                "range": chosen_range,
                "message": message,
                "refresh_seconds": settings.refresh_seconds,
            },
        )

    @router.get("/api/graph", summary="One PromQL expression over a range, as uPlot columns")
    async def graph_api(
        expr: Annotated[str, Query(min_length=1, max_length=10_000)],
        range_key: Annotated[str, Query(alias="range")] = DEFAULT_RANGE,
    ) -> JSONResponse:
        panel = Panel(
            id=EXPLORE_PANEL_ID,
            type="timeseries",
            title=expr,
            unit="short",
            targets=(Target(ref_id="A", expr=expr, legend_format="", exemplar=False),),
        )
        try:
            data = await queries.panel_data(panel, {}, range_key)
        except InvalidRange as exc:
            return problem_response(400, str(exc))
        return JSONResponse(panel_json(panel, data))

    return router
