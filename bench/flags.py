"""What the fault flags cost a service that runs with every flag off (budgets: issue 11).

Three figures, side by side in one run:

1. CPU µs per request of the fault middleware (platform/fault_injection.py), against the
   same application without it: around a bare ASGI callable (where the middleware is all
   there is to measure) and around a one-route FastAPI app (what a service pays, in the
   noise of everything else). Variants run interleaved, several rounds, median shown.
   Beside "all off": a flag on for another service, and latency on another route of this
   one (the path check a request then pays).
2. ns per read of ``flags.active.<flag>``, the hot-path read every fault site makes.
3. RSS added by importing ``minishop.flags`` (and flagd's evaluator,
   openfeature-flagd-core) and loading a flag file, in fresh subprocesses (VmRSS of
   /proc/self/status): against a bare interpreter, and against a process that already
   imported what every service imports anyway (FastAPI, httpx, MiniShop's observability).

Budgets: ≤ 5 µs per request, ≤ 5 MB RSS per service.

    .venv/bin/python bench/flags.py [--requests 20000] [--rounds 5] [--processes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from minishop.flags import CATALOG, FlagSource, flag_spec
from minishop.flags.document import default_document, switched_on, write_document
from minishop.observability.logging import configure_logging
from minishop.platform.fault_injection import FaultInjectionMiddleware
from minishop.platform.service_app import NATIVE_TELEMETRY_OFF

BUDGET_US = 5.0
BUDGET_MB = 5.0
SERVICE = "orders"
App = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable]


def flag_file(directory: Path, *flags: tuple[str, list[str]]) -> Path:
    """A flag file with every catalog flag, ``flags`` switched on."""
    path = directory / "flags.json"
    document = default_document()
    for name, value in flags:
        spec = flag_spec(name)
        document = switched_on(document, spec, spec.parse(value))
    write_document(path, document)
    return path


def source(directory: Path, *flags: tuple[str, list[str]]) -> FlagSource:
    loaded = FlagSource(flag_file(directory, *flags), service=SERVICE)
    loaded.refresh()
    return loaded


async def bare(scope: dict, receive: object, send: Callable[[dict], Awaitable[None]]) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def fastapi_app() -> FastAPI:
    app = FastAPI(telemetry=NATIVE_TELEMETRY_OFF, docs_url=None, redoc_url=None)

    @app.get("/order")
    async def trivial() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


async def per_request_us(
    variants: dict[str, App], requests: int, rounds: int
) -> dict[str, list[float]]:
    """CPU µs per request of each variant, one figure per round, variants interleaved."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/order",
        "raw_path": b"/order",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        return None

    results: dict[str, list[float]] = {name: [] for name in variants}
    for app in variants.values():  # warm up (FastAPI builds its middleware stack on first call)
        for _ in range(200):
            await app(dict(scope), receive, send)
    for _ in range(rounds):
        for name, app in variants.items():
            started = time.process_time()
            for _ in range(requests):
                await app(dict(scope), receive, send)
            results[name].append((time.process_time() - started) / requests * 1e6)
    return results


def print_costs(title: str, results: dict[str, list[float]], base: str) -> float:
    """Print the table; return the largest median difference to ``base``."""
    baseline = statistics.median(results[base])
    print(f"\n{title}")
    print(f"  {'variant':<44} {'CPU µs/req':>10} {'Δ µs':>7}   (each round)")
    worst = 0.0
    for name, costs in results.items():
        cost = statistics.median(costs)
        each = ", ".join(f"{value:.2f}" for value in costs)
        print(f"  {name:<44} {cost:>10.2f} {cost - baseline:>+7.2f}   ({each})")
        if name != base:
            worst = max(worst, cost - baseline)
    return worst


async def middleware_costs(directory: Path, requests: int, rounds: int) -> float:
    off = source(directory / "off")
    elsewhere = source(directory / "elsewhere", ("cpu_burn", ["payments", "50"]))
    other_route = source(directory / "route", ("service_latency", [f"{SERVICE}/api/v1", "50"]))
    for loaded in (off, elsewhere, other_route):
        assert loaded.last_error is None, loaded.last_error

    def wrap(app: App, flags: FlagSource) -> App:
        return FaultInjectionMiddleware(app, flags=flags, service=SERVICE)  # type: ignore[arg-type]

    worst = 0.0
    for label, make in (("bare ASGI callable", lambda: bare), ("FastAPI, one route", fastapi_app)):
        plain = make()
        variants = {
            "no middleware": plain,
            "fault middleware, every flag off": wrap(plain, off),
            "fault middleware, cpu_burn on payments": wrap(plain, elsewhere),
            f"fault middleware, latency on {SERVICE}/api/v1": wrap(plain, other_route),
        }
        results = await per_request_us(variants, requests, rounds)
        title = f"Per request, {label}: {requests} requests x {rounds} rounds, median"
        worst = max(worst, print_costs(title, results, "no middleware"))
    return worst


