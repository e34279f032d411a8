"""Service map columns and the time bounds people type."""

from __future__ import annotations

import pytest

from minishop.console.adapters.web.map_svg import render_service_map
from minishop.console.application.ports import Edge
from minishop.console.application.service_map import layout_map
from minishop.console.application.time_window import InvalidTime, parse_bound

NS = 1_000_000_000
SHOP = [
    Edge("gateway", "orders", 10, 0, 1.0, 50.0),
    Edge("gateway", "payments", 10, 5, 1.0, 80.0),
    Edge("payments", "orders", 10, 0, 1.0, 20.0),
    Edge("orders", "users", 10, 0, 1.0, 5.0),
    Edge("orders", "products", 10, 0, 1.0, 9.0),
]


def test_columns_follow_call_depth_from_the_entry_point() -> None:
    layout = layout_map(["console-less", "gateway"], SHOP)
    assert layout.columns == (
        ("console-less", "gateway"),
        ("orders", "payments"),
        ("products", "users"),
    )


def test_a_loop_without_entry_point_still_places_every_node() -> None:
    layout = layout_map([], [Edge("a", "b", 1, 0, 1, 1), Edge("b", "a", 1, 0, 1, 1)])
    assert sorted(layout.depth) == ["a", "b"]


def test_svg_has_every_edge_and_escapes_names() -> None:
    svg = render_service_map(["<x>"], SHOP)
    assert svg.count('class="edge') == len(SHOP)
    assert 'class="edge error-heavy" data-from="gateway" data-to="payments"' in svg
    assert "&lt;x&gt;" in svg and "<x>" not in svg
    assert render_service_map([], []) == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", 1_000_000 * NS - 900 * NS),
        ("2h", 1_000_000 * NS - 7200 * NS),
        ("1970-01-12T13:46:40Z", 1_000_000 * NS),
        ("1970-01-12T13:46:40", 1_000_000 * NS),  # a datetime-local value: UTC
        ("1970-01-12T14:46:40+01:00", 1_000_000 * NS),
    ],
)
def test_bounds(text: str, expected: int) -> None:
    assert parse_bound(text, 1_000_000 * NS) == expected


@pytest.mark.parametrize("text", ["yesterday", "15x", "400d", ""])
def test_bad_bounds_say_why(text: str) -> None:
    with pytest.raises(InvalidTime):
        parse_bound(text, 0)
