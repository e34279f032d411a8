"""The processes MiniShop runs, named once.

Everything that needs the list of services reads it here: the command line (what
``minishop up`` starts, which port each listens on, which URLs point each one at the
services it calls), the gateway (which ``/api/v1/<service>`` routes it forwards, and
where), the settings (default ports and URLs), the test fixtures and the benchmark.
The files that cannot import Python (``docker-compose.yml``, ``prometheus.yml``,
``init.sql``, the Dockerfile) are checked against it: ``minishop manifest --check``
names every difference, and a test runs that check.

Adding a service is its own package (``domain``, ``application``, ``adapters``,
``settings.py`` with a ``<Name>Settings`` class, ``bootstrap.py`` with ``create_app``)
plus one entry below.

This module imports nothing but the standard library, so any layer that may know
the shop's shape (settings, bootstraps, the command line) can read it cheaply.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

LOCAL_HOST = "127.0.0.1"


@dataclass(frozen=True)
class ServiceEntry:
    """One process of the shop (or of the lab around it) and what the others need to know."""

    name: str
    """Process, Prometheus job, Compose service and ``service.name``: lower case, ``-``."""
    package: str
    """The Python package: ``<package>.settings`` and ``<package>.bootstrap``."""
    port: int
    """Its default port (CONTRACT section 1); ``<PREFIX>PORT`` overrides it."""
    calls: tuple[str, ...] = ()
    """The services it sends requests to; each gets a ``<PREFIX><NAME>_URL`` setting."""
    owns_database: bool = False
    """It keeps data in its own database (one SQLite file, or one PostgreSQL database)."""
    public_api: bool = False
    """The gateway forwards ``/api/v1/<name>`` and ``/api/v1/<name>/<id>`` to it."""
    entry_point: bool = False
    """Clients' one door (the gateway): it calls every public API and stops first."""
    part_of_shop: bool = True
    """False for the lab's own tools (the console, the Slack receiver): started before the
    shop, given no shop credentials, optional to ``minishop status``."""
    settings_prefix: str | None = None
    """The env prefix when it is not the name's: the console's settings are public names
    (CONTRACT section 8), ``MINISHOP_CONSOLE_PORT``."""

    @property
    def holds_credentials(self) -> bool:
        """It gets the shop's internal and admin tokens. The entry point does not: it faces
        clients and calls only public APIs, so a breach of it yields no credential. Nor do
        the lab's tools, which guard nothing."""
        return self.part_of_shop and not self.entry_point

    @property
    def env_prefix(self) -> str:
        """``ORDERS_``, ``SLACK_RECEIVER_``: every setting of the service starts with it."""
        if self.settings_prefix is not None:
            return self.settings_prefix
        return self.name.upper().replace("-", "_") + "_"

    @property
    def port_variable(self) -> str:
        """``ORDERS_PORT``: moves the service to another port."""
        return f"{self.env_prefix}PORT"

    @property
    def url_setting(self) -> str:
        """The setting that holds this service's URL in a service that calls it:
        ``users_url``, read from ``<CALLER PREFIX>USERS_URL``."""
        return self.name.replace("-", "_") + "_url"

    def url_variable(self, called: ServiceEntry) -> str:
        """``ORDERS_USERS_URL``: the variable that points this service at ``called``."""
        return f"{self.env_prefix}{called.url_setting.upper()}"

    @property
    def settings_class(self) -> str:
        """``<package>.settings`` defines it: ``SlackReceiverSettings`` for ``slack_receiver``."""
        last = self.package.rsplit(".", 1)[-1]
        return "".join(part.capitalize() for part in last.split("_")) + "Settings"

    @property
    def database(self) -> str:
        """The PostgreSQL database (and SQLite file stem) of a service that owns one."""
        return self.name.replace("-", "_")

    def local_url(self, host: str = LOCAL_HOST, port: int | None = None) -> str:
        return f"http://{host}:{port if port is not None else self.port}"


class ManifestError(ValueError):
    """The manifest contradicts itself: a duplicate name or port, an unknown call, a cycle."""


