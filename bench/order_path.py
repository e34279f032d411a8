"""The order path under load, with telemetry on and off, side by side in one run.

Starts the five services with ``minishop up`` on free ports (SQLite, or PostgreSQL with
``--database postgresql``), drives ``POST /order`` then ``POST /payment/pay`` through the
gateway with wrk (a load tool that is not the system under test) at a fixed concurrency
for a fixed time after a warm-up, and alternates the two variants A/B/A/B:

- telemetry on: every trace exported over OTLP to a local sink, metrics, JSON log lines;
- telemetry off: ``OTEL_SDK_DISABLED=true`` and log level WARNING; the same app otherwise.

Prints a Markdown table and writes it, with every figure, as JSON and Markdown files.

    .venv/bin/python bench/order_path.py              # 3 rounds of each, 20 s each
    .venv/bin/python bench/order_path.py --quick      # a smoke run of a few seconds
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from shop_runner import (
    SERVICES,
    SHOP,
    WITH_DATABASE,
    RunningShop,
    cpu_seconds,
    free_port,
    start_shop,
    write_report,
)

HERE = Path(__file__).resolve().parent
LUA = HERE / "order_and_pay.lua"
SINK = HERE / "otlp_sink.py"
VARIANTS = ("telemetry on", "telemetry off")
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def variant_env(variant: str, sink_url: str) -> dict[str, str]:
    levels = "INFO" if variant == "telemetry on" else "WARNING"
    env = {f"{entry.env_prefix}LOG_LEVEL": levels for entry in SHOP}
    if variant == "telemetry on":
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=sink_url,
            OTEL_TRACES_SAMPLER="always_on",  # 100 % of traces
        )
    else:
        env["OTEL_SDK_DISABLED"] = "true"
    return env


def database_env(database: str, dsn: str) -> dict[str, str]:
    if database == "sqlite":
        return {}
    url = dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    env = {}
    for entry in SHOP:
        if entry.owns_database:
            env[f"{entry.env_prefix}DATABASE_URL"] = url
            env[f"{entry.env_prefix}DATABASE_SCHEMA"] = f"bench_{entry.database}"
    return env


async def _drop_bench_schemas(dsn: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(dsn)
    try:
        for name in WITH_DATABASE:
            await connection.execute(f'DROP SCHEMA IF EXISTS "bench_{name}" CASCADE')
    finally:
        await connection.close()


def run_wrk(url: str, connections: int, seconds: float, product_id: int) -> dict[str, Any]:
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(LUA), url,
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={"BENCH_PRODUCT_ID": str(product_id), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        timeout=seconds + 60,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stdout}{result.stderr}")
    return json.loads(line.removeprefix("BENCH "))


def span_counters(shop: RunningShop) -> dict[str, float]:
    totals = {"exported": 0.0, "dropped": 0.0}
    for name in SERVICES:
        text = httpx.get(f"{shop.url(name)}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "otel_spans_exported_total":
                    totals["exported"] += sample.value
                elif sample.name == "otel_spans_dropped_total":
                    totals["dropped"] += sample.value
    return totals


def bench_product(shop: RunningShop, round_number: int) -> int:
    """A product with a million units, so the run never meets an empty shelf."""
    answer = httpx.post(
        f"{shop.gateway}/api/v1/products",
        json={"sku": f"BENCH-{round_number}", "name": "Benchmark widget", "price": 9.99,
              "stock": 1_000_000},
        timeout=10,
    )  # fmt: skip
    answer.raise_for_status()
    return answer.json()["id"]


def one_round(
    variant: str,
    number: int,
    args: argparse.Namespace,
    sink_url: str,
    work: Path,
    extra_pids: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """One round of one variant; ``extra_pids`` (name → pid): other processes whose CPU
    time during the measured load is counted beside the services' (the OTLP receiver)."""
    env = {
        "PAYMENTS_FAILURE_RATE": "0",  # errors in the result are real errors
        "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        **database_env(args.database, args.pg_dsn),
        **variant_env(variant, sink_url),
        **dict(item.split("=", 1) for item in args.env),
    }
    if args.database == "postgresql":
        asyncio.run(_drop_bench_schemas(args.pg_dsn))
    data_dir = work / f"round-{number}"
    shop = start_shop(data_dir, env, work / f"round-{number}.log")
    try:
        product_id = bench_product(shop, number)
        run_wrk(shop.gateway, args.connections, args.warmup, product_id)
        before = _cpu(shop, extra_pids)
        load = run_wrk(shop.gateway, args.connections, args.duration, product_id)
        after = _cpu(shop, extra_pids)
        single = run_wrk(shop.gateway, 1, args.single_duration, product_id)
        spans = span_counters(shop) if variant == "telemetry on" else None
        rss = shop.peak_rss()
    finally:
        shop.stop()
    seconds = load["duration_us"] / 1e6
    orders = load["orders"]
    return {
        "variant": variant,
        "round": number,
        "ready_seconds": round(shop.ready_seconds, 2),
        "orders": orders,
        "orders_per_second": orders / seconds if seconds else 0.0,
        "errors": load["failed_answers"] + load["socket_errors"] + load["timeouts"],
        "latency_ms": {key: value / 1000 for key, value in load["latency_us"].items()},
        "single_connection_latency_ms": {
            key: value / 1000 for key, value in single["latency_us"].items()
        },
        "cpu_seconds_per_1000_orders": {
            name: (after[name] - before[name]) * 1000 / orders if orders else None for name in after
        },
        "cpu_seconds": {name: after[name] - before[name] for name in after},
        "peak_rss_mb": {**rss, "total": sum(rss.values())},
        "spans": spans,
        "wrk": load,
    }


