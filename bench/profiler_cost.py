"""What a CPU profile (``GET /debug/pprof/profile``) costs the service it samples.

The shop runs as ``minishop up --no-stack`` (telemetry export off, ``OTEL_SDK_DISABLED``, as
in the other benchmarks' baseline); a steady light load (``--rate`` requests per second
through the gateway to one product) keeps products busy. Rounds alternate a window without a
profile and a window of the same length with one; for products, each window gives its CPU
(user + system, from ``/proc``) as a share of one core and per request served. Memory:
products' VmRSS before its first profile (pyinstrument not yet imported), after each window,
and at the end.

    .venv/bin/python bench/profiler_cost.py [--seconds 10] [--rounds 3] [--rate 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
from shop_runner import cpu_seconds, memory_mb, start_shop, write_report

SERVICE = "products"
TOKEN = "bench-admin-token"


class SteadyLoad:
    """``rate`` GETs a second from one thread, paced on a fixed schedule (no catch-up burst)."""

    def __init__(self, url: str, rate: float) -> None:
        self._url, self._interval = url, 1.0 / rate
        self._stop = threading.Event()
        self.sent = self.failed = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as client:
            due = time.monotonic()
            while not self._stop.is_set():
                try:
                    ok = client.get(self._url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.sent += 1
                self.failed += not ok
                due = max(due + self._interval, time.monotonic())
                self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> SteadyLoad:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def window(pid: int, load: SteadyLoad, seconds: float, profile_url: str | None) -> dict:
    """CPU of ``pid`` over ``seconds`` of load, with a profile recorded meanwhile or not."""
    cpu0, sent0, wall0 = cpu_seconds(pid), load.sent, time.monotonic()
    result: dict = {}
    if profile_url is None:
        time.sleep(seconds)
    else:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = httpx.get(profile_url, headers=headers, timeout=seconds + 60)
        response.raise_for_status()
        document = response.json()
        events = sum(len(profile["events"]) for profile in document["profiles"])
        result.update(profile_bytes=len(response.content), profile_events=events)
    wall = time.monotonic() - wall0
    cpu = cpu_seconds(pid) - cpu0
    served = load.sent - sent0
    result.update(
        rss_mb_after=round(memory_mb(pid)["VmRSS"], 1),
        wall_s=round(wall, 2),
        requests=served,
        cpu_percent=round(100 * cpu / wall, 1),
        cpu_ms_per_request=round(1000 * cpu / max(served, 1), 3),
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=40.0)
    parser.add_argument("--output", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shop = start_shop(
            Path(tmp) / "data",
            {"MINISHOP_ADMIN_TOKEN": TOKEN, "OTEL_SDK_DISABLED": "true"},
            Path(tmp) / "shop.log",
        )
        try:
            pid = shop.pids[SERVICE]
            product = httpx.post(
                f"{shop.gateway}/api/v1/products",
                json={"sku": "BENCH-1", "name": "Bench", "price": 5.0, "stock": 10},
                timeout=10,
            ).json()["id"]
            profile_url = f"{shop.url(SERVICE)}/debug/pprof/profile?seconds={args.seconds}"
            plain, profiled = [], []
            with SteadyLoad(f"{shop.gateway}/api/v1/products/{product}", args.rate) as load:
                time.sleep(3)  # warm up: connections, caches
                rss_before = memory_mb(pid)["VmRSS"]
                for round_ in range(args.rounds):
                    plain.append(window(pid, load, args.seconds, None))
                    profiled.append(window(pid, load, args.seconds, profile_url))
                    if round_ == 0:
                        rss_after_first = memory_mb(pid)["VmRSS"]
                failed = load.failed
            rss_end = memory_mb(pid)
        finally:
            shop.stop()
    result = {
        "service": SERVICE,
        "seconds": args.seconds,
        "rate_per_second": args.rate,
        "failed_requests": failed,
        "without_profile": plain,
        "with_profile": profiled,
        "rss_mb": {
            "before_first_profile": round(rss_before, 1),
            "after_first_profile": round(rss_after_first, 1),
            "end": round(rss_end["VmRSS"], 1),
            "peak": round(rss_end["VmHWM"], 1),
        },
    }

    def median(rows: list[dict], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    table = "\n".join(
        [
            f"# CPU profile cost: {SERVICE}, {args.seconds} s profiles, "
            f"{args.rate:g} req/s, {args.rounds} rounds (medians)",
            "",
            "| window | CPU % of a core | requests served | CPU ms / request |",
            "|---|---|---|---|",
            f"| no profile | {median(plain, 'cpu_percent')} | {median(plain, 'requests')} "
            f"| {median(plain, 'cpu_ms_per_request')} |",
            f"| profiling | {median(profiled, 'cpu_percent')} | {median(profiled, 'requests')} "
            f"| {median(profiled, 'cpu_ms_per_request')} |",
            "",
            f"RSS: {result['rss_mb']['before_first_profile']} MB before the first profile, "
            f"{result['rss_mb']['after_first_profile']} MB after it, "
            f"{result['rss_mb']['end']} MB at the end (peak {result['rss_mb']['peak']} MB).",
            "RSS after each window (plain, profiled, ...): "
            + ", ".join(
                str(row["rss_mb_after"])
                for pair in zip(plain, profiled, strict=True)
                for row in pair
            )
            + " MB.",
            f"Profile size: {median(profiled, 'profile_bytes') / 1024:.0f} KB; "
            f"failed requests: {failed}.",
            "",
        ]
    )
    write_report(args.output, "profiler_cost", result, table)
    print(json.dumps(result["rss_mb"]))


if __name__ == "__main__":
    main()
