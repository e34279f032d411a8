"""Between the OTLP receiver and the store: a bounded queue and the one thread that writes.

The receiver must answer quickly whatever the store is doing, so it only decodes and offers;
a single writer thread drains the queue into the store in batches (SQLite has one writer at
a time anyway) and runs retention every so often. The queue is bounded in items (spans plus
log records), not requests: a full queue is answered at once with "try later" (429), which
OTLP exporters honour, instead of growing memory. After a store failure new data is refused
for a short while (503) rather than accepted only to be dropped.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from minishop.console.application.ports import TelemetryStore
from minishop.console.domain.records import LogRecord, SpanRecord

logger = logging.getLogger(__name__)

SPANS = "spans"
LOGS = "logs"


class Offer(enum.Enum):
    ACCEPTED = "accepted"
    QUEUE_FULL = "queue_full"  # 429: the sender retries later
    UNAVAILABLE = "unavailable"  # 503: the store is failing, or the ingest is not running


class IngestCounters(Protocol):
    """What the ingest reports, so the application layer knows nothing of Prometheus."""

    def accepted(self, signal: str, items: int) -> None: ...

    def dropped(self, signal: str, items: int) -> None: ...


class _NoCounters:
    def accepted(self, signal: str, items: int) -> None:
        return None

    def dropped(self, signal: str, items: int) -> None:
        return None


class Ingest:
    def __init__(
        self,
        store: TelemetryStore,
        *,
        max_items: int,
        retention_interval_seconds: float,
        counters: IngestCounters | None = None,
        batch_items: int = 5_000,
        failure_backoff_seconds: float = 5.0,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._store = store
        self.max_items = max_items
        self._retention_interval = retention_interval_seconds
        self._counters = counters or _NoCounters()
        self._batch_items = batch_items
        self.failure_backoff_seconds = failure_backoff_seconds
        self._clock_ns = clock_ns
        self._queue: deque[tuple[str, Sequence[SpanRecord] | Sequence[LogRecord]]] = deque()
        self._queued = 0
        self._condition = threading.Condition()
        self._running = False
        self._stopping = False
        self._failing_until = 0.0
        self._deadline = 0.0
        self._thread: threading.Thread | None = None

    @property
    def queued_items(self) -> int:
        """Spans and log records accepted and not yet written (the queue gauge)."""
        return self._queued

    def offer_spans(self, spans: Sequence[SpanRecord]) -> Offer:
        return self._offer(SPANS, spans)

    def offer_logs(self, logs: Sequence[LogRecord]) -> Offer:
        return self._offer(LOGS, logs)

    def _offer(self, signal: str, items: Sequence[SpanRecord] | Sequence[LogRecord]) -> Offer:
        if not items:
            return Offer.ACCEPTED
        with self._condition:
            if not self._running or self._stopping or time.monotonic() < self._failing_until:
                return Offer.UNAVAILABLE
            # An empty queue takes any one batch, or a batch larger than the queue would be
            # refused forever; the receiver's body limit bounds it.
            if self._queued and self._queued + len(items) > self.max_items:
                return Offer.QUEUE_FULL
            self._queue.append((signal, items))
            self._queued += len(items)
            self._condition.notify()
        self._counters.accepted(signal, len(items))
        return Offer.ACCEPTED

    def start(self) -> None:
        with self._condition:
            if self._running:
                return
            self._running = True
            self._stopping = False
        self._thread = threading.Thread(target=self._run, name="console-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_seconds: float = 5.0) -> None:
        """Refuse new data, write what is queued (for at most ``timeout_seconds``), then end."""
        with self._condition:
            if not self._running:
                return
            self._stopping = True
            self._deadline = time.monotonic() + timeout_seconds
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout_seconds + 1.0)
        with self._condition:
            self._running = False
            left = list(self._queue)
            self._queue.clear()
            self._queued = 0
        for signal, items in left:
            self._counters.dropped(signal, len(items))

    def _run(self) -> None:
        next_retention = time.monotonic()
        while True:
            with self._condition:
                while not self._queue and not self._stopping:
                    wait = next_retention - time.monotonic()
                    if wait <= 0:
                        break
                    self._condition.wait(wait)
                if self._stopping and (not self._queue or time.monotonic() > self._deadline):
                    return
                batch = self._take()
            if batch:
                self._write(batch)
            if time.monotonic() >= next_retention:
                self._retain()
                next_retention = time.monotonic() + self._retention_interval

    def _take(self) -> list[tuple[str, Sequence[SpanRecord] | Sequence[LogRecord]]]:
        batch = []
        taken = 0
        while self._queue and taken < self._batch_items:
            signal, items = self._queue.popleft()
            batch.append((signal, items))
            taken += len(items)
        self._queued -= taken
        return batch

    def _write(self, batch: list[tuple[str, Sequence[SpanRecord] | Sequence[LogRecord]]]) -> None:
        spans: list[SpanRecord] = []
        logs: list[LogRecord] = []
        for signal, items in batch:
            (spans if signal == SPANS else logs).extend(items)  # type: ignore[arg-type]
        for signal, items, write in (
            (SPANS, spans, self._store.write_spans),
            (LOGS, logs, self._store.write_logs),
        ):
            if not items:
                continue
            try:
                write(items)  # type: ignore[operator]
            except Exception:
                logger.exception("the store failed to write %d %s: dropped", len(items), signal)
                self._counters.dropped(signal, len(items))
                with self._condition:
                    self._failing_until = time.monotonic() + self.failure_backoff_seconds

    def _retain(self) -> None:
        try:
            self._store.enforce_retention(self._clock_ns())
        except Exception:
            logger.exception("retention failed; it is tried again at the next interval")
