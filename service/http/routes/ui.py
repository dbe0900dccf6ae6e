"""GET /ui: a page for the people who use the segments, served from files in the package.

The page calls the same API as any integration. Its three files are public even when API keys
are configured (the page then asks for a key and sends it as a Bearer token); every response
carries a strict Content-Security-Policy: no inline script or style, nothing from another origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Response

from service.http.errors import NotFound

STATIC_DIR: Final = Path(__file__).resolve().parents[2] / "ui" / "static"
_MEDIA_TYPES: Final = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
# Read once: the files never change while the process runs.
_CONTENT: Final = {name: (STATIC_DIR / name).read_bytes() for name in _MEDIA_TYPES}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
UI_PATHS: Final = frozenset({"/ui", *(f"/ui/static/{name}" for name in _MEDIA_TYPES)})

router = APIRouter(include_in_schema=False)


def _file(name: str) -> Response:
    return Response(_CONTENT[name], media_type=_MEDIA_TYPES[name], headers=SECURITY_HEADERS)


@router.get("/ui")
async def page() -> Response:
    return _file("index.html")


@router.get("/ui/static/{name}")
async def static_file(name: str) -> Response:
    if name not in _MEDIA_TYPES:
        raise NotFound(f"no file {name!r} in the page's static files")
    return _file(name)
