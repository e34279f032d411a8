"""The test helper that makes alert expressions return data must not change their meaning."""

import pytest

from tests.support.promql import comparisons_as_bool, with_grafana_variables


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up == 0", "up == bool 0"),
        ("a > 0.1", "a > bool 0.1"),
        ("a >= bool 1", "a >= bool 1"),
        ('rate(x{status!="200",b=~"5.."}[1m]) < 2', 'rate(x{status!="200",b=~"5.."}[1m]) < bool 2'),
        (
            "(a > (14.4 * 0.005) and b > 1) or c != 3",
            "(a > bool (14.4 * 0.005) and b > bool 1) or c != bool 3",
        ),
        ('label_replace(x, "d", ">", "s", "(.*)")', 'label_replace(x, "d", ">", "s", "(.*)")'),
    ],
)
def test_comparisons_become_bool_outside_matchers_and_strings(expr: str, expected: str) -> None:
    assert comparisons_as_bool(expr) == expected


def test_grafana_variables_are_replaced() -> None:
    expr = 'sum by (route) (rate(request_total{service=~"$service"}[$__rate_interval]))'
    assert with_grafana_variables(expr) == (
        'sum by (route) (rate(request_total{service=~".+"}[1m]))'
    )
