"""What the console's receiver and store count, on the console's own ``/metrics``.

Items are counted by outcome so a lost span can be found: ``accepted`` (queued), ``rejected``
(refused with a 4xx, 429 or 503: the sender still has them and may retry) and ``dropped``
(accepted but never stored: the store failed, or shutdown came first). Gauges are read at
scrape time, nothing is updated on the hot path for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from minishop.console.application.ports import StoreCounts
from minishop.observability import ServiceMetrics


class ConsoleMetrics:
    """Implements the ingest's ``IngestCounters``, the receiver's and the store's counting."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._service = metrics.service
        self._metrics = metrics
        self._items = metrics.counter(
            "console_otlp_items",
            "Spans and log records received over OTLP, by outcome.",
            ["signal", "outcome"],
        )
        self._requests = metrics.counter(
            "console_otlp_requests",
            "OTLP export requests answered, by status.",
            ["signal", "status"],
        )
        self._retention = metrics.counter(
            "console_retention_deleted",
            "Spans and log records deleted by retention, by reason.",
            ["signal", "reason"],
        )

    def accepted(self, signal: str, items: int) -> None:
        self._items.labels(self._service, signal, "accepted").inc(items)

    def rejected(self, signal: str, items: int) -> None:
        self._items.labels(self._service, signal, "rejected").inc(items)

    def dropped(self, signal: str, items: int) -> None:
        self._items.labels(self._service, signal, "dropped").inc(items)

    def request(self, signal: str, status: int) -> None:
        self._requests.labels(self._service, signal, str(status)).inc()

    def retention_deleted(self, signal: str, reason: str, items: int) -> None:
        """A ``RetentionListener`` for ``SqliteTelemetryStore(on_retention=...)``."""
        self._retention.labels(self._service, signal, reason).inc(items)

    def watch(self, queued_items: Callable[[], int], counts: Callable[[], StoreCounts]) -> None:
        """Expose the queue's length and what the store holds, read when Prometheus scrapes."""
        self._metrics.gauge_callback(
            "console_queue_items",
            "Spans and log records accepted and not yet written.",
            queued_items,
        )
        self._metrics.registry.register(_StoredItems(self._service, counts))


class _StoredItems(Collector):
    def __init__(self, service: str, counts: Callable[[], StoreCounts]) -> None:
        self._service = service
        self._counts = counts

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        try:
            counts = self._counts()
        except Exception:  # a closed store must not break the scrape
            return
        family = GaugeMetricFamily(
            "console_stored_items", "What the store holds.", labels=["service", "signal"]
        )
        family.add_metric([self._service, "spans"], counts.spans)
        family.add_metric([self._service, "logs"], counts.logs)
        family.add_metric([self._service, "traces"], counts.traces)
        yield family
