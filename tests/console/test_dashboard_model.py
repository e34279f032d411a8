"""The pure parts: units, macros, legends, windows, the silence form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from minishop.console.application.panel_queries import InvalidRange, red_signal, window
from minishop.console.domain.alerts import (
    InvalidSilence,
    Matcher,
    parse_matchers,
    runbook_link,
    silence_request,
)
from minishop.console.domain.dashboards import expand, format_value, legend


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (0.125, "percentunit", "12.5%"),
        (0.1, "percentunit", "10%"),
        (12.3456, "reqps", "12.3 req/s"),
        (1530, "reqps", "1.53 K req/s"),
        (0.000_25, "s", "250 µs"),
        (0.4213, "s", "421 ms"),
        (2.5, "s", "2.5 s"),
        (5_400, "s", "1.5 hour"),
        (1_572_864, "bytes", "1.5 MiB"),
        (3, "ops", "3 ops/s"),
        (42, "short", "42"),
        (None, "s", "no data"),
        (float("nan"), "short", "no data"),
    ],
)
def test_values_are_formatted_for_their_unit(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


def test_macros_and_variables_are_replaced() -> None:
    expr = 'rate(x{service=~"$service"}[$__rate_interval]) + y[${__range}] + z[$__interval]'
    assert expand(
        expr, {"service": "orders"}, step_seconds=30, range_seconds=3600, scrape_seconds=5
    ) == ('rate(x{service=~"orders"}[35s]) + y[1h] + z[30s]')
    assert "[20s]" in expand(
        "rate(x[$__rate_interval])", {}, step_seconds=5, range_seconds=300, scrape_seconds=5
    )


def test_legends_fill_labels_like_grafana() -> None:
    assert legend("{{job}} gen {{generation}}", {"job": "orders", "generation": "1"}) == (
        "orders gen 1"
    )
    assert legend("__auto", {"service": "gateway"}) == "gateway"
    assert (
        legend("", {"__name__": "up", "job": "a", "instance": "b"}) == 'up{instance="b", job="a"}'
    )


def test_windows_are_aligned_on_about_120_steps() -> None:
    at = window("1h", 1_000_000.0)
    assert at.step == 30
    assert at.end % 30 == 0
    assert len(at.grid()) == 121
    with pytest.raises(InvalidRange):
        window("2d", 0)


def test_only_per_service_red_expressions_fall_back_to_spans() -> None:
    assert red_signal("sum(service:request_total:rate1m)").summed
    gateway = red_signal('service:request_error:ratio_rate1m{service="gateway"}')
    assert gateway is not None and gateway.services == {"gateway"}
    everyone = red_signal('service:request_error:ratio_rate1m{service=~".+"}')
    assert everyone is not None and everyone.services is None
    assert red_signal("sum(service:request_error:ratio_rate1m)") is None
    assert red_signal('service_route:request_total:rate1m{service=~"orders"}') is None
    assert red_signal("sum(up)") is None


def test_matchers_are_read_one_per_line() -> None:
    assert parse_matchers('alertname="HighErrorRate"\nservice!="orders"\njob=~"a|b,c"') == (
        Matcher("alertname", "HighErrorRate"),
        Matcher("service", "orders", is_equal=False),
        Matcher("job", "a|b,c", is_regex=True),
    )
    assert parse_matchers("service=payments") == (Matcher("service", "payments"),)
    for bad in ("", "service", 'service!="x"', "1abc=x"):
        with pytest.raises(InvalidSilence, match="matchers"):
            parse_matchers(bad)


def test_a_silence_needs_a_duration_an_author_and_a_comment() -> None:
    now = datetime(2025, 1, 2, tzinfo=UTC)
    silence = silence_request(matchers="a=b", duration="1d", author="ana", comment="c", now=now)
    assert silence.ends_at - silence.starts_at == timedelta(days=1)
    for fields, field in [
        ({"duration": "forever"}, "duration"),
        ({"duration": "90d"}, "duration"),
        ({"author": " "}, "author"),
        ({"comment": ""}, "comment"),
    ]:
        form = {"matchers": "a=b", "duration": "1h", "author": "ana", "comment": "c"} | fields
        with pytest.raises(InvalidSilence, match=field):
            silence_request(**form, now=now)


def test_runbook_urls_open_in_the_console() -> None:
    assert runbook_link("docs/runbooks/high-error-rate.md") == "/runbooks/high-error-rate.md"
    assert runbook_link("https://wiki.example/x") == "https://wiki.example/x"
    assert runbook_link("javascript:alert(1)") is None
    assert runbook_link("") is None
