"""Calls between services of one column: the shop's gateway calls every service directly, so
orders, payments, products and users share a column and call each other within it."""

from __future__ import annotations

import re

from minishop.console.adapters.web.map_svg import render_service_map
from minishop.console.application.ports import Edge

ONE_COLUMN = [
    Edge("gateway", "orders", 10, 0, 1.0, 50.0),
    Edge("gateway", "payments", 10, 0, 1.0, 50.0),
    Edge("gateway", "products", 10, 0, 1.0, 50.0),
    Edge("gateway", "users", 10, 0, 1.0, 50.0),
    Edge("payments", "orders", 10, 0, 1.0, 20.0),
    Edge("orders", "users", 10, 0, 1.0, 5.0),
]


def _edge(svg: str, caller: str, callee: str) -> str:
    match = re.search(
        rf'<g class="edge[^"]*" data-from="{caller}" data-to="{callee}">(.*?)</g>', svg
    )
    assert match, (caller, callee)
    return match.group(1)


def test_a_call_past_other_boxes_bends_around_them() -> None:
    svg = render_service_map(["gateway", "orders", "payments", "products", "users"], ONE_COLUMN)
    assert " C " in _edge(svg, "orders", "users")  # a curve, not a line through two boxes
    assert " C " not in _edge(svg, "payments", "orders")  # neighbours: a straight arrow


def test_labels_beside_a_column_fit_in_the_drawing() -> None:
    svg = render_service_map(["gateway", "orders", "payments", "products", "users"], ONE_COLUMN)
    width = float(re.search(r'viewBox="0 0 (\d+)', svg).group(1))  # type: ignore[union-attr]
    starts = [
        float(x) for x in re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="start"', svg)
    ]
    assert starts and all(x + 140 <= width for x in starts), (starts, width)
