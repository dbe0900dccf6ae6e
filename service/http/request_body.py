"""Turns the raw body of POST /segment into validated customers, or into a precise 4xx.

The body is read and validated here rather than by FastAPI's body parameter so that a wrong
content type is a 415, an empty or malformed body a 400, and an over-long batch a 413, each with
the one error shape, and so that JSON is parsed once, by pydantic-core, straight from bytes.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd
from fastapi import Request
from pydantic import TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect

from segmentation.features import CUSTOMER_ID, GENDER
from service.http.errors import (
    BatchTooLarge,
    MalformedRequest,
    UnsupportedMediaType,
    field_path,
    invalid_request,
)
from service.http.schemas import Customer


def media_type(header: str | None) -> str:
    """``"Application/JSON; charset=utf-8"`` -> ``"application/json"``.

    Plain string work: the email module's header parser costs more than the whole scoring.
    """
    return (header or "").split(";", 1)[0].strip().lower()


def is_json_content_type(header: str | None) -> bool:
    """Accept application/json and any application/*+json; a missing header is read as JSON."""
    if not header:
        return True
    kind = media_type(header)
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def is_csv_content_type(header: str | None) -> bool:
    return media_type(header) == "text/csv"


def accepts_csv(header: str | None) -> bool:
    """True when the Accept header lists text/csv with a quality above zero."""
    for item in (header or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != "text/csv":
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        return quality > 0
    return False


@dataclass(frozen=True)
class CsvTable:
    """A CSV body, every cell kept as the text that was sent, so it can be echoed untouched."""

    table: pd.DataFrame


async def read_batch(
    request: Request, adapter: TypeAdapter[Any], max_batch: int
) -> tuple[list[Customer], str] | CsvTable:
    """JSON customers (with the path prefix that locates them in the body), or a CSV table."""
    content_type = request.headers.get("content-type")
    if is_csv_content_type(content_type):
        return _read_csv(as_utf8(await _body(request), charset(content_type)), max_batch)
    return await read_customers(request, adapter)


def charset(header: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any (lower case, unquoted)."""
    for param in (header or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower() or None
    return None


def as_utf8(body: bytes, declared: str | None) -> bytes:
    """A CSV body in the charset its Content-Type declares (spreadsheet exports are often
    windows-1252 or iso-8859-1), as UTF-8; an undeclared body must already be UTF-8."""
    if declared is None or declared in ("utf-8", "utf8"):
        return body
    try:
        codec = codecs.lookup(declared)
    except LookupError:
        raise MalformedRequest(
            f"content-type: charset {declared!r} is not one this service knows; "
            "send UTF-8, or declare the charset the file is in (for example windows-1252)"
        ) from None
    try:
        return body.decode(codec.name).encode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedRequest(
            f"content-type: the body is not valid {declared} (byte {exc.start}); declare the "
            "charset the file is in"
        ) from None


def _read_csv(body: bytes, max_batch: int) -> CsvTable:
    if not body.strip():
        raise MalformedRequest("the request body is empty: send a header line and customer rows")
    try:
        table = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise MalformedRequest("the CSV body has no header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        detail = " ".join(str(exc).split())
        raise MalformedRequest(f"malformed CSV: {detail}") from None
    if table.empty:
        raise MalformedRequest("the CSV body has a header but no customer rows")
    if len(table) > max_batch:
        raise BatchTooLarge(
            f"rows: a batch of {len(table)} customers is over the limit of {max_batch} "
            "customers per request; split it into smaller batches"
        )
    return CsvTable(table=table)


async def read_customers(request: Request, adapter: TypeAdapter[Any]) -> tuple[list[Customer], str]:
    """The customers in request order, and the path prefix that locates them in the body."""
    content_type = request.headers.get("content-type")
    if not is_json_content_type(content_type):
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported: send application/json or text/csv"
        )
    body = await _body(request)
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


def customers_table(customers: list[Customer], features: list[str]) -> pd.DataFrame:
    """JSON customers as a table for a CSV answer: their id and the features as sent."""
    columns = [CUSTOMER_ID, *features]
    if GENDER not in features and any(c.gender is not None for c in customers):
        columns.append(GENDER)
    return pd.DataFrame(
        [{name: getattr(c, name) for name in columns} for c in customers], columns=columns
    )


async def _body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        # The caller hung up mid-body: nobody reads the answer, and it is not a server error.
        raise MalformedRequest("the client disconnected before sending the whole body") from None
