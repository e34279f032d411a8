"""The console under load: ingest capacity, cost beside the shop, memory, search latency.

Four measurements, printed side by side in one run (figures for people; nothing is asserted):

1. **Ingest capacity**: ``minishop serve console`` on free ports; client processes push
   pre-encoded OTLP protobuf requests (512 spans of ~11 attributes, or 512 log records, as the
   services send them) at increasing offered rates. Per step: items accepted/s (200s), 429s,
   what the console's ``/metrics`` counted (``console_otlp_items_total`` accepted, rejected,
   dropped; ``console_stored_items``), whether the queue drained, and the console's CPU per
   1,000 items (``/proc/<pid>/stat``).
2. **The shop exporting to the console vs to the bare sink** (``bench/otlp_sink.py``): the
   rounds of ``bench/order_path.py`` (telemetry on, logs exported over OTLP too), alternated;
   orders/s, spans exported/dropped and the receiver's share of all CPU used in the round.
3. **Console memory** (VmRSS, VmHWM): idle, after the ingest steps, under the order path.
4. **Search over a million stored spans**: a store file filled directly (cached under
   ``bench/results/`` by size), a console pointed at it, the JSON API and two pages timed
   over HTTP (median of N).

    .venv/bin/python bench/console.py            # the full run, ~10 min (+1-2 min to fill once)
    .venv/bin/python bench/console.py --quick    # every figure on small sizes, ~40 s
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import console_data
import httpx
import order_path
from prometheus_client.parser import text_string_to_metric_families
from shop_runner import cpu_seconds, free_port, memory_mb, stop_process, write_report

HERE = Path(__file__).resolve().parent
RSS_GOAL_MB = 80
SEARCH_GOAL_MS = 300
FILL_VERSION = 2  # change when console_data.store_batches changes: the cache is remade
COMMON_ATTRIBUTE = "http.response.status_code=200"
PAYMENT_FAILED = '{app="minishop"} |= "payment failed"'


# -- the console process ---------------------------------------------------------------------


@dataclass
class Console:
    process: subprocess.Popen[bytes]
    port: int
    otlp_port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def otlp_url(self) -> str:
        return f"http://127.0.0.1:{self.otlp_port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    def stop(self) -> None:
        stop_process(self.process)


def start_console(data_dir: Path, log_path: Path, env: Mapping[str, str] | None = None) -> Console:
    """``minishop serve console`` on free ports, exporting nothing itself; returns when ready."""
    port, otlp_port = free_port(), free_port()
    full_env = {
        **os.environ,
        "MINISHOP_CONSOLE_PORT": str(port),
        "MINISHOP_OTLP_PORT": str(otlp_port),
        "MINISHOP_CONSOLE_DATA_DIR": str(data_dir),
        "MINISHOP_CONSOLE_LOG_LEVEL": "WARNING",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **(env or {}),
    }
    full_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "minishop", "serve", "console"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    console = Console(process, port, otlp_port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{console.url}/health/ready", timeout=2).status_code == 200:
                return console
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    console.stop()
    raise RuntimeError(f"the console did not start:\n{log_path.read_text()[-3000:]}")


def console_figures(console: Console) -> dict[str, float]:
    """``console_otlp_items_total`` by signal and outcome, stored items and the queue."""
    text = httpx.get(f"{console.url}/metrics", timeout=30).text
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "console_otlp_items_total":
                key = f"{sample.labels['signal']}_{sample.labels['outcome']}"
                figures[key] = figures.get(key, 0.0) + sample.value
            elif sample.name == "console_stored_items":
                figures[f"stored_{sample.labels['signal']}"] = sample.value
            elif sample.name == "console_queue_items":
                figures["queued"] = sample.value
    return figures


# -- 1. ingest capacity ----------------------------------------------------------------------


def _sender(
    worker: int,
    port: int,
    path: str,
    templates: list[bytes],
    per_second: float,
    seconds: float,
    results: Any,
) -> None:
    """One client process: POST fresh bodies at ``per_second`` requests/s (0: flat out)."""
    counts = {"sent": 0, "ok": 0, "too_many": 0, "other": 0, "errors": 0}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/x-protobuf"}
    began = time.monotonic()
    end = began + seconds
    interval = 1 / per_second if per_second else 0.0
    sequence = worker << 40
    index = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if interval:
            due = began + counts["sent"] * interval
            if due > now:
                time.sleep(min(due - now, end - now))
                continue
        # the services' batches of one trace arrive in turn: a new trace set every round
        body = console_data.fresh_body(templates[index % len(templates)], sequence)
        index += 1
        if index % len(templates) == 0:
            sequence += 1
        counts["sent"] += 1
        try:
            connection.request("POST", path, body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
        except (OSError, http.client.HTTPException):
            counts["errors"] += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if answer.status == 200:
            counts["ok"] += 1
        elif answer.status == 429:
            counts["too_many"] += 1
        else:
            counts["other"] += 1
    counts["seconds"] = time.monotonic() - began
    results.put(counts)


def ingest_step(
    console: Console,
    signal_name: str,
    templates: list[bytes],
    rate: float,
    seconds: float,
    clients: int,
) -> dict[str, Any]:
    """Offer ``rate`` items/s (0: as fast as the clients go) for ``seconds``; then let the
    queue drain and read what the console counted."""
    path = "/v1/traces" if signal_name == "spans" else "/v1/logs"
    per_client = rate / console_data.BATCH_ITEMS / clients if rate else 0.0
    before, cpu_before = console_figures(console), console.cpu()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    workers = [
        context.Process(
            target=_sender,
            args=(n + 1, console.otlp_port, path, templates, per_client, seconds, results),
        )
        for n in range(clients)
    ]
    for worker in workers:
        worker.start()
    counts = [results.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join()
    load_cpu = console.cpu() - cpu_before
    drained_after = None
    waited = time.monotonic()
    while time.monotonic() - waited < 60:
        # the queue gauge drops when the writer takes a batch: done when the store has it all
        now_figures = console_figures(console)
        written = now_figures.get(f"stored_{signal_name}", 0.0) - before.get(
            f"stored_{signal_name}", 0.0
        )
        accepted = now_figures.get(f"{signal_name}_accepted", 0.0) - before.get(
            f"{signal_name}_accepted", 0.0
        )
        if now_figures.get("queued", 0) == 0 and written >= accepted:
            drained_after = time.monotonic() - waited
            break
        time.sleep(0.1)
    after, cpu_after = console_figures(console), console.cpu()
    elapsed = max(c["seconds"] for c in counts)
    total = {key: sum(c[key] for c in counts) for key in ("sent", "ok", "too_many", "other")}
    total["errors"] = sum(c["errors"] for c in counts)
    items_ok = total["ok"] * console_data.BATCH_ITEMS

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    stored = delta(f"stored_{signal_name}")
    return {
        "signal": signal_name,
        "offered_per_second": rate or None,
        "sent_per_second": total["sent"] * console_data.BATCH_ITEMS / elapsed,
        "accepted_per_second": items_ok / elapsed,
        "requests": total,
        "seconds": elapsed,
        "metrics": {
            "accepted": delta(f"{signal_name}_accepted"),
            "rejected": delta(f"{signal_name}_rejected"),
            "dropped": delta(f"{signal_name}_dropped"),
            "stored": stored,
        },
        "drained_after_seconds": drained_after,
        "cpu_seconds": cpu_after - cpu_before,
        "cpu_share_of_one_core_during_load": load_cpu / elapsed,
        "cpu_ms_per_1000_items": (cpu_after - cpu_before) * 1e6 / items_ok if items_ok else None,
        "kept_up": total["too_many"] == 0
        and total["other"] == 0
        and total["errors"] == 0
        and delta(f"{signal_name}_dropped") == 0
        and drained_after is not None
        and drained_after < 2,
    }


def measure_ingest(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    console = start_console(work / "ingest", work / "console-ingest.log")
    try:
        time.sleep(1)
        idle = console.memory()
        now = time.time_ns()
        templates = {
            "spans": console_data.span_bodies(now),
            "logs": console_data.log_bodies(now),
        }
        steps = []
        for signal_name in ("spans", "logs"):
            saturated = 0
            for rate in args.rates:
                step = ingest_step(
                    console,
                    signal_name,
                    templates[signal_name],
                    rate,
                    args.step_seconds,
                    args.clients,
                )
                steps.append(step)
                _progress(
                    f"ingest {signal_name} offered {rate or 'max'}/s: "
                    f"{step['accepted_per_second']:.0f}/s accepted, "
                    f"{step['requests']['too_many']} x 429, kept up: {step['kept_up']}"
                )
                saturated += not step["kept_up"]
                if saturated >= 2:
                    break
        after = console.memory()
    finally:
        console.stop()
    capacity = {}
    for signal_name in ("spans", "logs"):
        kept = [
            s["accepted_per_second"] for s in steps if s["signal"] == signal_name and s["kept_up"]
        ]
        capacity[signal_name] = max(kept, default=0.0)
    return {"steps": steps, "capacity_per_second": capacity, "rss": {"idle": idle, "after": after}}


# -- 2. the order path: console vs sink --------------------------------------------------------


class RssSampler:
    """The highest VmRSS of a process seen every ``interval`` seconds while running."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, memory_mb(self.pid).get("VmRSS", 0.0))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def measure_order_path(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    round_args = argparse.Namespace(
        database="sqlite",
        pg_dsn=order_path.PG_DSN,
        connections=args.connections,
        duration=args.duration,
        warmup=args.warmup,
        single_duration=args.single_duration,
        env=["OTEL_LOGS_EXPORTER=otlp"],
    )
    sink_port = free_port()
    sink = subprocess.Popen(
        [sys.executable, str(order_path.SINK), "--port", str(sink_port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    console = start_console(work / "order-path-console", work / "console-order-path.log")
    rounds = []
    try:
        assert sink.stdout is not None
        sink.stdout.readline()
        idle = console.memory()
        plan = [target for _ in range(args.rounds) for target in ("console", "sink")]
        for number, target in enumerate(plan, start=1):
            pid = console.pid if target == "console" else sink.pid
            url = console.otlp_url if target == "console" else f"http://127.0.0.1:{sink_port}"
            before = console_figures(console)
            began = time.monotonic()
            with RssSampler(console.pid) as sampler:
                result = order_path.one_round(
                    "telemetry on", number, round_args, url, work, extra_pids={"receiver": pid}
                )
            time.sleep(1)  # the last batches
            after = console_figures(console)
            cpu = result["cpu_seconds"]
            total = sum(value for name, value in cpu.items())
            result.update(
                target=target,
                receiver_cpu_share=cpu["receiver"] / total if total else None,
                console_items={
                    key: after.get(key, 0.0) - before.get(key, 0.0)
                    for key in (
                        "spans_accepted",
                        "spans_rejected",
                        "spans_dropped",
                        "logs_accepted",
                        "logs_rejected",
                        "logs_dropped",
                    )
                },
                console_rss_peak_mb=sampler.peak,
            )
            rounds.append(result)
            _progress(
                f"order path round {number}/{len(plan)} → {target}: "
                f"{result['orders_per_second']:.1f} orders/s, receiver CPU share "
                f"{result['receiver_cpu_share']:.1%} ({time.monotonic() - began:.0f} s)"
            )
        under_load = console.memory()
    finally:
        console.stop()
        sink.terminate()
        sink.wait(timeout=10)
    summary = {}
    for target in ("console", "sink"):
        mine = [r for r in rounds if r["target"] == target]
        summary[target] = {
            "rounds": len(mine),
            "orders_per_second": statistics.median(r["orders_per_second"] for r in mine),
            "p99_ms": statistics.median(r["latency_ms"]["p99"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
            "spans_exported": sum(r["spans"]["exported"] for r in mine),
            "spans_dropped": sum(r["spans"]["dropped"] for r in mine),
            "receiver_cpu_share": statistics.median(r["receiver_cpu_share"] for r in mine),
            "receiver_cpu_ms_per_order": statistics.median(
                r["cpu_seconds"]["receiver"] * 1000 / r["orders"] for r in mine if r["orders"]
            ),
        }
    mine = [r for r in rounds if r["target"] == "console"]
    summary["console"]["items"] = {
        key: sum(r["console_items"][key] for r in mine) for key in mine[0]["console_items"]
    }
    rss = {
        "idle": idle,
        "under_load_peak_rss": max(r["console_rss_peak_mb"] for r in mine),
        "after": under_load,
    }
    return {"summary": summary, "rounds": rounds, "rss": rss}


# -- 4. search over a filled store -------------------------------------------------------------


def filled_store(traces: int, logs_per_trace: int, cache_dir: Path) -> tuple[Path, dict[str, Any]]:
    """A data dir whose console store holds ``traces`` x 10 spans; made once, then reused."""
    from minishop.console.adapters.sqlite_store import SqliteTelemetryStore

    data_dir = (
        cache_dir / f"console-store-v{FILL_VERSION}-{traces * 10}-spans-{logs_per_trace}-logs"
    )
    meta_path = data_dir / "fill.json"
    if meta_path.exists():
        return data_dir, json.loads(meta_path.read_text())
    shutil.rmtree(data_dir, ignore_errors=True)
    path = data_dir / "console" / "telemetry.db"
    store = SqliteTelemetryStore(
        path, max_spans=10**9, max_logs=10**9, max_age_seconds=10 * 365 * 86400
    )
    end_ns = time.time_ns()
    began = time.monotonic()
    spans = logs = 0
    for span_batch, log_batch in console_data.store_batches(traces, logs_per_trace, end_ns):
        store.write_spans(span_batch)
        store.write_logs(log_batch)
        spans += len(span_batch)
        logs += len(log_batch)
    store.optimize()
    store.close()
    meta = {
        "spans": spans,
        "traces": traces,
        "logs": logs,
        "start_ns": end_ns - traces * 50 * console_data.MS,
        "end_ns": end_ns,
        "fill_seconds": round(time.monotonic() - began, 1),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }
    meta_path.write_text(json.dumps(meta))
    return data_dir, meta


def _minutes_since(ns: int) -> str:
    return f"{int((time.time_ns() - ns) / 60e9) + 16}m"


def search_requests(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, path and query) of every timed request."""
    ids = console_data.fill_trace_ids(meta["traces"])
    rare = console_data.rare_order_id(meta["traces"])
    whole = _minutes_since(meta["start_ns"])  # pages default to the last hour: ask for all
    recent = _minutes_since(meta["end_ns"])  # the map's last 15 minutes of data

    nothing = '{app="minishop"} |= "no such line"'
    by_trace = f'{{app="minishop"}} | trace_id="{ids["middle"]}"'

    def q(path: str, **params: str) -> str:
        return f"{path}?{urlencode(params)}" if params else path

    return [
        ("/api/traces (no filter)", q("/api/traces")),
        ("/api/traces service", q("/api/traces", service="payments")),
        (
            "/api/traces service+operation",
            q("/api/traces", service="payments", operation="POST /pay"),
        ),
        ("/api/traces status=error", q("/api/traces", status="error")),
        ("/api/traces min_duration_ms=1000", q("/api/traces", min_duration_ms="1000")),
        ("/api/traces attr rare (order.id)", q("/api/traces", attr=f"order.id={rare}")),
        ("/api/traces attr common (status 200)", q("/api/traces", attr=COMMON_ATTRIBUTE)),
        ("/api/traces/{id}", f"/api/traces/{ids['middle']}"),
        ("/api/logs payment failed", q("/api/logs", query=PAYMENT_FAILED)),
        ("/api/logs \\| trace_id=…", q("/api/logs", query=by_trace)),
        ("/api/logs line filter matching nothing", q("/api/logs", query=nothing)),
        (f"/api/services (window {recent})", q("/api/services", window=recent)),
        ("page /traces", q("/traces", since=whole)),
        ("page /logs payment failed", q("/logs", query=PAYMENT_FAILED, since=whole)),
    ]


def measure_search(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    data_dir, meta = filled_store(args.search_traces, args.logs_per_trace, cache)
    _progress(f"search store: {meta['spans']} spans, {meta['logs']} logs, {meta['file_mb']} MB")
    console = start_console(
        data_dir,
        work / "console-search.log",
        env={
            "MINISHOP_CONSOLE_RETENTION_SPANS": str(max(meta["spans"] * 2, 1000)),
            "MINISHOP_CONSOLE_RETENTION_LOGS": str(max(meta["logs"] * 2, 1000)),
            "MINISHOP_CONSOLE_RETENTION_HOURS": str(24 * 364),
        },
    )
    timings = []
    try:
        idle = console.memory()
        with httpx.Client(base_url=console.url, timeout=120) as client:
            for label, path in search_requests(meta):
                seconds, status, size = [], 0, 0
                for _ in range(args.repeat):
                    began = time.perf_counter()
                    answer = client.get(path)
                    seconds.append(time.perf_counter() - began)
                    status, size = answer.status_code, len(answer.content)
                timings.append(
                    {
                        "request": label,
                        "path": path,
                        "status": status,
                        "bytes": size,
                        "first_ms": seconds[0] * 1000,
                        "median_ms": statistics.median(seconds) * 1000,
                        "max_ms": max(seconds) * 1000,
                    }
                )
        after = console.memory()
    finally:
        console.stop()
    return {"store": meta, "timings": timings, "rss": {"idle": idle, "after": after}}


# -- the report --------------------------------------------------------------------------------


def markdown(result: Mapping[str, Any]) -> str:
    settings, lines = result["settings"], []

    def table(head: list[str], rows: list[list[str]]) -> None:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|---|" + "---:|" * (len(head) - 1))
        lines.extend("| " + " | ".join(row) + " |" for row in rows)
        lines.append("")

    def num(value: float | None, digits: int = 0) -> str:
        return "-" if value is None else f"{value:,.{digits}f}"

    lines += [
        f"Console benchmark{' (--quick)' if settings['quick'] else ''}, "
        f"{result['machine']['cpus']} CPUs, Python {result['machine']['python']}, "
        f"{result['started_at'][:16]} UTC.",
        "",
        f"**1. Ingest** ({settings['clients']} client processes, {settings['step_seconds']} s a "
        "step, 512 items a request; 'kept up': no 429/error/drop and the queue empty within 2 s)",
        "",
    ]
    ingest = result["ingest"]
    table(
        [
            "signal",
            "offered/s",
            "sent/s",
            "accepted/s",
            "429s",
            "metrics accepted / rejected / dropped / stored",
            "CPU ms / 1000 items",
            "console CPU (cores)",
            "kept up",
        ],
        [
            [
                s["signal"],
                num(s["offered_per_second"]) if s["offered_per_second"] else "max",
                num(s["sent_per_second"]),
                num(s["accepted_per_second"]),
                str(s["requests"]["too_many"]),
                " / ".join(
                    num(s["metrics"][k]) for k in ("accepted", "rejected", "dropped", "stored")
                ),
                num(s["cpu_ms_per_1000_items"], 1),
                num(s["cpu_share_of_one_core_during_load"], 2),
                "yes" if s["kept_up"] else "no",
            ]
            for s in ingest["steps"]
        ],
    )
    cap = ingest["capacity_per_second"]
    lines += [
        f"Sustained without loss: **{cap['spans']:,.0f} spans/s**, **{cap['logs']:,.0f} log "
        "records/s** (highest step kept up).",
        "",
    ]
    order = result["order_path"]["summary"]
    lines += [
        f"**2. Order path, telemetry on (+ logs over OTLP), exporting to the console vs the "
        f"sink** (wrk {settings['connections']} connections, {settings['duration']} s, "
        f"{order['console']['rounds']} round(s) each, alternated; medians)",
        "",
    ]
    items = order["console"]["items"]
    table(
        ["figure", "console", "sink"],
        [
            [
                "orders/s",
                num(order["console"]["orders_per_second"], 1),
                num(order["sink"]["orders_per_second"], 1),
            ],
            [
                "p99 latency (ms)",
                num(order["console"]["p99_ms"], 1),
                num(order["sink"]["p99_ms"], 1),
            ],
            ["errors", str(order["console"]["errors"]), str(order["sink"]["errors"])],
            [
                "spans exported / dropped (services)",
                " / ".join(num(order["console"][k]) for k in ("spans_exported", "spans_dropped")),
                " / ".join(num(order["sink"][k]) for k in ("spans_exported", "spans_dropped")),
            ],
            [
                "receiver CPU share of all processes",
                f"{order['console']['receiver_cpu_share']:.1%}",
                f"{order['sink']['receiver_cpu_share']:.1%}",
            ],
            [
                "receiver CPU ms / order",
                num(order["console"]["receiver_cpu_ms_per_order"], 2),
                num(order["sink"]["receiver_cpu_ms_per_order"], 2),
            ],
            [
                "console: spans accepted / rejected / dropped",
                " / ".join(num(items[f"spans_{k}"]) for k in ("accepted", "rejected", "dropped")),
                "-",
            ],
            [
                "console: logs accepted / rejected / dropped",
                " / ".join(num(items[f"logs_{k}"]) for k in ("accepted", "rejected", "dropped")),
                "-",
            ],
        ],
    )
    rss = result["rss"]
    lines += [f"**3. Console memory** (goal ≤ {RSS_GOAL_MB} MB)", ""]
    table(
        ["when", "VmRSS MB", "VmHWM MB"],
        [
            ["idle (just started)", num(rss["idle"]["VmRSS"]), num(rss["idle"]["VmHWM"])],
            [
                "after the ingest steps",
                num(rss["after_ingest"]["VmRSS"]),
                num(rss["after_ingest"]["VmHWM"]),
            ],
            [
                "under the order path (peak sampled / at end)",
                num(rss["order_path_peak_rss"]),
                num(rss["after_order_path"]["VmHWM"]),
            ],
            [
                "after the searches (1M-span store)",
                num(rss["after_search"]["VmRSS"]),
                num(rss["after_search"]["VmHWM"]),
            ],
        ],
    )
    search = result["search"]
    store = search["store"]
    lines += [
        f"**4. Search** over {store['spans']:,} spans in {store['traces']:,} traces and "
        f"{store['logs']:,} log records ({store['file_mb']} MB; filled in "
        f"{store['fill_seconds']} s), median of {settings['repeat']} over HTTP "
        f"(goal ≤ {SEARCH_GOAL_MS} ms)",
        "",
    ]
    table(
        ["request", "status", "median ms", "first ms", "max ms", "bytes", "goal"],
        [
            [
                t["request"],
                str(t["status"]),
                num(t["median_ms"], 1),
                num(t["first_ms"], 1),
                num(t["max_ms"], 1),
                num(t["bytes"]),
                "ok" if t["median_ms"] <= SEARCH_GOAL_MS else _missed(t["median_ms"]),
            ]
            for t in search["timings"]
        ],
    )
    return "\n".join(lines)


def _missed(median_ms: float) -> str:
    return f"missed x{median_ms / SEARCH_GOAL_MS:.1f}"


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _timed(name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    began = time.monotonic()
    result = run()
    _progress(f"{name}: {time.monotonic() - began:.0f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every figure, small sizes (~40 s)")
    parser.add_argument(
        "--rates",
        type=lambda text: [float(x) for x in text.split(",")],
        default=[2000, 5000, 10000, 20000, 40000, 0],
        help="offered items/s per ingest step, comma-separated; 0 is as fast as possible",
    )
    parser.add_argument("--step-seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=4, help="client processes pushing OTLP")
    parser.add_argument("--rounds", type=int, default=2, help="order-path rounds per target")
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--single-duration", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--search-traces", type=int, default=100_000, help="10 spans each")
    parser.add_argument("--logs-per-trace", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=7, help="timings per search (median)")
    parser.add_argument("--cache-dir", type=Path, default=HERE / "results" / "cache")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.step_seconds, args.clients = [2000, 0], 2, 2
        args.rounds, args.duration, args.warmup, args.single_duration = 1, 3, 1, 1
        args.search_traces, args.logs_per_trace, args.repeat = 2_000, 5, 3
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is needed (Debian package 'wrk'): sudo apt-get install wrk")

    started_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="minishop-bench-console-") as temp:
        work = Path(temp)
        ingest = _timed("ingest", lambda: measure_ingest(args, work))
        order = _timed("order path", lambda: measure_order_path(args, work))
        search = _timed("search", lambda: measure_search(args, work))
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
        },
        "ingest": ingest,
        "order_path": order,
        "search": search,
        "rss": {
            "idle": ingest["rss"]["idle"],
            "after_ingest": ingest["rss"]["after"],
            "order_path_peak_rss": order["rss"]["under_load_peak_rss"],
            "after_order_path": order["rss"]["after"],
            "after_search": search["rss"]["after"],
        },
    }
    write_report(args.output, f"console-{started_at:%Y%m%dT%H%M%S}", result, markdown(result))


if __name__ == "__main__":
    main()
