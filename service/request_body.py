"""Turns the raw body of POST /segment into validated customers, or into a precise 4xx.

The body is read and validated here rather than by FastAPI's body parameter so that a wrong
content type is a 415, an empty or malformed body a 400, and an over-long batch a 413, each with
the one error shape, and so that JSON is parsed once, by pydantic-core, straight from bytes.
"""

from __future__ import annotations

from email.message import Message
from typing import Any

from fastapi import Request
from pydantic import TypeAdapter, ValidationError

from service.errors import (
    BatchTooLarge,
    MalformedRequest,
    UnsupportedMediaType,
    field_path,
    invalid_request,
)
from service.schemas import Customer


def is_json_content_type(header: str | None) -> bool:
    """Accept application/json and any application/*+json; a missing header is read as JSON."""
    if not header:
        return True
    message = Message()
    message["content-type"] = header
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def read_customers(request: Request, adapter: TypeAdapter[Any]) -> tuple[list[Customer], str]:
    """The customers in request order, and the path prefix that locates them in the body."""
    content_type = request.headers.get("content-type")
    if not is_json_content_type(content_type):
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported: send application/json"
        )
    body = await request.body()
    if not body.strip():
        raise MalformedRequest(
            'the request body is empty: send a customer object or {"customers": [...]}'
        )
    try:
        parsed = adapter.validate_json(body)
    except ValidationError as exc:
        raise _translate(exc) from None
    if isinstance(parsed, Customer):
        return [parsed], ""
    return list(parsed.customers), "customers"


def _translate(exc: ValidationError) -> Exception:
    errors = exc.errors(include_url=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return MalformedRequest(f"malformed JSON: {error['msg']}")
        if error["type"] == "too_long" and field_path(error["loc"]) == "customers":
            context = error.get("ctx", {})
            actual = context.get("actual_length")
            size = f"a batch of {actual} customers" if actual else "the batch"
            return BatchTooLarge(
                f"customers: {size} is over the limit of {context.get('max_length')} "
                "customers per request; split it into smaller batches"
            )
    return invalid_request(errors)
