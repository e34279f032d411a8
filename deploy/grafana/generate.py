"""Writes MiniShop's Grafana dashboards (``dashboards/*.json``) from the definitions below.

Dashboards are code: a panel is one line here instead of eighty lines of JSON, every
panel gets the same datasource, legend and threshold conventions, and a test checks the
JSON files are what this script writes. Run it after editing:

    .venv/bin/python deploy/grafana/generate.py
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
RATE = "$__rate_interval"
SERVICE = 'service=~"$service"'
JOB = 'job=~"$service"'  # process metrics carry the scrape job, which is the service name


@dataclass
class Query:
    expr: str
    legend: str = ""
    exemplar: bool = False


@dataclass
class Panel:
    title: str
    queries: list[Query]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""
    width: int = 12
    height: int = 8
    threshold: float | None = None  # drawn as a red line (timeseries) or colour step (stat)
    min_zero: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    title: str


def q(expr: str, legend: str = "", *, exemplar: bool = False) -> Query:
    return Query(expr, legend, exemplar)


def stat(title: str, queries: list[Query], unit: str, threshold: float | None = None) -> Panel:
    """A single number across a quarter of the width: the top line of a dashboard."""
    return Panel(title, queries, unit, "stat", width=6, height=5, threshold=threshold)


def _field_config(panel: Panel) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        steps.append({"color": "red", "value": panel.threshold})
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "palette-classic" if panel.kind == "timeseries" else "thresholds"},
    }
    if panel.min_zero:
        defaults["min"] = 0
    if panel.kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": True,
            "thresholdsStyle": {"mode": "line" if panel.threshold is not None else "off"},
        }
    return {"defaults": defaults, "overrides": []}


def _options(panel: Panel) -> dict[str, Any]:
    if panel.kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "auto",
        }
    return {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": PROMETHEUS,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": _field_config(panel),
        "options": _options(panel),
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": PROMETHEUS,
                "expr": query.expr,
                "legendFormat": query.legend or "__auto",
                "range": True,
                "instant": False,
                "exemplar": query.exemplar,
            }
            for index, query in enumerate(panel.queries)
        ],
        **panel.extra,
    }


def _layout(items: list[Panel | Row]) -> list[dict[str, Any]]:
    """Left to right, wrapping at Grafana's 24 columns; a row starts a new line."""
    panels: list[dict[str, Any]] = []
    x = y = line_height = 0
    for number, item in enumerate(items, start=1):
        if isinstance(item, Row):
            y += line_height
            x = line_height = 0
            panels.append(
                {
                    "id": number,
                    "type": "row",
                    "title": item.title,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                    "panels": [],
                }
            )
            y += 1
            continue
        if x + item.width > 24:
            y += line_height
            x = line_height = 0
        panels.append(_panel(item, number, x, y))
        x += item.width
        line_height = max(line_height, item.height)
    return panels


