"""Time bounds as people type them: ``15m`` ago, or an RFC 3339 moment (UTC when no offset).

Pages and the JSON API share these rules, so a link copied from one works in the other.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

NS_PER_SECOND = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
MAX_RELATIVE_SECONDS = 366 * 86400

RANGES: tuple[str, ...] = ("5m", "15m", "1h", "6h", "24h")
"""The time ranges the pages offer; any relative duration is accepted in a link."""


class InvalidTime(ValueError):
    """A bound that is neither a relative duration nor an RFC 3339 time: the message says so."""


def relative_seconds(text: str) -> float | None:
    """``15m`` -> 900.0; ``None`` when ``text`` is not a relative duration."""
    match = _RELATIVE.match(text)
    if match is None:
        return None
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_RELATIVE_SECONDS:
        raise InvalidTime(f"{text.strip()!r} reaches back more than a year")
    return seconds


def parse_moment(text: str) -> int:
    """An RFC 3339 time (a ``datetime-local`` value without offset is UTC), in ns."""
    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise InvalidTime(
            f"{text!r} is not a time: give a duration such as 15m or 1h, "
            "or an RFC 3339 time such as 2024-05-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * NS_PER_SECOND)


def parse_bound(text: str, now_ns: int) -> int:
    """``since``/``until``: a duration before ``now_ns``, or a moment, in ns."""
    seconds = relative_seconds(text)
    if seconds is not None:
        return now_ns - int(seconds * NS_PER_SECOND)
    return parse_moment(text)
