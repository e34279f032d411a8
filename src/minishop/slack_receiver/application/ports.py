"""What the inbox needs from storage."""

from __future__ import annotations

from typing import Protocol

from minishop.slack_receiver.domain.model import SlackMessage


class MessageLog(Protocol):
    """Durable, append-only record of received messages."""

    async def append(self, message: SlackMessage) -> None: ...

    async def load_recent(self, limit: int) -> list[SlackMessage]: ...
