"""An in-memory ``TelemetryStore`` over lists, and a small LogQL stand-in, for page and API tests.

Filtering is simple on purpose: enough to tell that pages and the API pass the right
query to the store and show what comes back, not a second implementation to test.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from minishop.console.application.lab import LabProcess, ProcessStatus
from minishop.console.application.ports import Edge, RedPoint, StoreCounts, TraceQuery, TraceSummary
from minishop.console.domain.logql import (
    LabelFilter,
    LabelMatcher,
    LineFilter,
    LogQuery,
    LogQueryError,
)
from minishop.console.domain.records import LogRecord, SpanRecord, StoredLog

NS = 1_000_000_000
MS = 1_000_000


def span(
    trace_id: str,
    span_id: str,
    parent: str = "",
    *,
    service: str = "gateway",
    name: str = "GET /",
    start_ms: float = 0,
    end_ms: float = 10,
    status: str = "unset",
    base_ns: int = 1_700_000_000 * NS,
    **attributes: object,
) -> SpanRecord:
    """A span placed at ``base_ns`` + milliseconds, the way tests think about waterfalls."""
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        service=service,
        name=name,
        kind="server" if not parent else "internal",
        start_ns=base_ns + int(start_ms * MS),
        end_ns=base_ns + int(end_ms * MS),
        status=status,
        attributes=dict(attributes),
    )


def _labels(record: LogRecord) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in record.attributes.items()}
    labels.update(
        app="minishop",
        service=record.service,
        level=record.level,
        trace_id=record.trace_id,
        span_id=record.span_id,
    )
    return labels


def _matches(matcher: LabelMatcher, labels: dict[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if matcher.op == "=~" else not found


def _keeps(query: LogQuery, record: LogRecord) -> bool:
    labels = _labels(record)
    if not all(_matches(m, labels) for m in query.selectors):
        return False
    for stage in query.pipeline:
        if isinstance(stage, LabelFilter):
            if not _matches(stage.matcher, labels):
                return False
        elif (stage.op == "|=" and stage.value not in record.message) or (
            stage.op == "!=" and stage.value in record.message
        ):
            return False
    return True


@dataclass
class FakeStore:
    spans: list[SpanRecord] = field(default_factory=list)
    logs: list[StoredLog] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    last_trace_query: TraceQuery | None = None
    last_log_call: dict[str, object] = field(default_factory=dict)

    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        self.spans.extend(spans)

    def write_logs(self, logs: Sequence[LogRecord]) -> None:
        for record in logs:
            self.logs.append(StoredLog(len(self.logs) + 1, record))

    def enforce_retention(self, now_ns: int) -> StoreCounts:
        return self.counts()

    def _summary(self, trace_id: str) -> TraceSummary:
        spans = sorted(self.get_trace(trace_id), key=lambda s: s.start_ns)
        ids = {s.span_id for s in spans}
        root = next((s for s in spans if s.parent_span_id not in ids), spans[0])
        start = min(s.start_ns for s in spans)
        return TraceSummary(
            trace_id=trace_id,
            root_service=root.service,
            root_name=root.name,
            start_ns=start,
            duration_ns=max(s.end_ns for s in spans) - start,
            span_count=len(spans),
            error=any(s.status == "error" for s in spans),
            services=tuple(sorted({s.service for s in spans})),
        )

    def search_traces(self, query: TraceQuery) -> list[TraceSummary]:
        self.last_trace_query = query
        found = []
        for trace_id in dict.fromkeys(s.trace_id for s in self.spans):
            spans = self.get_trace(trace_id)
            summary = self._summary(trace_id)
            if query.service and not any(s.service == query.service for s in spans):
                continue
            if query.operation and not any(s.name == query.operation for s in spans):
                continue
            if query.status == "error" and not summary.error:
                continue
            if query.status == "ok" and summary.error:
                continue
            if query.min_duration_ms and summary.duration_ns < query.min_duration_ms * MS:
                continue
            if query.attribute and not any(
                str(s.attributes.get(query.attribute[0])) == query.attribute[1] for s in spans
            ):
                continue
            if query.since_ns is not None and summary.start_ns < query.since_ns:
                continue
            if query.until_ns is not None and summary.start_ns > query.until_ns:
                continue
            found.append(summary)
        found.sort(key=lambda s: s.start_ns, reverse=True)
        return found[: query.limit]

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start_ns)

    def query_logs(
        self,
        query: LogQuery,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredLog]:
        self.last_log_call = {"query": query, "since_ns": since_ns, "after_id": after_id}
        rows = [
            row
            for row in self.logs
            if _keeps(query, row.record)
            and (since_ns is None or row.record.timestamp_ns >= since_ns)
            and (until_ns is None or row.record.timestamp_ns <= until_ns)
            and (after_id is None or row.id > after_id)
        ]
        return sorted(rows, key=lambda row: row.id, reverse=True)[:limit]

    def trace_logs(self, trace_id: str, limit: int = 500) -> list[StoredLog]:
        return [row for row in self.logs if row.record.trace_id == trace_id][:limit]

    def services(self) -> list[str]:
        return sorted({s.service for s in self.spans})

    def operations(self, service: str | None = None) -> list[str]:
        return sorted({s.name for s in self.spans if service is None or s.service == service})

    def service_map(self, since_ns: int, until_ns: int) -> tuple[list[str], list[Edge]]:
        nodes = {s.service for s in self.spans}
        nodes |= {e.caller for e in self.edges} | {e.callee for e in self.edges}
        return sorted(nodes), list(self.edges)

    def red_series(
        self, since_ns: int, until_ns: int, step_seconds: int
    ) -> dict[str, list[RedPoint]]:
        return {}

    def counts(self) -> StoreCounts:
        return StoreCounts(
            spans=len(self.spans),
            traces=len({s.trace_id for s in self.spans}),
            logs=len(self.logs),
        )

    def close(self) -> None:
        pass


@dataclass
class FakeLab:
    """A ``LabDirectory`` that answers with statuses given in advance."""

    answers: list[ProcessStatus] = field(default_factory=list)

    @property
    def processes(self) -> tuple[LabProcess, ...]:
        return tuple(status.process for status in self.answers)

    async def statuses(self) -> list[ProcessStatus]:
        return list(self.answers)


_SELECTOR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*')
_STAGE = re.compile(
    r'\s*(\|=|!=|\|~|!~)\s*"([^"]*)"|\s*\|\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"([^"]*)"'
)


def parse_logql(text: str) -> LogQuery:
    """A stand-in for the real parser: selectors, ``|=``/``!=`` filters, ``| label="v"``."""
    position = len(text) - len(text.lstrip())
    if not text[position:].startswith("{"):
        raise LogQueryError(
            'a query starts with a stream selector such as {app="minishop"}', position
        )
    position += 1
    selectors = []
    while True:
        match = _SELECTOR.match(text, position)
        if match is None:
            raise LogQueryError('expected a label matcher such as app="minishop"', position)
        selectors.append(LabelMatcher(match.group(1), match.group(2), match.group(3)))  # type: ignore[arg-type]
        position = match.end()
        if text.startswith(",", position):
            position += 1
            continue
        if text.startswith("}", position):
            position += 1
            break
        raise LogQueryError("expected , or }", position)
    pipeline: list[LineFilter | LabelFilter] = []
    while text[position:].strip():
        match = _STAGE.match(text, position)
        if match is None:
            position += len(text[position:]) - len(text[position:].lstrip())
            raise LogQueryError('expected a line filter such as |= "text"', position)
        if match.group(1):
            pipeline.append(LineFilter(match.group(1), match.group(2)))  # type: ignore[arg-type]
        else:
            matcher = LabelMatcher(match.group(3), match.group(4), match.group(5))  # type: ignore[arg-type]
            pipeline.append(LabelFilter(matcher))
        position = match.end()
    return LogQuery(tuple(selectors), tuple(pipeline))
