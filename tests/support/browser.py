"""Headless Chromium for the console's browser tests: Debian's binary, driven by Playwright.

Playwright's own browser download fails on a machine without internet; the Debian package
``chromium`` (which ``./dev test`` installs) is used instead. The flags keep Chromium from
reaching for Google's services, which a closed network refuses by the dozen.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS_VARIABLE = "MINISHOP_SCREENSHOTS_DIR"  # set to docs/screenshots to refresh the README's


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise RuntimeError("the browser tests need Debian's chromium: ./dev test installs it")
    return found


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def screenshots_dir(default: Path) -> Path:
    folder = Path(os.environ.get(SCREENSHOTS_VARIABLE) or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
