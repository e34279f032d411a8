"""Prometheus metrics of one service: the RED metrics of CONTRACT §3, saturation and process.

Each service owns a private registry instead of prometheus_client's global one, so
several services can live in one test process without clashing names, and what a
scrape returns is exactly what this service declared.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

# `_created` series double every counter's cardinality and no dashboard reads them.
disable_created_metrics()

LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


RESTART_COUNT_VARIABLE = "MINISHOP_RESTART_COUNT"
"""Set by ``minishop up`` on a child it restarted: how many times it did (cli/supervisor.py)."""


def restart_count(environ: Mapping[str, str] = os.environ) -> int:
    """This process's restart count as its supervisor gave it; 0 when unset or unreadable."""
    try:
        return max(0, int(environ.get(RESTART_COUNT_VARIABLE, "0")))
    except ValueError:
        return 0


class _CallbackGauges(Collector):
    """Gauges read at scrape time from callbacks: nothing on the hot path."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._gauges: list[tuple[str, str, Callable[[], float]]] = []

    def add(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._gauges.append((name, documentation, read))

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        for name, documentation, read in self._gauges:
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            try:
                family.add_metric([self._service], float(read()))
            except Exception:  # a broken callback must not break the whole scrape
                continue
            yield family


class ServiceMetrics:
    """The metrics every service exposes, bound to its ``service`` label."""

    def __init__(self, service: str, restarts: int | None = None) -> None:
        self.service = service
        self.restarts = restart_count() if restarts is None else restarts
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

        self.requests = Counter(
            "request",
            "HTTP requests served.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.errors = Counter(
            "error",
            "Failed HTTP requests: server errors and business failures such as a declined payment.",
            ["service", "method", "route", "status", "reason"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "request_duration_seconds",
            "Server-side HTTP request latency.",
            ["service", "method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Beside request_total (whose labels CONTRACT §3 fixes): the share of it that the load
        # generator sent, so dashboards can tell load from people.
        self.synthetic_requests = Counter(
            "synthetic_requests",
            "HTTP requests marked synthetic by W3C baggage (synthetic_request=true): load.",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.in_flight = Gauge(
            "requests_in_flight",
            "HTTP requests being served right now.",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.event_loop_lag = Gauge(
            "event_loop_lag_seconds",
            "How late the event loop ran a timer it was asked to run: a saturated loop shows here.",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.spans_exported = Counter(
            "otel_spans_exported",
            "Spans handed to the OTLP endpoint successfully.",
            ["service"],
            registry=self.registry,
        ).labels(service)
        self.spans_dropped = Counter(
            "otel_spans_dropped",
            "Spans given up on: queue full, export failed, or arrived after shutdown.",
            ["service", "reason"],
            registry=self.registry,
        )
        self.dependency_unreachable = Counter(
            "dependency_unreachable",
            "Calls that could not reach a dependency at all (connection refused or timed out"
            " while connecting), by dependency: a peer service or the payment provider.",
            ["service", "dependency"],
            registry=self.registry,
        )
        # Each restarted process starts at its supervisor's count, not at 0, so the series
        # only ever grows across restarts and increase() over it counts the restarts.
        Counter(
            "service_restarts",
            "Times the supervisor restarted this service after a crash (from its start).",
            ["service"],
            registry=self.registry,
        ).labels(service).inc(self.restarts)
        self._callbacks = _CallbackGauges(service)
        self.registry.register(self._callbacks)

    def unreachable(self, dependency: str) -> None:
        """Count one call that could not connect to ``dependency``."""
        self.dependency_unreachable.labels(self.service, dependency).inc()

    def gauge_callback(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Expose ``read()`` as a gauge evaluated only when Prometheus scrapes."""
        self._callbacks.add(name, documentation, read)

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A business counter whose first label is ``service``."""
        return Counter(name, documentation, ["service", *labels], registry=self.registry)

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, documentation, ["service", *labels], registry=self.registry)

    def histogram(
        self, name: str, documentation: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        return Histogram(
            name, documentation, ["service", *labels], buckets=buckets, registry=self.registry
        )


def metrics_endpoint(metrics: ServiceMetrics) -> Callable[[Request], Response]:
    """``GET /metrics``: Prometheus text by default, OpenMetrics (with exemplars) when asked for."""

    def serve(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept"))
        return Response(
            encoder(metrics.registry), media_type=None, headers={"Content-Type": content_type}
        )

    return serve