@dataclass(frozen=True)
class Manifest:
    """The services in start order: as written, except that each one comes after the
    services it calls (the command line starts them in this order, stops in reverse)."""

    entries: tuple[ServiceEntry, ...]
    _by_name: dict[str, ServiceEntry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, ServiceEntry] = {}
        ports: dict[int, str] = {}
        for entry in self.entries:
            if entry.name in by_name:
                raise ManifestError(f"two services are named {entry.name!r}")
            if entry.port in ports:
                raise ManifestError(f"{entry.name} and {ports[entry.port]} both use {entry.port}")
            by_name[entry.name] = entry
            ports[entry.port] = entry.name
        object.__setattr__(self, "_by_name", by_name)
        entry_points = [entry.name for entry in self.entries if entry.entry_point]
        if len(entry_points) > 1:
            raise ManifestError(f"more than one entry point: {', '.join(entry_points)}")
        for entry in self.entries:
            for name in entry.calls:
                if name not in by_name:
                    raise ManifestError(f"{entry.name} calls unknown service {name!r}")
                if name == entry.name:
                    raise ManifestError(f"{entry.name} calls itself")
        graph = {entry.name: {e.name for e in self.downstream(entry)} for entry in self.entries}
        try:
            TopologicalSorter(graph).prepare()
        except CycleError as exc:
            raise ManifestError(f"services call each other in a cycle: {exc.args[1]}") from None
        object.__setattr__(self, "entries", _start_order(self.entries, graph))

    def __iter__(self) -> Iterator[ServiceEntry]:
        return iter(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def service(self, name: str) -> ServiceEntry:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self._by_name)
            raise KeyError(f"unknown service {name!r}: choose from {known}") from None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.entries)

    @property
    def shop(self) -> tuple[ServiceEntry, ...]:
        return tuple(entry for entry in self.entries if entry.part_of_shop)

    @property
    def tools(self) -> tuple[ServiceEntry, ...]:
        return tuple(entry for entry in self.entries if not entry.part_of_shop)

    @property
    def public(self) -> tuple[ServiceEntry, ...]:
        """The services whose ``/api/v1/<name>`` the entry point forwards."""
        return tuple(entry for entry in self.entries if entry.public_api)

    @property
    def with_database(self) -> tuple[ServiceEntry, ...]:
        return tuple(entry for entry in self.entries if entry.owns_database)

    @property
    def entry_point(self) -> ServiceEntry | None:
        return next((entry for entry in self.entries if entry.entry_point), None)

    def downstream(self, entry: ServiceEntry) -> tuple[ServiceEntry, ...]:
        """What ``entry`` calls: its own list, and for the entry point every public API."""
        names = list(entry.calls)
        if entry.entry_point:
            names += [other.name for other in self.public if other.name not in names]
        return tuple(self._by_name[name] for name in names)


def _start_order(
    entries: tuple[ServiceEntry, ...], calls: dict[str, set[str]]
) -> tuple[ServiceEntry, ...]:
    """The written order, with each service moved after the ones it calls (stable)."""
    ordered: list[ServiceEntry] = []
    placed: set[str] = set()
    pending = list(entries)
    while pending:
        ready = next(entry for entry in pending if calls[entry.name] <= placed)
        pending.remove(ready)
        ordered.append(ready)
        placed.add(ready.name)
    return tuple(ordered)


# One line per process: name, package, default port, then what sets it apart.
# fmt: off
MANIFEST = Manifest((
    ServiceEntry("users", "minishop.users", 8001, owns_database=True, public_api=True),
    ServiceEntry("products", "minishop.products", 8002, owns_database=True, public_api=True),
    ServiceEntry("orders", "minishop.orders", 8003, calls=("users", "products"),
                 owns_database=True, public_api=True),
    ServiceEntry("payments", "minishop.payments", 8004, calls=("orders",),
                 owns_database=True, public_api=True),
    ServiceEntry("gateway", "minishop.gateway", 8080, entry_point=True),
    # Receives every service's traces and logs (OTLP on MINISHOP_OTLP_PORT) and shows them:
    # the first process to start, so no span of the others is lost.
    ServiceEntry("console", "minishop.console", 8070, part_of_shop=False,
                 settings_prefix="MINISHOP_CONSOLE_"),
    ServiceEntry("slack-receiver", "minishop.slack_receiver", 8090, part_of_shop=False),
))
# fmt: on
