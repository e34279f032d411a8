"""Where the alerts page reads: Prometheus' rules, Alertmanager, the Slack receiver.

Each source fails alone: ``SourceDown`` says which one and why, and the page shows the
others. JSON shapes are those of Prometheus ``/api/v1/rules``, Alertmanager ``/api/v2`` and
the project's Slack receiver ``/messages``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from minishop.console.adapters.prometheus import PrometheusClient
from minishop.console.application.panels import MetricsQueryError, MetricsUnavailable
from minishop.console.domain.alerts import (
    ActiveAlert,
    AlertRule,
    ManagedAlert,
    Matcher,
    NotifiedMessage,
    RuleGroup,
    Silence,
    SilenceRequest,
)

TIMEOUT_SECONDS = 5.0


class SourceDown(Exception):
    """A source of the alerts page did not answer, or answered something unreadable."""


class SourceRefused(Exception):
    """The source answered and refused the request (a silence Alertmanager rejects)."""


def parse_time(text: Any) -> datetime | None:
    """RFC 3339 from Go (nanoseconds, ``Z``): Python reads at most microseconds."""
    if not isinstance(text, str) or not text:
        return None
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.year <= 1:  # Go's zero time: "never"
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strings(raw: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


class _JsonSource:
    def __init__(
        self,
        name: str,
        base_url: str,
        *,
        timeout: float = TIMEOUT_SECONDS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, timeout=self._timeout, transport=self._transport
            ) as client:
                response = await client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SourceDown(
                f"{self.name} is not running (no answer from {self.base_url}: {type(exc).__name__})"
            ) from None
        if 400 <= response.status_code < 500:
            raise SourceRefused(f"{self.name} refused: {response.text.strip()[:300]}")
        if response.status_code >= 300:
            raise SourceDown(f"{self.name} answered {response.status_code} to {path}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise SourceDown(f"{self.name} answered {path} without JSON") from None


def _rule(raw: dict[str, Any]) -> AlertRule:
    return AlertRule(
        name=str(raw.get("name", "")),
        state=str(raw.get("state", "inactive")),
        expr=str(raw.get("query", "")),
        for_seconds=float(raw.get("duration") or 0),
        labels=_strings(raw.get("labels")),
        annotations=_strings(raw.get("annotations")),
        alerts=tuple(
            ActiveAlert(
                labels=_strings(alert.get("labels")),
                state=str(alert.get("state", "")),
                value=str(alert.get("value", "")),
                active_at=parse_time(alert.get("activeAt")),
                annotations=_strings(alert.get("annotations")),
            )
            for alert in raw.get("alerts") or []
        ),
        health=str(raw.get("health", "ok")),
        last_error=str(raw.get("lastError") or ""),
    )


async def alert_rules(prometheus: PrometheusClient) -> list[RuleGroup]:
    """Every alerting rule by group (recording rules are the dashboards' business)."""
    try:
        groups = await prometheus.rules()
    except (MetricsUnavailable, MetricsQueryError) as exc:
        raise SourceDown(f"Prometheus is not running ({exc})") from None
    return [
        RuleGroup(
            name=str(group.get("name", "")),
            file=str(group.get("file", "")),
            rules=tuple(
                _rule(rule) for rule in group.get("rules") or [] if rule.get("type") == "alerting"
            ),
        )
        for group in groups
    ]


def _matcher(raw: dict[str, Any]) -> Matcher:
    return Matcher(
        name=str(raw.get("name", "")),
        value=str(raw.get("value", "")),
        is_regex=bool(raw.get("isRegex")),
        is_equal=raw.get("isEqual", True) is not False,
    )


class AlertmanagerClient(_JsonSource):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__("Alertmanager", base_url, **kwargs)

    async def alerts(self) -> list[ManagedAlert]:
        found = await self.request("GET", "/api/v2/alerts") or []
        return [
            ManagedAlert(
                fingerprint=str(raw.get("fingerprint", "")),
                labels=_strings(raw.get("labels")),
                annotations=_strings(raw.get("annotations")),
                state=str((raw.get("status") or {}).get("state", "")),
                starts_at=parse_time(raw.get("startsAt")),
                silenced_by=tuple((raw.get("status") or {}).get("silencedBy") or ()),
                inhibited_by=tuple((raw.get("status") or {}).get("inhibitedBy") or ()),
                generator_url=str(raw.get("generatorURL") or ""),
            )
            for raw in found
        ]

    async def silences(self) -> list[Silence]:
        found = await self.request("GET", "/api/v2/silences") or []
        silences = [
            Silence(
                id=str(raw.get("id", "")),
                state=str((raw.get("status") or {}).get("state", "")),
                matchers=tuple(_matcher(m) for m in raw.get("matchers") or []),
                starts_at=parse_time(raw.get("startsAt")),
                ends_at=parse_time(raw.get("endsAt")),
                created_by=str(raw.get("createdBy", "")),
                comment=str(raw.get("comment", "")),
            )
            for raw in found
        ]
        order = {"active": 0, "pending": 1, "expired": 2}
        return sorted(
            silences,
            key=lambda s: (order.get(s.state, 3), s.ends_at or datetime.max.replace(tzinfo=UTC)),
        )

    async def create_silence(self, silence: SilenceRequest) -> str:
        body = {
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in silence.matchers
            ],
            "startsAt": _rfc3339(silence.starts_at),
            "endsAt": _rfc3339(silence.ends_at),
            "createdBy": silence.created_by,
            "comment": silence.comment,
        }
        answer = await self.request("POST", "/api/v2/silences", json=body) or {}
        return str(answer.get("silenceID", ""))

    async def expire_silence(self, silence_id: str) -> None:
        await self.request("DELETE", f"/api/v2/silence/{silence_id}")


class SlackReceiverClient(_JsonSource):
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__("The Slack receiver", base_url, **kwargs)

    async def messages(self, limit: int = 50) -> list[NotifiedMessage]:
        found = await self.request("GET", "/messages", params={"limit": limit}) or {}
        messages = []
        for raw in found.get("messages") or []:
            attachments = raw.get("attachments") or []
            texts = [raw.get("text") or ""] + [a.get("text") or "" for a in attachments]
            colour = next((a.get("color") for a in attachments if a.get("color")), "") or ""
            messages.append(
                NotifiedMessage(
                    received_at=parse_time(raw.get("received_at")),
                    channel=str(raw.get("channel") or ""),
                    title=str(raw.get("title") or ""),
                    text="\n".join(text for text in texts if text),
                    colour=str(colour),
                )
            )
        return messages
