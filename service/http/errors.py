"""One error shape for every failure, and the one place that maps failures to status codes.

Every error body is ``{"error": {"code", "message", "details"}}``; ``details`` lists the
offending fields (``customers[3].age``) where there are any, so a caller can fix them all at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException as StarletteHTTPException

from segmentation.excerpts import cut, validation_message
from segmentation.validation import MAX_REPORTED_PROBLEMS

logger = logging.getLogger(__name__)

# Tags of the request union; they are an implementation detail, not part of a field's path.
_UNION_TAGS = frozenset({"single", "batch"})


class FieldProblem(BaseModel):
    field: str = Field(description="Path of the offending field, e.g. customers[3].age.")
    message: str
    line: int | None = Field(
        default=None,
        description="A CSV body's physical line (the header is line 1; a quoted value spanning "
        "lines counts each); absent for other bodies.",
    )
    column: str | None = Field(
        default=None,
        description="A CSV body's column header exactly as the file writes it; absent for "
        "other bodies.",
    )

    @field_validator("field", "column")
    @classmethod
    def _cut(cls, text: str | None) -> str | None:
        """A name sent as a 30 KB key or header comes back as its start, not in full."""
        return None if text is None else cut(text)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable, machine-readable error kind.")
    message: str = Field(description="What went wrong, in words a person can act on.")
    details: list[FieldProblem] = Field(default_factory=list)
    total: int = Field(
        default=0, description="How many problems were found; details lists the first 100."
    )
    truncated: bool = Field(
        default=False, description="True when details lists fewer problems than were found."
    )


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    status_code = 500
    code = "internal_error"
    headers: ClassVar[dict[str, str] | None] = None

    def __init__(
        self, message: str, details: Sequence[FieldProblem] = (), total: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details)
        self.total = len(self.details) if total is None else total


class MalformedRequest(ApiError):
    status_code = 400
    code = "malformed_request"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "unsupported_media_type"


class InvalidRequest(ApiError):
    status_code = 422
    code = "invalid_request"

    @classmethod
    def from_problems(
        cls,
        problems: Sequence[FieldProblem],
        *,
        total: int | None = None,
        rows: int | None = None,
        customers: int | None = None,
    ) -> InvalidRequest:
        """Name the first problem in the message and list the problems in the details (the
        caller lists at most the first 100; ``total`` counts them all; ``rows`` of
        ``customers`` have any)."""
        first = problems[0]
        total = len(problems) if total is None else total
        others = total - 1
        more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
        # A file's problem already says where, in the file's own words (line and column).
        where = "" if first.line is not None else f"{first.field}: "
        message = f"{where}{first.message}{more}"
        if rows is not None and customers is not None and customers > 1:
            message += f"; {rows} of {customers} customers are invalid"
        if total > len(problems):
            message += f"; the first {len(problems)} problems are listed"
        return cls(message, problems, total)


class BatchTooLarge(ApiError):
    status_code = 413
    code = "batch_too_large"


class BodyTooLarge(ApiError):
    """Refused before parsing, so a huge body costs neither memory nor CPU."""

    status_code = 413
    code = "body_too_large"


class BodyTooLargeClosing(BodyTooLarge):
    """A 413 sent before the whole body was read: the connection closes after it."""

    headers: ClassVar[dict[str, str] | None] = {"Connection": "close"}


class Unauthorized(ApiError):
    """No API key was sent; the response tells the caller how to send one."""

    status_code = 401
    code = "unauthorized"
    headers: ClassVar[dict[str, str] | None] = {
        "WWW-Authenticate": 'Bearer realm="customer-segmentation"'
    }


class Forbidden(ApiError):
    """A key was sent but is not one of the configured keys (the key is never echoed)."""

    status_code = 403
    code = "forbidden"


class NotComparable(ApiError):
    """Two served versions cannot be compared on the customers at hand (other columns)."""

    status_code = 409
    code = "not_comparable"


class ReloadFailed(ApiError):
    """The new bundle was refused; the previous model keeps serving."""

    status_code = 409
    code = "reload_failed"


class VersionConflict(ApiError):
    """A change was made on a version that is no longer the one served."""

    status_code = 409
    code = "version_conflict"


class RenameUnavailable(ApiError):
    """This server cannot write a renamed version (or writing it failed); nothing changed."""

    status_code = 409
    code = "rename_unavailable"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class ModelUnavailable(ApiError):
    status_code = 503
    code = "model_unavailable"


class HistoryUnavailable(ApiError):
    """The segment history's file cannot be read (its folder is not writable or is gone)."""

    status_code = 503
    code = "history_unavailable"


