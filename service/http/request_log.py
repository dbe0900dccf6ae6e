"""One log line per request, with a request id the caller can quote back to an operator.

The id is the caller's ``X-Request-ID`` when it is a short, safe token, otherwise a new one; it is
returned in the response header either way. The line holds the route, status, duration and batch
size, never the body, the query string or any header (so never an API key).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.requests import Request

from service.http.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header,
    request_state,
    route_label,
)

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:/+=@-]{1,128}$")
# Keys under request.state that handlers may fill in for the request's log line.
BATCH_SIZE = "log_batch_size"
MODEL_VERSION = "log_model_version"

logger = logging.getLogger("service.requests")


def note_scoring(request: Request, *, batch_size: int, model_version: str) -> None:
    """Let a handler add what only it knows to its request's log line."""
    state = request_state(request.scope)
    state[BATCH_SIZE] = batch_size
    state[MODEL_VERSION] = model_version


def request_id_from(scope: Scope) -> str:
    sent = header(scope, REQUEST_ID_HEADER)
    if sent is not None and _SAFE_REQUEST_ID.fullmatch(sent):
        return sent.decode("ascii")
    return uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope)
        state = request_state(scope)
        state["request_id"] = request_id
        status = 500
        encoded_id = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                message["headers"] = [*headers, (REQUEST_ID_HEADER, encoded_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if logger.isEnabledFor(logging.INFO):
                duration_ms = (time.perf_counter() - started) * 1000
                route = route_label(scope)
                logger.info(
                    "%s %s %d %.1fms",
                    scope["method"],
                    route,
                    status,
                    duration_ms,
                    extra={
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(duration_ms, 3),
                        "batch_size": state.get(BATCH_SIZE),
                        "model_version": state.get(MODEL_VERSION),
                    },
                )
