"""The alerts page against fake Prometheus, Alertmanager and Slack receiver; runbooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from minishop.console.adapters.web.alerts import build_alerts_router, default_runbooks_dir
from minishop.console.settings import ConsoleSettings
from tests.console.fakes import (
    SILENCE_ID,
    HostRouting,
    Recorded,
    closed_port_url,
    fake_alertmanager,
    fake_prometheus,
    fake_slack_receiver,
)

CONSOLE = "http://console.test"
SAME_ORIGIN = {"Origin": CONSOLE}
SETTINGS = ConsoleSettings()


def console(urls: tuple[str, str, str], recorded: Recorded, *, up: bool = True) -> FastAPI:
    transport = HostRouting(
        {
            "prometheus.test": fake_prometheus(recorded),
            "alertmanager.test": fake_alertmanager(recorded),
            "slack.test": fake_slack_receiver(recorded),
        }
    )
    app = FastAPI()
    app.include_router(
        build_alerts_router(
            *urls,
            default_runbooks_dir(),
            SETTINGS,
            transport=transport if up else None,
        )
    )
    return app


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
async def client(recorded: Recorded) -> AsyncIterator[httpx.AsyncClient]:
    urls = ("http://prometheus.test", "http://alertmanager.test", "http://slack.test")
    app = console(urls, recorded)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=CONSOLE) as http:
        yield http


async def test_the_page_shows_rules_pending_and_firing(client: httpx.AsyncClient) -> None:
    response = await client.get("/alerts")
    assert response.status_code == 200
    page = response.text
    assert "<title>Alerts (1 firing)" in page
    assert '<article class="rule rule-firing" id="HighErrorRate">' in page
    assert '<article class="rule rule-pending" id="HighLatencyP95">' in page
    assert '<article class="rule rule-inactive" id="TargetDown">' in page
    assert "service:request_total:rate1m" not in page  # recording rules are not alerts
    # Each alert's own summary, expanded by Prometheus, and its value as a person reads it.
    assert "<td>payments: 35% of requests fail</td>" in page
    assert '<td class="num" title="3.5e-01">0.35</td>' in page
    assert "2025-01-02 10:00:00 UTC" in page
    assert '<a href="/runbooks/high-error-rate.md">runbook</a>' in page
    assert "/graph?g0.expr=service%3Arequest_error%3Aratio_rate1m+%3E+0.1" in page


async def test_the_page_shows_alertmanager_silences_and_notifications(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/alerts/")).text
    assert 'class="managed managed-active"' in page
    assert "<code>service=&#34;orders&#34;</code>" in page
    assert "deploying orders" in page
    assert f'action="/alerts/silences/{SILENCE_ID}/expire"' in page
    assert "[FIRING:1] HighErrorRate payments" in page
    assert "35% of the requests that payments served failed" in page
    assert "border-left-color: #d33" in page


async def test_a_silence_link_prefills_the_form_with_the_alert_labels(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/alerts")).text
    link = "/alerts?matchers=alertname%3D%22HighErrorRate%22%0Aservice%3D%22payments%22"
    assert link in page
    form = (await client.get(link)).text
    assert "alertname=&#34;HighErrorRate&#34;\nservice=&#34;payments&#34;" in form


async def test_creating_a_silence_posts_it_to_alertmanager(
    client: httpx.AsyncClient, recorded: Recorded
) -> None:
    before = datetime.now(UTC)
    response = await client.post(
        "/alerts/silences",
        data={
            "matchers": 'alertname="HighErrorRate"\nservice=~"pay.*"',
            "duration": "2h",
            "author": "ana",
            "comment": "payments provider incident",
        },
        headers=SAME_ORIGIN,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/alerts?message=Silence+" + SILENCE_ID)
    (body,) = [body for method, _, _, body in recorded.requests if method == "POST"]
    assert body["matchers"] == [
        {"name": "alertname", "value": "HighErrorRate", "isRegex": False, "isEqual": True},
        {"name": "service", "value": "pay.*", "isRegex": True, "isEqual": True},
    ]
    assert body["createdBy"] == "ana"
    assert body["comment"] == "payments provider incident"
    starts = datetime.fromisoformat(body["startsAt"].replace("Z", "+00:00"))
    ends = datetime.fromisoformat(body["endsAt"].replace("Z", "+00:00"))
    assert starts >= before - timedelta(seconds=1)
    assert ends - starts == timedelta(hours=2)
    followed = await client.get(response.headers["location"])
    assert f"Silence {SILENCE_ID} created" in followed.text


async def test_a_bad_silence_form_changes_nothing_and_says_why(
    client: httpx.AsyncClient, recorded: Recorded
) -> None:
    response = await client.post(
        "/alerts/silences",
        data={"matchers": 'service="payments"', "duration": "2h", "author": "", "comment": "x"},
        headers={"Referer": f"{CONSOLE}/alerts"},
    )
    assert response.status_code == 303
    assert "error=No+silence+created%3A+author" in response.headers["location"]
    assert "matchers=service%3D%22payments%22" in response.headers["location"]
    assert not [method for method, *_ in recorded.requests if method == "POST"]


async def test_expiring_a_silence_deletes_it(client: httpx.AsyncClient, recorded: Recorded) -> None:
    response = await client.post(f"/alerts/silences/{SILENCE_ID}/expire", headers=SAME_ORIGIN)
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/alerts?message=Silence+{SILENCE_ID}+expired.#silences"
    )
    assert ("DELETE", f"/api/v2/silence/{SILENCE_ID}", {}, None) in recorded.requests


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://evil.test"},
        {"Origin": "null"},
        {"Referer": "http://evil.test/alerts"},
        {"Referer": "http://console.test.evil.test/alerts"},
    ],
    ids=["none", "other-origin", "null-origin", "other-referer", "lookalike-referer"],
)
async def test_forms_from_elsewhere_are_refused(
    client: httpx.AsyncClient, recorded: Recorded, headers: dict[str, str]
) -> None:
    create = await client.post(
        "/alerts/silences",
        data={"matchers": "service=x", "duration": "1h", "author": "a", "comment": "c"},
        headers=headers,
    )
    expire = await client.post(f"/alerts/silences/{SILENCE_ID}/expire", headers=headers)
    assert create.status_code == expire.status_code == 403
    assert not [method for method, *_ in recorded.requests if method in {"POST", "DELETE"}]


async def test_each_source_degrades_alone(recorded: Recorded) -> None:
    down = closed_port_url()
    app = console((down, down, down), recorded, up=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=CONSOLE) as http:
        response = await http.get("/alerts")
    assert response.status_code == 200
    assert "Prometheus is not running" in response.text
    assert "Alertmanager is not running" in response.text
    assert "The Slack receiver is not running" in response.text


async def test_runbooks_render_without_raw_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/runbooks/high-error-rate.md")
    assert response.status_code == 200
    assert "<h1>HighErrorRate</h1>" in response.text
    assert "<code>service:request_error:ratio_rate1m &gt; 0.10</code>" in response.text
    index = await client.get("/runbooks")
    assert 'href="/runbooks/target-down.md"' in index.text


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fpyproject.toml", "..%2FREADME.md", "nope.md", "%2Fetc%2Fpasswd", "high-error-rate"],
)
async def test_runbooks_refuse_names_outside_the_folder(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(f"/runbooks/{name}")
    assert response.status_code == 404
    assert "[build-system]" not in response.text
    assert "root:" not in response.text


async def test_raw_html_in_a_runbook_is_shown_as_text(tmp_path: Path) -> None:
    (tmp_path / "x.md").write_text("# X\n\n<script>alert(1)</script>\n\n[a](javascript:alert(1))\n")
    app = FastAPI()
    app.include_router(build_alerts_router("http://p", "http://a", "http://s", tmp_path, SETTINGS))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=CONSOLE) as http:
        page = (await http.get("/runbooks/x.md")).text
        missing = await http.get("/runbooks/high-error-rate.md")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'href="javascript:' not in page
    assert missing.status_code == 404
    assert "No runbook named high-error-rate.md" in missing.text