def _service_variable(*, multi: bool) -> dict[str, Any]:
    definition = "label_values(request_total, service)"
    return {
        "name": "service",
        "label": "service",
        "type": "query",
        "datasource": PROMETHEUS,
        "definition": definition,
        "query": {"query": definition, "refId": "service"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "allValue": ".+" if multi else None,
        "current": {"selected": True, "text": "All", "value": "$__all"}
        if multi
        else {"selected": True, "text": "gateway", "value": "gateway"},
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    items: list[Panel | Row],
    *,
    service_variable: str | None = None,
) -> dict[str, Any]:
    variables = []
    if service_variable == "single":
        variables.append(_service_variable(multi=False))
    elif service_variable == "multi":
        variables.append(_service_variable(multi=True))
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["minishop"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,  # shared crosshair: the same moment on every panel
        "refresh": "10s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-30m", "to": "now"},
        "timepicker": {},
        "annotations": {"list": []},
        "links": [
            {
                "title": "MiniShop dashboards",
                "type": "dashboards",
                "tags": ["minishop"],
                "asDropdown": True,
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "templating": {"list": variables},
        "panels": _layout(items),
    }


def saturation_panels(width: int) -> list[Panel | Row]:
    """How full each process is; shared by the golden-signals and runtime dashboards."""
    return [
        Panel(
            "CPU (1 = one core)",
            [q(f"rate(process_cpu_seconds_total{{{JOB}}}[{RATE}])", "{{job}}")],
            "percentunit",
            width=width,
        ),
        Panel(
            "Requests in flight",
            [q(f"requests_in_flight{{{SERVICE}}}", "{{service}}")],
            width=width,
        ),
        Panel(
            "Event-loop lag",
            [q(f"event_loop_lag_seconds{{{SERVICE}}}", "{{service}}")],
            "s",
            description="How late the asyncio loop runs a timer: CPU-bound work blocks it.",
            width=width,
        ),
        Panel(
            "Database pool in use",
            [
                q(f"db_pool_connections_in_use{{{SERVICE}}}", "{{service}} in use"),
                q(f"db_pool_connections_max{{{SERVICE}}}", "{{service}} max"),
            ],
            width=width,
        ),
    ]


def overview() -> dict[str, Any]:
    latency = (
        "histogram_quantile(0.95, sum by (service, le) "
        f"(rate(request_duration_seconds_bucket[{RATE}])))"
    )
    return dashboard(
        "minishop-overview",
        "MiniShop overview",
        "Every service at a glance: traffic, p95 latency and error rate (red line: the "
        "HighErrorRate threshold, 10 %).",
        [
            stat("Requests per second", [q("sum(service:request_total:rate1m)", "all")], "reqps"),
            stat(
                "Gateway error rate",
                [q('service:request_error:ratio_rate1m{service="gateway"}')],
                "percentunit",
                threshold=0.1,
            ),
            stat(
                "Gateway p95 latency",
                [q('service:request_duration_seconds:p95_rate1m{service="gateway"}')],
                "s",
                threshold=0.5,
            ),
            stat("Targets up", [q("sum(up)", "up"), q("count(up)", "scraped")], "short"),
            Panel(
                "Requests per second by service",
                [q("service:request_total:rate1m", "{{service}}")],
                "reqps",
                width=24,
            ),
            Panel(
                "Error rate by service",
                [q("service:request_error:ratio_rate1m", "{{service}}")],
                "percentunit",
                description="error_total / request_total over 1 minute. Above the red line "
                "for a minute, HighErrorRate fires.",
                threshold=0.1,
                width=24,
            ),
            Panel(
                "p95 latency by service",
                [q(latency, "{{service}}", exemplar=True)],
                "s",
                description="Dots are exemplars: click one to open that request's trace.",
                width=24,
            ),
        ],
    )


def golden_signals() -> dict[str, Any]:
    buckets = f"sum by (le) (rate(request_duration_seconds_bucket{{{SERVICE}}}[{RATE}]))"
    return dashboard(
        "minishop-golden-signals",
        "MiniShop golden signals",
        "Latency, traffic, errors and saturation of one service, by route.",
        [
            Row("Latency"),
            Panel(
                "Latency percentiles",
                [
                    q(f"histogram_quantile(0.50, {buckets})", "p50", exemplar=True),
                    q(f"histogram_quantile(0.95, {buckets})", "p95", exemplar=True),
                    q(f"histogram_quantile(0.99, {buckets})", "p99", exemplar=True),
                ],
                "s",
                description="Dots are exemplars: click one to open that request's trace.",
                threshold=0.5,
            ),
            Panel(
                "Latency by route (p95)",
                [q(f"service_route:request_duration_seconds:p95_rate1m{{{SERVICE}}}", "{{route}}")],
                "s",
            ),
            Row("Traffic"),
            Panel(
                "Requests per second by route",
                [q(f"service_route:request_total:rate1m{{{SERVICE}}}", "{{route}}")],
                "reqps",
            ),
            Panel(
                "Requests per second by status",
                [q(f"service_status:request_total:rate1m{{{SERVICE}}}", "{{status}}")],
                "reqps",
            ),
            Panel(
                "Requests per second: load generator vs people",
                [
                    q(f"sum(rate(synthetic_requests_total{{{SERVICE}}}[{RATE}]))", "synthetic"),
                    q(
                        f"sum(rate(request_total{{{SERVICE}}}[{RATE}])) - "
                        f"(sum(rate(synthetic_requests_total{{{SERVICE}}}[{RATE}])) or vector(0))",
                        "people",
                    ),
                ],
                "reqps",
                description="Synthetic: requests whose W3C baggage says synthetic_request=true "
                "(minishop load, up --load). Their spans carry the same attribute: search traces "
                "with attr synthetic_request=true.",
                width=24,
            ),
            Row("Errors"),
            Panel(
                "Error ratio",
                [q(f"service:request_error:ratio_rate1m{{{SERVICE}}}", "{{service}}")],
                "percentunit",
                threshold=0.1,
                width=8,
            ),
            Panel(
                "Errors per second by route",
                [q(f"service_route:error_total:rate1m{{{SERVICE}}}", "{{route}}")],
                "reqps",
                width=8,
            ),
            Panel(
                "Errors per second by reason",
                [q(f"service_reason:error_total:rate1m{{{SERVICE}}}", "{{reason}}")],
                "reqps",
                width=8,
            ),
            Panel(
                "SLO: server error ratio vs budget",
                [
                    q(f"service:slo_errors_per_request:ratio_rate5m{{{SERVICE}}}", "5m"),
                    q(f"service:slo_errors_per_request:ratio_rate1h{{{SERVICE}}}", "1h"),
                    q(f"service:slo_errors_per_request:ratio_rate6h{{{SERVICE}}}", "6h"),
                ],
                "percentunit",
                description="5xx ratio; objective 99.5 % (budget 0.5 %). The red line is the "
                "fast-burn page threshold (14.4 x 0.5 % over 1h and 5m).",
                threshold=0.072,
            ),
            Panel(
                "Error budget burn rate",
                [
                    q(f"service:slo_errors_per_request:ratio_rate1h{{{SERVICE}}} / 0.005", "1h"),
                    q(f"service:slo_errors_per_request:ratio_rate1d{{{SERVICE}}} / 0.005", "1d"),
                ],
                "short",
                description="1 = the budget lasts exactly 30 days; 14.4 = gone in 2 days.",
                threshold=14.4,
            ),
            Row("Saturation"),
            *saturation_panels(width=6),
        ],
        service_variable="single",
    )


def business() -> dict[str, Any]:
    return dashboard(
        "minishop-business",
        "MiniShop business KPIs",
        "What the shop does: orders, revenue, payments, registrations and stock.",
        [
            stat(
                "Orders per minute",
                [q(f"sum(rate(orders_created_total[{RATE}])) * 60", "orders")],
                "short",
            ),
            stat(
                "Revenue per minute",
                [q(f"sum(rate(revenue_total[{RATE}])) * 60", "revenue")],
                "currencyUSD",
            ),
            stat(
                "Payment success rate",
                [
                    q(
                        'sum(rate(payments_total{result="succeeded"}[5m]))'
                        " / sum(rate(payments_total[5m]))",
                        "succeeded",
                    )
                ],
                "percentunit",
            ),
            stat(
                "Registrations per minute",
                [q(f"sum(rate(user_registrations_total[{RATE}])) * 60", "registrations")],
                "short",
            ),
            Panel(
                "Orders and payments per minute",
                [
                    q(f"sum(rate(orders_created_total[{RATE}])) * 60", "orders created"),
                    q(
                        f"sum by (result) (rate(payments_total[{RATE}])) * 60",
                        "payments {{result}}",
                    ),
                ],
            ),
            Panel(
                "Revenue and average order value",
                [
                    q(f"sum(rate(revenue_total[{RATE}])) * 60", "revenue per minute"),
                    q(
                        "sum(rate(order_value_sum[5m])) / sum(rate(order_value_count[5m]))",
                        "average order value",
                    ),
                ],
                "currencyUSD",
            ),
            Panel(
                "Payment failures by reason",
                [
                    q(
                        f'sum by (reason) (rate(payments_total{{result="failed"}}[{RATE}])) * 60',
                        "{{reason}}",
                    )
                ],
                description=(
                    "Per minute. The failure rate in force (the setting, or the "
                    "payment_failure flag) is on the right."
                ),
            ),
            Panel(
                "Provider failure rate (in force)",
                [q("payment_provider_failure_rate", "in force")],
                "percentunit",
                threshold=0.1,
            ),
            Panel(
                "Orders refused by reason",
                [q(f"sum by (reason) (rate(orders_rejected_total[{RATE}])) * 60", "{{reason}}")],
                description="Per minute: out of stock, unknown user or product.",
            ),
            Panel(
                "Order status changes",
                [
                    q(
                        f"sum by (status) (rate(order_status_changes_total[{RATE}])) * 60",
                        "{{status}}",
                    )
                ],
            ),
            Panel("Stock by product", [q("product_stock", "product {{product_id}}")], width=12),
            Panel(
                "Inventory deductions and releases",
                [
                    q(
                        f"sum by (result) (rate(inventory_deductions_total[{RATE}])) * 60",
                        "{{result}}",
                    ),
                    q(f"sum(rate(inventory_releases_total[{RATE}])) * 60", "released"),
                ],
            ),
            Panel(
                "Supplier restocks",
                [
                    q(f"sum(rate(restocks_total[{RATE}])) * 60", "products restocked"),
                    q(f"sum(rate(restocked_units_total[{RATE}])) * 60", "units delivered"),
                ],
                description="Per minute: the simulated supplier brings a product below the "
                "threshold back to the target (Stock by product, above, jumps with each).",
            ),
            Panel(
                "Orders expired",
                [q(f"sum(rate(orders_expired_total[{RATE}])) * 60", "expired")],
                description="Per minute: orders unpaid past the payment timeout; their stock "
                "goes back (the releases above rise with them).",
            ),
        ],
    )


def runtime() -> dict[str, Any]:
    return dashboard(
        "minishop-runtime",
        "MiniShop runtime",
        "Saturation of each process: CPU, memory, in-flight requests, database pool, event loop.",
        [
            *saturation_panels(width=12),
            Panel(
                "Resident memory",
                [q(f"process_resident_memory_bytes{{{JOB}}}", "{{job}}")],
                "bytes",
            ),
            Panel("Open file descriptors", [q(f"process_open_fds{{{JOB}}}", "{{job}}")]),
            Panel(
                "Garbage collections per second",
                [
                    q(
                        "sum by (job, generation) "
                        f"(rate(python_gc_collections_total{{{JOB}}}[{RATE}]))",
                        "{{job}} gen {{generation}}",
                    )
                ],
            ),
            Panel(
                "Spans exported and dropped",
                [
                    q(
                        f"sum by (service) (rate(otel_spans_exported_total{{{SERVICE}}}[{RATE}]))",
                        "{{service}} exported",
                    ),
                    q(
                        f"sum by (service) (rate(otel_spans_dropped_total{{{SERVICE}}}[{RATE}])) "
                        "or sum by (service) "
                        f"(rate(otel_spans_exported_total{{{SERVICE}}}[{RATE}])) * 0",
                        "{{service}} dropped",
                    ),
                ],
                "short",
                description="Exported is 0 without an OTLP endpoint. Dropped spans never slow "
                "a request: the queue is bounded.",
            ),
            Panel(
                "Uptime",
                [q(f"time() - process_start_time_seconds{{{JOB}}}", "{{job}}")],
                "s",
                width=24,
                height=6,
            ),
        ],
        service_variable="multi",
    )


DASHBOARDS = {
    "overview.json": overview,
    "golden-signals.json": golden_signals,
    "business.json": business,
    "runtime.json": runtime,
}


def render() -> dict[str, str]:
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text)
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
