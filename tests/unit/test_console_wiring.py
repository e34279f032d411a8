"""How ``minishop up`` ties the console to the lab: who exports where, who learns what."""

from __future__ import annotations

import pytest

from minishop.cli.app import _plan
from minishop.cli.console_wiring import OTLP_PORT_VARIABLE, export_to_console
from minishop.console.settings import OTLP_PORT_VARIABLE as CONSOLE_OTLP_PORT_VARIABLE
from minishop.manifest import MANIFEST

OTLP = "http://127.0.0.1:4318"


def test_the_command_line_and_the_console_name_one_otlp_port_variable() -> None:
    assert OTLP_PORT_VARIABLE == CONSOLE_OTLP_PORT_VARIABLE == "MINISHOP_OTLP_PORT"


def test_services_export_traces_and_logs_to_the_console_by_default() -> None:
    assert export_to_console(OTLP, {}) == {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP,
        "OTEL_LOGS_EXPORTER": "otlp",
    }


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
)
def test_an_endpoint_set_by_hand_wins(variable: str) -> None:
    assert export_to_console(OTLP, {variable: "http://collector:4318"}) == {}


def test_a_log_exporter_chosen_by_hand_wins() -> None:
    env = export_to_console(OTLP, {"OTEL_LOGS_EXPORTER": "none"})
    assert env == {"OTEL_EXPORTER_OTLP_ENDPOINT": OTLP}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for variable in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_LOGS_EXPORTER",
        OTLP_PORT_VARIABLE,
    ):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_up_starts_the_console_first_and_points_everyone_at_it(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv(OTLP_PORT_VARIABLE, "14318")
    clean_env.setenv("ORDERS_PORT", "18003")
    plan = _plan(None, None)
    console, *others = plan.all
    assert console.name == "console"
    assert console.extra_ports == ((14318, OTLP_PORT_VARIABLE),)
    assert console.env["OTEL_TRACES_EXPORTER"] == "none"  # never feeds its own receiver
    assert console.env["MINISHOP_CONSOLE_ORDERS_URL"] == "http://127.0.0.1:18003"
    assert console.env["MINISHOP_CONSOLE_PROMETHEUS_URL"].startswith("http://127.0.0.1:")
    for spec in others:
        if spec.command is None:  # MiniShop's own processes, not Prometheus or Alertmanager
            assert spec.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:14318"
    prometheus = next(spec for spec in others if spec.name == "prometheus")
    assert prometheus.command is not None
    assert f"--web.external-url={console.url}/" in prometheus.command


def test_without_the_stack_nothing_is_pointed_at_a_console(clean_env: pytest.MonkeyPatch) -> None:
    plan = _plan(None, None, stack=False)
    assert [spec.name for spec in plan.all] == [entry.name for entry in MANIFEST.shop]
    assert all("OTEL_EXPORTER_OTLP_ENDPOINT" not in spec.env for spec in plan.all)
