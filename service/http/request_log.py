"""One log line per request, with a request id the caller can quote back to an operator.

The id is the caller's ``X-Request-ID`` when it is a short, safe token, otherwise a new one; it is
returned in the response header either way. The line holds the route, status, duration and batch
size, never the body, the query string or any header (so never an API key).
"""

from __future__ import annotations

import itertools
import logging
import os
import re

from service.http.asgi import Scope, header, request_state

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:/+=@-]{1,128}$")
# Keys under request.state that handlers may fill in for the request's log line.
BATCH_SIZE = "log_batch_size"
MODEL_VERSION = "log_model_version"

logger = logging.getLogger("service.requests")


def note_scoring_in(scope: Scope, *, batch_size: int, model_version: str) -> None:
    """Add what only the scoring path knows to its request's log line."""
    state = request_state(scope)
    state[BATCH_SIZE] = batch_size
    state[MODEL_VERSION] = model_version


def request_id_from(scope: Scope) -> str:
    sent = header(scope, REQUEST_ID_HEADER)
    if sent is not None and _SAFE_REQUEST_ID.fullmatch(sent):
        return sent.decode("ascii")
    return f"{_id_prefix}{next(_id_counter):016x}"


def _new_id_source() -> None:
    """Generated ids: 64 random bits per process, then a counter; unique across workers and
    restarts, 32 hex digits like ``uuid4().hex``, and no system call per request (a random
    id per request was 7% of a single-customer call in the profile)."""
    global _id_prefix, _id_counter
    _id_prefix = os.urandom(8).hex()
    _id_counter = itertools.count()


_id_prefix: str
_id_counter: itertools.count[int]
_new_id_source()
# A forked worker must not repeat its parent's ids.
os.register_at_fork(after_in_child=_new_id_source)


def log_request(scope: Scope, route: str, status: int, seconds: float, request_id: str) -> None:
    """The request's one log line (at INFO)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    state = request_state(scope)
    duration_ms = seconds * 1000
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
