"""The ingest's queue and writer thread, without HTTP."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from minishop.console.application.ingest import Ingest, Offer
from minishop.console.domain.records import LogRecord, SpanRecord
from tests.console.records import log, span, trace_id


class ListStore:
    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.logs: list[LogRecord] = []
        self.retained: list[int] = []
        self.gate = threading.Event()

    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        self.gate.wait(10)
        self.spans.extend(spans)

    def write_logs(self, logs: Sequence[LogRecord]) -> None:
        self.logs.extend(logs)

    def enforce_retention(self, now_ns: int) -> None:
        self.retained.append(now_ns)


def test_stop_writes_what_is_queued_and_then_refuses() -> None:
    store = ListStore()
    ingest = Ingest(store, max_items=1000, retention_interval_seconds=3600, clock_ns=lambda: 42)  # type: ignore[arg-type]
    assert ingest.offer_spans([span(trace_id(1), "a", "x", start_ns=1)]) is Offer.UNAVAILABLE
    ingest.start()
    for n in range(5):
        assert ingest.offer_spans([span(trace_id(n), "a", "x", start_ns=n)] * 10) is Offer.ACCEPTED
    assert ingest.offer_logs([log("hello", timestamp_ns=1)]) is Offer.ACCEPTED
    store.gate.set()
    ingest.stop()
    assert len(store.spans) == 50 and len(store.logs) == 1
    assert ingest.queued_items == 0
    assert store.retained[0] == 42  # retention runs at start, then every interval
    assert ingest.offer_logs([log("late", timestamp_ns=2)]) is Offer.UNAVAILABLE


def test_the_queue_is_bounded_in_items() -> None:
    store = ListStore()
    ingest = Ingest(store, max_items=20, retention_interval_seconds=3600)  # type: ignore[arg-type]
    ingest.start()
    try:
        batch = [span(trace_id(1), "a", "x", start_ns=1)] * 15
        assert ingest.offer_spans(batch) is Offer.ACCEPTED  # taken by the writer or queued
        accepted = [ingest.offer_spans(batch) for _ in range(3)]
        assert Offer.QUEUE_FULL in accepted
        assert (
            ingest.queued_items <= 30
        )  # never more than the bound, bar one batch into an empty queue
    finally:
        store.gate.set()
        ingest.stop()
