"""The Slack receiver over HTTP: accepts what Slack accepts, lists it, and keeps it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from minishop.slack_receiver.bootstrap import create_app
from minishop.slack_receiver.settings import SlackReceiverSettings

ALERT = {
    "channel": "#minishop-alerts",
    "username": "alertmanager",
    "attachments": [{"title": "[FIRING:1] HighErrorRate (gateway)", "text": "*27% fail*"}],
}


@asynccontextmanager
async def receiver(tmp_path: Path, **settings: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SlackReceiverSettings(data_dir=tmp_path, **settings))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://slack") as client:
            yield client


async def test_a_message_is_acknowledged_like_slack_and_listed(tmp_path: Path) -> None:
    async with receiver(tmp_path) as client:
        answer = await client.post("/services/T000/B000/XXXX", json=ALERT)
        assert answer.status_code == 200
        assert answer.text == "ok"
        (message,) = (await client.get("/messages")).json()["messages"]
        assert message["title"] == "[FIRING:1] HighErrorRate (gateway)"
        assert message["webhook"] == "T000/B000/XXXX"
        assert message["channel"] == "#minishop-alerts"
        page = await client.get("/")
        assert "HighErrorRate (gateway)" in page.text
        metrics = (await client.get("/metrics")).text
        assert 'slack_messages_received_total{result="accepted",service="slack-receiver"} 1.0' in (
            metrics
        )


async def test_the_form_encoded_payload_of_older_clients_is_accepted(tmp_path: Path) -> None:
    async with receiver(tmp_path) as client:
        answer = await client.post("/services/x", data={"payload": json.dumps({"text": "hi"})})
        assert answer.status_code == 200
        assert (await client.get("/messages")).json()["messages"][0]["text"] == "hi"


async def test_newest_first_and_limited(tmp_path: Path) -> None:
    async with receiver(tmp_path) as client:
        for number in range(5):
            await client.post("/services/x", json={"text": f"message {number}"})
        listed = (await client.get("/messages", params={"limit": 2})).json()["messages"]
        assert [item["text"] for item in listed] == ["message 4", "message 3"]
        assert (await client.get("/messages", params={"limit": 0})).status_code == 422


async def test_bad_input_is_a_clear_400_and_stores_nothing(tmp_path: Path) -> None:
    async with receiver(tmp_path) as client:
        cases = [
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            {"json": {"username": "nobody"}},
            {"json": ["a", "list"]},
            {"data": {"text": "a form without payload"}},
        ]
        for case in cases:
            answer = await client.post("/services/x", **case)
            assert answer.status_code == 400, case
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["detail"]
        assert (await client.get("/messages")).json()["messages"] == []


async def test_messages_survive_a_restart_and_the_file_stays_bounded(tmp_path: Path) -> None:
    async with receiver(tmp_path, keep_messages=3) as client:
        for number in range(10):
            await client.post("/services/x", json={"text": f"message {number}"})
    stored = tmp_path / "slack-receiver" / "messages.jsonl"
    assert len(stored.read_text().splitlines()) < 2 * 3
    with stored.open("a") as file:
        file.write('{"cut short by a cra')  # a crash mid-line does not lose the others
    async with receiver(tmp_path, keep_messages=3) as client:
        listed = (await client.get("/messages")).json()["messages"]
        assert [item["text"] for item in listed] == ["message 9", "message 8", "message 7"]
        await client.post("/services/x", json={"text": "after the crash"})
    async with receiver(tmp_path, keep_messages=3) as client:
        listed = (await client.get("/messages")).json()["messages"]
        assert [item["text"] for item in listed][:2] == ["after the crash", "message 9"]
