"""What a Slack incoming-webhook message is, as far as a person reading alerts cares.

Slack accepts a top-level ``text``, ``attachments`` (what Alertmanager sends) and
``blocks``; a message with none of them is refused by Slack (``no_text``), and so here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_MESSAGES_PER_PAGE = 1000
DEFAULT_MESSAGES_PER_PAGE = 100
"""Messages one read returns, newest first: the JSON list by default, and the web page."""


class InvalidMessage(ValueError):
    """The payload is not a message Slack would accept."""


@dataclass(frozen=True)
class Attachment:
    title: str
    text: str
    color: str | None = None
    title_link: str | None = None


@dataclass(frozen=True)
class SlackMessage:
    received_at: datetime
    webhook: str
    text: str
    channel: str | None = None
    username: str | None = None
    attachments: tuple[Attachment, ...] = field(default=())

    @property
    def title(self) -> str:
        """The line a person scans first: the first attachment title, else the first text line."""
        for attachment in self.attachments:
            if attachment.title:
                return attachment.title
        return self.text.splitlines()[0] if self.text else ""

    @property
    def body(self) -> str:
        """Every readable part, in order, for logs and searches."""
        parts = [self.text] if self.text else []
        for attachment in self.attachments:
            parts += [part for part in (attachment.title, attachment.text) if part]
        return "\n".join(parts)


def _string(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"'{key}' must be a string")
    return value


def _block_text(block: Any) -> str:
    """Text of a Block Kit block: section/header text and context elements."""
    if not isinstance(block, dict):
        raise InvalidMessage("each block must be an object")
    pieces = []
    text = block.get("text")
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        pieces.append(text["text"])
    for element in block.get("elements") or ():
        if isinstance(element, dict) and isinstance(element.get("text"), str):
            pieces.append(element["text"])
    return "\n".join(pieces)


def _attachment(raw: Any) -> Attachment:
    if not isinstance(raw, dict):
        raise InvalidMessage("each attachment must be an object")
    title = _string(raw, "title") or _string(raw, "pretext") or ""
    text = _string(raw, "text") or _string(raw, "fallback") or ""
    return Attachment(
        title=title, text=text, color=_string(raw, "color"), title_link=_string(raw, "title_link")
    )


def parse_message(payload: Any, *, webhook: str, received_at: datetime) -> SlackMessage:
    """A message from an incoming-webhook payload, or ``InvalidMessage`` saying what is wrong."""
    if not isinstance(payload, dict):
        raise InvalidMessage("the payload must be a JSON object")
    attachments_raw = payload.get("attachments") or []
    blocks_raw = payload.get("blocks") or []
    if not isinstance(attachments_raw, list) or not isinstance(blocks_raw, list):
        raise InvalidMessage("'attachments' and 'blocks' must be arrays")
    attachments = tuple(_attachment(raw) for raw in attachments_raw)
    texts = [_string(payload, "text") or ""] + [_block_text(block) for block in blocks_raw]
    text = "\n".join(part for part in texts if part)
    if not text and not any(a.title or a.text for a in attachments):
        raise InvalidMessage("no_text: the message has no text, attachments or blocks")
    return SlackMessage(
        received_at=received_at,
        webhook=webhook,
        text=text,
        channel=_string(payload, "channel"),
        username=_string(payload, "username"),
        attachments=attachments,
    )
