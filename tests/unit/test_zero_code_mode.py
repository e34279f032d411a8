"""``MINISHOP_TELEMETRY``: the shop's services start under ``opentelemetry-instrument`` when,
and only when, the setting asks for zero-code mode; and then they make no spans of their own."""

from __future__ import annotations

import sys

import pytest
import typer
from opentelemetry import trace

from minishop.cli import app as cli_app
from minishop.cli.app import _plan
from minishop.cli.zero_code import AgentMissing, agent_env
from minishop.manifest import MANIFEST
from minishop.observability.mode import TELEMETRY_VARIABLE, TelemetryMode, telemetry_mode
from minishop.observability.telemetry import setup_telemetry

AGENT = "/opt/otel/bin/opentelemetry-instrument"
SHOP = {entry.name for entry in MANIFEST.shop}


@pytest.fixture
def agent(monkeypatch: pytest.MonkeyPatch) -> str:
    """The agent as if the zero-code extra were installed (the unit tests do not need it)."""
    monkeypatch.setattr(cli_app, "agent_path", lambda: AGENT)
    for variable in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_RESOURCE_ATTRIBUTES"):
        monkeypatch.delenv(variable, raising=False)
    return AGENT


@pytest.mark.parametrize("value", [None, "", "minishop", " MiniShop "])
def test_the_shop_starts_as_it_always_did_unless_zero_code_is_asked_for(
    agent: str, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(TELEMETRY_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(TELEMETRY_VARIABLE, value)
    for spec in _plan(None, None).all:
        assert agent not in (spec.command or spec.argv()), spec.name
        assert "OTEL_SERVICE_NAME" not in spec.env, spec.name
    users = next(spec for spec in _plan(None, None, stack=False).shop if spec.name == "users")
    assert users.argv() == [sys.executable, "-m", "minishop", "serve", "users"]


def test_zero_code_prefixes_each_shop_service_with_the_agent(
    agent: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TELEMETRY_VARIABLE, "zero-code")
    plan = _plan(None, None)
    assert {spec.name for spec in plan.shop} == SHOP
    for spec in plan.shop:
        assert spec.argv() == [agent, sys.executable, "-m", "minishop", "serve", spec.name]
        assert spec.env["OTEL_SERVICE_NAME"] == spec.name
        assert spec.env["OTEL_TRACES_EXPORTER"] == "otlp"
        assert spec.env["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
        assert spec.env["OTEL_METRICS_EXPORTER"] == spec.env["OTEL_LOGS_EXPORTER"] == "none"
        assert spec.env["OTEL_TRACES_SAMPLER"] == "always_on"
    for spec in plan.stack:  # the console, the Slack receiver, Prometheus, Alertmanager
        assert agent not in (spec.command or spec.argv()), spec.name
        if spec.command is None:  # ours: told to keep MiniShop's own telemetry
            assert spec.env[TELEMETRY_VARIABLE] == "minishop", spec.name


def test_zero_code_keeps_the_endpoint_and_resource_a_person_chose() -> None:
    chosen = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
        "OTEL_RESOURCE_ATTRIBUTES": "team=shop",
    }
    env = agent_env("orders", chosen)
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env
    assert "OTEL_RESOURCE_ATTRIBUTES" not in env
    assert agent_env("orders", {})["OTEL_RESOURCE_ATTRIBUTES"] == "service.namespace=minishop"


def test_zero_code_without_the_agent_installed_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def missing() -> str:
        raise AgentMissing("MINISHOP_TELEMETRY=zero-code needs opentelemetry-instrument: ...")

    monkeypatch.setattr(cli_app, "agent_path", missing)
    monkeypatch.setenv(TELEMETRY_VARIABLE, "zero-code")
    with pytest.raises(typer.Exit):
        _plan(None, None, stack=False)
    assert "needs opentelemetry-instrument" in capsys.readouterr().err


def test_an_unknown_mode_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(TELEMETRY_VARIABLE, "zerocode")
    with pytest.raises(ValueError, match="MINISHOP_TELEMETRY='zerocode': choose one of"):
        telemetry_mode()
    with pytest.raises(typer.Exit):
        _plan(None, None, stack=False)
    assert "MINISHOP_TELEMETRY='zerocode'" in capsys.readouterr().err


def test_in_zero_code_mode_a_service_builds_no_provider_and_no_spans_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TELEMETRY_VARIABLE, "zero-code")
    telemetry = setup_telemetry("users", version="t", environment="test")
    assert telemetry.mode is TelemetryMode.ZERO_CODE
    assert telemetry.tracer_provider is None
    assert not telemetry.own_spans
    assert telemetry.instrumentation_tracer is None  # no client or server spans
    assert not isinstance(telemetry.tracer, trace.NoOpTracer)  # business spans: the agent's
    monkeypatch.setenv(TELEMETRY_VARIABLE, "minishop")
    own = setup_telemetry("users", version="t", environment="test")
    assert own.own_spans and own.instrumentation_tracer is own.tracer
    assert own.tracer_provider is not None
