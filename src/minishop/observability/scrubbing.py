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
the pipeline itself writes are skipped, and each kind of value is looked for with a
regular expression only when a plain substring test says it could be there.
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
    {
        "timestamp",
        "level",
        "app",
        "service",
        "trace_id",
        "span_id",
        "logger",
        "method",
        "route",
        "client",  # "host:port" of the peer, from the ASGI scope
    }
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


# Each kind of value has its own expression, starting with a literal (which the
# regex engine finds at C speed) and run only when a plain substring test says it
# could be there: one combined alternation costs several times more on every clean
# string, because the engine tries each branch at each position.

# What SQLAlchemy, PostgreSQL and asyncpg write about a failed statement's values.
_SQL_PARAMETERS = re.compile(r"(\[parameters: )[^\n]*")  # to the end of its line
_PG_KEY = re.compile(  # Key (email)=(ada@example.com) already exists.
    r"(Key \([^)\n]*\)=\()[^\n]*?(?=\)(?: already| is | conflicts|\.?$))", re.MULTILINE
)
_PG_ROW = re.compile(r"(Failing row contains \()[^\n]*(?=\))")
_PG_INPUT = re.compile(r"(invalid input (?:syntax|value) for [^:\n]*: )[^\n]*")
# asyncpg: invalid input for query argument $1: 'value...' (reason)
_PG_ARGUMENT = re.compile(r"(invalid input for query argument [^:\n]*: )[^\n]*")

_SECRETS = re.compile(
    r"(?P<bearer>\b[Bb]earer\s+)[^\s'\",;]+"
    r"|(?P<pair>(?i:token|password|passwd|secret|authorization|api[_-]?key|cookie)"
    r"['\"]?\s*[:=]\s*['\"]?)(?:[Bb]earer\s+)?[^\s'\",;&]+"
)

# An address is found from its "@" (a literal: fast), or an "@" still percent-encoded
# ("%40", "%2540": a path is decoded once), then its local part is read backwards from
# there, up to the 64 characters RFC 5321 allows. Both parts may be internationalised
# (RFC 6531: "ĳ@example.org", "ada@bücher.example"), so letters are Unicode letters.
_EMAIL_DOMAIN = re.compile(
    r"(?:@|%(?:25)*40)[\w-]+(?:\.[\w-]+)*\.(?:[^\W\d_]{2,}|xn--[\w-]+)", re.IGNORECASE
)
_LOCAL_PART_PUNCTUATION = frozenset("._%+-")
_MAX_LOCAL_PART = 64


def _in_local_part(character: str) -> bool:
    return character.isalnum() or character in _LOCAL_PART_PUNCTUATION


# Card-like: 13-19 digits, single separators allowed between them (space, dash, and the
# "+", "." or "_" a URL or a form puts there), not part of a longer word or number (a
# trace id's digits are next to hex letters).
_CARD = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ +._-]?[0-9]){12,18}(?![0-9A-Za-z])")
_MIN_CARD_LENGTH = 13
# A UUID (payment ids) can end in digit groups that read like a card ("...-4821-570640037258"):
# matched first, and kept, so only digit runs outside a UUID are taken for cards.
_UUID_OR_CARD = re.compile(
    r"(?P<uuid>(?<![0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}"
    r"-[0-9a-fA-F]{12}(?![0-9A-Za-z]))|" + _CARD.pattern
)


def _redact_card(match: re.Match[str]) -> str:
    return match.group(0) if match.group("uuid") else REDACTED


# Every card layout has a group of four digits. Finding one with bytes.translate and
# a substring test costs a few percent of the card expression over a traceback, whose
# line numbers are each a regex start the engine would otherwise try.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x2E for byte in range(256))
_FOUR_DIGITS = b"0000"


def _may_hold_a_card(text: str) -> bool:
    if len(text) < _MIN_CARD_LENGTH:
        return False
    return _FOUR_DIGITS in text.encode("utf-8", "replace").translate(_DIGITS_AS_ZERO)


_KEEP_PREFIX = rf"\g<1>{REDACTED}"


def _keep_reason(match: re.Match[str]) -> str:
    """``... $1: [REDACTED] (expected int, got str)``: asyncpg's reason stays."""
    prefix = match.group(1)
    rest = match.group()[len(prefix) :]
    reason_at = rest.rfind(" (")
    reason = rest[reason_at:] if reason_at >= 0 and rest.endswith(")") else ""
    return f"{prefix}{REDACTED}{reason}"


