"""``minishop profile``: a CPU profile of a real service process, saved where the console
serves it, with the link that opens it; refused with one line when it cannot be had."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import orjson
import pytest

from tests.support.processes import RunningShop, shop_processes
from tests.support.profiles import speedscope_frames

pytestmark = pytest.mark.e2e

TOKEN = "e2e-profile-admin-token"


def _profile(
    shop: RunningShop, data_dir: Path, *args: str, token: str | None = TOKEN
) -> subprocess.Popen[str]:
    env = {**os.environ, **shop.port_env()}
    env.pop("MINISHOP_ADMIN_TOKEN", None)
    if token is not None:
        env["MINISHOP_ADMIN_TOKEN"] = token
    command = [sys.executable, "-m", "minishop", "profile", *args, "--data-dir", str(data_dir)]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _browse(gateway: str, stop: threading.Event) -> None:
    """Catalogue reads through the gateway: work for products while it is profiled."""
    with httpx.Client(base_url=gateway, timeout=5) as client:
        while not stop.is_set():
            client.get("/api/v1/products", params={"limit": 20})
            stop.wait(0.01)


def test_profile_saves_the_file_and_prints_the_console_link(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with shop_processes(tmp_path, {"MINISHOP_ADMIN_TOKEN": TOKEN}) as shop:
        stop = threading.Event()
        browsing = threading.Thread(target=_browse, args=(shop.urls["gateway"], stop))
        browsing.start()
        try:
            process = _profile(shop, data_dir, "products", "--seconds", "2")
            out, err = process.communicate(timeout=90)
        finally:
            stop.set()
            browsing.join()
        assert process.returncode == 0, err
        refused = _profile(shop, data_dir, "gateway", "--seconds", "1")
        refused_out, refused_err = refused.communicate(timeout=60)
        no_token = _profile(shop, data_dir, "orders", "--seconds", "1", token=None)
        _, no_token_err = no_token.communicate(timeout=60)
        wrong = _profile(shop, data_dir, "orders", "--seconds", "1", token="not-it")
        _, wrong_err = wrong.communicate(timeout=60)
    (saved,) = (data_dir / "profiles").iterdir()
    assert re.fullmatch(r"products-\d{8}T\d{6}Z\.speedscope\.json", saved.name), saved.name
    assert f"Saved {saved}" in out
    assert re.search(rf"http://[\d.]+:\d+/speedscope/#profileURL=/profiles/{saved.name}\n", out)
    document = orjson.loads(saved.read_bytes())
    speedscope_frames(document)
    files = {frame.get("file", "") for frame in document["shared"]["frames"]}
    # The service's own code is in it (its request path: middleware, routes, repository);
    # products' own modules are too quick now (raw SQLite) to be sure to catch in 2 s.
    own = ("/minishop/products/", "/minishop/platform/", "/minishop/observability/")
    assert any(part in file for file in files for part in own), sorted(files)[:20]
    assert refused.returncode == 2 and not refused_out
    assert "gateway answered 403" in refused_err
    assert "gateway is never given MINISHOP_ADMIN_TOKEN" in refused_err
    assert no_token.returncode == 2 and "set MINISHOP_ADMIN_TOKEN" in no_token_err
    assert wrong.returncode == 2 and "orders answered 403" in wrong_err
    assert len(list((data_dir / "profiles").iterdir())) == 1  # nothing saved when refused
