"""Prometheus' HTTP API (``/api/v1/...``) for the dashboards, the Explore page and the alerts.

A short timeout on every call: a panel whose Prometheus hangs says so in a few seconds
instead of holding the page. Every failure to get an answer is ``MetricsUnavailable``;
an answer that refuses the query (bad PromQL) is ``MetricsQueryError`` with Prometheus' words.
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from minishop.console.application.panels import (
    ExemplarSample,
    MetricsQueryError,
    MetricsUnavailable,
    SampledSeries,
)

TIMEOUT_SECONDS = 5.0


def _float(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


class PrometheusClient:
    """One Prometheus server; a client per call keeps no socket open between page loads."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=self._timeout, transport=self._transport
            ) as client:
                response = await client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise MetricsUnavailable(
                f"no answer from {self.base_url} ({type(exc).__name__})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            raise MetricsUnavailable(
                f"{self.base_url}{path} answered {response.status_code} without JSON"
            ) from None
        if response.status_code in {400, 422} and isinstance(body, dict):
            raise MetricsQueryError(str(body.get("error") or "bad query"))
        if response.status_code != 200 or not isinstance(body, dict):
            raise MetricsUnavailable(f"{self.base_url}{path} answered {response.status_code}")
        if body.get("status") != "success":
            raise MetricsQueryError(str(body.get("error") or "the query failed"))
        return body.get("data")

    async def query_range(
        self, expr: str, start: float, end: float, step: float
    ) -> list[SampledSeries]:
        data = await self._get(
            "/api/v1/query_range", {"query": expr, "start": start, "end": end, "step": step}
        )
        return [
            SampledSeries(
                labels=item.get("metric") or {},
                samples=[(float(t), _float(v)) for t, v in item.get("values") or []],
            )
            for item in (data or {}).get("result") or []
        ]

    async def query(self, expr: str, at: float) -> list[SampledSeries]:
        data = await self._get("/api/v1/query", {"query": expr, "time": at}) or {}
        result = data.get("result")
        if data.get("resultType") == "scalar" and isinstance(result, list):
            return [SampledSeries(labels={}, samples=[(float(result[0]), _float(result[1]))])]
        return [
            SampledSeries(
                labels=item.get("metric") or {},
                samples=[(float(item["value"][0]), _float(item["value"][1]))],
            )
            for item in result or []
            if isinstance(item.get("value"), list)
        ]

    async def exemplars(self, expr: str, start: float, end: float) -> list[ExemplarSample]:
        data = await self._get(
            "/api/v1/query_exemplars", {"query": expr, "start": start, "end": end}
        )
        return [
            ExemplarSample(
                series_labels=group.get("seriesLabels") or {},
                time=float(exemplar.get("timestamp", 0)),
                value=_float(exemplar.get("value")),
                trace_id=(exemplar.get("labels") or {}).get("trace_id")
                or (exemplar.get("labels") or {}).get("traceID"),
            )
            for group in data or []
            for exemplar in group.get("exemplars") or []
        ]

    async def label_values(self, label: str, metric: str | None = None) -> list[str]:
        params = {"match[]": metric} if metric else None
        data = await self._get(f"/api/v1/label/{label}/values", params)
        return sorted(str(value) for value in data or [])

    async def rules(self) -> list[dict[str, Any]]:
        """The raw rule groups; ``alert_sources`` reads them."""
        data = await self._get("/api/v1/rules") or {}
        return list(data.get("groups") or [])
