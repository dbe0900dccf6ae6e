"""Typed failures, so callers branch on the kind of problem instead of parsing messages.

Every error carries what the service said (status, ``code``, message, per-field details, and
``total``: how many problems it found, of which ``details`` lists the first 100) and the
``X-Request-ID`` of the response, which an operator can find in the service's log. The mapping
from HTTP status to error type lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class FieldProblem:
    """One offending field of a request, e.g. ``customers[3].age``."""

    field: str
    message: str


class SegmentationError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        details: Sequence[FieldProblem] = (),
        request_id: str | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.details = tuple(details)
        self.request_id = request_id
        # The service lists the first 100 problems of a batch and counts them all.
        self.total = len(self.details) if total is None else total

    @property
    def truncated(self) -> bool:
        """True when the service found more problems than ``details`` lists."""
        return self.total > len(self.details)

    def __str__(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        return f"{status}{self.code}: {self.message}"


class ClientError(SegmentationError):
    """The service refused the request (4xx): sending it again would not help, so it never is."""


class AuthenticationError(ClientError):
    """401: the service needs an API key and none was sent."""


class PermissionDeniedError(ClientError):
    """403: the API key sent is not one the service accepts."""


class NotFoundError(ClientError):
    """404: no such segment, route or model version."""


class BatchTooLargeError(ClientError):
    """413: more customers (or bytes) than the service accepts in one request.

    The client splits batches by its ``max_batch`` option; lower it to the service's limit.
    """


class InvalidRequestError(ClientError):
    """422: a field is missing, unknown, of the wrong type or out of range; see ``details``."""


class InvalidInputError(SegmentationError, ValueError, TypeError):
    """The client refused an argument before sending anything (NaN, a foreign type, no rows).

    ``details`` names the field, as a 422 from the service would; it is also a ``ValueError``
    and a ``TypeError``, so code written for Python's plain refusals keeps working.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            code="invalid_input",
            details=(FieldProblem(field=field, message=message),),
        )
        self.field = field


class ServerError(SegmentationError):
    """A 5xx that is not worth retrying (e.g. 500: a bug, not a passing condition)."""


class UnavailableError(SegmentationError):
    """The service could not be reached or stayed unavailable (502/503/504) through every retry.

    ``attempts`` says how many requests were made; ``status`` is the last one's, or None when
    the last attempt got no response at all.
    """

    def __init__(
        self,
        message: str,
        *,
        attempts: int,
        status: int | None = None,
        code: str = "unavailable",
        details: Sequence[FieldProblem] = (),
        request_id: str | None = None,
        total: int | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            code=code,
            details=details,
            request_id=request_id,
            total=total,
        )
        self.attempts = attempts


class RequestTimeoutError(UnavailableError):
    """The last attempt timed out (connecting, writing or waiting for the answer)."""


class VersionMismatchError(SegmentationError):
    """Chunks of one batch were scored by different model versions and pinning could not fix it.

    Raised instead of returning results from two models mixed together.
    """


class ResponseFormatError(SegmentationError):
    """A response the client cannot read: not JSON, or not the shape the API documents."""


_BY_STATUS: dict[int, type[ClientError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: BatchTooLargeError,
    422: InvalidRequestError,
}


def error_type_for(status: int) -> type[SegmentationError]:
    """The error type for a final (not retried) non-2xx status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if 400 <= status < 500:
        return ClientError
    if status >= 500:
        return ServerError
    return SegmentationError


def error_from_response(response: httpx.Response) -> SegmentationError:
    """The typed error for a non-2xx response, from the service's ``{"error": ...}`` body.

    A body of another shape (a proxy's HTML page, say) still gives an error of the right type,
    with the start of the body as its message.
    """
    status = response.status_code
    code, message, details = f"http_{status}", _snippet(response), []
    total = None
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or code)
        message = str(error.get("message") or message)
        details = [
            FieldProblem(field=str(item.get("field", "")), message=str(item.get("message", "")))
            for item in error.get("details") or ()
            if isinstance(item, dict)
        ]
        counted = error.get("total")
        total = counted if type(counted) is int and counted >= len(details) else None
    return error_type_for(status)(
        message,
        status=status,
        code=code,
        details=details,
        request_id=response.headers.get("x-request-id"),
        total=total,
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip()
    if not text:
        return response.reason_phrase or "no response body"
    return text if len(text) <= limit else text[:limit] + "..."
