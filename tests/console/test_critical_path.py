"""The critical path and the waterfall rows built on it."""

from __future__ import annotations

from minishop.console.application.critical_path import critical_path
from minishop.console.application.waterfall import build_waterfall
from tests.console.fakes import span

T = "a" * 32


def test_known_tree_path_goes_through_the_last_finishing_children() -> None:
    spans = [
        span(T, "root", start_ms=0, end_ms=100),
        span(T, "auth", "root", start_ms=2, end_ms=10),
        span(T, "orders", "root", start_ms=12, end_ms=90),
        span(T, "users", "orders", start_ms=15, end_ms=30),
        span(T, "products", "orders", start_ms=32, end_ms=80),
        span(T, "db", "products", start_ms=40, end_ms=50),
        span(T, "log", "root", start_ms=91, end_ms=95),
    ]
    assert critical_path(spans) == {"root", "log", "orders", "products", "db", "users", "auth"}
    spans.append(span(T, "cache", "orders", start_ms=16, end_ms=20))  # under users' shadow
    assert "cache" not in critical_path(spans)


def test_overlapping_children_only_the_one_that_ended_last_counts() -> None:
    spans = [
        span(T, "root", start_ms=0, end_ms=100),
        span(T, "slow", "root", start_ms=10, end_ms=95),
        span(T, "fast", "root", start_ms=5, end_ms=50),  # ran in parallel, ended first
    ]
    assert critical_path(spans) == {"root", "slow"}


def test_a_child_outliving_its_parent_is_clipped_and_still_on_the_path() -> None:
    spans = [
        span(T, "root", start_ms=0, end_ms=50),
        span(T, "async", "root", start_ms=10, end_ms=200),
    ]
    assert critical_path(spans) == {"root", "async"}


def test_missing_root_starts_at_the_orphan_that_ended_last() -> None:
    spans = [
        span(T, "a", "gone", start_ms=0, end_ms=40),
        span(T, "b", "gone", start_ms=5, end_ms=60),
        span(T, "c", "b", start_ms=10, end_ms=50),
    ]
    assert critical_path(spans) == {"b", "c"}


def test_empty_trace_has_no_path() -> None:
    assert critical_path([]) == frozenset()
    assert build_waterfall([]).rows == ()


def test_waterfall_puts_children_under_parents_with_positions() -> None:
    spans = [
        span(T, "root", start_ms=0, end_ms=100),
        span(T, "second", "root", start_ms=50, end_ms=100),
        span(T, "first", "root", start_ms=0, end_ms=60),  # overlaps second: off the path
        span(T, "inner", "first", start_ms=5, end_ms=10),
    ]
    waterfall = build_waterfall(spans)
    order = [(row.span.span_id, row.depth) for row in waterfall.rows]
    assert order == [("root", 0), ("first", 1), ("inner", 2), ("second", 1)]
    second = waterfall.rows[3]
    assert (second.offset_percent, second.width_percent) == (50.0, 50.0)
    assert second.critical and not waterfall.rows[2].critical


def test_waterfall_keeps_orphans_and_loops_visible() -> None:
    spans = [
        span(T, "x", "y", start_ms=0, end_ms=10),
        span(T, "y", "x", start_ms=1, end_ms=5),
        span(T, "o", "missing", start_ms=2, end_ms=3),
    ]
    rows = build_waterfall(spans).rows
    assert {row.span.span_id for row in rows} == {"x", "y", "o"}
    assert [row.orphan for row in rows if row.span.span_id == "o"] == [True]
