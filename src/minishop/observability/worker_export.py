"""A span processor that hands finished spans to an exporter process instead of exporting them.

``BoundedExportProcessor`` encodes and POSTs on a thread of the service, and every
microsecond of that is GIL time taken from requests (an encode of a 512-span batch holds
the event loop for up to the 5 ms switch interval). Here the service keeps only what must
stay: ``on_end`` appends the span to a bounded deque (a full deque drops the span and counts
it, never waits). A writer thread flattens small chunks to plain tuples (``flat_span``),
``marshal``s them and writes them down a pipe to ``python -m minishop.export_worker``, which
encodes, POSTs with the SDK exporter's retries, and reports back on a second pipe.
``bench/span_export_cost.py`` measures both paths side by side.

Counters keep their names and meaning: ``otel_spans_exported_total`` counts spans the worker
confirmed the collector accepted; ``otel_spans_dropped_total{reason}`` counts spans lost to
a full queue (here or in the worker: ``queue_full``), a collector that refused them or stayed
down through the retries (``export_failed``), a worker that died holding them
(``worker_lost``: the worker is restarted, at most ``max_restarts`` times a minute) and a
stop (``shutdown``). A stop is bounded by ``shutdown_budget_seconds()``: the worker is given
its input's end and that long to send what it holds, then it is killed.
"""

from __future__ import annotations

import collections
import marshal
import threading
import time
from collections.abc import Callable

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from prometheus_client import Counter

from minishop.export_worker import protocol
from minishop.observability.export import _env_int, shutdown_budget_seconds
from minishop.observability.export_process import ExporterProcess, Report
from minishop.observability.logging import get_logger
from minishop.observability.otlp_encoding import flat_span

_log = get_logger(__name__)

# Spans per frame: small enough that one chunk's flattening and marshalling (~3 µs a span,
# measured) holds the GIL well under a millisecond before the pipe write releases it.
CHUNK_SPANS = 64
RESTART_WINDOW_SECONDS = 60.0

Spawn = Callable[..., ExporterProcess]


