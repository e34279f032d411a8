"""A trace as the rows of a waterfall: spans in tree order, each placed on the trace's time axis.

Pure arithmetic, so the page template only draws: a row's depth (indentation), where its bar
starts and how wide it is (percent of the trace), and whether it is on the critical path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from minishop.console.application.critical_path import (
    children_by_parent,
    critical_path,
    trace_roots,
)
from minishop.console.domain.records import SpanRecord

MIN_BAR_PERCENT = 0.3  # a zero-length span is still a visible tick


@dataclass(frozen=True, slots=True)
class WaterfallRow:
    span: SpanRecord
    depth: int
    offset_percent: float
    width_percent: float
    critical: bool
    orphan: bool  # its parent is not in the trace (not received, or dropped)


@dataclass(frozen=True, slots=True)
class Waterfall:
    rows: tuple[WaterfallRow, ...]
    start_ns: int
    end_ns: int

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns


def build_waterfall(spans: Sequence[SpanRecord]) -> Waterfall:
    """Children under their parent by start time; roots (and orphans) by start time."""
    if not spans:
        return Waterfall((), 0, 0)
    start = min(span.start_ns for span in spans)
    end = max(span.end_ns for span in spans)
    total = max(1, end - start)
    path = critical_path(spans)
    children = children_by_parent(spans)
    roots = sorted(trace_roots(spans), key=lambda span: span.start_ns)
    rows: list[WaterfallRow] = []
    seen: set[str] = set()
    stack: list[tuple[SpanRecord, int]] = [(root, 0) for root in reversed(roots)]
    while stack:
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        offset = min((span.start_ns - start) / total * 100, 100 - MIN_BAR_PERCENT)
        width = max(MIN_BAR_PERCENT, span.duration_ns / total * 100)
        rows.append(
            WaterfallRow(
                span=span,
                depth=depth,
                offset_percent=round(offset, 3),
                width_percent=round(min(width, 100 - offset), 3),
                critical=span.span_id in path,
                orphan=depth == 0 and bool(span.parent_span_id),
            )
        )
        kids = sorted(children.get(span.span_id, ()), key=lambda child: child.start_ns)
        stack.extend((child, depth + 1) for child in reversed(kids))
        if not stack:  # spans only reachable through a parent loop: shown, not lost
            stack.extend((left, 0) for left in spans if left.span_id not in seen)
    return Waterfall(tuple(rows), start, end)
