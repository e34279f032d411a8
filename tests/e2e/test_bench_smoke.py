"""The order-path benchmark's quick mode runs end to end and writes a well-formed result.

A smoke test: no assertion on speed (figures are for people to read, not for CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.processes import SERVICES

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench" / "order_path.py"


def test_quick_benchmark_writes_json_and_markdown(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--output", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    (result_file,) = tmp_path.glob("order-path-*.json")
    (table_file,) = tmp_path.glob("order-path-*.md")
    result = json.loads(result_file.read_text())
    summary = result["summary"]
    variants = ("telemetry on", "zero-code", "telemetry off")
    for variant in variants:
        figures = summary[variant]
        assert figures["rounds"] == 1
        assert figures["orders_per_second"] > 0
        assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
        assert set(figures["cpu_seconds_per_1000_orders"]) >= set(SERVICES)
        assert figures["peak_rss_mb"]["total"] > 0
        assert 0 < figures["ready_seconds"] < 60
        assert figures["cpu_ms_per_order_services"] > 0
    for variant in ("telemetry on", "zero-code"):  # both export every trace to the sink
        assert summary[variant]["spans_received"] > 0
        assert summary["versus_off"][variant]["throughput_ratio"] > 0
    assert summary["telemetry off"]["spans_received"] == 0  # the SDK is off: nothing sent
    assert summary["throughput_ratio_on_off"] > 0
    assert summary["telemetry on"]["spans_exported"] > 0
    assert [r["variant"] for r in result["rounds"]] == list(variants)
    zero_code_scopes = result["rounds"][1]["received"]["by_scope"]
    assert "opentelemetry.instrumentation.fastapi" in zero_code_scopes
    assert "opentelemetry.instrumentation.aiohttp_client" in zero_code_scopes
    # Ours would double the contrib ones; only the business spans (scope "minishop":
    # CreateOrder, DeductInventory, ProcessPayment) are made through the API in both modes.
    assert "minishop.database" not in zero_code_scopes
    assert (
        zero_code_scopes.get("minishop", 0)
        < zero_code_scopes["opentelemetry.instrumentation.aiohttp_client"]
    )
    table = table_file.read_text()
    assert "| orders/s |" in table and "Throughput telemetry on / off" in table
    assert "| telemetry on | zero-code | telemetry off |" in table
    assert table in run.stdout
