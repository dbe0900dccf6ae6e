"""API-key authentication: which keys are acceptable, and the middleware that enforces them.

Keys are compared through their sha256 digests with ``hmac.compare_digest`` against every
configured key, so neither the position of a mismatch nor which key matched shows in the timing.
Keys never reach a log line or an error body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from service.http.asgi import Scope, header
from service.http.errors import ApiError, Forbidden, Unauthorized

# Ours, MLflow's and the Open Inference Protocol's: probes never need a key.
HEALTH_PATHS = frozenset(
    {"/health/live", "/health/ready", "/ping", "/health", "/v2/health/live", "/v2/health/ready"}
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATHS = frozenset({"/metrics"})


class KeyChecker:
    """Holds digests of the configured keys; constant-time over the whole set."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key.encode()) for key in keys)

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, candidate: bytes) -> bool:
        digest = _digest(candidate)
        matched = False
        for known in self._digests:  # no early exit: every key is compared
            matched |= hmac.compare_digest(digest, known)
        return matched


def presented_keys(scope: Scope) -> list[bytes]:
    """Keys from ``Authorization: Bearer <key>`` and ``X-API-Key: <key>``, if sent."""
    keys = []
    authorization = header(scope, b"authorization")
    if authorization:
        scheme, _, token = authorization.strip().partition(b" ")
        if scheme.lower() == b"bearer" and token.strip():
            keys.append(token.strip())
    api_key = header(scope, b"x-api-key")
    if api_key and api_key.strip():
        keys.append(api_key.strip())
    return keys


def key_refusal(checker: KeyChecker, scope: Scope) -> ApiError | None:
    """401 without a key, 403 with a wrong one; None when a sent key is a configured one."""
    keys = presented_keys(scope)
    if not keys:
        return Unauthorized(
            "this endpoint needs an API key: send 'Authorization: Bearer <key>' "
            "or 'X-API-Key: <key>'"
        )
    if not any(checker.accepts(key) for key in keys):
        return Forbidden("the API key is not valid")
    return None


def holds_key(checker: KeyChecker, scope: Scope) -> bool:
    """Whether a key sent is one of ``checker``'s (the admin keys, for a role check)."""
    return bool(checker) and any(checker.accepts(key) for key in presented_keys(scope))


def open_paths(*, metrics_public: bool, docs_public: bool) -> frozenset[str]:
    """Paths served without a key: always the health checks, the rest only if configured."""
    paths = set(HEALTH_PATHS)
    if metrics_public:
        paths |= METRICS_PATHS
    if docs_public:
        paths |= DOCS_PATHS
    return frozenset(paths)


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()
