"""What a panel asks Prometheus for, and how the answers become one chart's columns.

Pure functions: the time window and step of a range, the expressions with the macros and the
``service`` variable replaced, the alignment of every series on one time grid (what uPlot
draws), and the few overview expressions the console can answer from its stored spans when
Prometheus is not running.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from minishop.console.domain.dashboards import Panel, Target, expand

TIME_RANGES: dict[str, int] = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600}
DEFAULT_RANGE = "15m"
SCRAPE_SECONDS = 5.0  # deploy/prometheus/prometheus.yml: scrape_interval
POINTS_PER_CHART = 120
_NICE_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600)


class InvalidRange(ValueError):
    """A time range the console does not offer."""


@dataclass(frozen=True, slots=True)
class Window:
    start: float  # Unix seconds
    end: float
    step: float

    @property
    def seconds(self) -> float:
        return self.end - self.start

    def grid(self) -> list[float]:
        """The timestamps query_range answers on: start, start + step, ..., end."""
        count = int((self.end - self.start) // self.step) + 1
        return [self.start + index * self.step for index in range(count)]


def window(range_key: str, now_s: float) -> Window:
    """The window of a range ending now, on a step that gives about 120 points.

    The ends are aligned on the step so two refreshes ask for the same grid (and Prometheus'
    results line up across the panels of a page).
    """
    if range_key not in TIME_RANGES:
        choices = ", ".join(TIME_RANGES)
        raise InvalidRange(f"range must be one of {choices}, not {range_key!r}")
    seconds = TIME_RANGES[range_key]
    wanted = max(SCRAPE_SECONDS, seconds / POINTS_PER_CHART)
    step = next((nice for nice in _NICE_STEPS if nice >= wanted), _NICE_STEPS[-1])
    end = math.floor(now_s / step) * step
    return Window(start=end - seconds, end=end, step=float(step))


def expression(target: Target, variables: Mapping[str, str], at: Window) -> str:
    return expand(
        target.expr,
        variables,
        step_seconds=at.step,
        range_seconds=at.seconds,
        scrape_seconds=SCRAPE_SECONDS,
    )


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class Exemplar:
    time: float
    value: float
    trace_id: str
    series: str


@dataclass(slots=True)
class PanelData:
    """One panel's answer: a uPlot-shaped table, exemplars, and what to tell the reader."""

    timestamps: list[float] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    exemplars: list[Exemplar] = field(default_factory=list)
    source: Literal["prometheus", "traces", "none"] = "prometheus"
    notice: str | None = None  # shown above the chart: where the numbers come from
    error: str | None = None  # shown instead of the chart


def align(
    grid: Sequence[float], named: Iterable[tuple[str, Sequence[tuple[float, float]]]]
) -> list[Series]:
    """Series on the grid: a sample at a grid time fills that column, missing ones are null."""
    index = {round(moment, 3): position for position, moment in enumerate(grid)}
    aligned = []
    for name, samples in named:
        values: list[float | None] = [None] * len(grid)
        for moment, value in samples:
            position = index.get(round(moment, 3))
            if position is not None and math.isfinite(value):
                values[position] = value
        aligned.append(Series(name, values))
    return aligned


def last_value(series: Series) -> float | None:
    return next((value for value in reversed(series.values) if value is not None), None)


# The overview's expressions the stored spans can answer (server spans, per service).
RedKind = Literal["rate", "error_ratio", "p95"]
_RECORDED: dict[str, RedKind] = {
    "service:request_total:rate1m": "rate",
    "service:request_error:ratio_rate1m": "error_ratio",
    "service:request_duration_seconds:p95_rate1m": "p95",
}
_SELECTOR = r'(?:\{\s*service\s*=~?\s*"(?P<service>[^"]*)"\s*\})?'
_RECORDED_EXPR = re.compile(
    r"^\s*(?:(?P<sum>sum)\s*\(\s*)?(?P<name>[\w:]+)" + _SELECTOR + r"\s*\)?\s*$"
)
_P95_EXPR = re.compile(
    r"^\s*histogram_quantile\(\s*0\.95\s*,\s*sum\s+by\s*\(\s*service\s*,\s*le\s*\)\s*"
    r"\(\s*rate\(\s*request_duration_seconds_bucket"
    + _SELECTOR
    + r"\s*\[[^\]]+\]\s*\)\s*\)\s*\)\s*$"
)


@dataclass(frozen=True, slots=True)
class RedSignal:
    """What a panel target shows, in terms the stored spans can compute."""

    kind: RedKind
    services: frozenset[str] | None  # None: every service
    summed: bool  # one series for all services (only for a rate)


def _services(selector: str | None) -> frozenset[str] | None:
    if selector is None or selector in {"", ".+", ".*"}:
        return None
    names = selector.split("|")
    if all(re.fullmatch(r"[\w.-]+", name) for name in names):
        return frozenset(names)
    return None


def red_signal(expr: str) -> RedSignal | None:
    """The RED signal an (expanded) expression reads, or None when spans cannot answer it."""
    match = _RECORDED_EXPR.match(expr)
    if match and match.group("name") in _RECORDED:
        kind = _RECORDED[match.group("name")]
        summed = bool(match.group("sum"))
        if summed and kind != "rate":
            return None  # a sum of ratios or of percentiles means nothing
        return RedSignal(kind, _services(match.group("service")), summed)
    match = _P95_EXPR.match(expr)
    if match:
        return RedSignal("p95", _services(match.group("service")), summed=False)
    return None


def fallback_signals(panel: Panel, variables: Mapping[str, str], at: Window) -> list[RedSignal]:
    """The panel's targets as RED signals; empty unless every target has one."""
    signals = [red_signal(expression(target, variables, at)) for target in panel.targets]
    if not signals or any(signal is None for signal in signals):
        return []
    return [signal for signal in signals if signal is not None]


@dataclass(frozen=True, slots=True)
class RedSample:
    """One bucket of one service, as the store gives it (a ``RedPoint``'s numbers)."""

    time_s: float
    rate: float
    error_ratio: float
    p95_seconds: float


def _value(sample: RedSample, kind: RedKind) -> float:
    if kind == "rate":
        return sample.rate
    if kind == "error_ratio":
        return sample.error_ratio
    return sample.p95_seconds


def red_panel_series(
    signal: RedSignal, per_service: Mapping[str, Sequence[RedSample]], grid: Sequence[float]
) -> list[Series]:
    """The series a RED signal draws from span buckets aligned on the grid.

    A bucket without spans is no request: a rate of 0, and no ratio or latency at all.
    """
    chosen = {
        service: samples
        for service, samples in sorted(per_service.items())
        if signal.services is None or service in signal.services
    }
    empty_value = 0.0 if signal.kind == "rate" else None
    table = []
    for service, samples in chosen.items():
        aligned = align(grid, [(service, [(s.time_s, _value(s, signal.kind)) for s in samples])])
        values = [empty_value if value is None else value for value in aligned[0].values]
        table.append(Series(service, values))
    if signal.summed:
        totals = [sum(column) for column in zip(*(s.values for s in table), strict=True)]
        return [Series("all", list(totals) if table else [0.0] * len(grid))]
    return table
