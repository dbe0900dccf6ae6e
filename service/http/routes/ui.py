"""GET /ui: a page for the people who use the segments, served from files in the package.

The page calls the same API as any integration. Its files (the HTML, one stylesheet and a few
JavaScript modules, one concern each) are public even when API keys are configured (the page
then asks for a key and sends it as a Bearer token); every response carries a strict
Content-Security-Policy: no inline script or style, nothing from another origin.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, Response

from service.http.errors import NotFound

STATIC_DIR: Final = Path(__file__).resolve().parents[2] / "ui" / "static"
_MEDIA_TYPES_BY_SUFFIX: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
# Read once: the files never change while the process runs. Only these names are served, so a
# path can never reach outside the folder.
_CONTENT: Final = {
    path.name: (path.read_bytes(), _MEDIA_TYPES_BY_SUFFIX[path.suffix])
    for path in sorted(STATIC_DIR.iterdir())
    if path.suffix in _MEDIA_TYPES_BY_SUFFIX
}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
UI_PATHS: Final = frozenset({"/ui", *(f"/ui/static/{name}" for name in _CONTENT)})

router = APIRouter(include_in_schema=False)


def _file(name: str) -> Response:
    content, media_type = _CONTENT[name]
    return Response(content, media_type=media_type, headers=SECURITY_HEADERS)


# HEAD too: link checkers and uptime monitors ask with it (405 read as "page down").
@router.api_route("/ui", methods=["GET", "HEAD"])
async def page() -> Response:
    return _file("index.html")


@router.api_route("/ui/static/{name}", methods=["GET", "HEAD"])
async def static_file(name: str) -> Response:
    if name not in _CONTENT:
        raise NotFound(f"no file {name!r} in the page's static files")
    return _file(name)
