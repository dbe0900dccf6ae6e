"""The one ASGI layer in front of the app, and POST /segment served straight from it.

Every request passes one wrapper that gives it a request id (echoed in ``X-Request-ID``),
checks the API key, applies the body limit, and, when the answer has gone, records the
Prometheus histogram and writes the JSON log line. Four separate middlewares did this before,
each with its own ``send`` wrapper; on a sub-millisecond request the layers were a measurable
share of the time.

POST /segment is then answered here without FastAPI's routing, request object and dependency
solving: its two query parameters are validated with the same pydantic types FastAPI would use
(so the 422s read the same), and the FastAPI route still declares the operation, so the OpenAPI
schema is unchanged. Every other path goes to the FastAPI app.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl

import numpy as np
from pydantic import StringConstraints, TypeAdapter, ValidationError

from segmentation.metadata import VERSION_PATTERN
from service.http.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    header,
    request_state,
    route_label,
    route_path,
)
from service.http.auth import KeyChecker, key_refusal
from service.http.body_limit import BodyLimit
from service.http.errors import ApiError, MalformedRequest, api_error_response, invalid_request
from service.http.request_log import (
    REQUEST_ID_HEADER,
    log_request,
    note_scoring_in,
    request_id_from,
)
from service.http.segment_call import answer_request
from service.operations.metrics import Metrics

SEGMENT_PATH = "/segment"


@dataclass(frozen=True)
class _Route:
    """What logs and metrics read of a matched route (``route_label``): its template."""

    path: str


# POST /segment is answered here before FastAPI routes it (routes/segments.py declares it for
# the OpenAPI schema); included routers expose no route object to look the template up on.
_SEGMENT_ROUTE = _Route(SEGMENT_PATH)
_EXPLAIN: TypeAdapter[bool] = TypeAdapter(bool)
_VERSION: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(pattern=VERSION_PATTERN.pattern)]
)

logger = logging.getLogger(__name__)


class Gateway:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        keys: KeyChecker,
        open_paths: frozenset[str],
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.keys = keys
        self.open_paths = open_paths
        self.body_limit = BodyLimit(max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(scope)
        request_state(scope)["request_id"] = request_id
        encoded_id = request_id.encode("ascii")
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0] != REQUEST_ID_HEADER]
                message["headers"] = [*headers, (REQUEST_ID_HEADER, encoded_id)]
            await send(message)

        try:
            await self.dispatch(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_label(scope)
            self.metrics.observe_request(scope["method"], route, status, seconds)
            log_request(scope, route, status, seconds, request_id)

    async def dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        if self.keys and path not in self.open_paths:
            refusal = key_refusal(self.keys, scope)
            if refusal is not None:
                await api_error_response(refusal)(scope, receive, send)
                return
        limited = await self.body_limit.guard(scope, receive, send)
        if limited is None:
            return  # refused with 413
        if path == SEGMENT_PATH and scope["method"] == "POST":
            scope["route"] = _SEGMENT_ROUTE  # labels logs and metrics as routing would
            try:
                await segment(scope, limited, send)
            except ApiError as exc:
                await api_error_response(exc)(scope, limited, send)
            return
        await self.app(scope, limited, send)


async def segment(scope: Scope, receive: Receive, send: Send) -> None:
    """POST /segment: query parameters, model, body, answer; ApiErrors go to the caller."""
    state = scope["app"].state
    explain, version = _query(scope)
    model = state.model_registry.require(version)
    answered = await answer_request(
        state.batch_limiter,
        model,
        state.settings.max_batch,
        await _body(receive),
        _text(header(scope, b"content-type")),
        _text(header(scope, b"accept")),
        explain,
    )
    assigned = answered.scored.assignments.segment_ids
    state.metrics.record_assignments(
        model.version, assigned, int(np.count_nonzero(answered.scored.atypical))
    )
    state.drift.observe(model, answered.scored.rows)
    note_scoring_in(scope, batch_size=len(assigned), model_version=model.version)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", answered.media_type.encode("latin-1")),
                (b"content-length", str(len(answered.body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": answered.body})


def _query(scope: Scope) -> tuple[bool, str | None]:
    """``explain`` and ``version``, validated as FastAPI validates them (the last value wins)."""
    if not scope.get("query_string"):
        return False, None
    params: dict[str, str] = dict(
        parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    )
    errors: list[Any] = []
    explain = False
    version = None
    if "explain" in params:
        try:
            explain = _EXPLAIN.validate_python(params["explain"])
        except ValidationError as exc:
            errors += _located(exc, "explain")
    if "version" in params:
        try:
            version = _VERSION.validate_python(params["version"])
        except ValidationError as exc:
            errors += _located(exc, "version")
    if errors:
        raise invalid_request(errors)
    return explain, version


def _located(exc: ValidationError, name: str) -> list[Any]:
    errors = exc.errors(include_url=False)
    for error in errors:
        error["loc"] = ("query", name, *error["loc"])
    return errors


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            # The caller hung up mid-body: nobody reads the answer, and it is not a server error.
            raise MalformedRequest("the client disconnected before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
