"""CPU cost per request of the header limits (and of the body read timeout).

Three ways to bound a request's headers, served by uvicorn on one pinned core and
driven by ``wrk`` on the other, interleaved for several rounds:

- ``httptools``: uvicorn's default protocol, no limit at all (the baseline);
- ``limited``: MiniShop's HttpToolsProtocol subclass (platform/http_protocol.py);
- ``h11``: uvicorn's pure-Python h11 protocol with ``h11_max_incomplete_event_size``.

CPU µs per request = the server process's user+system CPU time over the requests
wrk completed. Two apps: a bare ASGI app (where the protocol is most of the cost)
and a one-route FastAPI app. Then, in process, the cost of the body-limit
middleware (size count + read timeout) around a POST whose body is read.

    .venv/bin/python bench/http_limits_cost.py [--seconds 8] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

SERVER = """
import sys, uvicorn
from fastapi import FastAPI
from minishop.platform.http_protocol import limited_protocol

async def bare(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})

fast = FastAPI()

@fast.get("/")
async def root() -> dict[str, str]:
    return {"status": "ok"}

protocol, app, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = {"http": protocol}
if protocol == "limited":
    options["http"] = limited_protocol(16_384, 100, 10.0)
elif protocol == "h11":
    options["h11_max_incomplete_event_size"] = 16_384
uvicorn.run(bare if app == "bare" else fast, port=port, log_level="warning",
            access_log=False, proxy_headers=False, **options)
"""

PROTOCOLS = ("httptools", "limited", "h11")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def wait_until_listening(port: int) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def run_once(protocol: str, app: str, seconds: int) -> tuple[float, float]:
    """(CPU µs per request, requests per second) for one variant."""
    port = free_port()
    server = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-c", SERVER, protocol, app, str(port)]
    )
    try:
        wait_until_listening(port)
        subprocess.run(  # warm up
            ["taskset", "-c", "1", "wrk", "-t1", "-c32", "-d1s", f"http://127.0.0.1:{port}/"],
            check=True,
            capture_output=True,
        )
        before = cpu_seconds(server.pid)
        output = subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                "wrk",
                "-t1",
                "-c32",
                f"-d{seconds}s",
                f"http://127.0.0.1:{port}/",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        used = cpu_seconds(server.pid) - before
    finally:
        server.terminate()
        server.wait(timeout=10)
    match = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or rate is None or " Non-2xx" in output:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return used / int(match.group(1)) * 1e6, float(rate.group(1))


def protocol_costs(seconds: int, rounds: int) -> None:
    for app in ("bare", "fastapi"):
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in PROTOCOLS}
        for _ in range(rounds):
            for name in PROTOCOLS:
                results[name].append(run_once(name, app, seconds))
        base = statistics.median(cost for cost, _ in results["httptools"])
        print(f"\n{app} app: median of {rounds} rounds, wrk -t1 -c32 -d{seconds}s")
        print(f"{'protocol':<10} {'CPU µs/req':>11} {'Δ µs':>7} {'req/s':>9}   (each round)")
        for name in PROTOCOLS:
            costs = [cost for cost, _ in results[name]]
            rates = [rate for _, rate in results[name]]
            cost = statistics.median(costs)
            each = ", ".join(f"{c:.1f}" for c in costs)
            print(
                f"{name:<10} {cost:>11.1f} {cost - base:>+7.1f} "
                f"{statistics.median(rates):>9.0f}   ({each})"
            )


async def middleware_cost(requests: int, rounds: int) -> None:
    from minishop.platform.body_limit import BodySizeLimitMiddleware

    body = b'{"user_id": 1, "items": [{"product_id": 1, "quantity": 2}]}'
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/order",
        "headers": [(b"content-length", str(len(body)).encode())],
    }

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(_message: dict[str, object]) -> None:
        return None

    async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
        await receive()

    variants = {
        "no middleware": app,
        "body limit + read timeout": BodySizeLimitMiddleware(app, 65_536, 10.0),
    }
    results: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, wrapped in variants.items():
            started = time.process_time()
            for _ in range(requests):
                await wrapped(scope, receive, send)
            results[name].append((time.process_time() - started) / requests * 1e6)
    print(f"\nin process, {requests} requests x {rounds} rounds (median CPU µs/request)")
    for name, costs in results.items():
        print(f"{name:<28} {statistics.median(costs):6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=50_000)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        sys.exit("needs wrk and taskset")
    protocol_costs(args.seconds, args.rounds)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(middleware_cost(args.requests, args.rounds))


if __name__ == "__main__":
    main()
