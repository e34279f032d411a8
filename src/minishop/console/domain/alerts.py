"""Alerts as a person on call reads them: rules and their state, alerts, silences, messages.

The console gathers them from Prometheus (rules), Alertmanager (alerts, silences) and the
Slack receiver (what was notified), and lets the reader silence an alert. Reading the
silence form lives here, with the rules it must follow, so a bad form changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DURATIONS = ("30m", "1h", "2h", "4h", "8h", "1d")
MAX_SILENCE = timedelta(days=30)
MAX_TEXT = 1000


class InvalidSilence(ValueError):
    """The silence form is incomplete or wrong: says which field."""


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    labels: dict[str, str]
    state: str  # pending or firing
    value: str
    active_at: datetime | None
    annotations: dict[str, str] = field(default_factory=dict)
    """Expanded by Prometheus for this alert (the rule's hold the templates)."""

    @property
    def readable_value(self) -> str:
        """``0.1516`` rather than Prometheus' ``1.5162135476999383e-01``."""
        try:
            return f"{float(self.value):.4g}"
        except ValueError:
            return self.value


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    state: str  # inactive, pending or firing
    expr: str
    for_seconds: float
    labels: dict[str, str]
    annotations: dict[str, str]
    alerts: tuple[ActiveAlert, ...]
    health: str = "ok"
    last_error: str = ""

    @property
    def summary(self) -> str:
        return self.annotations.get("summary", "")

    @property
    def description(self) -> str:
        return self.annotations.get("description", "")

    @property
    def runbook_url(self) -> str:
        return self.annotations.get("runbook_url", "")


@dataclass(frozen=True, slots=True)
class RuleGroup:
    name: str
    file: str
    rules: tuple[AlertRule, ...]


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def operator(self) -> str:
        return {(False, True): "=", (False, False): "!=", (True, True): "=~"}.get(
            (self.is_regex, self.is_equal), "!~"
        )

    def __str__(self) -> str:
        return f'{self.name}{self.operator}"{self.value}"'


@dataclass(frozen=True, slots=True)
class ManagedAlert:
    """An alert as Alertmanager holds it (after grouping, silencing and inhibition)."""

    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # active, suppressed or unprocessed
    starts_at: datetime | None
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    generator_url: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    state: str  # active, pending or expired
    matchers: tuple[Matcher, ...]
    starts_at: datetime | None
    ends_at: datetime | None
    created_by: str
    comment: str


@dataclass(frozen=True, slots=True)
class NotifiedMessage:
    """One message the Slack receiver got (its ``/messages`` JSON)."""

    received_at: datetime | None
    channel: str
    title: str
    text: str
    colour: str = ""


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = field(default="")


_MATCHER = re.compile(r'^\s*([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(\S.*?))\s*$')
_DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhd])\s*$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Matchers one per line: ``service="payments"``, ``job=~"orders|users"``.

    Lines, not commas: a regular expression may hold a comma.
    """
    matchers = []
    for line in text.strip().splitlines():
        if not line.strip():
            continue
        match = _MATCHER.match(line)
        if match is None:
            raise InvalidSilence(f'matchers: cannot read {line.strip()!r} (write name="value")')
        name, operator, quoted, bare = match.groups()
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        matchers.append(
            Matcher(name, value, is_regex="~" in operator, is_equal=not operator.startswith("!"))
        )
    if not matchers:
        raise InvalidSilence('matchers: give at least one, such as alertname="HighErrorRate"')
    if not any(m.is_equal and not (m.is_regex and m.value in {"", ".*"}) for m in matchers):
        raise InvalidSilence("matchers: at least one must select something (not only negations)")
    return tuple(matchers)


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text or "")
    if match is None:
        raise InvalidSilence(f"duration: {text!r} is not a duration such as 30m, 2h or 1d")
    duration = int(match.group(1)) * _UNITS[match.group(2)]
    if duration <= timedelta(0) or duration > MAX_SILENCE:
        raise InvalidSilence("duration: between 1 minute and 30 days")
    return duration


def silence_request(
    *, matchers: str, duration: str, author: str, comment: str, now: datetime
) -> SilenceRequest:
    """A silence from the page's form, or ``InvalidSilence`` naming the field to fix.

    Alertmanager refuses a silence without an author or a comment; so does the form, first.
    """
    author, comment = author.strip(), comment.strip()
    if not author:
        raise InvalidSilence("author: say who silences the alert")
    if not comment:
        raise InvalidSilence("comment: say why (the next person on call will read it)")
    if len(author) > MAX_TEXT or len(comment) > MAX_TEXT:
        raise InvalidSilence(f"author and comment: at most {MAX_TEXT} characters")
    return SilenceRequest(
        matchers=parse_matchers(matchers),
        starts_at=now,
        ends_at=now + parse_duration(duration),
        created_by=author,
        comment=comment,
    )


def matchers_text(labels: dict[str, str]) -> str:
    """An alert's labels as the form's matchers, one per line (what prefills the form)."""
    return "\n".join(str(Matcher(name, value)) for name, value in sorted(labels.items()))


def runbook_link(runbook_url: str) -> str | None:
    """Where an alert's ``runbook_url`` opens: the console's runbook page for the project's
    runbooks (``docs/runbooks/high-error-rate.md``), the URL itself for a web address."""
    if runbook_url.startswith(("http://", "https://")):
        return runbook_url
    name = runbook_url.rsplit("/", 1)[-1]
    if re.fullmatch(r"[\w.-]+\.md", name):
        return f"/runbooks/{name}"
    return None
