"""What the generator prints: a progress line while it runs and a table per route at the end.

Plain numbers in, text out: the runner reads Locust's statistics into ``RouteRow``s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RouteRow:
    method: str
    name: str  # the route template, as the shop's metrics label it
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    statuses: Mapping[str, int] = field(default_factory=dict)  # "200" -> count; "error" for none


def progress_line(
    elapsed: float, users: int, requests: int, failures: int, rate: float, flood: str | None
) -> str:
    """One line every few seconds: enough to see the load is flowing and healthy."""
    share = f" ({failures / requests:.1%})" if requests else ""
    line = (
        f"[load] {elapsed:5.0f} s  users {users:<4} requests {requests:<7} "
        f"failures {failures}{share}  rate {rate:.1f} req/s"
    )
    return f"{line}  flood {flood}" if flood else line


def _statuses(counts: Mapping[str, int]) -> str:
    return " ".join(f"{status}:{count}" for status, count in sorted(counts.items()))


def summary_lines(rows: Sequence[RouteRow], elapsed: float, total: RouteRow) -> list[str]:
    """The end-of-run table: per route, how many requests, failures and how fast (ms)."""
    rate = total.requests / elapsed if elapsed > 0 else 0.0
    width = max([len(row.name) for row in rows] + [len("route")])
    header = (
        f"{'method':<7} {'route':<{width}} {'requests':>9} {'failures':>9} "
        f"{'p50 ms':>7} {'p95 ms':>7}  statuses"
    )
    lines = [
        f"Load summary: {total.requests} requests in {elapsed:.1f} s ({rate:.1f} req/s), "
        f"{total.failures} failures",
        header,
    ]
    for row in [*sorted(rows, key=lambda row: (row.name, row.method)), total]:
        lines.append(
            f"{row.method:<7} {row.name:<{width}} {row.requests:>9} {row.failures:>9} "
            f"{row.p50_ms:>7.0f} {row.p95_ms:>7.0f}  {_statuses(row.statuses)}".rstrip()
        )
    return lines