def read_costs(directory: Path) -> float:
    """ns per ``source.active.<flag>`` read, for each flag; returns the slowest."""
    loaded = source(directory / "reads", ("payment_failure", ["30"]))
    print("\nHot-path reads (timeit, best of 5 x 1,000,000)")
    slowest = 0.0
    for spec in CATALOG:
        timer = timeit.Timer(f"source.active.{spec.name}", globals={"source": loaded})
        ns = min(timer.repeat(5, 1_000_000)) / 1_000_000 * 1e9
        slowest = max(slowest, ns)
        print(f"  flags.active.{spec.name:<22} {ns:6.1f} ns")
    return slowest


RSS_PROBE = """
import gc, sys
{imports}
gc.collect()
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        print(int(line.split()[1]))
"""
SERVICE_IMPORTS = "import fastapi, httpx, minishop.observability"
FLAG_IMPORTS = """
from pathlib import Path
from minishop.flags import FlagSource
source = FlagSource(Path(sys.argv[1]), service="orders")
assert source.refresh() and source.last_error is None
"""


def rss_kb(imports: str, path: Path) -> int:
    probe = RSS_PROBE.format(imports=imports)
    output = subprocess.run(
        [sys.executable, "-c", probe, str(path)], check=True, capture_output=True, text=True
    )
    return int(output.stdout.strip().splitlines()[-1])


def memory_costs(directory: Path, processes: int) -> float:
    """MB of RSS the flags add; returns the figure that counts against the budget."""
    path = flag_file(directory / "rss", ("payment_failure", ["30"]), ("cpu_burn", ["orders", "5"]))
    variants = {
        "bare interpreter": "",
        "+ minishop.flags, file loaded": FLAG_IMPORTS,
        "service imports (fastapi, httpx, observability)": SERVICE_IMPORTS,
        "service imports + minishop.flags, file loaded": SERVICE_IMPORTS + FLAG_IMPORTS,
    }
    results: dict[str, list[int]] = {name: [] for name in variants}
    for _ in range(processes):
        for name, imports in variants.items():
            results[name].append(rss_kb(imports, path))
    median = {name: statistics.median(values) / 1024 for name, values in results.items()}
    print(f"\nRSS (VmRSS, median of {processes} fresh processes each)")
    for name, mb in median.items():
        print(f"  {name:<48} {mb:7.1f} MB")
    alone = median["+ minishop.flags, file loaded"] - median["bare interpreter"]
    in_service = (
        median["service imports + minishop.flags, file loaded"]
        - median["service imports (fastapi, httpx, observability)"]
    )
    print(f"  added to a bare interpreter (flags and all they import)  {alone:+6.1f} MB")
    print(f"  added to a service (what it did not import already)      {in_service:+6.1f} MB")
    return in_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--processes", type=int, default=5)
    args = parser.parse_args()
    configure_logging(SERVICE, "WARNING")  # not the "feature flag changed" of each file loaded
    try:
        import uvloop

        runner: Callable[..., object] = uvloop.run
    except ImportError:
        runner = asyncio.run
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        for name in ("off", "elsewhere", "route", "reads", "rss"):
            (directory / name).mkdir()
        per_request = runner(middleware_costs(directory, args.requests, args.rounds))
        read_ns = read_costs(directory)
        added_mb = memory_costs(directory, args.processes)
    print("\nBudgets")
    print(f"  per request (worst Δ above)  {per_request:5.2f} µs  (budget {BUDGET_US:g} µs)")
    print(f"  slowest flag read            {read_ns / 1000:5.2f} µs")
    print(f"  RSS added to a service       {added_mb:5.1f} MB  (budget {BUDGET_MB:g} MB)")
    if per_request > BUDGET_US or added_mb > BUDGET_MB:
        sys.exit("over budget")


if __name__ == "__main__":
    main()
