"""What each process of the lab holds in memory, and which imports put it there.

Two parts, printed side by side in one run (and written as JSON and Markdown):

1. **Live processes.** The seven processes of ``minishop up`` (five services, the console,
   the Slack receiver), each started with the command and environment ``up`` gives it, on
   free ports. VmRSS once every one answers ``/health/live``; then orders and payments
   through the gateway with wrk (``order_and_pay.lua``, as ``bench/order_path.py``) while
   the console's pages are read; then VmRSS and VmHWM (the peak) again.
2. **Imports.** For each process, a fresh interpreter wraps the import system's loader,
   builds the service the way its entry point does, loads uvicorn's configuration and runs
   the app's start-up and shut-down. Every import (those made through ``importlib`` too,
   which ``-X importtime`` misses) notes its own time and its own RSS: what ``/proc/self/
   statm`` grew by while it ran, minus what the imports it made added (importtime's "self",
   for memory). These are summed by package (``minishop``, ``opentelemetry`` and ``google``
   by their second level) with the module that first brought the package in. Memory a
   library allocates on first use rather than at import counts under "not imports".

``--baseline SRC`` runs everything a second time against another checkout's ``src``
(``/work/main/src``), so a change is shown beside what it changes, in the same run.

    .venv/bin/python bench/import_cost.py                         # this tree, 10 s of load
    .venv/bin/python bench/import_cost.py --baseline /work/main/src --seconds 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from shop_runner import free_port, memory_mb, stop_process, write_report

from minishop.manifest import MANIFEST

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "src"
LUA = HERE / "order_and_pay.lua"
PROCESSES = tuple(
    entry.name for entry in (*MANIFEST.tools, *MANIFEST.shop)
)  # the order `up` starts them in
SPLIT = {"minishop", "opentelemetry", "google"}  # grouped by their second level
TOP = 25  # packages shown in the import table

# Runs in the probed interpreter: wrap the import system's loader so that every import
# (the ones made through importlib too, which ``-X importtime`` does not show) notes, as it
# finishes, its own time and its own RSS (what it added, minus what the imports it made
# added: as importtime's "self"); then build the service as its entry point does, load
# uvicorn's configuration (its protocol classes), start and stop the app, and print the
# modules it holds, the import log and the RSS at each step.
PROBE = """
import importlib._bootstrap as bootstrap, os, sys, time

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


find_and_load = bootstrap._find_and_load
log, importers, inner = [], [], []
steps = [["interpreter", rss()]]


def traced(name, import_):
    if name in sys.modules:
        return find_and_load(name, import_)
    started, before = time.perf_counter_ns(), rss()
    importers.append(name)
    inner.append([0, 0])
    try:
        return find_and_load(name, import_)
    finally:
        importers.pop()
        inner_ns, inner_rss = inner.pop()
        elapsed, added = time.perf_counter_ns() - started, rss() - before
        if inner:
            inner[-1][0] += elapsed
            inner[-1][1] += added
        by = importers[-1] if importers else ""
        log.append([name, elapsed - inner_ns, added - inner_rss, by])


bootstrap._find_and_load = traced
import asyncio, json

name = sys.argv[1]
try:
    from minishop.serve import keep_out_terminal_libraries

    keep_out_terminal_libraries()
    from minishop.cli.serving import build
except ImportError:  # a checkout from before the lean entry point: the command line's way
    from minishop.cli.app import app_factory, load_settings
    from minishop.manifest import MANIFEST

    def build(name):
        settings = load_settings(MANIFEST.service(name))
        return app_factory(MANIFEST.service(name))(settings), settings

app, settings = build(name)
steps.append(["app built", rss()])
from minishop.platform.server import build_config

build_config(app, settings).load()
steps.append(["uvicorn configured", rss()])


async def start_and_stop():
    async with app.router.lifespan_context(app):
        steps.append(["started", rss()])


