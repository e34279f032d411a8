"""The fault flags of CONTRACT §9: their names, values and how each is written.

A flag's value is what ``minishop chaos set NAME VALUE...`` takes on the command line,
what the flag file holds as the ``on`` variant, and what a service reads back, typed.
Every flag also has an ``off`` variant whose value means "no fault", so the file stays a
valid flagd document (each variant of a flag has the same JSON type) whichever is in force.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from minishop.manifest import MANIFEST

MAX_LATENCY_MS = 60_000
MAX_BURN_MS = 10_000
MAX_LEAK_KB = 10_240
MAX_FLOOD_RPS = 1_000
_ROUTE = re.compile(r"^/[A-Za-z0-9_\-./{}]*$")


class InvalidFlagValue(ValueError):
    """A value a flag cannot take; the message says what it can."""


@dataclass(frozen=True)
class Latency:
    """Added latency on one service, or on the requests of that service under ``route``."""

    service: str
    route: str | None
    ms: float
    jitter_ms: float

    def applies(self, service: str, path: str) -> bool:
        """On ``service``, for ``path`` under ``route`` segment by segment.

        ``/api/v1/products/1`` covers that product only (not ``/api/v1/products/10``), and a
        route template as the metrics label it (``/api/v1/products/{product_id}``) covers
        every product.
        """
        if self.service != service:
            return False
        if self.route is None:
            return True
        wanted = self.route.strip("/").split("/")
        given = path.strip("/").split("/")
        if len(given) < len(wanted):
            return False
        return all(
            want == got or (want.startswith("{") and want.endswith("}") and got)
            for want, got in zip(wanted, given, strict=False)
        )


@dataclass(frozen=True)
class CpuBurn:
    """A CPU-heavy function on every request that ``service`` serves."""

    service: str
    ms: float


@dataclass(frozen=True)
class Flood:
    """The load generator sends ``rps`` extra requests per second to ``route``."""

    route: str
    rps: float


def _services() -> list[str]:
    return [entry.name for entry in MANIFEST.shop]


def _service(name: str) -> str:
    name = name.strip().lower()
    if name not in _services():
        raise InvalidFlagValue(f"unknown service {name!r}: one of {', '.join(_services())}")
    return name


def _number(text: Any, what: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InvalidFlagValue(f"{what} must be a number, not {text!r}") from None
    if not low <= value <= high or value != value:
        raise InvalidFlagValue(f"{what} must be between {low:g} and {high:g}, not {text}")
    return value


def _integer(text: Any, what: str, low: int, high: int) -> int:
    value = _number(text, what, low, high)
    if value != int(value):
        raise InvalidFlagValue(f"{what} must be a whole number, not {text}")
    return int(value)


def _route(text: str) -> str:
    if not _ROUTE.match(text) or "//" in text or ".." in text:
        raise InvalidFlagValue(f"a route is a path such as /api/v1/products, not {text!r}")
    return text


def _arity(args: Sequence[str], low: int, high: int, usage: str) -> None:
    if not low <= len(args) <= high:
        raise InvalidFlagValue(f"expected {usage}")


@dataclass(frozen=True)
class FlagSpec:
    """One flag: how its value is parsed, written into the file and read back."""

    name: str
    usage: str  # what `chaos set NAME` takes after the name
    description: str
    example: str
    off: Any  # the JSON value of the "off" variant
    parse: Callable[[Sequence[str]], Any]  # command-line words -> JSON value of "on"
    read: Callable[[Any], Any]  # JSON value -> typed value, None when it means "no fault"
    show: Callable[[Any], str]  # typed value -> the words `chaos list` prints

    def value_of(self, raw: Any) -> Any:
        """The typed fault ``raw`` (a JSON variant value) asks for; None for none or junk."""
        try:
            return self.read(raw)
        except (InvalidFlagValue, TypeError, KeyError, AttributeError):
            return None


# -- parsers, readers and printers, one group per flag --------------------------------


def _parse_percent(args: Sequence[str]) -> int:
    _arity(args, 1, 1, "PERCENT (0-100)")
    return _integer(args[0].rstrip("%"), "the failure percentage", 0, 100)


def _read_percent(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    value = _integer(raw, "percent", 0, 100)
    return value or None


def _parse_switch(args: Sequence[str]) -> bool:
    _arity(args, 1, 1, "on or off")
    word = args[0].strip().lower()
    if word in ("on", "true", "1", "yes"):
        return True
    if word in ("off", "false", "0", "no"):
        return False
    raise InvalidFlagValue(f"expected on or off, not {args[0]!r}")


def _read_switch(raw: Any) -> bool | None:
    return True if raw is True else None


def _parse_latency(args: Sequence[str]) -> dict[str, Any]:
    _arity(args, 2, 3, "SERVICE[/ROUTE] MS [JITTER_MS]")
    service, _, route = args[0].partition("/")
    latency = Latency(
        service=_service(service),
        route=_route("/" + route) if route else None,
        ms=_number(args[1], "the latency (ms)", 0, MAX_LATENCY_MS),
        jitter_ms=_number(args[2], "the jitter (ms)", 0, MAX_LATENCY_MS) if len(args) > 2 else 0.0,
    )
    return {
        "service": latency.service,
        "route": latency.route or "",
        "ms": latency.ms,
        "jitter_ms": latency.jitter_ms,
    }


def _read_latency(raw: Any) -> Latency | None:
    if not isinstance(raw, Mapping) or not raw.get("service"):
        return None
    latency = Latency(
        service=_service(str(raw["service"])),
        route=_route(str(raw["route"])) if raw.get("route") else None,
        ms=_number(raw.get("ms", 0), "ms", 0, MAX_LATENCY_MS),
        jitter_ms=_number(raw.get("jitter_ms", 0), "jitter_ms", 0, MAX_LATENCY_MS),
    )
    return latency if latency.ms or latency.jitter_ms else None


def _show_latency(value: Latency) -> str:
    where = value.service + (value.route or "")
    jitter = f" ±{value.jitter_ms:g}" if value.jitter_ms else ""
    return f"{where} +{value.ms:g}{jitter} ms"


def _parse_product(args: Sequence[str]) -> int:
    _arity(args, 1, 1, "PRODUCT_ID")
    return _integer(args[0], "the product id", 1, 2**31 - 1)


def _read_positive(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    value = _integer(raw, "value", 0, 2**31 - 1)
    return value or None


def _parse_leak(args: Sequence[str]) -> int:
    _arity(args, 1, 1, "KB per request")
    return _integer(args[0], "the leak (KB per request)", 1, MAX_LEAK_KB)


def _read_leak(raw: Any) -> int | None:
    if isinstance(raw, bool):
        return None
    return _integer(raw, "KB", 0, MAX_LEAK_KB) or None


def _parse_burn(args: Sequence[str]) -> dict[str, Any]:
    _arity(args, 2, 2, "SERVICE MS_PER_REQUEST")
    return {
        "service": _service(args[0]),
        "ms": _number(args[1], "the CPU time (ms per request)", 0.1, MAX_BURN_MS),
    }


def _read_burn(raw: Any) -> CpuBurn | None:
    if not isinstance(raw, Mapping) or not raw.get("service"):
        return None
    burn = CpuBurn(_service(str(raw["service"])), _number(raw.get("ms", 0), "ms", 0, MAX_BURN_MS))
    return burn if burn.ms else None


def _parse_readiness(args: Sequence[str]) -> str:
    _arity(args, 1, 1, "SERVICE")
    return _service(args[0])


def _read_readiness(raw: Any) -> str | None:
    return _service(raw) if isinstance(raw, str) and raw else None


def _parse_flood(args: Sequence[str]) -> dict[str, Any]:
    _arity(args, 2, 2, "ROUTE REQUESTS_PER_SECOND")
    return {
        "route": _route(args[0]),
        "rps": _number(args[1], "the rate (requests/s)", 0.1, MAX_FLOOD_RPS),
    }


def _read_flood(raw: Any) -> Flood | None:
    if not isinstance(raw, Mapping) or not raw.get("route"):
        return None
    flood = Flood(_route(str(raw["route"])), _number(raw.get("rps", 0), "rps", 0, MAX_FLOOD_RPS))
    return flood if flood.rps else None


CATALOG: tuple[FlagSpec, ...] = (
    FlagSpec(
        "payment_failure",
        "PERCENT",
        "the provider declines that share of payments",
        "30",
        0,
        _parse_percent,
        _read_percent,
        lambda value: f"{value} % declined",
    ),
    FlagSpec(
        "payment_unreachable",
        "on|off",
        "payments cannot reach the provider (connection errors)",
        "on",
        False,
        _parse_switch,
        _read_switch,
        lambda _value: "provider unreachable",
    ),
    FlagSpec(
        "service_latency",
        "SERVICE[/ROUTE] MS [JITTER_MS]",
        "added latency on one service or route",
        "products/api/v1/products 600 100",
        {"service": "", "route": "", "ms": 0, "jitter_ms": 0},
        _parse_latency,
        _read_latency,
        _show_latency,
    ),
    FlagSpec(
        "product_db_error",
        "PRODUCT_ID",
        "database errors for that product only",
        "3",
        0,
        _parse_product,
        _read_positive,
        lambda value: f"product {value}",
    ),
    FlagSpec(
        "orders_memory_leak",
        "KB_PER_REQUEST",
        "orders keeps memory it never frees",
        "256",
        0,
        _parse_leak,
        _read_leak,
        lambda value: f"{value} KB per request",
    ),
    FlagSpec(
        "cpu_burn",
        "SERVICE MS_PER_REQUEST",
        "a CPU-heavy function on that service's hot path",
        "orders 500",
        {"service": "", "ms": 0},
        _parse_burn,
        _read_burn,
        lambda value: f"{value.service} {value.ms:g} ms per request",
    ),
    FlagSpec(
        "readiness_failure",
        "SERVICE",
        "that service's /health/ready answers 503",
        "users",
        "",
        _parse_readiness,
        _read_readiness,
        str,
    ),
    FlagSpec(
        "traffic_flood",
        "ROUTE REQUESTS_PER_SECOND",
        "the load generator floods one route",
        "/api/v1/products 60",
        {"route": "", "rps": 0},
        _parse_flood,
        _read_flood,
        lambda value: f"{value.route} at {value.rps:g} requests/s",
    ),
)

_BY_NAME = {spec.name: spec for spec in CATALOG}


def flag_spec(name: str) -> FlagSpec:
    """The flag called ``name``; an error naming the known ones when there is none."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise InvalidFlagValue(f"unknown flag {name!r}: one of {', '.join(_BY_NAME)}") from None
