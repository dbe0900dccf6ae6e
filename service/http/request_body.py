"""Turns the raw body of POST /segment into validated customers, or into a precise 4xx.

The body is read and validated here rather than by FastAPI's body parameter so that a wrong
content type is a 415, an empty or malformed body a 400, and an over-long batch a 413, each with
the one error shape. Each format has its module (JSON objects and the split layout, CSV, Arrow);
all of them decode into a :class:`service.http.batches.Batch`.
"""

from __future__ import annotations

import codecs
from functools import lru_cache

from fastapi import Request
from starlette.requests import ClientDisconnect

from segmentation.schema import FeatureSchema
from service.http.arrow_body import ARROW_STREAM, decode_arrow
from service.http.batches import Decoded
from service.http.csv_body import decode_csv
from service.http.errors import MalformedRequest, UnsupportedMediaType
from service.http.json_body import decode_json


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


@lru_cache(maxsize=256)
def accepts(header: str | None, wanted: str) -> bool:
    """True when the Accept header lists ``wanted`` with a quality above zero.

    Cached: callers send the same few Accept headers on every request.
    """
    for item in (header or "").split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if media.lower() != wanted:
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


def accepts_csv(header: str | None) -> bool:
    return accepts(header, "text/csv")


def decode_body(
    body: bytes, content_type: str | None, schema: FeatureSchema, max_batch: int
) -> Decoded:
    """The body's customers, in whichever format its Content-Type names: each format only
    decodes; one check (:func:`service.http.batches.checked`) validates them all."""
    if is_csv_content_type(content_type):
        decoded = decode_csv(
            as_utf8(body, charset(content_type)), schema, max_batch, file_locations=True
        )
    elif media_type(content_type) == ARROW_STREAM:
        decoded = decode_arrow(body, schema, max_batch)
    elif is_json_content_type(content_type):
        decoded = decode_json(body, schema, max_batch)
    else:
        raise UnsupportedMediaType(
            f"content type {content_type!r} is not supported: send application/json, text/csv "
            f"or {ARROW_STREAM}"
        )
    return decoded


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


async def read_body(request: Request) -> bytes:
    try:
        return await request.body()
    except ClientDisconnect:
        # The caller hung up mid-body: nobody reads the answer, and it is not a server error.
        raise MalformedRequest("the client disconnected before sending the whole body") from None