asyncio.run(start_and_stop())
bootstrap._find_and_load = find_and_load
found = {"modules": list(sys.modules), "log": log, "steps": steps}
sys.stdout.write("PROBE " + json.dumps(found) + "\\n")
"""


@dataclass(frozen=True)
class Tree:
    """One checkout under test: its label and the ``src`` folder put on PYTHONPATH."""

    label: str
    source: Path

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {**os.environ, **(extra or {})}
        env["PYTHONPATH"] = os.pathsep.join([str(self.source), str(HERE)])
        return env


def group_of(module: str) -> str | None:
    """The package a module is charged to; None for the standard library and ``__main__``."""
    parts = module.split(".")
    if parts[0] in sys.stdlib_module_names or parts[0] == "__main__":
        return None
    if parts[0] in SPLIT:
        return ".".join(parts[:2])
    return parts[0]


def probe(tree: Tree, name: str, env: Mapping[str, str]) -> dict[str, Any]:
    """What each package costs a started ``name``: its modules' own RSS (MB) and time (ms)."""
    run = subprocess.run(
        [sys.executable, "-c", PROBE, name],
        env=tree.env(env),
        capture_output=True,
        text=True,
        timeout=180,
    )
    line = next((ln for ln in run.stdout.splitlines() if ln.startswith("PROBE ")), None)
    if run.returncode != 0 or line is None:
        raise RuntimeError(f"{tree.label}: probing {name} failed:\n{run.stderr[-3000:]}")
    found = json.loads(line.removeprefix("PROBE "))
    importer = {module: by for module, _ns, _rss, by in found["log"] if by}
    packages: dict[str, dict[str, Any]] = {}
    for module, own_ns, own_rss, _by in found["log"]:
        group = group_of(module) or "(stdlib)"
        figures = packages.setdefault(
            group, {"mb": 0.0, "ms": 0.0, "modules": 0, "loaded_by": _outside(module, importer)}
        )
        figures["mb"] += own_rss / 2**20
        figures["ms"] += own_ns / 1e6
        figures["modules"] += 1
    steps = {step: value / 2**20 for step, value in found["steps"]}
    imported = sum(figures["mb"] for figures in packages.values())
    packages["(interpreter)"] = {"mb": steps["interpreter"], "ms": 0.0, "modules": 0}
    packages["(not imports: app, start-up)"] = {
        "mb": steps["started"] - steps["interpreter"] - imported,
        "ms": 0.0,
        "modules": 0,
    }
    for figures in packages.values():
        figures.setdefault("loaded_by", "")
    return {"module_count": len(found["modules"]), "steps": steps, "packages": packages}


def _outside(module: str, importer: Mapping[str, str]) -> str:
    """The first module outside ``module``'s package on its chain of importers."""
    group = group_of(module)
    seen = module
    while seen in importer and group_of(seen) == group:
        seen = importer[seen]
    return "" if group_of(seen) == group else seen