class WorkerExportProcessor(SpanProcessor):
    def __init__(
        self,
        *,
        exported: Counter,
        dropped: Counter,
        service: str,
        max_queue_size: int | None = None,
        max_batch_size: int | None = None,
        schedule_delay_ms: int | None = None,
        max_restarts: int = 5,
        spawn: Spawn = ExporterProcess,
    ) -> None:
        self._exported = exported
        self._dropped = {
            reason: dropped.labels(service, reason)
            for reason in ("queue_full", "export_failed", "worker_lost", "shutdown")
        }
        self._max_queue_size = max_queue_size or _env_int("OTEL_BSP_MAX_QUEUE_SIZE", 2048)
        self._max_batch_size = max_batch_size or _env_int("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)
        self._delay = (schedule_delay_ms or _env_int("OTEL_BSP_SCHEDULE_DELAY", 1000)) / 1000
        self._max_restarts = max_restarts
        self._spawn = spawn
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._shutdown = False
        self._abandoned = False  # the stop's budget ran out: late reports no longer count
        self._final_deadline = 0.0
        self._failing = False
        self._worker: ExporterProcess | None = None
        self._starts: collections.deque[float] = collections.deque()
        self._gave_up_logged = False
        self._writer = threading.Thread(
            target=self._run, name="minishop-span-handover", daemon=True
        )
        self._writer.start()

    @property
    def queue_size(self) -> int:
        """Spans not yet settled: queued here, or handed to the worker and not reported on."""
        worker = self._worker
        return len(self._queue) + (worker.outstanding if worker is not None else 0)

    @property
    def worker_pid(self) -> int | None:
        worker = self._worker
        return worker.pid if worker is not None else None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        if self._shutdown:
            self._dropped["shutdown"].inc()
            return
        if len(self._queue) >= self._max_queue_size:
            self._dropped["queue_full"].inc()
            return
        self._queue.append(span)
        if len(self._queue) >= self._max_batch_size:
            self._wake.set()

    # The writer thread.

    def _run(self) -> None:
        while not self._shutdown:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._hand_over(deadline=None)
            self._reap()
        self._hand_over(deadline=self._final_deadline)
        if self._worker is not None:
            self._worker.close_input()

    def _hand_over(self, deadline: float | None) -> None:
        queue = self._queue
        while queue and (deadline is None or time.monotonic() < deadline):
            chunk = [queue.popleft() for _ in range(min(CHUNK_SPANS, len(queue)))]
            worker = self._live_worker()
            if worker is None or not worker.send(
                marshal.dumps([flat_span(span) for span in chunk]), len(chunk)
            ):
                self._dropped["shutdown" if self._abandoned else "worker_lost"].inc(len(chunk))

    def _reap(self) -> None:
        """Bury a worker that died with nothing left to hand it: what it held is counted
        lost now, not when the next spans come (a flush would otherwise wait for reports
        that never come: the worker can die between our liveness check and our write)."""
        worker = self._worker
        if worker is not None and worker.ended.is_set():
            self._bury(worker)
            self._worker = None

    def _live_worker(self) -> ExporterProcess | None:
        """The worker, started on first use and again after it died (a bounded number of times)."""
        worker = self._worker
        if worker is not None and not worker.closed and worker.process.poll() is None:
            return worker
        if worker is not None:
            self._bury(worker)
            self._worker = None
        if self._abandoned:
            return None
        now = time.monotonic()
        while self._starts and now - self._starts[0] > RESTART_WINDOW_SECONDS:
            self._starts.popleft()
        if len(self._starts) > self._max_restarts:
            if not self._gave_up_logged:
                self._gave_up_logged = True
                _log.error("span exporter process keeps dying, spans are dropped")
            return None
        self._starts.append(now)
        try:
            self._worker = self._spawn(
                max_queue=self._max_queue_size,
                max_batch=self._max_batch_size,
                budget_ms=int(shutdown_budget_seconds() * 800),  # ends before the service's
                on_report=self._reporter(),
            )
        except OSError as error:
            _log.error("span exporter process could not start", error=str(error))
            return None
        self._gave_up_logged = False
        return self._worker

    def _bury(self, worker: ExporterProcess) -> None:
        worker.kill()
        worker.ended.wait(1.0)  # the reports it wrote before dying are read first
        lost = worker.lost()
        if lost:
            self._dropped["worker_lost"].inc(lost)
        _log.warning(
            "span exporter process ended, restarting it",
            exit_code=worker.process.returncode,
            spans_lost=lost,
        )

    def _reporter(self) -> Report:
        def on_report(kind: int, count: int) -> None:
            if self._abandoned:
                return  # already counted as dropped by the stop
            if kind == protocol.SENT:
                self._exported.inc(count)
                if self._failing:
                    self._failing = False
                    _log.info("span export recovered")
            elif kind == protocol.QUEUE_FULL:
                self._dropped["queue_full"].inc(count)
            else:
                self._dropped["export_failed"].inc(count)
                if not self._failing:
                    self._failing = True
                    _log.warning("span export failing, spans are being dropped", spans=count)

        return on_report

    # Flush and stop.

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Hands everything over and waits for the worker's reports on it, within the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        while time.monotonic() < deadline:
            if self.queue_size == 0:
                return True
            self._wake.set()
            time.sleep(0.01)
        return self.queue_size == 0

    def shutdown(self, timeout_seconds: float | None = None) -> None:
        """Hand over what is queued, give the worker the budget to send it, count the rest.

        Idempotent: the SDK calls it again at interpreter exit.
        """
        if self._shutdown:
            return
        budget = shutdown_budget_seconds() if timeout_seconds is None else timeout_seconds
        self._final_deadline = time.monotonic() + budget
        self._shutdown = True  # from now on, new spans are dropped (and counted)
        self._wake.set()
        self._writer.join(timeout=budget)
        worker = self._worker
        if worker is not None and not self._writer.is_alive():
            worker.ended.wait(max(0.0, self._final_deadline - time.monotonic()))
        self._abandoned = True
        left = len(self._queue)
        self._queue.clear()
        if worker is not None:
            left += worker.lost()
            worker.kill()
        if left:
            self._dropped["shutdown"].inc(left)
            _log.warning("span export incomplete at shutdown, spans dropped", spans=left)