def _cpu(shop: RunningShop, extra_pids: Mapping[str, int] | None) -> dict[str, float]:
    return {
        **shop.cpu(),
        **{name: cpu_seconds(pid) for name, pid in (extra_pids or {}).items()},
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for variant in VARIANTS:
        mine = [item for item in rounds if item["variant"] == variant]
        if not mine:
            continue
        processes = list(mine[0]["cpu_seconds_per_1000_orders"])
        summary[variant] = {
            "rounds": len(mine),
            "orders_per_second": _median([r["orders_per_second"] for r in mine]),
            "latency_ms": {
                key: _median([r["latency_ms"][key] for r in mine]) for key in ("p50", "p95", "p99")
            },
            "single_connection_p99_ms": _median(
                [r["single_connection_latency_ms"]["p99"] for r in mine]
            ),
            "errors": sum(r["errors"] for r in mine),
            "ready_seconds": _median([r["ready_seconds"] for r in mine]),
            "cpu_seconds_per_1000_orders": {
                name: _median(
                    [
                        r["cpu_seconds_per_1000_orders"][name]
                        for r in mine
                        if r["cpu_seconds_per_1000_orders"][name] is not None
                    ]
                )
                for name in processes
            },
            "peak_rss_mb": {
                name: max(r["peak_rss_mb"][name] for r in mine) for name in mine[0]["peak_rss_mb"]
            },
        }
        if variant == "telemetry on":
            summary[variant]["spans_exported"] = sum(r["spans"]["exported"] for r in mine)
            summary[variant]["spans_dropped"] = sum(r["spans"]["dropped"] for r in mine)
    if len(summary) == 2:
        on, off = summary["telemetry on"], summary["telemetry off"]
        summary["throughput_ratio_on_off"] = (
            on["orders_per_second"] / off["orders_per_second"] if off["orders_per_second"] else None
        )
        summary["single_connection_p99_added_ms"] = (
            on["single_connection_p99_ms"] - off["single_connection_p99_ms"]
        )
    return summary


def markdown(result: Mapping[str, Any]) -> str:
    summary = result["summary"]
    present = [variant for variant in VARIANTS if variant in summary]
    settings = result["settings"]
    lines = [
        f"Order path (`POST /order` + `POST /payment/pay` through the gateway), "
        f"{settings['database']}, wrk {settings['connections']} connections, "
        f"{settings['duration']} s per round after {settings['warmup']} s warm-up, "
        f"{summary[present[0]]['rounds']} round(s) per variant, alternated; medians. "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}, "
        f"{result['started_at'][:16]} UTC.",
        "",
        "| figure | " + " | ".join(present) + " |",
        "|---|" + "---:|" * len(present),
    ]

    def row(label: str, values: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    row("orders/s", [f"{summary[v]['orders_per_second']:.1f}" for v in present])
    for key in ("p50", "p95", "p99"):
        row(f"{key} latency (ms)", [f"{summary[v]['latency_ms'][key]:.1f}" for v in present])
    row(
        "p99 at 1 connection (ms)",
        [f"{summary[v]['single_connection_p99_ms']:.1f}" for v in present],
    )
    row("errors", [str(summary[v]["errors"]) for v in present])
    row("ready after start (s)", [f"{summary[v]['ready_seconds']:.2f}" for v in present])
    for name in summary[present[0]]["cpu_seconds_per_1000_orders"]:
        row(
            f"CPU s / 1000 orders: {name}",
            [f"{summary[v]['cpu_seconds_per_1000_orders'][name]:.2f}" for v in present],
        )
    for name in summary[present[0]]["peak_rss_mb"]:
        row(f"peak RSS MB: {name}", [f"{summary[v]['peak_rss_mb'][name]:.0f}" for v in present])
    lines.append("")
    if "throughput_ratio_on_off" in summary:
        on = summary["telemetry on"]
        lines.append(
            f"Throughput telemetry on / off: **{summary['throughput_ratio_on_off']:.2f}**; "
            f"p99 added at 1 connection: **{summary['single_connection_p99_added_ms']:+.1f} ms**; "
            f"spans exported {on['spans_exported']:.0f}, dropped {on['spans_dropped']:.0f}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round of each variant")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant (A/B/A/B...)")
    parser.add_argument("--duration", type=float, default=20, help="measured seconds per round")
    parser.add_argument("--warmup", type=float, default=5, help="warm-up seconds per round")
    parser.add_argument(
        "--single-duration", type=float, default=10, help="seconds at one connection"
    )
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-dsn", default=PG_DSN)
    parser.add_argument("--output", type=Path, default=HERE / "results")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the services in both variants, to try a setting",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warmup, args.single_duration = 1, 3, 1, 1
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is needed (Debian package 'wrk'): sudo apt-get install wrk")

    started_at = datetime.now(UTC)
    sink_port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(SINK), "--port", str(sink_port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    rounds = []
    try:
        assert sink.stdout is not None
        sink.stdout.readline()  # "listening on ..."
        with tempfile.TemporaryDirectory(prefix="minishop-bench-") as work:
            plan = [variant for _ in range(args.rounds) for variant in VARIANTS]  # A/B/A/B
            for index, variant in enumerate(plan, start=1):
                began = time.monotonic()
                result = one_round(
                    variant, index, args, f"http://127.0.0.1:{sink_port}", Path(work)
                )
                rounds.append(result)
                print(
                    f"round {index}/{len(plan)} {variant}: "
                    f"{result['orders_per_second']:.1f} orders/s, "
                    f"p99 {result['latency_ms']['p99']:.1f} ms, errors {result['errors']} "
                    f"({time.monotonic() - began:.0f} s)",
                    file=sys.stderr,
                )
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    result = {
        "started_at": started_at.isoformat(),
        "machine": {
            "cpus": len(os.sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "settings": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in vars(args).items()
            if key != "pg_dsn"
        },
        "summary": summarise(rounds),
        "rounds": rounds,
    }
    write_report(args.output, f"order-path-{started_at:%Y%m%dT%H%M%S}", result, markdown(result))


if __name__ == "__main__":
    main()
