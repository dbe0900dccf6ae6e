"""POST /segment: assignments, aliases, order, and every way a request can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from segmentation.bundle import load_bundle
from service.http.schemas import SegmentResponse
from tests.conftest import TrainFn
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio


async def test_one_customer(client: httpx.AsyncClient, trained_models: Path) -> None:
    bundle = load_bundle(trained_models)
    response = await client.post("/segment", json={"customer_id": "C-1", **CUSTOMER})
    assert response.status_code == 200
    body = response.json()
    [result] = body["results"]
    expected = int(bundle.pipeline.predict(pd.DataFrame([CUSTOMER]))[0])
    assert result["segment_id"] == expected
    assert result["customer_id"] == "C-1"
    assert result["model_version"] == body["model_version"] == bundle.metadata.version
    assert result["segment_name"] == bundle.metadata.segments[expected].name
    assert result["distance"] >= 0
    assert body["segments"] == [bundle.metadata.segments[expected].model_dump(mode="json")]


async def test_batch_keeps_order_and_lists_each_assigned_segment_once(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    bundle = load_bundle(trained_models)
    frame = pd.DataFrame(
        [
            {
                "age": 18 + i % 50,
                "annual_income": (i * 37) % 140,
                "spending_score": 1 + (i * 53) % 100,
            }
            for i in range(500)
        ]
    )
    customers = [{"customer_id": i, **row} for i, row in enumerate(frame.to_dict("records"))]
    response = await client.post("/segment", json={"customers": customers})
    assert response.status_code == 200
    body = response.json()
    assert [r["customer_id"] for r in body["results"]] == list(range(500))
    assert [r["segment_id"] for r in body["results"]] == bundle.pipeline.predict(frame).tolist()
    assigned = sorted({r["segment_id"] for r in body["results"]})
    assert [s["id"] for s in body["segments"]] == assigned
    # The hand-encoded answer is exactly the documented schema, no field more or less.
    typed = SegmentResponse.model_validate_json(response.content)
    assert typed.model_dump(mode="json") == body


async def test_only_assigned_segments_are_returned(client: httpx.AsyncClient) -> None:
    body = (await client.post("/segment", json={"customers": [CUSTOMER, CUSTOMER]})).json()
    assert len(body["segments"]) == 1
    assert body["results"][0] == body["results"][1]
    assert body["results"][0]["customer_id"] is None


async def test_a_row_of_the_classic_csv_is_accepted_as_is(client: httpx.AsyncClient) -> None:
    classic = {
        "CustomerID": 7,
        "Gender": "Male",
        "Age": 31,
        "Annual Income (k$)": 72,
        "Spending Score (1-100)": 81,
    }
    snake = await client.post("/segment", json={"customer_id": 7, **CUSTOMER})
    response = await client.post("/segment", json=classic)
    assert response.status_code == 200
    assert response.json() == snake.json()


@pytest.mark.parametrize("gender", ["Female", "male", " FEMALE ", None])
async def test_gender_is_optional_and_does_not_change_the_segment(
    client: httpx.AsyncClient, gender: str | None
) -> None:
    plain = (await client.post("/segment", json=CUSTOMER)).json()["results"][0]
    response = await client.post("/segment", json={**CUSTOMER, "gender": gender})
    assert response.status_code == 200
    assert response.json()["results"][0] == plain


async def test_a_model_trained_on_gender_requires_it(
    trained_copy: TrainFn, tmp_path: Path, make_client: ClientFactory
) -> None:
    bundle = trained_copy(features=("gender", "annual_income", "spending_score"), k=4)
    async with make_client(models_dir=tmp_path / "models") as client:
        female = await client.post("/segment", json={**CUSTOMER, "gender": "Female"})
        male = await client.post("/segment", json={**CUSTOMER, "gender": "male"})
        missing = await client.post("/segment", json=CUSTOMER)
    frame = pd.DataFrame(
        [{"gender": g, "annual_income": 72, "spending_score": 81} for g in ("Female", "Male")]
    )
    expected = bundle.pipeline.predict(frame).tolist()
    assert [female.json()["results"][0]["segment_id"], male.json()["results"][0]["segment_id"]] == (
        expected
    )
    assert_error(missing, 422, "invalid_request", "gender: missing value")


async def test_a_model_without_age_does_not_need_it(
    trained_copy: TrainFn, tmp_path: Path, make_client: ClientFactory
) -> None:
    trained_copy(features=("annual_income", "spending_score"), k=3)
    async with make_client(models_dir=tmp_path / "models") as client:
        response = await client.post("/segment", json={"annual_income": 20, "spending_score": 90})
    assert response.status_code == 200


BAD_BODIES: list[tuple[str, object, int, str, str]] = [
    # id, JSON body, status, code, text in message
    ("unknown field", {**CUSTOMER, "height": 180}, 422, "invalid_request", "height: unknown field"),
    (
        "age too high",
        {**CUSTOMER, "age": 121},
        422,
        "invalid_request",
        "age: value 121 is outside the valid range 0 to 120",
    ),
    (
        "age negative",
        {**CUSTOMER, "age": -1},
        422,
        "invalid_request",
        "age: value -1 is outside the valid range 0 to 120",
    ),
    (
        "income negative",
        {**CUSTOMER, "annual_income": -0.5},
        422,
        "invalid_request",
        "annual_income: value -0.5 is outside the valid range 0 to 1,000,000",
    ),
    ("score zero", {**CUSTOMER, "spending_score": 0}, 422, "invalid_request", "spending_score"),
    (
        "score over 100",
        {**CUSTOMER, "spending_score": 100.5},
        422,
        "invalid_request",
        "spending_score: value 100.5 is outside the valid range 1 to 100",
    ),
    ("huge income", {**CUSTOMER, "annual_income": 1e300}, 422, "invalid_request", "annual_income"),
    ("huge integer", {**CUSTOMER, "age": 10**40}, 422, "invalid_request", "age"),
    (
        "string number",
        {**CUSTOMER, "age": "31"},
        422,
        "invalid_request",
        "age: value '31' is not a JSON number",
    ),
    ("boolean", {**CUSTOMER, "spending_score": True}, 422, "invalid_request", "spending_score"),
    ("list value", {**CUSTOMER, "age": [31]}, 422, "invalid_request", "age"),
    (
        "missing feature",
        {"age": 31, "annual_income": 72},
        422,
        "invalid_request",
        "spending_score: missing value",
    ),
    ("null feature", {**CUSTOMER, "age": None}, 422, "invalid_request", "age: missing value"),
    (
        "bad gender",
        {**CUSTOMER, "gender": "robot"},
        422,
        "invalid_request",
        "gender: value 'robot' is not 'Female' or 'Male'",
    ),
    (
        "float id",
        {**CUSTOMER, "customer_id": 1.5},
        422,
        "invalid_request",
        "customer_id: must be a string of at most 256 characters or an integer",
    ),
    ("bool id", {**CUSTOMER, "customer_id": True}, 422, "invalid_request", "customer_id"),
    ("long id", {**CUSTOMER, "customer_id": "x" * 257}, 422, "invalid_request", "customer_id"),
    (
        "list body",
        [CUSTOMER],
        422,
        "invalid_request",
        'body: the body must be a customer object or {"customers": [...]}',
    ),
    ("string body", "hello", 422, "invalid_request", "body: the body must be"),
    ("number body", 42, 422, "invalid_request", "body: the body must be"),
    (
        "empty batch",
        {"customers": []},
        422,
        "invalid_request",
        "customers: must hold at least one customer",
    ),
    (
        "batch not a list",
        {"customers": "all"},
        422,
        "invalid_request",
        "customers: must be an array of customer objects",
    ),
    (
        "batch item not an object",
        {"customers": [CUSTOMER, 3]},
        422,
        "invalid_request",
        "customers[1]: must be a customer object",
    ),
    (
        "batch with extra key",
        {"customers": [CUSTOMER], "limit": 1},
        422,
        "invalid_request",
        "limit: unknown field",
    ),
    (
        "bad row deep in batch",
        {"customers": [CUSTOMER] * 5 + [{**CUSTOMER, "age": 500}]},
        422,
        "invalid_request",
        "customers[5].age: value 500 is outside the valid range 0 to 120; 1 of 6 customers",
    ),
    (
        "missing feature in batch",
        {"customers": [CUSTOMER, {"age": 1, "annual_income": 1}]},
        422,
        "invalid_request",
        "customers[1].spending_score: missing value",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "text"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
async def test_bad_bodies_are_4xx_naming_the_field(
    client: httpx.AsyncClient, body: object, status: int, code: str, text: str
) -> None:
    error = assert_error(await client.post("/segment", json=body), status, code, text)
    if status == 422:
        field = text.split(":")[0]
        assert field in [d["field"] for d in error["details"]]


BAD_RAW: list[tuple[str, bytes, str | None, int, str, str]] = [
    ("empty body", b"", "application/json", 400, "malformed_request", "the request body is empty"),
    ("whitespace body", b"  \n", "application/json", 400, "malformed_request", "body is empty"),
    (
        "malformed JSON",
        b'{"age": 31,',
        "application/json",
        400,
        "malformed_request",
        "malformed JSON",
    ),
    (
        "trailing garbage",
        b'{"age": 31} x',
        "application/json",
        400,
        "malformed_request",
        "malformed JSON",
    ),
    (
        "NaN",
        b'{"age": NaN, "annual_income": 72, "spending_score": 81}',
        "application/json",
        422,
        "invalid_request",
        "age: value 'nan' is not a JSON number",
    ),
    (
        "Infinity",
        b'{"age": 31, "annual_income": Infinity, "spending_score": 81}',
        "application/json",
        422,
        "invalid_request",
        "annual_income: value 'inf' is not a JSON number",
    ),
    (
        "-Infinity",
        b'{"age": 31, "annual_income": 72, "spending_score": -Infinity}',
        "application/json",
        422,
        "invalid_request",
        "spending_score",
    ),
    (
        "overflowing float",
        b'{"age": 31, "annual_income": 1e999, "spending_score": 81}',
        "application/json",
        422,
        "invalid_request",
        "annual_income: value 'inf' is not a JSON number",
    ),
    (
        "form content type",
        b"age=31",
        "application/x-www-form-urlencoded",
        415,
        "unsupported_media_type",
        "'application/x-www-form-urlencoded' is not supported",
    ),
    (
        "text content type",
        b'{"age": 31}',
        "text/plain",
        415,
        "unsupported_media_type",
        "send application/json",
    ),
    (
        "not utf-8",
        b'{"age": "\xff"}',
        "application/json",
        400,
        "malformed_request",
        "malformed JSON",
    ),
]


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code", "text"),
    [case[1:] for case in BAD_RAW],
    ids=[case[0] for case in BAD_RAW],
)
async def test_bad_raw_bodies_are_4xx(
    client: httpx.AsyncClient, raw: bytes, content_type: str, status: int, code: str, text: str
) -> None:
    response = await client.post("/segment", content=raw, headers={"content-type": content_type})
    assert_error(response, status, code, text)


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=utf-8", "application/vnd.crm+json"]
)
async def test_json_content_types_are_accepted(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    request = client.build_request(
        "POST",
        "/segment",
        content=b'{"age": 1, "annual_income": 2, "spending_score": 3}',
        headers=headers,
    )
    assert ("content-type" in request.headers) == (content_type is not None)
    assert (await client.send(request)).status_code == 200


async def test_every_problem_is_reported_at_once(client: httpx.AsyncClient) -> None:
    body = {"customers": [{**CUSTOMER, "age": 200}, {**CUSTOMER, "spending_score": 0, "x": 1}]}
    error = assert_error(
        await client.post("/segment", json=body), 422, "invalid_request", "customers[0].age"
    )
    assert error["message"].endswith("(and 2 more problems); 2 of 2 customers are invalid")
    # In customer order; a customer's unknown fields before its values.
    assert [d["field"] for d in error["details"]] == [
        "customers[0].age",
        "customers[1].x",
        "customers[1].spending_score",
    ]
    assert (error["total"], error["truncated"]) == (3, False)


async def test_default_batch_limit_is_10000(client: httpx.AsyncClient) -> None:
    at_limit = await client.post("/segment", json={"customers": [CUSTOMER] * 10_000})
    assert at_limit.status_code == 200
    assert len(at_limit.json()["results"]) == 10_000
    over = await client.post("/segment", json={"customers": [CUSTOMER] * 10_001})
    assert_error(over, 413, "batch_too_large", "over the limit of 10000")


async def test_wrong_method_gets_the_error_shape(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/segment"), 405, "method_not_allowed", "Method Not Allowed")
    assert_error(await client.get("/nowhere"), 404, "not_found", "Not Found")


async def test_a_client_hanging_up_mid_body_is_not_an_error(
    trained_models: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from service.app import create_app
    from service.settings import Settings

    app = create_app(Settings(models_dir=trained_models))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/segment",
        "raw_path": b"/segment",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "app": app,
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    assert sent[0]["status"] == 400
    assert "unhandled error" not in caplog.text
    assert "Traceback" not in caplog.text


async def test_problems_of_customers_with_different_fields_come_in_customer_order(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "customers": [
            {**CUSTOMER, "x": 1},
            {**CUSTOMER, "customer_id": True},
            {**CUSTOMER, "y": 1, "z": 2},
            {**CUSTOMER, "x": 1},
        ]
    }
    error = assert_error(
        await client.post("/segment", json=body), 422, "invalid_request", "customers[0].x"
    )
    rows = [int(d["field"].split("[")[1].split("]")[0]) for d in error["details"]]
    assert rows == sorted(rows) == [0, 1, 2, 2, 3]
