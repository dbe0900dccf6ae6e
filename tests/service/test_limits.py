"""Request body size and batch size limits: 413 with the limit named, before any parsing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.http import segment_call
from service.http.body_limit import DRAIN_FACTOR
from service.settings import Settings
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio


def batch_body(size: int) -> bytes:
    return json.dumps({"customers": [CUSTOMER] * size}).encode()


async def test_a_declared_body_over_the_limit_is_refused_before_it_is_parsed(
    trained_models: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[object] = []
    real = segment_call.checked

    def spy(*args: object, **options: object) -> object:
        parsed.append(args)
        return real(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr("service.http.segment_call.checked", spy)
    body = batch_body(200)
    limit = len(body) - 1
    async with make_client(models_dir=trained_models, max_body_bytes=limit) as client:
        refused = await client.post("/segment", content=body)
        assert_error(
            refused, 413, "body_too_large", f"{len(body):,} bytes, over the limit of {limit:,}"
        )
        assert parsed == []
        assert (await client.post("/segment", content=batch_body(199))).status_code == 200
    async with make_client(models_dir=trained_models, max_body_bytes=len(body)) as client:
        assert (await client.post("/segment", content=body)).status_code == 200


async def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(
    trained_models: Path, make_client: ClientFactory
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        body = batch_body(2000)
        for start in range(0, len(body), 1024):
            sent.append(start)
            yield body[start : start + 1024]

    async with make_client(models_dir=trained_models, max_body_bytes=4096) as client:
        refused = await client.post("/segment", content=chunks())
    assert "content-length" not in refused.request.headers
    assert_error(refused, 413, "body_too_large", "over the limit of 4,096 bytes")
    # Read (and thrown away) up to the drain bound, never further; the connection then closes.
    assert len(sent) <= DRAIN_FACTOR * 4 + 2, "the body beyond the drain bound was never read"
    assert refused.headers["connection"] == "close"


async def test_the_body_limit_applies_to_every_path(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, max_body_bytes=1024) as client:
        refused = await client.post("/admin/reload", content=b"x" * 2048)
    assert_error(refused, 413, "body_too_large", "2,048 bytes")


async def test_a_batch_over_the_limit_is_413_naming_the_limit(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, max_batch=3) as client:
        refused = await client.post("/segment", content=batch_body(4))
        assert (await client.post("/segment", content=batch_body(3))).status_code == 200
    assert_error(
        refused,
        413,
        "batch_too_large",
        "customers: a batch of 4 customers is over the limit of 3 customers per request",
    )


def test_the_default_body_limit_is_a_few_megabytes_and_fits_a_full_batch() -> None:
    settings = Settings()
    assert settings.max_body_bytes == 4 * 1024 * 1024
    classic = {
        "CustomerID": "C-0000001",
        "Gender": "Female",
        "Age": 31.5,
        "Annual Income (k$)": 72.25,
        "Spending Score (1-100)": 81,
    }
    full_batch = json.dumps({"customers": [classic] * settings.max_batch}).encode()
    assert len(full_batch) < settings.max_body_bytes


async def test_an_error_quotes_a_huge_value_or_name_by_its_start_and_length(
    trained_models: Path, make_client: ClientFactory
) -> None:
    """A malformed request's answer stays small: a value or a key sent as megabytes comes back
    as its first characters and its length, not in full (once in the message, once in details)."""
    level = "F" * 1_000_000
    key = "k" * 30_000
    bodies = {
        "a level": {"customers": [{**CUSTOMER, "gender": level}]},
        "a number": {"customers": [{**CUSTOMER, "age": level}]},
        "keys": {"customers": [{**CUSTOMER, f"{key}{i}": 1} for i in range(100)]},
    }
    csv_body = f"age,annual_income,spending_score\n{level},70,50\n".encode()
    async with make_client(models_dir=trained_models) as client:
        answers = {name: await client.post("/segment", json=body) for name, body in bodies.items()}
        answers["a CSV cell"] = await client.post(
            "/segment", content=csv_body, headers={"content-type": "text/csv"}
        )
    for name, answer in answers.items():
        error = assert_error(answer, 422, "invalid_request", "")
        assert len(answer.content) < 40_000, (name, len(answer.content))
        assert error["total"] >= 1
    level_message = answers["a level"].json()["error"]["details"][0]["message"]
    assert level_message.startswith(f"value {'F' * 60!r}... (1,000,000 characters) is not")
    assert (
        "(1,000,000 characters) is not a JSON number"
        in answers["a number"].json()["error"]["message"]
    )
    assert (
        "(1,000,000 characters) is not a number" in answers["a CSV cell"].json()["error"]["message"]
    )
    keys = answers["keys"].json()["error"]
    assert keys["total"] == 100
    field = f"customers[0].{key}0"
    assert keys["details"][0]["field"] == f"{field[:240]}... ({len(field):,} characters)"
