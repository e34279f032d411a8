"""The CPU profiles ``minishop profile`` saved, and the speedscope viewer that opens them.

``/speedscope/`` is speedscope's own release build, from the npm registry (``./dev`` copies
it into ``static/vendor/speedscope``): nothing is fetched from elsewhere, so it works
offline. ``/profiles`` lists the files of ``<data dir>/profiles`` and ``/profiles/<name>``
serves one, so ``/speedscope/#profileURL=/profiles/<name>`` opens it. Only a plain file
named ``*.speedscope.json`` directly in that folder is served: no other name, no path out
of the folder, no link that leads out of it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from minishop.console.adapters.web.pages import page_renderer
from minishop.console.adapters.web.templating import VENDOR_DIR
from minishop.console.settings import ConsoleSettings

SPEEDSCOPE_DIR = VENDOR_DIR / "speedscope"
PROFILES_FOLDER = "profiles"
PROFILE_SUFFIX = ".speedscope.json"
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.speedscope\.json")
"""Letters, digits, ``_``, ``-`` and single dots; no ``..``, no separator, no leading dot."""
MAX_NAME_LENGTH = 200
LISTED = 500  # the newest ones; a folder with more is still served file by file


@dataclass(frozen=True)
class SavedProfile:
    name: str
    size_bytes: int
    modified: datetime

    @property
    def viewer_link(self) -> str:
        return f"/speedscope/#profileURL={quote(f'/{PROFILES_FOLDER}/{self.name}', safe='/')}"


def profiles_dir(settings: ConsoleSettings) -> Path:
    """Where ``minishop profile`` saves by default: ``<data dir>/profiles``."""
    return settings.data_dir / PROFILES_FOLDER


def profile_path(folder: Path, name: str) -> Path | None:
    """The file ``name`` names in ``folder``, or None when it may not be served."""
    if len(name) > MAX_NAME_LENGTH or not PROFILE_NAME.fullmatch(name):
        return None
    path = folder / name
    try:
        if path.is_symlink() or not path.is_file():
            return None
        if path.resolve().parent != folder.resolve():
            return None
    except OSError:
        return None
    return path


def saved_profiles(folder: Path) -> list[SavedProfile]:
    """The servable profiles in ``folder``, newest first."""
    found = []
    try:
        entries = list(folder.iterdir())
    except OSError:  # no profile saved yet: no folder
        return []
    for entry in entries:
        if profile_path(folder, entry.name) is None:
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
        found.append(SavedProfile(entry.name, stat.st_size, modified))
    found.sort(key=lambda profile: (profile.modified, profile.name), reverse=True)
    return found[:LISTED]


def mount_speedscope(app: FastAPI) -> None:
    """``/speedscope/``: the viewer, when ``./dev`` has copied it; else a page that says so."""
    if (SPEEDSCOPE_DIR / "index.html").is_file():
        app.mount("/speedscope", StaticFiles(directory=SPEEDSCOPE_DIR, html=True), "speedscope")
        return

    @app.get("/speedscope/{rest:path}", include_in_schema=False)
    async def viewer_missing(rest: str) -> Response:
        return Response(
            "The speedscope viewer is not installed: run ./dev (it copies it from the npm "
            "registry into static/vendor/speedscope).",
            status_code=404,
            media_type="text/plain",
        )


def build_profiles_router(settings: ConsoleSettings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = page_renderer(settings)
    folder = profiles_dir(settings)

    @router.get("/profiles", response_class=HTMLResponse)
    async def profiles(request: Request) -> HTMLResponse:
        found = await asyncio.to_thread(saved_profiles, folder)
        return page.render(
            request,
            "profiles.html",
            {
                "profiles": found,
                "folder": str(folder),
                "viewer": SPEEDSCOPE_DIR.joinpath("index.html").is_file(),
            },
        )

    @router.get("/profiles/{name}")
    async def profile_file(name: str) -> Response:
        path = await asyncio.to_thread(profile_path, folder, name)
        if path is None:
            return Response(
                f"No profile named {name[:MAX_NAME_LENGTH]!r} in the console's profiles folder.",
                status_code=404,
                media_type="text/plain",
            )
        return FileResponse(
            path, media_type="application/json", headers={"Cache-Control": "no-store"}
        )

    return router
