"""The console serves the speedscope viewer (offline) and the profiles ``minishop profile``
saved, and nothing else from the disk."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from minishop.console.adapters.web.profiles import SPEEDSCOPE_DIR, profile_path
from minishop.console.bootstrap import create_app
from minishop.console.settings import ConsoleSettings
from minishop.platform.profiling import CpuProfiler
from tests.api.test_access import call_raw
from tests.console.conftest import ServerThread
from tests.support.browser import chromium

SAVED = "orders-20261124T101500Z.speedscope.json"
BODY = b'{"$schema": "https://www.speedscope.app/file-format-schema.json", "profiles": []}'
SECRET = b"not a profile: the console must never serve this"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    profiles = folder / "profiles"
    profiles.mkdir(parents=True)
    (profiles / SAVED).write_bytes(BODY)
    (profiles / "notes.txt").write_bytes(SECRET)
    (profiles / ".hidden.speedscope.json").write_bytes(SECRET)
    (tmp_path / "secret.speedscope.json").write_bytes(SECRET)
    (folder / "secret.speedscope.json").write_bytes(SECRET)
    (profiles / "link.speedscope.json").symlink_to(tmp_path / "secret.speedscope.json")
    (profiles / "folder.speedscope.json").mkdir()
    return folder


@pytest.fixture
async def console(data_dir: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(ConsoleSettings(data_dir=data_dir, otlp_port=1, log_level="WARNING"))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50000)),
            base_url="http://console",
        ) as client,
    ):
        yield app, client


async def test_the_viewer_is_served_from_the_local_copy(
    console: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = console
    index = await client.get("/speedscope/")
    assert index.status_code == 200, "run ./dev: it copies speedscope from npm"
    assert index.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', index.text)
    assert any(asset.endswith(".js") for asset in assets), assets
    for asset in assets:
        assert "://" not in asset and not asset.startswith("//"), asset  # offline: no CDN
        assert (await client.get(f"/speedscope/{asset}")).status_code == 200, asset
    assert (await client.get("/speedscope", follow_redirects=True)).status_code == 200
    assert (SPEEDSCOPE_DIR / "file-format-schema.json").is_file()


async def test_a_saved_profile_is_listed_and_served(
    console: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = console
    listing = await client.get("/profiles")
    assert listing.status_code == 200
    assert f'href="/speedscope/#profileURL=/profiles/{SAVED}"' in listing.text
    for hidden in ("notes.txt", ".hidden", "link.speedscope", "folder.speedscope", "secret"):
        assert hidden not in listing.text
    served = await client.get(f"/profiles/{SAVED}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.content == BODY
    home = await client.get("/")
    assert 'href="/profiles"' in home.text


@pytest.mark.parametrize(
    "raw_path",
    [
        "/profiles/notes.txt",
        "/profiles/.hidden.speedscope.json",
        "/profiles/link.speedscope.json",  # a link out of the folder
        "/profiles/folder.speedscope.json",
        "/profiles/missing.speedscope.json",
        "/profiles/..%2fsecret.speedscope.json",
        "/profiles/..%2f..%2fsecret.speedscope.json",
        "/profiles/%2e%2e%2fsecret.speedscope.json",
        "/profiles/..%5csecret.speedscope.json",
        "/profiles/../secret.speedscope.json",
        "/profiles/..%252fsecret.speedscope.json",
        "/profiles/%2fetc%2fpasswd",
        "/profiles/..%2fconsole%2ftelemetry.db",
    ],
)
async def test_nothing_but_a_saved_profile_is_served(
    console: tuple[FastAPI, httpx.AsyncClient], raw_path: str
) -> None:
    app, _ = console
    response = await call_raw(app, "GET", raw_path)
    assert response.status_code == 404, (raw_path, response.status_code)
    assert SECRET not in response.content


@pytest.mark.parametrize(
    ("name", "served"),
    [
        (SAVED, True),
        ("a.b.speedscope.json", True),
        ("notes.txt", False),
        ("speedscope.json", False),
        (".speedscope.json", False),
        ("..speedscope.json", False),
        ("a..b.speedscope.json", False),
        ("a/b.speedscope.json", False),
        ("a\\b.speedscope.json", False),
        ("a b.speedscope.json", False),
        ("a.speedscope.json\x00", False),
        ("x" * 300 + ".speedscope.json", False),
    ],
)
def test_which_names_may_be_served(tmp_path: Path, name: str, served: bool) -> None:
    if served:
        (tmp_path / name).write_bytes(BODY)
    assert (profile_path(tmp_path, name) is not None) is served


def spin_for_the_viewer_test(milliseconds: float) -> None:
    deadline = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < deadline:
        pass


async def _recorded_profile() -> bytes:
    """A real profile of this thread's loop while it runs a function with a distinctive name."""
    stop = asyncio.Event()

    async def busy() -> None:
        while not stop.is_set():
            spin_for_the_viewer_test(20)
            await asyncio.sleep(0.01)

    worker = asyncio.create_task(busy())
    recorded = await CpuProfiler().record(1, description="the viewer test")
    stop.set()
    await worker
    return recorded.body


@pytest.mark.browser
def test_the_viewer_opens_a_saved_profile_by_its_link(tmp_path: Path) -> None:
    name = "products-20261124T120000Z.speedscope.json"
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / name).write_bytes(asyncio.run(_recorded_profile()))
    app = create_app(ConsoleSettings(data_dir=tmp_path, otlp_port=1, log_level="WARNING"))
    with ServerThread(app) as url, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        offsite: list[str] = []
        page.on(
            "request",
            lambda request: None if request.url.startswith(url) else offsite.append(request.url),
        )
        page.goto(f"{url}/profiles")
        page.click(f"text={name}")
        # The viewer loaded the file through the link: its title is the profile's name.
        page.wait_for_function("document.title.includes('the viewer test')", timeout=15_000)
        page.goto(f"{url}/speedscope/#profileURL=/profiles/{name}&view=sandwich")
        page.reload()  # a new hash alone does not reload the viewer
        page.wait_for_selector("text=spin_for_the_viewer_test", timeout=15_000)
    assert not errors, errors
    assert not offsite, offsite  # offline: everything from the console
