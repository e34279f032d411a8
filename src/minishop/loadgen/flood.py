"""The ``traffic_flood ROUTE RPS`` fault: extra GET requests to one route, paced.

A greenlet watches the flag file (``minishop.flags.FlagSource``, the same reader as the
services) and, while the flag is on and the users run, sends RPS requests per second to
ROUTE through the gateway, marked synthetic like every other request and counted under
their own name (``ROUTE (flood)``) in the statistics. Requests run from a bounded pool:
when the shop cannot keep up, the flood sends fewer rather than piling up connections.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import gevent
from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from minishop.flags import FlagSource, Flood
from minishop.loadgen.journeys import (
    Catalog,
    Pacer,
    baggage_header,
    failure_of,
    flood_name,
    flood_path,
)

TICK_SECONDS = 0.05
REFRESH_SECONDS = 0.5  # how often the flag file's stat is checked, as the services do
MAX_IN_FLIGHT = 200
OK = frozenset({200})


class FloodDriver:
    def __init__(
        self,
        environment: Environment,
        host: str,
        flags_file: Path | None,
        catalog: Catalog,
        api_key: str | None = None,
    ) -> None:
        self._environment = environment
        self._catalog = catalog
        self._rng = random.Random()
        self._source = FlagSource(flags_file, service="loadgen", on_change=self._changed)
        self._session = FastHttpSession(
            base_url=host,
            request_event=environment.events.request,
            user=None,
            network_timeout=10.0,
            connection_timeout=5.0,
            concurrency=50,
        )
        self._headers = {"baggage": baggage_header(f"flood-{self._rng.getrandbits(32):08x}")}
        if api_key:
            self._headers["X-API-Key"] = api_key
        self._pool = Pool(MAX_IN_FLIGHT)
        self._greenlet: gevent.Greenlet | None = None
        self._pacer: Pacer | None = None
        self._flood: Flood | None = None

    @property
    def current(self) -> Flood | None:
        return self._source.active.traffic_flood

    def describe(self) -> str | None:
        flood = self.current
        return f"{flood.rps:g} req/s to GET {flood.route}" if flood else None

    def _changed(self, flag: str, _variant: str, value: object) -> None:
        if flag != "traffic_flood":
            return
        state = (
            f"on: {value.rps:g} req/s to GET {value.route}" if isinstance(value, Flood) else "off"
        )
        print(f"[load] traffic_flood {state}", flush=True)

    def start(self) -> None:
        self._source.refresh()
        self._greenlet = gevent.spawn(self._run)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=True)
        self._pool.kill(block=True)

    def _run(self) -> None:
        refreshed = time.monotonic()
        while True:
            now = time.monotonic()
            if now - refreshed >= REFRESH_SECONDS:
                refreshed = now
                try:
                    self._source.refresh()
                except Exception as exc:  # a bad file must not end the flood watch
                    print(f"[load] flag file unreadable: {exc}", flush=True)
            self._tick(now)
            gevent.sleep(TICK_SECONDS)

    def _tick(self, now: float) -> None:
        flood = self.current
        running = self._environment.runner is not None and self._environment.runner.state in (
            STATE_SPAWNING,
            STATE_RUNNING,
        )
        if flood is None or not running:
            self._flood = self._pacer = None
            return
        if flood != self._flood or self._pacer is None:  # on, or a new route or rate
            self._flood, self._pacer = flood, Pacer(flood.rps, now)
        for _ in range(self._pacer.due(now)):
            if self._pool.free_count() == 0:
                break  # the shop is slower than the flood: send fewer
            self._pool.spawn(self._send, flood.route)

    def _send(self, route: str) -> None:
        path = flood_path(route, self._catalog.stock, self._rng)
        with self._session.request(
            "GET", path, name=flood_name(route), headers=self._headers, catch_response=True
        ) as response:
            failure = failure_of(response.status_code or 0, OK)
            if failure is None:
                response.success()
            else:
                response.failure(failure)