def field_path(loc: Sequence[int | str]) -> str:
    """``("batch", "customers", 3, "age")`` -> ``customers[3].age``; the whole body is ``body``."""
    path = ""
    for part in loc:
        if part in _UNION_TAGS and not path:
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def problems_from(errors: Sequence[ErrorDetails]) -> list[FieldProblem]:
    problems = []
    for error in errors:
        message = (
            "unknown field" if error["type"] == "extra_forbidden" else validation_message(error)
        )
        problems.append(FieldProblem(field=field_path(error["loc"]), message=message))
    return problems


def invalid_request(errors: Sequence[ErrorDetails]) -> InvalidRequest:
    problems = problems_from(errors)
    return InvalidRequest.from_problems(problems[:MAX_REPORTED_PROBLEMS], total=len(problems))


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = (),
    headers: dict[str, str] | None = None,
    total: int | None = None,
) -> JSONResponse:
    listed = list(details)
    total = len(listed) if total is None else total
    body = ErrorResponse(
        error=ErrorBody(
            code=code,
            message=message,
            details=listed,
            total=total,
            truncated=total > len(listed),
        )
    )
    # exclude_none: line and column appear only on the problems of a file.
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True), status_code=status_code, headers=headers
    )


def api_error_response(exc: ApiError) -> JSONResponse:
    """The response for an ApiError; also an ASGI app, so middleware can send it directly."""
    return error_response(
        exc.status_code, exc.code, exc.message, exc.details, exc.headers, exc.total
    )


# Words an ApiError in one protocol's error shape, as a response (also an ASGI app).
Refuse = Callable[[ApiError], Response]


class RoutingError(ApiError):
    """A 404 or 405 from routing itself (no such path, or not this method), to be worded in
    the shape of the protocol the path belongs to."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code


def install_error_handlers(
    app: FastAPI, refusal_for: Callable[[str], Refuse] = lambda _: api_error_response
) -> None:
    """``refusal_for``: how errors on a path are worded (MLflow's and the Open Inference
    Protocol's paths in their own shape), for the 404s and 405s routing itself answers."""

    async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return api_error_response(exc)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        error = invalid_request(exc.errors())
        return error_response(error.status_code, error.code, error.message, error.details)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        error = RoutingError(exc.status_code, code, str(exc.detail))
        response = refusal_for(request.url.path)(error)
        response.headers.update(exc.headers or {})  # a 405's Allow
        return response

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        400: "Malformed JSON or CSV, or an empty body.",
        404: "The model version asked for is not served (the message names those that are).",
        401: "API keys are configured and the request sent none.",
        403: "The API key sent is not a configured key.",
        409: "The bundle was refused; the previous model keeps serving.",
        413: "The body is over SEGMENT_MAX_BODY_BYTES (body_too_large) or the batch has more "
        "customers than SEGMENT_MAX_BATCH (batch_too_large).",
        415: "The body is neither JSON nor CSV.",
        422: "A field is missing, unknown, of the wrong type or out of range.",
        503: "No valid model is loaded.",
    }.items()
}

# Added by service.http.openapi to every operation that needs an API key.
AUTH_RESPONSES = {status: ERROR_RESPONSES[status] for status in (401, 403)}
