"""Helpers to send the project's PromQL to a real Prometheus and check it returns data."""

from __future__ import annotations

import re

import httpx

# Grafana's variables, replaced as Grafana would for a query over the last few minutes.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "5m",
    "${service}": ".+",
    "$service": ".+",
    "${route}": ".+",
    "$route": ".+",
}
_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(\s*bool\b)?")


def comparisons_as_bool(expr: str) -> str:
    """Turn every filtering comparison into a ``bool`` one: ``x > 0.1`` → ``x > bool 0.1``.

    An alert's expression returns nothing while the alert does not fire; with ``bool``
    it returns 0 or 1 for every series its operands have, which is what shows that
    the metrics it reads exist. Label matchers (``{a!="b"}``) and strings are left alone.
    """
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(expr):
        char = expr[index]
        if char in "\"'`":
            end = expr.index(char, index + 1)
            while expr[end - 1] == "\\" and char != "`":
                end = expr.index(char, end + 1)
            out.append(expr[index : end + 1])
            index = end + 1
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        if depth == 0:
            match = _COMPARISON.match(expr, index)
            if match:
                out.append(f"{match.group(1)} bool" if not match.group(2) else match.group(0))
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)


def with_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def query(prometheus_url: str, expr: str) -> list[dict]:
    """The instant query's result; raises with Prometheus' own message on a bad query."""
    answer = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
    body = answer.json()
    if body.get("status") != "success":
        raise AssertionError(f"{expr!r}: {body.get('error')}")
    return body["data"]["result"]
