"""Slack's incoming-webhook endpoint, and the pages that show what arrived."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel

from minishop.observability.logging import get_logger
from minishop.platform.problems import Problem
from minishop.slack_receiver.adapters.telemetry import ReceiverMetrics
from minishop.slack_receiver.application.inbox import Inbox
from minishop.slack_receiver.domain.model import (
    DEFAULT_MESSAGES_PER_PAGE,
    MAX_MESSAGES_PER_PAGE,
    InvalidMessage,
    SlackMessage,
)

_log = get_logger("minishop.slack_receiver")


class AttachmentOut(BaseModel):
    title: str
    text: str
    color: str | None
    title_link: str | None


class MessageOut(BaseModel):
    received_at: datetime
    webhook: str
    channel: str | None
    username: str | None
    title: str
    text: str
    attachments: list[AttachmentOut]

    @classmethod
    def of(cls, message: SlackMessage) -> MessageOut:
        return cls(
            received_at=message.received_at,
            webhook=message.webhook,
            channel=message.channel,
            username=message.username,
            title=message.title,
            text=message.text,
            attachments=[AttachmentOut(**vars(item)) for item in message.attachments],
        )


class MessagesOut(BaseModel):
    messages: list[MessageOut]


def _payload(body: bytes, content_type: str) -> Any:
    """Slack takes a JSON body, or a form whose ``payload`` field holds the JSON."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
            if "payload" not in fields:
                raise InvalidMessage("invalid_payload: the form has no 'payload' field")
            return orjson.loads(fields["payload"][0])
        return orjson.loads(body)
    except (orjson.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"invalid_payload: the body is not valid JSON ({exc})") from None


def build_router(inbox: Inbox, metrics: ReceiverMetrics) -> APIRouter:
    router = APIRouter(tags=["slack"])

    @router.post(
        "/services/{webhook:path}",
        response_class=PlainTextResponse,
        summary="Receive an incoming-webhook message, as hooks.slack.com does",
    )
    async def receive(webhook: str, request: Request) -> str:
        body = await request.body()
        try:
            message = await inbox.receive(
                _payload(body, request.headers.get("content-type", "")), webhook
            )
        except InvalidMessage as exc:
            metrics.rejected()
            raise Problem(400, str(exc), type_="invalid-slack-message") from None
        metrics.accepted()
        _log.info(
            "slack message received",
            webhook=webhook,
            channel=message.channel,
            title=message.title,
            text=message.body,
        )
        return "ok"  # what Slack answers; clients such as Alertmanager check only the status

    @router.get("/messages", response_model=MessagesOut, summary="Most recent messages first")
    async def messages(
        limit: Annotated[int, Query(ge=1, le=MAX_MESSAGES_PER_PAGE)] = DEFAULT_MESSAGES_PER_PAGE,
    ) -> MessagesOut:
        return MessagesOut(messages=[MessageOut.of(item) for item in inbox.recent(limit)])

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> str:
        rows = "".join(_html_row(message) for message in inbox.recent(DEFAULT_MESSAGES_PER_PAGE))
        empty = "" if rows else "<p>No message yet. Alerts that fire will appear here.</p>"
        return (
            "<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=10>"
            "<title>MiniShop alerts</title>"
            "<style>body{font:14px sans-serif;margin:2em}article{border-left:4px solid #999;"
            "padding:.3em 1em;margin:1em 0}pre{white-space:pre-wrap;margin:.3em 0}</style>"
            f"<h1>Slack messages received</h1>{empty}{rows}"
            "<p><a href=/messages>JSON</a></p>"
        )

    return router


def _html_row(message: SlackMessage) -> str:
    colour = next((a.color for a in message.attachments if a.color), None) or "#999"
    colour = {"danger": "#d33", "good": "#2a2", "warning": "#e90"}.get(colour, colour)
    return (
        f'<article style="border-color:{html.escape(colour)}">'
        f"<small>{message.received_at:%Y-%m-%d %H:%M:%S} UTC · "
        f"{html.escape(message.channel or '')}</small>"
        f"<h3>{html.escape(message.title)}</h3><pre>{html.escape(message.body)}</pre></article>"
    )
