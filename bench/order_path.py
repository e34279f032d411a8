"""The order path under load: our telemetry, the standard zero-code one, and none, side by side.

Starts the five services with ``minishop up`` on free ports (SQLite, or PostgreSQL with
``--database postgresql``), drives ``POST /order`` then ``POST /payment/pay`` through the
gateway with wrk (a load tool that is not the system under test) at a fixed concurrency
for a fixed time after a warm-up, and alternates the variants A/B/C/A/B/C:

- telemetry on: MiniShop's own tracing, every trace exported over OTLP to a local sink
  (bench/otlp_sink.py, which counts the spans it receives), metrics, JSON log lines;
- zero-code: the same shop the way most people instrument one, under
  ``opentelemetry-instrument`` with the contrib instrumentors at their defaults
  (``MINISHOP_TELEMETRY=zero-code``, needs the ``zero-code`` extra), every trace to the
  same sink; metrics and log lines as above;
- telemetry off: ``OTEL_SDK_DISABLED=true`` and log level WARNING; the same app otherwise.

Each variant is set against "telemetry off": throughput ratio, p99 added at one connection.

Prints a Markdown table and writes it, with every figure, as JSON and Markdown files.

    .venv/bin/python bench/order_path.py              # 3 rounds of each, 20 s each
    .venv/bin/python bench/order_path.py --quick      # a smoke run of a few seconds
    .venv/bin/python bench/order_path.py --variants "telemetry on,telemetry off"
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
    EXPORTERS,
    SERVICES,
    SHOP,
    WITH_DATABASE,
    RunningShop,
    cpu_seconds,
    free_port,
    start_shop,
    write_report,
)

from minishop.cli.zero_code import AgentMissing, agent_path
from minishop.observability.mode import TELEMETRY_VARIABLE

HERE = Path(__file__).resolve().parent
LUA = HERE / "order_and_pay.lua"
SINK = HERE / "otlp_sink.py"
VARIANTS = ("telemetry on", "zero-code", "telemetry off")
BASELINE = "telemetry off"  # every other variant is compared with it
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"


def variant_env(variant: str, sink_url: str) -> dict[str, str]:
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")
    levels = "WARNING" if variant == BASELINE else "INFO"
    env = {f"{entry.env_prefix}LOG_LEVEL": levels for entry in SHOP}
    env[TELEMETRY_VARIABLE] = "zero-code" if variant == "zero-code" else "minishop"
    if variant == BASELINE:
        env["OTEL_SDK_DISABLED"] = "true"
    else:
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=sink_url,
            OTEL_TRACES_SAMPLER="always_on",  # 100 % of traces
        )
    return env


def parse_variants(text: str) -> tuple[str, ...]:
    """``--variants``: names from VARIANTS, comma-separated, in the order they alternate."""
    chosen = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in chosen if name not in VARIANTS]
    if unknown or not chosen or len(set(chosen)) != len(chosen):
        raise argparse.ArgumentTypeError(
            f"{text!r}: name each variant once, comma-separated, from: {', '.join(VARIANTS)}"
        )
    return chosen


def sink_counts(sink_url: str) -> dict[str, Any]:
    """What the sink has received so far (``GET /count`` of bench/otlp_sink.py)."""
    return httpx.get(f"{sink_url}/count", timeout=10).json()


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
    *,
    count_received: bool = False,
) -> dict[str, Any]:
    """One round of one variant; ``extra_pids`` (name → pid): other processes whose CPU
    time during the measured load is counted beside the services' (the OTLP receiver).
    With ``count_received``, ``sink_url`` is bench/otlp_sink.py and the spans it received
    during the round (the shop's stop flushes the last ones) are in the result."""
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
    received_before = sink_counts(sink_url) if count_received else None
    shop = start_shop(data_dir, env, work / f"round-{number}.log")
    try:
        product_id = bench_product(shop, number)
        warmup = run_wrk(shop.gateway, args.connections, args.warmup, product_id)
        before = _cpu(shop, extra_pids)
        load = run_wrk(shop.gateway, args.connections, args.duration, product_id)
        after = _cpu(shop, extra_pids)
        single = run_wrk(shop.gateway, 1, args.single_duration, product_id)
        spans = span_counters(shop) if variant == "telemetry on" else None
        rss = shop.peak_rss()
    finally:
        shop.stop()
    orders_in_round = warmup["orders"] + load["orders"] + single["orders"]
    received = None
    if received_before is not None:
        received_after = sink_counts(sink_url)
        received = {
            "spans": received_after["spans"] - received_before["spans"],
            "undecodable_exports": received_after["undecodable"] - received_before["undecodable"],
            "by_scope": {
                scope: count - received_before["by_scope"].get(scope, 0)
                for scope, count in received_after["by_scope"].items()
                if count != received_before["by_scope"].get(scope, 0)
            },
            "orders_in_round": orders_in_round,
        }
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
        "received": received,
        "wrk": load,
    }


