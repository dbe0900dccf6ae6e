"""Small helpers shared by the pure-ASGI middleware (auth, body limit, metrics, request log).

The middleware is plain ASGI rather than ``BaseHTTPMiddleware``: it adds no task or stream per
request, which matters on the hot path of ``POST /segment``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from weakref import WeakKeyDictionary

from fastapi import FastAPI
from starlette.routing import Route, compile_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED_ROUTE = "unmatched"


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a request header; ``name`` in lower case, as ASGI servers send it."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def route_path(scope: Scope) -> str:
    """The path the app routes on: without the root path a proxy may mount the app under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def route_label(scope: Scope) -> str:
    """The route template (``/segments/{segment_id}``), never the raw path.

    Raw paths would give metrics and logs unbounded cardinality. Routing records the matched
    route in the scope; a request refused before routing (auth, body limit) or not routed at
    all is matched against the app's templates here.
    """
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return UNMATCHED_ROUTE
    for pattern, template in _templates(app):
        if pattern.fullmatch(route_path(scope)):
            return template
    return UNMATCHED_ROUTE


_TEMPLATES: WeakKeyDictionary[FastAPI, list[tuple[re.Pattern[str], str]]] = WeakKeyDictionary()


def _templates(app: FastAPI) -> list[tuple[re.Pattern[str], str]]:
    """Every path template the app serves, compiled once per app on first use."""
    if app not in _TEMPLATES:
        templates = [*app.openapi()["paths"]]
        templates += [route.path for route in app.routes if isinstance(route, Route)]
        _TEMPLATES[app] = [(compile_path(t)[0], t) for t in dict.fromkeys(templates)]
    return _TEMPLATES[app]


def request_state(scope: Scope) -> MutableMapping[str, Any]:
    """The per-request state dict that ``request.state`` reads and writes."""
    state: MutableMapping[str, Any] = scope.setdefault("state", {})
    return state
