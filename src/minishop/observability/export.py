"""A span processor that can never make a request wait for the telemetry backend.

The SDK's BatchSpanProcessor already batches on a thread, but it neither counts
spans lost to a failing exporter nor says so once instead of on every batch. This
one keeps a bounded queue (new spans are dropped, never blocked on, when it is
full), exports from a daemon thread, and counts every span it gives up on in
``otel_spans_dropped_total`` so a down collector is visible on a dashboard.

Its last export at shutdown is bounded too (``shutdown_budget_seconds``): the
worker thread gets that long to send what is queued, and what it could not send by
then is counted as dropped (``reason="shutdown"``) and left behind, an export stuck
on a black-holed collector included (the thread is a daemon: the process exits
without it). A stop never waits for the telemetry backend.
"""

from __future__ import annotations

import collections
import os
import threading
import time

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import Counter

from minishop.observability.logging import get_logger

_log = get_logger(__name__)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


SHUTDOWN_BUDGET_VARIABLE = "MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS"
DEFAULT_SHUTDOWN_BUDGET_MS = 750


def shutdown_budget_seconds() -> float:
    """How long a stopping service gives its telemetry to leave: part of the 5 s stop budget.

    The gateway's and then the services' graceful shutdown take up to 1.5 s each; this
    (0.75 s by default, spans and log records flushed side by side) and the process's
    own exit fit in the rest.
    """
    return max(0, _env_int(SHUTDOWN_BUDGET_VARIABLE, DEFAULT_SHUTDOWN_BUDGET_MS)) / 1000


class BoundedExportProcessor(SpanProcessor):
    """Batches finished spans to ``exporter`` from a background thread.

    Sizes follow the standard ``OTEL_BSP_*`` variables so users tune it as they
    would tune the SDK's own processor.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        exported: Counter,
        dropped: Counter,
        service: str,
        max_queue_size: int | None = None,
        max_batch_size: int | None = None,
        schedule_delay_ms: int | None = None,
    ) -> None:
        self._exporter = exporter
        self._exported = exported
        self._dropped_queue_full = dropped.labels(service, "queue_full")
        self._dropped_export_failed = dropped.labels(service, "export_failed")
        self._dropped_shutdown = dropped.labels(service, "shutdown")
        self._max_queue_size = max_queue_size or _env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        self._max_batch_size = max_batch_size or _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        delay_ms = schedule_delay_ms or _env_int("OTEL_BSP_SCHEDULE_DELAY", 1000)
        self._delay = delay_ms / 1000
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._export_lock = threading.Lock()
        self._shutdown = False
        self._final_deadline = 0.0  # set at shutdown: the worker's last drain ends by then
        self._in_flight = 0  # spans of the export under way
        self._abandoned = False  # shutdown gave up on the worker: its results no longer count
        self._failing = False
        self._worker = threading.Thread(target=self._run, name="minishop-span-export", daemon=True)
        self._worker.start()

    @property
    def queue_size(self) -> int:
        return len(self._queue)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        if self._shutdown:
            self._dropped_shutdown.inc()
            return
        if len(self._queue) >= self._max_queue_size:
            self._dropped_queue_full.inc()
            return
        self._queue.append(span)
        if len(self._queue) >= self._max_batch_size:
            self._wake.set()

    def _run(self) -> None:
        while not self._shutdown:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._export_all()
        with self._export_lock:  # the last drain, bounded by shutdown's deadline
            self._drain(deadline=self._final_deadline)

    def _export_all(self) -> None:
        with self._export_lock:
            self._drain(deadline=None)

    def _drain(self, deadline: float | None) -> None:
        """Export until the queue is empty (or the deadline passes); caller holds the lock."""
        while self._queue and (deadline is None or time.monotonic() < deadline):
            if self._shutdown and time.monotonic() >= self._final_deadline:
                return  # a drain begun before shutdown stops at its deadline as well
            batch = [
                self._queue.popleft() for _ in range(min(self._max_batch_size, len(self._queue)))
            ]
            self._export(batch)

    def _export(self, batch: list[ReadableSpan]) -> None:
        self._in_flight = len(batch)
        try:
            result = self._exporter.export(batch)
        except Exception:  # an exporter bug must not kill the thread
            result = SpanExportResult.FAILURE
        finally:
            self._in_flight = 0
        if self._abandoned:
            return  # already counted as dropped by shutdown
        if result is SpanExportResult.SUCCESS:
            self._exported.inc(len(batch))
            if self._failing:
                self._failing = False
                _log.info("span export recovered")
            return
        self._dropped_export_failed.inc(len(batch))
        if not self._failing:
            self._failing = True
            _log.warning("span export failing, spans are being dropped", spans=len(batch))

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued, waiting for an export already under way to finish first."""
        deadline = time.monotonic() + timeout_millis / 1000
        if not self._export_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            self._drain(deadline)
        finally:
            self._export_lock.release()
        return not self._queue

    def shutdown(self, timeout_seconds: float | None = None) -> None:
        """Send what is queued within the budget, count the rest as dropped, stop the exporter.

        Idempotent: the SDK calls it again at interpreter exit.
        """
        if self._shutdown:
            return
        budget = shutdown_budget_seconds() if timeout_seconds is None else timeout_seconds
        self._final_deadline = time.monotonic() + budget
        self._shutdown = True  # from now on, new spans are dropped (and counted)
        self._wake.set()
        self._worker.join(timeout=budget)
        stuck = self._worker.is_alive()
        self._abandoned = stuck
        left = len(self._queue) + (self._in_flight if stuck else 0)
        self._queue.clear()
        if left:
            self._dropped_shutdown.inc(left)
            _log.warning("span export incomplete at shutdown, spans dropped", spans=left)
        # Ends the exporter's retries; an HTTP request still waiting is left to the daemon
        # worker, which the process does not wait for.
        self._exporter.shutdown()