def _cpu(shop: RunningShop, extra_pids: Mapping[str, int] | None) -> dict[str, float]:
    return {
        **shop.cpu(),
        **{name: cpu_seconds(pid) for name, pid in (extra_pids or {}).items()},
    }


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _services_cpu_ms_per_order(per_1000: Mapping[str, float]) -> float:
    """CPU of the five services and their span exporter processes per order with its
    payment, in ms (not the log relay's: ``minishop up``'s, not the shop's)."""
    return sum(per_1000[name] for name in (*SERVICES, EXPORTERS) if name in per_1000)


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
        figures = summary[variant]
        figures["cpu_ms_per_order_services"] = _services_cpu_ms_per_order(
            figures["cpu_seconds_per_1000_orders"]
        )
        if variant == "telemetry on":
            figures["spans_exported"] = sum(r["spans"]["exported"] for r in mine)
            figures["spans_dropped"] = sum(r["spans"]["dropped"] for r in mine)
        received = [r["received"] for r in mine if r.get("received") is not None]
        if received:
            spans = sum(item["spans"] for item in received)
            orders = sum(item["orders_in_round"] for item in received)
            figures["spans_received"] = spans
            figures["spans_received_per_order"] = spans / orders if orders else None
            figures["undecodable_exports"] = sum(item["undecodable_exports"] for item in received)
    baseline = summary.get(BASELINE)
    if baseline is not None:
        versus = {}
        for variant in VARIANTS:
            if variant == BASELINE or variant not in summary:
                continue
            mine = summary[variant]
            versus[variant] = {
                "throughput_ratio": (
                    mine["orders_per_second"] / baseline["orders_per_second"]
                    if baseline["orders_per_second"]
                    else None
                ),
                "single_connection_p99_added_ms": (
                    mine["single_connection_p99_ms"] - baseline["single_connection_p99_ms"]
                ),
                "cpu_ms_per_order_added": (
                    mine["cpu_ms_per_order_services"] - baseline["cpu_ms_per_order_services"]
                ),
            }
        summary["versus_off"] = versus
        if "telemetry on" in versus:  # the figures the issue and earlier reports quote
            summary["throughput_ratio_on_off"] = versus["telemetry on"]["throughput_ratio"]
            summary["single_connection_p99_added_ms"] = versus["telemetry on"][
                "single_connection_p99_added_ms"
            ]
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

    versus = summary.get("versus_off", {})

    def against_off(key: str, fmt: str, baseline: str) -> list[str]:
        return [
            baseline if v == BASELINE else (format(versus[v][key], fmt) if v in versus else "n/a")
            for v in present
        ]

    row("orders/s", [f"{summary[v]['orders_per_second']:.1f}" for v in present])
    if versus:
        row(f"throughput / {BASELINE}", against_off("throughput_ratio", ".2f", "1.00"))
    for key in ("p50", "p95", "p99"):
        row(f"{key} latency (ms)", [f"{summary[v]['latency_ms'][key]:.1f}" for v in present])
    row(
        "p99 at 1 connection (ms)",
        [f"{summary[v]['single_connection_p99_ms']:.1f}" for v in present],
    )
    if versus:
        row(
            "p99 added at 1 connection (ms)",
            against_off("single_connection_p99_added_ms", "+.1f", "0"),
        )
    row(
        "CPU ms per order + payment, five services + exporters",
        [f"{summary[v]['cpu_ms_per_order_services']:.2f}" for v in present],
    )
    if versus:
        row("CPU ms per order added", against_off("cpu_ms_per_order_added", "+.2f", "0"))
    if any("spans_received" in summary[v] for v in present):
        row(
            "spans received by the sink",
            [str(summary[v].get("spans_received", "n/a")) for v in present],
        )
        row(
            "spans received per order (whole round)",
            [
                f"{summary[v]['spans_received_per_order']:.1f}"
                if summary[v].get("spans_received_per_order") is not None
                else "n/a"
                for v in present
            ],
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
            f"spans exported {on['spans_exported']:.0f}, dropped {on['spans_dropped']:.0f}"
            f" (MiniShop's own counters)."
        )
    if "zero-code" in versus:
        zero = versus["zero-code"]
        lines.append(
            f"Zero-code / off: **{zero['throughput_ratio']:.2f}**; "
            f"p99 added at 1 connection: **{zero['single_connection_p99_added_ms']:+.1f} ms**; "
            f"spans received {summary['zero-code'].get('spans_received', 'n/a')} (its SDK "
            "counts no drops: compare spans per order with telemetry on)."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round of each variant")
    parser.add_argument(
        "--variants",
        type=parse_variants,
        default=VARIANTS,
        help=f"comma-separated subset of: {', '.join(VARIANTS)} (default: all, in that order)",
    )
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
    if "zero-code" in args.variants:
        try:
            agent_path()
        except AgentMissing as exc:
            sys.exit(f"bench: {exc}; or leave it out with --variants")

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
            plan = [variant for _ in range(args.rounds) for variant in args.variants]  # A/B/C/A..
            for index, variant in enumerate(plan, start=1):
                began = time.monotonic()
                result = one_round(
                    variant,
                    index,
                    args,
                    f"http://127.0.0.1:{sink_port}",
                    Path(work),
                    count_received=True,
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
