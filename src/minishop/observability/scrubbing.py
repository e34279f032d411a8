"""Personal data and secrets scrubbed out of log events, by key and by value.

Masking by key alone misses what matters most: an exception's text. A failed
write on PostgreSQL carries the row's values in SQLAlchemy's ``[parameters: ...]``
and in the driver's ``DETAIL:  Key (email)=(ada@example.com) already exists``, and
those arrive as one string in ``exception``. So every string of an event, nested
ones included, is scanned for what must never be written:

- e-mail addresses are masked (``a***@example.com``): enough to recognise one;
- card-like digit runs (13 to 19 digits, spaces or dashes between) are redacted;
- bearer tokens and ``...token: value`` / ``password=value`` pairs are redacted;
- SQL parameters and the values PostgreSQL echoes in its messages are redacted.

Cost matters (one line has a budget of about 30 µs, shared PERF-NOTES): the fields
the pipeline itself writes are skipped, and every other string is tested by one
pre-compiled regular expression that only rewrites when something matched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

REDACTED = "[REDACTED]"

# Keys whose value is a secret whatever it looks like (compared normalised: lower
# case, "-" as "_"), as a whole key or as a part of one (``x_internal_token``).
_SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "cookie",
    "card_number",
    "cvc",
    "cvv",
)
_EMAIL_KEY_PARTS = ("email", "e_mail")
# Fields the pipeline writes itself from values it controls: never personal data,
# and skipping them keeps the common access line cheap.
_TRUSTED_KEYS = frozenset(
    {"timestamp", "level", "app", "service", "trace_id", "span_id", "logger", "method", "route"}
)

_PLAIN, _SECRET, _EMAIL, _TRUSTED = 0, 1, 2, 3
_KEY_KINDS: dict[str, int] = {}
_KEY_CACHE_LIMIT = 4096  # keys can come from request data: the cache must stay bounded


def _classify(key: str) -> int:
    normalised = key.lower().replace("-", "_")
    if normalised in _TRUSTED_KEYS:
        return _TRUSTED
    if any(part in normalised for part in _SECRET_KEY_PARTS):
        return _SECRET
    if any(part in normalised for part in _EMAIL_KEY_PARTS):
        return _EMAIL
    return _PLAIN


def key_kind(key: object) -> int:
    """What a key says about its value; cached, since the same few keys recur on every line."""
    if not isinstance(key, str):
        return _PLAIN
    kind = _KEY_KINDS.get(key)
    if kind is None:
        kind = _classify(key)
        if len(_KEY_KINDS) < _KEY_CACHE_LIMIT:
            _KEY_KINDS[key] = kind
    return kind


def mask_email(value: str) -> str:
    """Keep just enough of an address to recognise it: ``j***@example.com``."""
    local, _, domain = value.partition("@")
    if not domain:
        return "***"
    return f"{local[:1]}***@{domain}"


# One alternation, so a clean string costs a single scan. Each branch is named; the
# replacement depends on which one matched.
_SENSITIVE = re.compile(
    # SQLAlchemy's rendering of a statement's values, up to the end of its line.
    r"(?P<sqlparams>\[parameters: [^\n]*)"
    # PostgreSQL echoes a key's values: Key (email)=(ada@example.com) already exists.
    r"|(?P<pgkey>Key \([^)\n]*\)=\()[^\n]*?(?=\)(?: already| is | conflicts|\.?$))"
    r"|(?P<pgrow>Failing row contains \()[^\n]*(?=\))"
    r"|(?P<pginput>invalid input (?:syntax|value) for [^:\n]*: )[^\n]*"
    # asyncpg: invalid input for query argument $1: 'value...' (reason)
    r"|(?P<pgarg>invalid input for query argument [^:\n]*: )[^\n]*"
    r"|(?P<bearer>\b[Bb]earer\s+)[^\s'\",;]+"
    r"|(?P<pair>(?i:token|password|passwd|secret|authorization|api[_-]?key|cookie)"
    r"['\"]?\s*[:=]\s*['\"]?)(?:[Bb]earer\s+)?[^\s'\",;&]+"
    # The look-behind starts a match only at a word's start, keeping long words linear.
    r"|(?P<email>(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
    # Card-like: 13-19 digits, single spaces or dashes allowed between them, not part
    # of a longer word or number (a trace id's digits are next to hex letters).
    r"|(?P<card>(?<![0-9A-Za-z])\d(?:[ -]?\d){12,18}(?![0-9A-Za-z]))",
    re.MULTILINE,
)


def _replace(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "email":
        return mask_email(match.group())
    if kind == "card":
        return REDACTED
    if kind == "sqlparams":
        return f"[parameters: {REDACTED}]"
    if kind == "pgarg":
        prefix = match.group("pgarg")
        rest = match.group()[len(prefix) :]
        reason_at = rest.rfind(" (")
        reason = rest[reason_at:] if reason_at >= 0 and rest.endswith(")") else ""
        return f"{prefix}{REDACTED}{reason}"
    # The remaining kinds keep their named prefix and lose the value after it.
    return f"{match.group(kind or 0)}{REDACTED}"


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses masked and card numbers, secrets and SQL values redacted."""
    if _SENSITIVE.search(text) is None:  # the common case: no copy, no callback
        return text
    return _SENSITIVE.sub(_replace, text)


_UNTOUCHED = (bool, int, float, type(None), datetime, date, UUID)


def scrub_value(value: Any) -> Any:
    """A copy of ``value`` safe to log: strings scrubbed, containers walked, keys honoured."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, _UNTOUCHED):
        return value
    if isinstance(value, Mapping):
        return {key: _scrub_field(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(item) for item in value]
    # Anything else would be rendered by its repr, unscrubbed: render it here instead.
    return scrub_text(str(value))


def _scrub_field(key: object, value: Any) -> Any:
    kind = key_kind(key)
    if kind == _TRUSTED and isinstance(value, str):
        return value
    if value is None:
        return None
    if kind == _SECRET:
        return REDACTED
    if kind == _EMAIL and isinstance(value, str):
        return mask_email(value) if "@" in value else scrub_text(value)
    return scrub_value(value)


def scrub_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: run last before rendering, after the exception is formatted."""
    for key, value in event.items():
        scrubbed = _scrub_field(key, value)
        if scrubbed is not value:
            event[key] = scrubbed
    return event
