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
    for variant in ("telemetry on", "telemetry off"):
        figures = summary[variant]
        assert figures["rounds"] == 1
        assert figures["orders_per_second"] > 0
        assert 0 < figures["latency_ms"]["p50"] <= figures["latency_ms"]["p99"]
        assert set(figures["cpu_seconds_per_1000_orders"]) >= set(SERVICES)
        assert figures["peak_rss_mb"]["total"] > 0
        assert 0 < figures["ready_seconds"] < 60
    assert summary["throughput_ratio_on_off"] > 0
    assert summary["telemetry on"]["spans_exported"] > 0
    assert [r["variant"] for r in result["rounds"]] == ["telemetry on", "telemetry off"]
    table = table_file.read_text()
    assert "| orders/s |" in table and "Throughput telemetry on / off" in table
    assert table in run.stdout
