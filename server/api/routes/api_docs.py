"""``/docs``: Swagger UI for ``/openapi.json``, served from the installed ``swagger-ui-bundle-v2`` wheel.

FastAPI's own page loads Swagger UI from a CDN (blank offline) and starts it with an inline script
(refused by our Content-Security-Policy); this page loads both assets from this server and starts
Swagger UI from ``static/js/api-docs.js``. Only the two assets the page uses are served.
"""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter, HTTPException
from fastapi.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

_BUNDLE = importlib.resources.files("swagger_ui_bundle") / "vendor"
_MEDIA_TYPES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript"}


def swagger_dir() -> importlib.resources.abc.Traversable:
    """The wheel's one ``swagger-ui-<version>`` folder."""
    folders = [entry for entry in _BUNDLE.iterdir() if entry.name.startswith("swagger-ui-")]
    if len(folders) != 1:
        raise RuntimeError(f"expected one swagger-ui-<version> folder in {_BUNDLE}, found {len(folders)}")
    return folders[0]


def _page() -> str:
    version = swagger_dir().name.removeprefix("swagger-ui-")
    assets = f"/docs/assets/{version}"
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>Mode Interpolation Lab · API</title><link rel=\"icon\" href=\"data:,\">"
            f"<link rel=\"stylesheet\" href=\"{assets}/swagger-ui.css\"></head>\n"
            "<body><div id=\"swagger-ui\"></div>"
            f"<script src=\"{assets}/swagger-ui-bundle.js\"></script>"
            "<script src=\"/static/js/api-docs.js\"></script></body></html>\n")


@router.get("/docs")
def docs() -> HTMLResponse:
    return HTMLResponse(_page())


@router.get("/docs/assets/{version}/{name}")
def docs_asset(version: str, name: str) -> Response:
    folder = swagger_dir()
    if version != folder.name.removeprefix("swagger-ui-") or name not in _MEDIA_TYPES:
        raise HTTPException(404, "no such Swagger UI asset")
    # The version is in the URL, so the file never changes under it.
    return Response((folder / name).read_bytes(), media_type=_MEDIA_TYPES[name],
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})
