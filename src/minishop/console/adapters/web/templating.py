"""The console's Jinja environment: the templates folder and the filters pages share."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates

from minishop.manifest import MANIFEST

WEB_DIR = Path(__file__).parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"


def rfc3339(time_ns: int) -> str:
    """Times in the JSON API and on pages: RFC 3339, UTC, millisecond precision."""
    moment = datetime.fromtimestamp(time_ns / 1e9, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def milliseconds(duration_ns: int) -> float:
    return round(duration_ns / 1e6, 3)


def readable_duration(duration_ns: int) -> str:
    ms = duration_ns / 1e6
    if ms < 1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{ms / 1000:.2f} s"


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.filters["rfc3339"] = rfc3339
templates.env.filters["ms"] = milliseconds
templates.env.filters["duration"] = readable_duration


# Readable on white, none of them the red that marks errors.
SERVICE_PALETTE = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#b07aa1",
    "#76b7b2",
    "#9c755f",
    "#ff9da7",
    "#79706e",
    "#bab0ac",
    "#86bcb6",
)
# The lab's own processes, in the manifest's order, each get a colour of their own.
_KNOWN = (*MANIFEST.names, "prometheus", "alertmanager")
_ASSIGNED = {
    name: SERVICE_PALETTE[index % len(SERVICE_PALETTE)] for index, name in enumerate(_KNOWN)
}


def service_colour(name: str) -> str:
    """A service's colour, the same on every page and every run (not Python's salted hash)."""
    known = _ASSIGNED.get(name)
    if known is not None:
        return known
    digest = zlib.crc32(name.encode("utf-8"))
    return SERVICE_PALETTE[digest % len(SERVICE_PALETTE)]


templates.env.filters["service_colour"] = service_colour


def readable_uptime(seconds: float) -> str:
    """``3 d 4 h``, ``1 h 5 min``, ``40 s``: how long a process has run, at a glance."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def vendor_available(name: str) -> bool:
    """A front-end file copied by ``./dev`` from npm; pages say so when it is missing."""
    return (VENDOR_DIR / name).is_file()


templates.env.filters["uptime"] = readable_uptime
templates.env.globals["vendor_available"] = vendor_available
