"""What the Slack receiver accepts as a message, and what it refuses as Slack would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minishop.slack_receiver.domain.model import InvalidMessage, parse_message

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_an_alertmanager_payload_reads_as_its_attachment() -> None:
    payload = {
        "channel": "#minishop-oncall",
        "username": "alertmanager",
        "attachments": [
            {
                "title": "[FIRING:1] HighErrorRate (payments)",
                "title_link": "http://alertmanager/#/alerts",
                "text": "*payments: 50% of requests fail*",
                "fallback": "ignored when text is present",
                "color": "danger",
                "mrkdwn_in": ["text"],
            }
        ],
    }
    message = parse_message(payload, webhook="T/B/X", received_at=NOW)
    assert message.title == "[FIRING:1] HighErrorRate (payments)"
    assert message.channel == "#minishop-oncall"
    assert message.attachments[0].color == "danger"
    assert "50% of requests fail" in message.body


def test_plain_text_and_blocks_are_messages_too() -> None:
    message = parse_message(
        {
            "text": "deploy finished",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": "*all green*"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": "by ci"}]},
            ],
        },
        webhook="x",
        received_at=NOW,
    )
    assert message.title == "deploy finished"
    assert message.body == "deploy finished\n*all green*\nby ci"


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ([], "JSON object"),
        ({}, "no_text"),
        ({"text": ""}, "no_text"),
        ({"text": 5}, "'text' must be a string"),
        ({"attachments": {"title": "x"}}, "must be arrays"),
        ({"attachments": ["x"]}, "attachment must be an object"),
        ({"blocks": [1]}, "block must be an object"),
        ({"attachments": [{"title": None, "text": None}]}, "no_text"),
    ],
)
def test_what_slack_would_refuse_is_refused_with_the_reason(
    payload: object, complaint: str
) -> None:
    with pytest.raises(InvalidMessage, match=complaint):
        parse_message(payload, webhook="x", received_at=NOW)
