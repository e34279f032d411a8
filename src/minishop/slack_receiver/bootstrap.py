"""Composition root of the Slack receiver."""

from __future__ import annotations

from fastapi import FastAPI

from minishop.observability import SpanExporter
from minishop.platform.service_app import ServiceParts, create_service_app, service_telemetry
from minishop.slack_receiver.adapters import http_api
from minishop.slack_receiver.adapters.message_log import JsonLinesMessageLog
from minishop.slack_receiver.adapters.telemetry import ReceiverMetrics
from minishop.slack_receiver.application.inbox import Inbox
from minishop.slack_receiver.settings import SlackReceiverSettings

SERVICE = "slack-receiver"


def create_app(
    settings: SlackReceiverSettings, *, span_exporter: SpanExporter | None = None
) -> FastAPI:
    telemetry = service_telemetry(SERVICE, settings, span_exporter)
    log = JsonLinesMessageLog(
        settings.data_dir / "slack-receiver" / "messages.jsonl", settings.keep_messages
    )
    inbox = Inbox(log, keep=settings.keep_messages)
    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="Simulated Slack incoming webhooks, where alert notifications land.",
            telemetry=telemetry,
            routers=[http_api.build_router(inbox, ReceiverMetrics(telemetry.metrics))],
            settings=settings,
            on_startup=[inbox.load],
        )
    )
