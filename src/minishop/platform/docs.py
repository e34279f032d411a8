"""``/docs`` that works offline: Swagger UI's files served by the service itself.

FastAPI's default page loads Swagger UI from a CDN, so on a machine without internet (a
training room, a plane) every service's ``/docs`` was blank. The files come from the
``swagger-ui-bundle`` package instead, which ships Swagger UI's distribution; ReDoc, which
has no such package, is turned off rather than left half-working.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"


def install_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` with local assets; the app must be built with ``docs_url=None``."""
    title = f"{app.title} - API"

    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )

    app.add_api_route(DOCS_PATH, swagger_ui, methods=["GET"], include_in_schema=False)
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="swagger-ui-assets")
