"""Receives messages and keeps the most recent ones for people (and tests) to read."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from minishop.slack_receiver.application.ports import MessageLog
from minishop.slack_receiver.domain.model import SlackMessage, parse_message


def _now() -> datetime:
    return datetime.now(UTC)


class Inbox:
    def __init__(self, log: MessageLog, keep: int, clock: Callable[[], datetime] = _now) -> None:
        self._log = log
        self._recent: deque[SlackMessage] = deque(maxlen=keep)
        self._keep = keep
        self._clock = clock

    async def load(self) -> None:
        """Messages received before a restart stay visible."""
        self._recent.extend(await self._log.load_recent(self._keep))

    async def receive(self, payload: Any, webhook: str) -> SlackMessage:
        message = parse_message(payload, webhook=webhook, received_at=self._clock())
        await self._log.append(message)
        self._recent.append(message)
        return message

    def recent(self, limit: int | None = None) -> list[SlackMessage]:
        """Newest first."""
        newest_first = list(reversed(self._recent))
        return newest_first if limit is None else newest_first[:limit]
