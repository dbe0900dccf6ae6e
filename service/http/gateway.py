"""The one ASGI layer in front of the app, and the scoring routes served straight from it.

Every request passes one wrapper that gives it a request id (echoed in ``X-Request-ID``),
checks the API key, applies the body limit, and, when the answer has gone, records the
Prometheus histogram and writes the JSON log line. Four separate middlewares did this before,
each with its own ``send`` wrapper; on a sub-millisecond request the layers were a measurable
share of the time.

The scoring routes of every protocol (POST /segment, MLflow's POST /invocations, the Open
Inference Protocol's POST /v2/models/{name}/infer) are then answered here without FastAPI's
routing, request object and dependency solving: their query parameters are validated with the
same pydantic types FastAPI would use (so the 422s read the same), and a FastAPI route still
declares POST /segment for the OpenAPI schema (the other protocols are documented by their own
specifications). Errors on a protocol's paths, refusals of keys and limits included, are worded
in that protocol's shape. Every other path goes to the FastAPI app.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from service.http.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    request_state,
    route_label,
    route_path,
)
from service.http.auth import KeyChecker, key_refusal
from service.http.body_limit import BodyLimit
from service.http.errors import ApiError, MalformedRequest, RoutingError
from service.http.protocols.endpoints import refusal_for, scoring_endpoint
from service.http.request_log import (
    REQUEST_ID_HEADER,
    log_request,
    note_scoring_in,
    request_id_from,
)
from service.http.segment_call import ScoringCall, answer_request
from service.http.traffic import from_page
from service.operations.metrics import Metrics

logger = logging.getLogger(__name__)
# Every answer made with a model names it, so a page can tell when the served version changed.
MODEL_VERSION_HEADER = b"x-model-version"


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
        refuse = refusal_for(path)
        found = scoring_endpoint(path) if scope["method"] == "POST" else None
        if found is not None:
            scope["route"] = found[0]  # labels logs and metrics as routing would
        if self.keys and path not in self.open_paths:
            refusal = key_refusal(self.keys, scope)
            if refusal is not None:
                await refuse(refusal)(scope, receive, send)
                return
        if found is None and scoring_endpoint(path) is not None:
            # Any other method on a scoring path: 405 in the path's protocol's words.
            response = refuse(RoutingError(405, "method_not_allowed", "Method Not Allowed"))
            response.headers["Allow"] = "POST"
            await response(scope, receive, send)
            return
        limited = await self.body_limit.guard(scope, receive, send, refuse)
        if limited is None:
            return  # refused with 413
        if found is None:
            await self.app(scope, limited, send)
            return
        endpoint, path_params = found
        try:
            answer = await score(scope, limited, endpoint.start(scope, path_params))
        except ApiError as exc:
            await refuse(exc)(scope, limited, send)
            return
        except Exception:
            # In front of FastAPI's error pages: the protocol's own 500, and the traceback logged.
            logger.exception("unhandled error on %s %s", scope["method"], path)
            await refuse(ApiError("internal server error"))(scope, limited, send)
            return
        for message in answer:
            await send(message)


async def score(scope: Scope, receive: Receive, call: ScoringCall) -> tuple[Message, Message]:
    """One scoring request of any protocol: model, body, and the answer's two messages to send;
    ApiErrors go to the caller."""
    state = scope["app"].state
    model = state.model_registry.require(call.version)
    answered = await answer_request(
        state.batch_limiter, call, model, state.settings.max_batch, await _body(receive)
    )
    assigned = answered.scored.assignments.segment_ids
    state.metrics.record_assignments(
        model.version,
        assigned,
        int(np.count_nonzero(answered.scored.atypical)),
        protocol=call.protocol,
    )
    if not from_page(scope):  # the page's own tries are not customers the business sees
        state.drift.observe(model, answered.scored.rows, assigned)  # the history reads it too
    note_scoring_in(scope, batch_size=len(assigned), model_version=model.version)
    encoded = answered.encoded
    start: Message = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", encoded.media_type.encode("latin-1")),
            (b"content-length", str(len(encoded.body)).encode("ascii")),
            (MODEL_VERSION_HEADER, model.version.encode("ascii")),
            *encoded.headers,
        ],
    }
    return start, {"type": "http.response.body", "body": encoded.body}


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