def _replace_secret(match: re.Match[str]) -> str:
    return f"{match.group(match.lastgroup or 0)}{REDACTED}"


def _mask_emails(text: str) -> str:
    pieces: list[str] = []
    copied = 0
    for match in _EMAIL_DOMAIN.finditer(text):
        at = start = match.start()
        while start > copied and at - start < _MAX_LOCAL_PART and _in_local_part(text[start - 1]):
            start -= 1
        if start == at:
            continue  # "@host.tld" alone is no address
        pieces += (text[copied:start], text[start], "***", match.group())
        copied = match.end()
    if not pieces:
        return text
    pieces.append(text[copied:])
    return "".join(pieces)


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses masked and card numbers, secrets and SQL values redacted.

    Returns ``text`` itself (no copy) when there is nothing to change.
    """
    if "[parameters: " in text:
        text = _SQL_PARAMETERS.sub(rf"\g<1>{REDACTED}]", text)
    if "Key (" in text:
        text = _PG_KEY.sub(_KEEP_PREFIX, text)
    if "Failing row contains" in text:
        text = _PG_ROW.sub(_KEEP_PREFIX, text)
    if "invalid input" in text:
        text = _PG_ARGUMENT.sub(_keep_reason, _PG_INPUT.sub(_KEEP_PREFIX, text))
    lowered = text.lower()
    # Spelled out rather than any(...) over a tuple: a generator costs more than the tests.
    if (
        "bearer" in lowered
        or "token" in lowered
        or "passw" in lowered
        or "secret" in lowered
        or "authoriz" in lowered
        or "api_key" in lowered
        or "api-key" in lowered
        or "apikey" in lowered
        or "cookie" in lowered
    ):
        text = _SECRETS.sub(_replace_secret, text)
    if "@" in text or ("%" in text and "40" in text):
        text = _mask_emails(text)
    if _may_hold_a_card(text):
        text = _UUID_OR_CARD.sub(_redact_card, text)
    return text


_UNTOUCHED = (bool, int, float, type(None), datetime, date, UUID)


# Nesting deeper than this is not walked (a log line is no place for it): it is
# replaced, so a self-referencing or hostile structure cannot make logging raise.
MAX_DEPTH = 8
TOO_DEEP = "[TOO DEEP]"
UNPRINTABLE = "[UNPRINTABLE]"


def scrub_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` safe to log: strings scrubbed, containers walked, keys honoured."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, _UNTOUCHED):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {key: _scrub_field(key, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_value(item, depth + 1) for item in value]
    # Anything else would be rendered by its repr, unscrubbed: render it here instead.
    try:
        text = str(value)
    except Exception:  # a broken __str__ must not break the line, nor leak its repr
        return UNPRINTABLE
    return scrub_text(text)


def _scrub_field(key: object, value: Any, depth: int = 0) -> Any:
    kind = key_kind(key)
    if kind == _TRUSTED and isinstance(value, str):
        return value
    if value is None:
        return None
    if kind == _SECRET:
        return REDACTED
    if kind == _EMAIL and isinstance(value, str):
        return mask_email(value) if "@" in value else scrub_text(value)
    return scrub_value(value, depth)


_SCALARS = frozenset({bool, int, float, type(None)})


def scrub_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: run last before rendering, after the exception is formatted.

    The loop is ``_scrub_field`` with the common cases (a trusted field, a plain
    string, a number) first: it runs for every field of every line. Should scrubbing
    itself fail, the line keeps only what the pipeline wrote: unscrubbed fields never
    go out, and the caller never sees the error.
    """
    try:
        return _scrub_fields(event)
    except Exception:
        kept = {
            key: value
            for key, value in event.items()
            if key in _TRUSTED_KEYS and value.__class__ is str
        }
        event.clear()
        event.update(kept, message=WITHHELD)
        return event


WITHHELD = "[log line withheld: it could not be scrubbed]"


def _scrub_fields(event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    kinds = _KEY_KINDS
    for key, value in event.items():
        kind = kinds.get(key)
        if kind is None:
            kind = key_kind(key)
        cls = value.__class__
        if cls is str and kind == _TRUSTED:
            continue
        if kind in (_PLAIN, _TRUSTED):
            if cls is str:
                scrubbed = scrub_text(value)
                if scrubbed is not value:
                    event[key] = scrubbed
            elif cls not in _SCALARS:
                event[key] = scrub_value(value)
            continue
        event[key] = _scrub_field(key, value)
    return event
