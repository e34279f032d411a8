"""Runs the shoppers with Locust as a library: headless for a duration, or behind Locust's
web UI; prints progress and a summary; stops cleanly on SIGINT or SIGTERM.

Locust is driven as a library rather than through its own command line so that the
options, the printed figures and the stop are MiniShop's: ``minishop load`` forwards
Ctrl-C as SIGINT, ``minishop up`` stops it with SIGTERM, and both end with the summary.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import replace
from typing import Any

import gevent
from gevent.event import Event
from locust import events
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.log import setup_logging
from locust.runners import STATE_RUNNING, STATE_SPAWNING
from locust.stats import StatsEntry

from minishop.loadgen.flood import FloodDriver
from minishop.loadgen.options import OptionError, Options, parse_options
from minishop.loadgen.report import RouteRow, progress_line, summary_lines
from minishop.loadgen.users import Shopper

SUPERVISOR_PID_VARIABLE = "MINISHOP_SUPERVISOR_PID"
"""Set by ``minishop up`` and ``minishop load`` on their children: stop when that parent is
gone (the same watchdog every service runs)."""
EXIT_FAILURES = 1
EXIT_SETUP = 2


class StatusCounts:
    """Answers by route and status, from Locust's request events (its statistics keep none)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)

    def on_request(
        self, request_type: str, name: str, response: Any = None, **_kwargs: Any
    ) -> None:
        status = getattr(response, "status_code", 0) or 0
        self.counts[(request_type, name)][str(status) if status else "error"] += 1

    def reset(self, **_kwargs: Any) -> None:
        self.counts.clear()


def _row(entry: StatsEntry, statuses: Counter[str], method: str | None = None) -> RouteRow:
    has = entry.num_requests > 0
    return RouteRow(
        method=entry.method or "" if method is None else method,
        name=entry.name,
        requests=entry.num_requests,
        failures=entry.num_failures,
        p50_ms=entry.get_response_time_percentile(0.5) if has else 0.0,
        p95_ms=entry.get_response_time_percentile(0.95) if has else 0.0,
        statuses=dict(statuses),
    )


def wait_for_gateway(host: str, seconds: float) -> str | None:
    """None once ``host`` answers ``/health/ready`` with 200; else why not, after ``seconds``."""
    deadline = time.monotonic() + seconds
    reason = "no answer"
    while True:
        try:
            with urllib.request.urlopen(f"{host}/health/ready", timeout=2) as answer:
                if answer.status == 200:
                    return None
                reason = f"status {answer.status}"
        except urllib.error.HTTPError as exc:
            reason = f"status {exc.code}"
        except (OSError, ValueError) as exc:
            reason = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            return reason
        time.sleep(0.25)


class LoadRun:
    """One run of the generator, from start to summary."""

    def __init__(self, options: Options) -> None:
        self.options = options
        Shopper.configure(options.think_min, options.think_max, options.api_key)
        self.environment = Environment(
            user_classes=[Shopper],
            host=options.host,
            events=events,
            parsed_options=self._locust_options(),
        )
        self.runner = self.environment.create_local_runner()
        self.statuses = StatusCounts()
        events.request.add_listener(self.statuses.on_request)
        events.reset_stats.add_listener(self.statuses.reset)
        self.flood = FloodDriver(
            self.environment, options.host, options.flags_file, Shopper.catalog, options.api_key
        )
        self.done = Event()
        self.started = time.monotonic()

    def _locust_options(self) -> Any:
        """Locust's own options, so its web UI offers our users and rate as defaults."""
        # No config files: a locust.conf in the working directory must not change the run.
        return get_parser(default_config_files=[]).parse_args(
            args=[
                "--users", str(self.options.users),
                "--spawn-rate", str(self.options.spawn_rate),
                "--host", self.options.host,
            ]
        )  # fmt: skip

    def stop(self, *_args: object) -> None:
        self.done.set()

    def run(self) -> int:
        options = self.options
        web_ui = None
        if options.web:
            web_ui = self.environment.create_web_ui(options.web_host, options.web_port)
            print(f"[load] Locust's UI: http://{options.web_host}:{options.web_port}/", flush=True)
        self.flood.start()
        if not options.web or options.autostart:
            self.runner.start(options.users, spawn_rate=options.spawn_rate)
            print(
                f"[load] {options.users} users against {options.host} "
                f"({options.spawn_rate:g} started per second, think time "
                f"{options.think_min:g}-{options.think_max:g} s"
                + (f", for {options.duration:g} s)" if options.duration else ", until stopped)"),
                flush=True,
            )
        if options.duration:
            gevent.spawn_later(options.duration, self.stop)
        if options.progress_interval:
            gevent.spawn(self._progress)
        gevent.spawn(self._watch_parent)
        for signum in (signal.SIGINT, signal.SIGTERM):
            gevent.signal_handler(signum, self.stop)
        self.done.wait()
        self.flood.stop()
        self.runner.quit()
        for line in self._summary():
            print(line, flush=True)
        if web_ui is not None:
            web_ui.stop()
        stats = self.environment.stats
        return EXIT_FAILURES if stats.total.num_failures or self.runner.exceptions else 0

    def _progress(self) -> None:
        while True:
            gevent.sleep(self.options.progress_interval)
            if self.runner.state not in (STATE_SPAWNING, STATE_RUNNING):
                continue  # the web UI's test is stopped: nothing to report
            total = self.environment.stats.total
            print(
                progress_line(
                    time.monotonic() - self.started,
                    self.runner.user_count,
                    total.num_requests,
                    total.num_failures,
                    total.current_rps,
                    self.flood.describe(),
                ),
                flush=True,
            )

    def _watch_parent(self) -> None:
        parent = os.environ.get(SUPERVISOR_PID_VARIABLE)
        if not parent:
            return
        while os.getppid() == int(parent):
            gevent.sleep(0.5)
        self.stop()

    def _summary(self) -> list[str]:
        stats = self.environment.stats
        rows = [
            _row(entry, self.statuses.counts[(entry.method, entry.name)])
            for entry in stats.entries.values()
            if entry.num_requests
        ]
        every = Counter[str]()
        for counts in self.statuses.counts.values():
            every.update(counts)
        lines = summary_lines(
            rows,
            time.monotonic() - self.started,
            replace(_row(stats.total, every, ""), name="total"),
        )
        errors = sorted(stats.errors.values(), key=lambda error: -error.occurrences)
        for error in errors[:10]:
            lines.append(
                f"failure: {error.method} {error.name}: {error.error} (x{error.occurrences})"
            )
        for exception in list(self.runner.exceptions.values())[:5]:
            lines.append(f"generator error (x{exception['count']}): {exception['msg']}")
        return lines


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_options(sys.argv[1:] if argv is None else argv)
    except OptionError as exc:
        print(f"minishop.loadgen: {exc}", file=sys.stderr)
        return EXIT_SETUP
    # Locust's web UI parses sys.argv with its own parser (for its extra options): ours are
    # not its, so it sees a bare command line.
    sys.argv = sys.argv[:1]
    setup_logging(options.log_level)
    if options.wait_ready or not options.web:
        reason = wait_for_gateway(options.host, options.wait_ready)
        if reason is not None:
            print(
                f"minishop.loadgen: the gateway at {options.host} is not ready ({reason}): "
                "start the shop first (minishop up), or point --host at it",
                file=sys.stderr,
            )
            return EXIT_SETUP
    return LoadRun(options).run()
