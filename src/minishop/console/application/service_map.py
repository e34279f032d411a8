"""Where each service goes on the map: one column per call depth from the entry point.

The entry points are the services nobody calls (the gateway, in the shop); a service is
placed in the column of its shortest call chain from one of them, so requests flow left to
right. Services only reachable through a loop, or seen alone, go in the first column.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from minishop.console.application.ports import Edge

ERROR_HEAVY_RATIO = 0.05  # an edge failing more often than this is drawn in red


@dataclass(frozen=True, slots=True)
class MapLayout:
    columns: tuple[tuple[str, ...], ...]  # left to right, each top to bottom by name
    depth: dict[str, int]


def error_ratio(edge: Edge) -> float:
    return edge.errors / edge.requests if edge.requests else 0.0


def is_error_heavy(edge: Edge) -> bool:
    return error_ratio(edge) > ERROR_HEAVY_RATIO


def layout_map(nodes: Sequence[str], edges: Sequence[Edge]) -> MapLayout:
    names = sorted(set(nodes) | {e.caller for e in edges} | {e.callee for e in edges})
    calls: dict[str, set[str]] = {name: set() for name in names}
    called = set()
    for edge in edges:
        if edge.caller != edge.callee:
            calls[edge.caller].add(edge.callee)
            called.add(edge.callee)
    depth: dict[str, int] = {name: 0 for name in names if name not in called}
    queue = deque(sorted(depth))
    while queue:
        name = queue.popleft()
        for callee in sorted(calls[name]):
            if callee not in depth:
                depth[callee] = depth[name] + 1
                queue.append(callee)
    for name in names:
        depth.setdefault(name, 0)
    width = max(depth.values(), default=-1) + 1
    columns = tuple(
        tuple(name for name in names if depth[name] == column) for column in range(width)
    )
    return MapLayout(columns=columns, depth=depth)
