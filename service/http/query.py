"""Query parameters of the scoring routes the gateway answers itself, validated with the same
pydantic types FastAPI would use, so that their 422s read as FastAPI's do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import parse_qsl

from pydantic import StringConstraints, TypeAdapter, ValidationError

from segmentation.metadata import VERSION_PATTERN
from service.http.asgi import Scope
from service.http.errors import invalid_request

FLAG: TypeAdapter[bool] = TypeAdapter(bool)
VERSION: TypeAdapter[str] = TypeAdapter(
    Annotated[str, StringConstraints(pattern=VERSION_PATTERN.pattern)]
)


def read_query(scope: Scope, wanted: Mapping[str, TypeAdapter[Any]]) -> dict[str, Any]:
    """The values of the ``wanted`` parameters that were sent (the last value of each wins),
    validated; one 422 names every bad one. Other parameters are ignored, as FastAPI does."""
    query = scope.get("query_string")
    if not query:
        return {}
    params: dict[str, str] = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True))
    values: dict[str, Any] = {}
    errors: list[Any] = []
    for name, adapter in wanted.items():
        if name not in params:
            continue
        try:
            values[name] = adapter.validate_python(params[name])
        except ValidationError as exc:
            located = exc.errors(include_url=False)
            for error in located:
                error["loc"] = ("query", name, *error["loc"])
            errors += located
    if errors:
        raise invalid_request(errors)
    return values
