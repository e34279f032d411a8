"""The critical path of a trace: the spans whose time the request really waited for.

Speeding up a span off the path does not shorten the trace; speeding up one on it does.
The standard algorithm: from the root, start at the span's end and walk back in time,
taking each time the child that ended last before the current point (its end clipped to the
parent's), recurse into it, and move the point to that child's start; children that ran
entirely in the shadow of a later one are off the path.
"""

from __future__ import annotations

from collections.abc import Sequence

from minishop.console.domain.records import SpanRecord


def trace_roots(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """Spans without a parent in the trace: the root, or orphans while the root is missing."""
    ids = {span.span_id for span in spans}
    return [span for span in spans if not span.parent_span_id or span.parent_span_id not in ids]


def children_by_parent(spans: Sequence[SpanRecord]) -> dict[str, list[SpanRecord]]:
    children: dict[str, list[SpanRecord]] = {}
    for span in spans:
        if span.parent_span_id:
            children.setdefault(span.parent_span_id, []).append(span)
    return children


def critical_path(spans: Sequence[SpanRecord]) -> frozenset[str]:
    """The span ids on the critical path; empty for an empty trace.

    With the root missing, the path starts at the orphan that ended last (the one the
    trace's end waited for), so a partial trace still shows where its time went.
    """
    roots = trace_roots(spans)
    if not roots:
        return frozenset()
    root = max(roots, key=lambda span: (span.end_ns, -span.start_ns))
    children = children_by_parent(spans)
    on_path: set[str] = set()
    # (span, start, end): the window of the span that counts, clipped to its parent's.
    pending: list[tuple[SpanRecord, int, int]] = [(root, root.start_ns, root.end_ns)]
    while pending:
        span, start, end = pending.pop()
        if span.span_id in on_path:  # a malformed trace that loops: visit each span once
            continue
        on_path.add(span.span_id)
        clipped = [
            (child, max(child.start_ns, start), min(child.end_ns, end))
            for child in children.get(span.span_id, ())
            if child.start_ns < end and child.end_ns > start
        ]
        clipped.sort(key=lambda item: item[2], reverse=True)
        point = end
        for child, child_start, child_end in clipped:
            if point <= start:
                break
            if child_end <= point:
                pending.append((child, child_start, child_end))
                point = child_start
    return frozenset(on_path)
