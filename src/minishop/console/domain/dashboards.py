"""Grafana dashboards as the console reads them: the same JSON files Grafana provisions.

The console shows the project's dashboards without Grafana, so it reads only what a page
needs from Grafana's schema: rows, panels (stat and timeseries), their PromQL targets, units,
thresholds and the ``service`` template variable. Reading the files themselves (not a copy)
keeps the console and Grafana from drifting apart.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

RED_COLOURS = frozenset({"red", "dark-red", "semi-dark-red", "light-red", "#f2495c", "#e02f44"})


class DashboardError(ValueError):
    """A dashboard file the console cannot read: says which part is wrong."""


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float | None  # None: the base step, from minus infinity
    colour: str

    @property
    def red(self) -> bool:
        return self.colour.lower() in RED_COLOURS


@dataclass(frozen=True, slots=True)
class Target:
    ref_id: str
    expr: str
    legend_format: str
    exemplar: bool


@dataclass(frozen=True, slots=True)
class Panel:
    id: int
    type: str  # "stat" or "timeseries"; others are shown as timeseries
    title: str
    unit: str
    targets: tuple[Target, ...]
    thresholds: tuple[Threshold, ...] = ()
    threshold_line: bool = False  # Grafana's thresholdsStyle "line" (or any red step)
    min: float | None = None
    max: float | None = None
    width: int = 12  # Grafana's 24-column grid

    @property
    def wants_exemplars(self) -> bool:
        return any(target.exemplar for target in self.targets)

    @property
    def threshold_lines(self) -> tuple[Threshold, ...]:
        """The lines a chart draws: the red steps always (the overview's 10 % line)."""
        return tuple(
            step
            for step in self.thresholds
            if step.value is not None and (self.threshold_line or step.red)
        )

    def colour_for(self, value: float | None) -> str:
        """The colour of the highest step the value reaches, as Grafana colours a stat."""
        colour = self.thresholds[0].colour if self.thresholds else "green"
        if value is None or math.isnan(value):
            return colour
        for step in self.thresholds:
            if step.value is None or value >= step.value:
                colour = step.colour
        return colour


@dataclass(frozen=True, slots=True)
class Row:
    title: str  # "" for the panels before the first row
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A query template variable (``label_values(metric, label)``)."""

    name: str
    label: str
    metric: str
    label_name: str
    multi: bool
    include_all: bool
    all_value: str
    default: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = field(default=())

    @property
    def panels(self) -> tuple[Panel, ...]:
        return tuple(panel for row in self.rows for panel in row.panels)

    def panel(self, panel_id: int) -> Panel | None:
        return next((panel for panel in self.panels if panel.id == panel_id), None)


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)\s*$")


def _number(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DashboardError(f"expected a number, got {value!r}")
    return float(value)


def _thresholds(defaults: Mapping[str, Any]) -> tuple[Threshold, ...]:
    steps = (defaults.get("thresholds") or {}).get("steps") or []
    return tuple(
        Threshold(value=_number(step.get("value")), colour=str(step.get("color", "green")))
        for step in steps
        if isinstance(step, dict)
    )


def _panel(raw: Mapping[str, Any]) -> Panel:
    if not isinstance(raw.get("id"), int):
        raise DashboardError(f"panel {raw.get('title')!r} has no numeric id")
    defaults = (raw.get("fieldConfig") or {}).get("defaults") or {}
    custom = defaults.get("custom") or {}
    targets = tuple(
        Target(
            ref_id=str(target.get("refId", "A")),
            expr=str(target["expr"]),
            legend_format=str(target.get("legendFormat") or ""),
            exemplar=bool(target.get("exemplar")),
        )
        for target in raw.get("targets") or []
        if isinstance(target, dict) and target.get("expr") and not target.get("hide")
    )
    return Panel(
        id=raw["id"],
        type=str(raw.get("type", "timeseries")),
        title=str(raw.get("title", "")),
        unit=str(defaults.get("unit") or "short"),
        targets=targets,
        thresholds=_thresholds(defaults),
        threshold_line=(custom.get("thresholdsStyle") or {}).get("mode") in {"line", "dashed"},
        min=_number(defaults.get("min")),
        max=_number(defaults.get("max")),
        width=int((raw.get("gridPos") or {}).get("w", 12)),
    )


def _variable(raw: Mapping[str, Any]) -> Variable | None:
    query = raw.get("query")
    text = query.get("query") if isinstance(query, dict) else query
    match = _LABEL_VALUES.match(str(text or raw.get("definition") or ""))
    if raw.get("type") != "query" or match is None:
        return None  # constants, intervals, ...: nothing the console substitutes
    current = (raw.get("current") or {}).get("value")
    default = current if isinstance(current, str) else ""
    if default == "$__all":
        default = ""
    return Variable(
        name=str(raw["name"]),
        label=str(raw.get("label") or raw["name"]),
        metric=match.group(1),
        label_name=match.group(2),
        multi=bool(raw.get("multi")),
        include_all=bool(raw.get("includeAll")),
        all_value=str(raw.get("allValue") or ".+"),
        default=default,
    )


def parse_dashboard(raw: Any) -> Dashboard:
    """A dashboard from Grafana's JSON model, or ``DashboardError`` saying what is missing."""
    if not isinstance(raw, dict) or not raw.get("uid") or not raw.get("title"):
        raise DashboardError("a dashboard is an object with a 'uid' and a 'title'")
    rows: list[Row] = []
    title, panels = "", []
    try:
        for item in raw.get("panels") or []:
            if item.get("type") == "row":
                if panels or title:
                    rows.append(Row(title, tuple(panels)))
                title = str(item.get("title", ""))
                panels = [_panel(inner) for inner in item.get("panels") or []]  # collapsed rows
            else:
                panels.append(_panel(item))
        if panels or title:
            rows.append(Row(title, tuple(panels)))
        variables = tuple(
            variable
            for variable in map(_variable, (raw.get("templating") or {}).get("list") or [])
            if variable is not None
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise DashboardError(f"{raw['uid']}: unexpected panel structure ({exc})") from None
    return Dashboard(
        uid=str(raw["uid"]),
        title=str(raw["title"]),
        description=str(raw.get("description") or ""),
        rows=tuple(rows),
        variables=variables,
        tags=tuple(str(tag) for tag in raw.get("tags") or []),
    )


def grafana_duration(seconds: float) -> str:
    """A PromQL duration (``15s``, ``2m``, ``1h``) for a number of seconds, rounded up."""
    whole = max(1, math.ceil(seconds))
    for size, suffix in ((3600, "h"), (60, "m")):
        if whole % size == 0:
            return f"{whole // size}{suffix}"
    return f"{whole}s"


def expand(
    expr: str,
    variables: Mapping[str, str],
    *,
    step_seconds: float,
    range_seconds: float,
    scrape_seconds: float,
) -> str:
    """The expression Prometheus runs: Grafana's macros and the template variables replaced.

    ``$__rate_interval`` follows Grafana's rule, max(step + scrape interval, 4 x scrape
    interval): always at least four samples, so ``rate`` never returns nothing.
    """
    rate_interval = max(step_seconds + scrape_seconds, 4 * scrape_seconds)
    macros = {
        "__rate_interval": grafana_duration(rate_interval),
        "__interval": grafana_duration(step_seconds),
        "__range": grafana_duration(range_seconds),
        "__range_s": str(int(range_seconds)),
    }
    values = {**variables, **macros}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, expr)


_LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def legend(legend_format: str, labels: Mapping[str, str], expr: str = "") -> str:
    """A series' name: the legend format with ``{{label}}`` filled, as Grafana names it."""
    if legend_format and legend_format != "__auto":
        return _LEGEND.sub(lambda match: labels.get(match.group(1), ""), legend_format)
    shown = {key: value for key, value in labels.items() if key != "__name__"}
    if not shown:
        return labels.get("__name__") or expr
    if len(shown) == 1:  # one label: its value says it all ("gateway")
        return next(iter(shown.values()))
    inner = ", ".join(f'{key}="{value}"' for key, value in sorted(shown.items()))
    return f"{labels.get('__name__', '')}{{{inner}}}"


_SCALES = ("", " K", " M", " G", " T")
_BYTES = ("B", "KiB", "MiB", "GiB", "TiB")


def _scaled(value: float, base: float, suffixes: Sequence[str]) -> str:
    index = 0
    while abs(value) >= base and index < len(suffixes) - 1:
        value /= base
        index += 1
    return f"{_trim(value)}{suffixes[index]}"


def _trim(value: float) -> str:
    if value == 0:
        return "0"
    digits = 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude == 0:
        return "0 s"
    if magnitude < 1e-3:
        return f"{_trim(value * 1e6)} µs"
    if magnitude < 1:
        return f"{_trim(value * 1e3)} ms"
    if magnitude < 60:
        return f"{_trim(value)} s"
    if magnitude < 3600:
        return f"{_trim(value / 60)} min"
    if magnitude < 86400:
        return f"{_trim(value / 3600)} hour"
    return f"{_trim(value / 86400)} day"


def format_value(value: float | None, unit: str) -> str:
    """A value as Grafana shows it for the panel's unit: ``12.5%``, ``230 ms``, ``1.2 MiB``."""
    if value is None or math.isnan(value):
        return "no data"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "percentunit":
        return f"{_trim(value * 100)}%"
    if unit == "percent":
        return f"{_trim(value)}%"
    if unit == "s":
        return _seconds(value)
    if unit == "ms":
        return _seconds(value / 1000)
    if unit == "bytes":
        return _scaled(value, 1024, [f" {suffix}" for suffix in _BYTES])
    if unit == "reqps":
        return f"{_scaled(value, 1000, _SCALES)} req/s"
    if unit == "ops":
        return f"{_scaled(value, 1000, _SCALES)} ops/s"
    if unit == "currencyUSD":
        return f"${_scaled(value, 1000, _SCALES)}"
    return _scaled(value, 1000, _SCALES)
