"""One dashboard panel's data: from Prometheus, or from the stored spans when it is down.

The console must show something useful in the no-Docker mode even where Prometheus is not
installed: the overview's rate, error ratio and p95 are then computed from the server spans
the console stores, and the panel says so. Everything else says Prometheus is unreachable,
in the panel, never as a failed page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from minishop.console.application.panel_queries import (
    Exemplar,
    PanelData,
    RedSample,
    Series,
    Window,
    align,
    expression,
    fallback_signals,
    red_panel_series,
    window,
)
from minishop.console.application.ports import RedPoint, TelemetryStore
from minishop.console.domain.dashboards import Panel, legend

FALLBACK_NOTICE = "computed from traces: Prometheus is not reachable"
MAX_EXEMPLARS = 500
STAT_WINDOW_SECONDS = 60


class MetricsUnavailable(Exception):
    """Prometheus cannot be reached (not running, timing out, answering garbage)."""


class MetricsQueryError(Exception):
    """Prometheus answered, and refused the query (a PromQL error): its message."""


Labels = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SampledSeries:
    labels: Labels
    samples: Sequence[tuple[float, float]]  # (Unix seconds, value)


@dataclass(frozen=True, slots=True)
class ExemplarSample:
    series_labels: Labels
    time: float
    value: float
    trace_id: str | None


class MetricsSource(Protocol):
    """What the panels need from Prometheus' HTTP API."""

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[SampledSeries]: ...

    async def query(self, expr: str, at: float) -> list[SampledSeries]: ...

    async def exemplars(self, expr: str, start: float, end: float) -> list[ExemplarSample]: ...


def _samples(points: Sequence[RedPoint]) -> list[RedSample]:
    return [
        RedSample(
            time_s=point.time_ns / 1e9,
            rate=point.rate,
            error_ratio=point.error_ratio,
            p95_seconds=point.p95_ms / 1000,
        )
        for point in points
    ]


class PanelQueries:
    """Runs a panel's targets and shapes the answer for the chart."""

    def __init__(
        self,
        metrics: MetricsSource,
        store: TelemetryStore | None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = metrics
        self._store = store
        self._clock = clock

    async def panel_data(
        self, panel: Panel, variables: Mapping[str, str], range_key: str
    ) -> PanelData:
        """Raises ``InvalidRange`` for a range the console does not offer."""
        at = window(range_key, self._clock())
        try:
            if panel.type == "stat":
                return await self._stat(panel, variables, at)
            return await self._chart(panel, variables, at)
        except MetricsUnavailable as exc:
            return await self._fallback(panel, variables, at, str(exc))
        except MetricsQueryError as exc:
            return PanelData(source="none", error=f"Prometheus refused the query: {exc}")

    async def _stat(self, panel: Panel, variables: Mapping[str, str], at: Window) -> PanelData:
        answers = await asyncio.gather(
            *(self._metrics.query(expression(t, variables, at), at.end) for t in panel.targets)
        )
        series = [
            Series(legend(target.legend_format, found.labels, target.expr), [found.samples[-1][1]])
            for target, result in zip(panel.targets, answers, strict=True)
            for found in result
            if found.samples
        ]
        return PanelData(timestamps=[at.end], series=series)

    async def _chart(self, panel: Panel, variables: Mapping[str, str], at: Window) -> PanelData:
        expressions = [expression(target, variables, at) for target in panel.targets]
        answers = await asyncio.gather(
            *(self._metrics.query_range(expr, at.start, at.end, at.step) for expr in expressions)
        )
        grid = at.grid()
        named = [
            (legend(target.legend_format, found.labels, target.expr), found.samples)
            for target, result in zip(panel.targets, answers, strict=True)
            for found in result
        ]
        data = PanelData(timestamps=grid, series=align(grid, named))
        for target, expr in zip(panel.targets, expressions, strict=True):
            if target.exemplar:
                data.exemplars += await self._exemplars(target.legend_format, expr, at)
        data.exemplars = data.exemplars[:MAX_EXEMPLARS]
        return data

    async def _exemplars(self, legend_format: str, expr: str, at: Window) -> list[Exemplar]:
        """Exemplars are a bonus: a Prometheus without exemplar storage gives a chart anyway."""
        try:
            found = await self._metrics.exemplars(expr, at.start, at.end)
        except (MetricsUnavailable, MetricsQueryError):
            return []
        return [
            Exemplar(
                time=item.time,
                value=item.value,
                trace_id=item.trace_id,
                series=legend(legend_format, item.series_labels, expr),
            )
            for item in found
            if item.trace_id
        ]

    async def _fallback(
        self, panel: Panel, variables: Mapping[str, str], at: Window, reason: str
    ) -> PanelData:
        signals = fallback_signals(panel, variables, at)
        if not signals or self._store is None:
            return PanelData(source="none", error=f"Prometheus is not reachable: {reason}")
        if panel.type == "stat":
            end = at.end
            since = end - STAT_WINDOW_SECONDS
            step = STAT_WINDOW_SECONDS
            grid = [since]
        else:
            since, end, step = at.start, at.end + at.step, int(at.step)
            grid = at.grid()
        found = await asyncio.to_thread(
            self._store.red_series, int(since * 1e9), int(end * 1e9), int(step)
        )
        per_service = {service: _samples(points) for service, points in found.items()}
        series = [
            series for signal in signals for series in red_panel_series(signal, per_service, grid)
        ]
        timestamps = [at.end] if panel.type == "stat" else grid
        return PanelData(
            timestamps=timestamps, series=series, source="traces", notice=FALLBACK_NOTICE
        )
