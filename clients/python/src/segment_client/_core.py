"""What the sync and async clients share: configuration, headers, and reading responses.

Everything here is free of I/O, so the two clients differ only in how they wait (``time.sleep``
or ``anyio.sleep``) and how they send (``httpx.Client`` or ``httpx.AsyncClient``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from typing import TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from segment_client.errors import InvalidInputError, ResponseFormatError
from segment_client.retry import RetryPolicy

logger = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 10_000
"""The service's default SEGMENT_MAX_BATCH."""
DEFAULT_TIMEOUT = 30.0
JSON = "application/json"

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class ClientConfig:
    """The options both clients take, checked once."""

    base_url: str
    api_key: str | None
    timeout: httpx.Timeout
    retry: RetryPolicy
    max_batch: int
    discover_max_batch: bool
    max_concurrency: int

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise InvalidInputError("max_batch", f"must be at least 1, not {self.max_batch}")
        if self.max_concurrency < 1:
            raise InvalidInputError(
                "max_concurrency", f"must be at least 1, not {self.max_concurrency}"
            )
        if self.api_key is not None and not self.api_key.strip():
            raise InvalidInputError("api_key", "is empty: pass None to send no key")

    def headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Accept": JSON, "User-Agent": _user_agent()}
        if self.api_key is not None:
            headers["Authorization"] = f"Bearer {self.api_key.strip()}"
        return {**headers, **(extra or {})}

    def __repr__(self) -> str:  # never show the key
        key = "set" if self.api_key else "none"
        return f"ClientConfig(base_url={self.base_url!r}, api_key={key})"


def make_config(
    base_url: str,
    *,
    api_key: str | None,
    timeout: float | httpx.Timeout,
    retry: RetryPolicy | None,
    max_batch: int,
    discover_max_batch: bool,
    max_concurrency: int,
) -> ClientConfig:
    return ClientConfig(
        base_url=base_url.rstrip("/"),
        api_key=api_key,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        retry=retry or RetryPolicy(),
        max_batch=max_batch,
        discover_max_batch=discover_max_batch,
        max_concurrency=max_concurrency,
    )


def parse(model: type[ModelT], response: httpx.Response) -> ModelT:
    """A 2xx body as ``model``, or ResponseFormatError naming what did not fit."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        problem = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in problem["loc"]) or "body"
        request = response.request
        raise ResponseFormatError(
            f"{request.method} {request.url.path} answered {response.status_code} with a body "
            f"that is not a {model.__name__} ({where}: {problem['msg']})",
            status=response.status_code,
            code="unexpected_response",
            request_id=response.headers.get("x-request-id"),
        ) from None


def batch_limit(configured: int, openapi: httpx.Response | None) -> int:
    """``configured``, lowered to the service's limit if its OpenAPI schema states one.

    The limit is the ``maxItems`` of the ``customers`` array in the schema; anything unexpected
    (no schema, no such field, an error status) keeps the configured value.
    """
    if openapi is None or not openapi.is_success:
        return configured
    try:
        schemas = openapi.json()["components"]["schemas"]
        fields = [
            schema["properties"]["customers"]
            for schema in schemas.values()
            if isinstance(schema, dict) and "customers" in schema.get("properties", {})
        ]
        # Only an array of customers states a limit (other schemas may count customers).
        limits = [
            f.get("maxItems") for f in fields if isinstance(f, dict) and f.get("type") == "array"
        ]
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.debug("no batch limit in the OpenAPI schema; using max_batch=%d", configured)
        return configured
    usable = [limit for limit in limits if isinstance(limit, int) and limit >= 1]
    return min([configured, *usable])


@cache
def _user_agent() -> str:
    try:
        version = metadata.version("segment-client")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"segment-client/{version} httpx/{httpx.__version__}"