def lab_envs(data_dir: Path) -> dict[str, tuple[list[str], dict[str, str], frozenset[str]]]:
    """Each process's command, environment and withheld variables, as ``minishop up`` plans
    them, on free ports (nothing of another lab on this machine is reached)."""
    from minishop.cli.app import _plan
    from minishop.cli.tokens import shop_tokens

    ports = {entry.port_variable: str(free_port()) for entry in MANIFEST}
    moved = {
        **ports,
        "MINISHOP_OTLP_PORT": str(free_port()),
        "MINISHOP_PROMETHEUS_PORT": str(free_port()),  # nothing listens: the console copes
        "MINISHOP_ALERTMANAGER_PORT": str(free_port()),
        "GATEWAY_RATE_LIMIT_PER_SECOND": "0",
        "PAYMENTS_FAILURE_RATE": "0",
    }
    with _environment(moved):
        plan = _plan(data_dir, "WARNING", stack=True, tokens=shop_tokens({}))
    found = {}
    for spec in plan.all:
        if spec.name in PROCESSES:
            found[spec.name] = (spec.argv(), {**moved, **spec.env}, spec.withheld)
    return found


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def live(tree: Tree, work: Path, seconds: float, connections: int) -> dict[str, Any]:
    """RSS of the seven processes after start-up, and after the order path under load."""
    plans = lab_envs(work / "data")
    processes: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    try:
        for name in PROCESSES:
            argv, env, withheld = plans[name]
            full = {k: v for k, v in tree.env(env).items() if k not in withheld}
            entry = MANIFEST.service(name)
            urls[name] = f"http://127.0.0.1:{env[entry.port_variable]}"
            with (work / f"{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(
                    [sys.executable, *argv[1:]],
                    env=full,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            _wait_live(name, urls[name], processes[name], work / f"{name}.log")
        time.sleep(1.0)  # the first readiness round and export batch
        started = {name: memory_mb(p.pid)["VmRSS"] for name, p in processes.items()}
        load = _order_path(urls, seconds, connections)
        after = {name: memory_mb(p.pid) for name, p in processes.items()}
    finally:
        for process in reversed(processes.values()):
            stop_process(process)
    return {"started": started, "after": after, "load": load}


def _wait_live(name: str, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{name} did not start:\n{log.read_text(errors='replace')[-3000:]}")


def _order_path(urls: Mapping[str, str], seconds: float, connections: int) -> dict[str, Any]:
    """Orders and payments through the gateway; the console's pages read meanwhile."""
    gateway = urls["gateway"]
    product = httpx.post(
        f"{gateway}/api/v1/products",
        json={"sku": "MEM-1", "name": "Memory widget", "price": 9.99, "stock": 1_000_000},
        timeout=10,
    )
    product.raise_for_status()
    wrk = subprocess.Popen(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
         "-s", str(LUA), gateway],
        env={"BENCH_PRODUCT_ID": str(product.json()["id"]), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    console = urls["console"]
    pages = ["/traces", "/api/traces?limit=20", '/logs?query={app="minishop"}', "/map", "/alerts"]
    read = 0
    while wrk.poll() is None:
        for page in pages:
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{console}{page}", timeout=10)
                read += 1
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(f"{urls['slack-receiver']}/", timeout=10)
        time.sleep(0.5)
    out = wrk.communicate()[0]
    line = next((ln for ln in out.splitlines() if ln.startswith("BENCH ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out}")
    figures = json.loads(line.removeprefix("BENCH "))
    return {"orders": figures["orders"], "payments": figures.get("payments"), "pages": read}


def run_tree(tree: Tree, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    (work / "data").mkdir(parents=True)
    print(f"{tree.label}: probing imports", file=sys.stderr)
    plans = lab_envs(work / "probe-data")
    imports = {name: probe(tree, name, plans[name][1]) for name in PROCESSES}
    if args.imports_only:
        return {"imports": imports, "live": None}
    print(f"{tree.label}: the lab under load for {args.seconds:g} s", file=sys.stderr)
    return {"imports": imports, "live": live(tree, work, args.seconds, args.connections)}


def markdown(results: Mapping[str, Mapping[str, Any]]) -> str:
    lines = [] if any(run["live"] is None for run in results.values()) else _live_table(results)
    for label, run in results.items():
        lines += _import_table(label, run["imports"])
    return "\n".join(lines) + "\n"


def _live_table(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    labels = list(results)
    lines = ["## RSS per process (MB)", ""]
    head = ["process"]
    for label in labels:
        head += [f"{label}: started", f"{label}: after load", f"{label}: peak"]
    lines += [_row(head), _row(["---"] * len(head))]
    for name in PROCESSES:
        cells = [name]
        for label in labels:
            run = results[label]["live"]
            figures = [run["started"][name], run["after"][name]["VmRSS"],
                       run["after"][name]["VmHWM"]]  # fmt: skip
            cells += [f"{value:.1f}" for value in figures]
        lines.append(_row(cells))
    for title, names in (
        ("five services", [e.name for e in MANIFEST.shop]),
        ("five + console", [*(e.name for e in MANIFEST.shop), "console"]),
        ("all seven", list(PROCESSES)),
    ):
        cells = [f"**{title}**"]
        for label in labels:
            run = results[label]["live"]
            sums = [
                sum(run["started"][n] for n in names),
                sum(run["after"][n]["VmRSS"] for n in names),
                sum(run["after"][n]["VmHWM"] for n in names),
            ]
            cells += [f"**{value:.1f}**" for value in sums]
        lines.append(_row(cells))
    load = "; ".join(
        f"{label}: {results[label]['live']['load']['orders']} orders, "
        f"{results[label]['live']['load']['pages']} console pages"
        for label in labels
    )
    return [*lines, "", f"Load: {load}", ""]


def _import_table(label: str, imports: Mapping[str, Any]) -> list[str]:
    """The costliest packages (in any process), MB added / own import ms, per process."""
    lines = [f"## Imports: {label} (MB added in load order / own import ms)", ""]
    cost: dict[str, float] = {}
    for name in PROCESSES:
        for group, figures in imports[name]["packages"].items():
            cost[group] = max(cost.get(group, 0.0), figures["mb"])
    top = sorted(cost, key=lambda group: -cost[group])[:TOP]
    lines += [
        _row(["package", "loaded by", *PROCESSES]),
        _row(["---"] * (len(PROCESSES) + 2)),
    ]
    for group in top:
        holders = [n for n in PROCESSES if group in imports[n]["packages"]]
        cells = [group, imports[holders[0]]["packages"][group]["loaded_by"]]
        for name in PROCESSES:
            figures = imports[name]["packages"].get(group)
            cells.append("" if figures is None else f"{figures['mb']:.1f} / {figures['ms']:.0f}")
        lines.append(_row(cells))
    cells = ["**modules / total MB**", ""]
    for name in PROCESSES:
        total = sum(figures["mb"] for figures in imports[name]["packages"].values())
        cells.append(f"{imports[name]['module_count']} / {total:.1f}")
    return [*lines, _row(cells), ""]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="another checkout's src, run beside")
    parser.add_argument("--seconds", type=float, default=10.0, help="order-path load (wrk)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--imports-only", action="store_true", help="no live processes")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args()
    trees = [Tree("this tree", SOURCE)]
    if args.baseline is not None:
        if not (args.baseline / "minishop").is_dir():
            parser.error(f"--baseline {args.baseline}: no minishop package there")
        trees.insert(0, Tree("baseline", args.baseline.resolve()))
    results = {}
    with tempfile.TemporaryDirectory(prefix="import-cost-") as temporary:
        for index, tree in enumerate(trees):
            results[tree.label] = run_tree(tree, args, Path(temporary) / str(index))
    write_report(args.output, "import_cost", results, markdown(results))


if __name__ == "__main__":
    main()
