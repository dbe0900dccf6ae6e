"""POST /segment in every payload format: JSON objects (fast path), the pandas split layout,
CSV through pyarrow, and Arrow IPC streams; labels equal ``Pipeline.predict`` in each, and every
bad input is a 4xx naming the field."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from segmentation.bundle import load_bundle
from segmentation.validation import check_table
from service.http.batches import Batch, checked
from service.http.errors import ApiError
from service.http.json_body import _typed_columns, decode_json
from service.http.segment_call import OFFLOAD_BYTES
from tests.schemas import CLASSIC_TO_SNAKE, MALL
from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error
from training.sample_data import generate_customers

pytestmark = pytest.mark.anyio
ARROW = "application/vnd.apache.arrow.stream"
JSON_TYPE = "application/json"
FEATURES = ["age", "annual_income", "spending_score"]


def customers(rows: int, seed: int = 11) -> pd.DataFrame:
    """Generated customers, snake_case: customer_id, gender and the three features."""
    return generate_customers(rows, seed).frame.rename(columns=CLASSIC_TO_SNAKE)


def expected(models: Path, frame: pd.DataFrame) -> list[int]:
    return [int(s) for s in load_bundle(models).pipeline.predict(frame[FEATURES])]


def split_body(frame: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    return {"columns": list(frame.columns), "data": frame.to_numpy().tolist(), **extra}


def arrow_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def read_arrow(response: httpx.Response) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return pyarrow.ipc.open_stream(response.content).read_all()


# ---------------------------------------------------------------------------------------------
# JSON objects: the column fast path accepts exactly what pydantic accepts


async def test_a_large_object_batch_matches_the_pipeline(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = customers(3000)
    records = frame.to_dict("records")
    body = json.dumps({"customers": records}).encode()
    assert len(body) > OFFLOAD_BYTES  # scored in the batch thread
    response = await client.post("/segment", content=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["segment_id"] for r in results] == expected(trained_models, frame)
    assert [r["customer_id"] for r in results] == frame["customer_id"].tolist()


MIXED_VALID = [
    {"customer_id": "A", "age": 31, "annual_income": 72.5, "spending_score": 81},
    {"CustomerID": 2, "Age": 40.0, "Annual Income (k$)": 15, "Spending Score (1-100)": 1},
    {"age": 0, "annual_income": 0, "spending_score": 100, "gender": " female "},
    {"age": 120, "annual_income": 1_000_000, "spending_score": 1, "Gender": "MALE"},
    {"customer_id": None, "age": 5, "annual_income": 5, "spending_score": 5, "gender": None},
]


def test_the_fast_path_and_the_full_check_decode_the_same_customers() -> None:
    schema = MALL.select(FEATURES)
    body = json.dumps({"customers": MIXED_VALID}).encode()
    batch = checked(decode_json(body, schema, 100), schema)
    assert list(batch.customer_ids or []) == ["A", 2, None, None, None]
    assert batch.echo().column("gender").to_pylist() == [None, None, "Female", "Male", None]
    # The same columns as pandas skip the fast path: the full check must build the same input.
    columns = {
        name: [next((c[k] for k in keys if k in c), None) for c in MIXED_VALID]
        for name, keys in {
            "age": ("age", "Age"),
            "annual_income": ("annual_income", "Annual Income (k$)"),
            "spending_score": ("spending_score", "Spending Score (1-100)"),
            "gender": ("gender", "Gender"),
        }.items()
    }
    fast = check_table(columns, schema, json_types=True)
    full = check_table({n: pd.Series(v, dtype=object) for n, v in columns.items()}, schema)
    assert fast.problems == full.problems == []
    np.testing.assert_array_equal(fast.rows, batch.rows)
    np.testing.assert_array_equal(full.rows, batch.rows)
    np.testing.assert_array_equal(fast.levels["gender"], full.levels["gender"])


TYPED = [
    {"customer_id": "A", "age": 31, "annual_income": 72.5, "spending_score": 81},
    {"customer_id": 2, "age": 40.0, "annual_income": 15, "spending_score": 1, "gender": "MALE"},
    {"spending_score": 100, "age": 0, "annual_income": 0, "gender": " female "},
    {"customer_id": None, "age": 5, "annual_income": 5, "spending_score": 5, "gender": None},
]


def _compact(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _decoded_batch(body: bytes) -> Batch:
    schema = MALL.select(FEATURES)
    return checked(decode_json(body, schema, 100), schema)


def _decoded(body: bytes) -> Any:
    """What a body decodes to (its columns and ids), or the error it is refused with."""
    try:
        batch = _decoded_batch(body)
    except ApiError as exc:
        return type(exc), exc.status_code, exc.message, exc.details, exc.total
    return batch.rows.tolist(), batch.customer_ids, batch.echo().to_pylist()


@pytest.mark.parametrize(
    ("customers", "typed"),
    [
        pytest.param(TYPED, True, id="ids, missing ids, floats, an attribute here and there"),
        pytest.param([TYPED[0]] * 3, True, id="no attribute at all"),
        pytest.param([{k: v for k, v in TYPED[0].items() if k != "customer_id"}], True, id="no id"),
        pytest.param(MIXED_VALID, False, id="aliases"),
        pytest.param([TYPED[0], {**TYPED[1], "age": "40"}], False, id="a number as text"),
        pytest.param([TYPED[0], {**TYPED[1], "age": None}], False, id="a null feature"),
        pytest.param([TYPED[0], {**TYPED[1], "age": 300}], False, id="out of range"),
        pytest.param([TYPED[0], {**TYPED[1], "gender": "x"}], True, id="unknown level"),
        pytest.param([{**TYPED[0], "customer_id": True}], False, id="a boolean id"),
        pytest.param([{**TYPED[0], "customer_id": "x" * 300}], False, id="a long id"),
        pytest.param([{**TYPED[0], "vip": 1}], False, id="unknown field"),
        pytest.param([{"age": 1}], False, id="features missing"),
        pytest.param([TYPED[0], 7], False, id="not an object"),
        pytest.param([], False, id="no customer"),
        pytest.param([TYPED[0]] * 101, True, id="over the batch limit"),
    ],
)
def test_typed_decoding_reads_a_batch_exactly_as_the_general_path(
    customers: list[Any], typed: bool
) -> None:
    """A compact ``{"customers": [...]}`` is decoded straight into typed columns when it
    plainly can be; the same customers in a body that is not (a leading space) take the general
    path. Both must give the same customers, or the same refusal, for every body."""
    body = _compact({"customers": customers})
    schema = MALL.select(FEATURES)
    try:
        decoded = _typed_columns(body, schema, 100)
        if decoded is not None:
            checked(decoded, schema)
        taken = decoded is not None
    except ApiError:
        taken = True  # refused by the typed path itself (its batch limit)
    assert taken is typed
    assert _decoded(body) == _decoded(b" " + body)


# ---------------------------------------------------------------------------------------------
# the split layout


async def test_a_split_body_matches_the_pipeline_and_answers_in_columns(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = customers(2000)[["customer_id", *FEATURES]]
    index = list(range(100, 2100))
    response = await client.post("/segment", json=split_body(frame, index=index))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["columns"] == [
        "customer_id",
        "segment_id",
        "segment_name",
        "distance",
        "atypical",
    ]
    assert answer["index"] == index
    data = pd.DataFrame(answer["data"], columns=answer["columns"])
    assert data["segment_id"].tolist() == expected(trained_models, frame)
    assert data["customer_id"].tolist() == frame["customer_id"].tolist()
    assert [s["id"] for s in answer["segments"]] == sorted(set(data["segment_id"]))
    assert answer["model_version"] == load_bundle(trained_models).metadata.version


async def test_a_split_body_as_pandas_and_mlflow_write_it(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = customers(50)[["gender", *FEATURES]].rename(columns={"gender": "Gender", "age": "Age"})
    # DataFrame.to_json(orient="split") is what MLflow's dataframe_split carries.
    body = json.loads(frame.to_json(orient="split"))
    response = await client.post("/segment", json=body, params={"explain": "true"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "customer_id" not in answer["columns"]
    assert "confidence" in answer["columns"]
    assert "contribution_age" in answer["columns"]
    segment = answer["columns"].index("segment_id")
    renamed = frame.rename(columns=CLASSIC_TO_SNAKE)
    assert [row[segment] for row in answer["data"]] == expected(trained_models, renamed)


async def test_a_split_body_can_ask_for_csv(client: httpx.AsyncClient) -> None:
    frame = customers(3)[["customer_id", *FEATURES]]
    response = await client.post("/segment", json=split_body(frame), headers={"accept": "text/csv"})
    assert response.status_code == 200
    answer = pd.read_csv(io.StringIO(response.text))
    assert list(answer.columns)[:4] == ["customer_id", *FEATURES]
    assert len(answer) == 3


SPLIT_COLUMNS = ["customer_id", *FEATURES]
BAD_SPLIT: list[tuple[str, dict[str, Any], int, str, str]] = [
    (
        "string value",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80], [2, "30", 70, 80]]},
        422,
        "invalid_request",
        "data[1].age: value '30' is not a JSON number",
    ),
    (
        "boolean value",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, True, 80]]},
        422,
        "invalid_request",
        "data[0].annual_income: value 'True' is not a JSON number",
    ),
    (
        "null value",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, None]]},
        422,
        "invalid_request",
        "data[0].spending_score: missing value",
    ),
    (
        "out of range",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80], [2, 30, 70, 101]]},
        422,
        "invalid_request",
        "data[1].spending_score: value 101 is outside the valid range 1 to 100",
    ),
    (
        "bad gender",
        {"columns": [*FEATURES, "gender"], "data": [[30, 70, 80, "x"]]},
        422,
        "invalid_request",
        "data[0].gender",
    ),
    (
        "bad id",
        {"columns": SPLIT_COLUMNS, "data": [[[1], 30, 70, 80]]},
        422,
        "invalid_request",
        "data[0].customer_id: must be a string of at most 256 characters or an integer",
    ),
    (
        "missing column",
        {"columns": ["age", "annual_income"], "data": [[30, 70]]},
        422,
        "invalid_request",
        "columns: missing column 'spending_score'",
    ),
    (
        "unknown column",
        {"columns": [*FEATURES, "region"], "data": [[30, 70, 80, "N"]]},
        422,
        "invalid_request",
        "columns[3]: unknown column 'region'",
    ),
    (
        "repeated column",
        {"columns": [*FEATURES, "Age"], "data": [[30, 70, 80, 30]]},
        422,
        "invalid_request",
        "columns[3]: columns 'age' and 'Age' both give 'age'; send one",
    ),
    (
        "columns not names",
        {"columns": "age", "data": [[30]]},
        422,
        "invalid_request",
        "columns: must be a non-empty array of column names",
    ),
    (
        "short row",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80], [2, 30, 70]]},
        422,
        "invalid_request",
        "data[1]: has 3 values, but there are 4 columns",
    ),
    (
        "long row",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80, 9]]},
        422,
        "invalid_request",
        "data[0]: has 5 values, but there are 4 columns",
    ),
    (
        "row not an array",
        {"columns": SPLIT_COLUMNS, "data": [{"age": 30}]},
        422,
        "invalid_request",
        "data[0]: must be an array of 4 values",
    ),
    (
        "data not an array",
        {"columns": SPLIT_COLUMNS, "data": {"0": [1, 30, 70, 80]}},
        422,
        "invalid_request",
        "data: must be an array of rows",
    ),
    (
        "no rows",
        {"columns": SPLIT_COLUMNS, "data": []},
        422,
        "invalid_request",
        "data: must hold at least one row",
    ),
    (
        "index of another length",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80]], "index": [0, 1]},
        422,
        "invalid_request",
        "index: must be an array with one entry per row of data (1)",
    ),
    (
        "unknown key",
        {"columns": SPLIT_COLUMNS, "data": [[1, 30, 70, 80]], "dtypes": {}},
        422,
        "invalid_request",
        "dtypes: unknown field",
    ),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "text"),
    [case[1:] for case in BAD_SPLIT],
    ids=[case[0] for case in BAD_SPLIT],
)
async def test_bad_split_bodies_are_4xx_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], status: int, code: str, text: str
) -> None:
    error = assert_error(await client.post("/segment", json=body), status, code, text)
    assert text.split(":")[0] in [d["field"] for d in error["details"]]


async def test_nan_in_a_split_body_names_the_cell(client: httpx.AsyncClient) -> None:
    raw = b'{"columns": ["age", "annual_income", "spending_score"], "data": [[30, NaN, 80]]}'
    response = await client.post(
        "/segment", content=raw, headers={"content-type": "application/json"}
    )
    assert_error(
        response, 422, "invalid_request", "data[0].annual_income: value 'nan' is not a JSON number"
    )


async def test_split_batches_obey_the_limit(
    trained_models: Path, make_client: ClientFactory
) -> None:
    body = {"columns": FEATURES, "data": [[30, 70, 80]] * 4}
    async with make_client(models_dir=trained_models, max_batch=3) as client:
        assert_error(
            await client.post("/segment", json=body),
            413,
            "batch_too_large",
            "data: a batch of 4 customers is over the limit of 3",
        )


# ---------------------------------------------------------------------------------------------
# Arrow IPC streams


async def test_an_arrow_stream_matches_the_pipeline(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = customers(5000)
    table = pa.Table.from_pandas(frame.assign(region="N"), preserve_index=False)
    response = await client.post(
        "/segment", content=arrow_bytes(table), headers={"content-type": ARROW}
    )
    answer = read_arrow(response)
    assert answer.column_names == [
        "customer_id",
        "segment_id",
        "segment_name",
        "distance",
        "atypical",
    ]
    assert answer.column("segment_id").to_pylist() == expected(trained_models, frame)
    assert answer.column("customer_id").to_pylist() == frame["customer_id"].tolist()
    version = load_bundle(trained_models).metadata.version
    assert answer.schema.metadata == {b"model_version": version.encode()}


async def test_a_table_body_is_answered_in_the_table_format_accept_names(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = customers(50)
    sent = frame[["customer_id", *FEATURES]]
    arrow_body = arrow_bytes(pa.Table.from_pandas(sent, preserve_index=False))
    as_csv = await client.post(
        "/segment", content=arrow_body, headers={"content-type": ARROW, "accept": "text/csv"}
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    answer = pd.read_csv(io.StringIO(as_csv.text))
    assert answer["customer_id"].tolist() == frame["customer_id"].tolist()
    assert answer["segment_id"].tolist() == expected(trained_models, frame)
    as_arrow = await client.post(
        "/segment",
        content=sent.to_csv(index=False).encode(),
        headers={"content-type": "text/csv", "accept": ARROW},
    )
    assert read_arrow(as_arrow).column("segment_id").to_pylist() == expected(trained_models, frame)
    # Naming both, or neither, leaves the body's own format.
    both = f"{ARROW}, text/csv"
    same = await client.post(
        "/segment", content=arrow_body, headers={"content-type": ARROW, "accept": both}
    )
    assert read_arrow(same).num_rows == 50
    csv_body = sent.to_csv(index=False).encode()
    for accept in (both, "*/*"):
        kept = await client.post(
            "/segment", content=csv_body, headers={"content-type": "text/csv", "accept": accept}
        )
        assert kept.status_code == 200, kept.text
        assert kept.headers["content-type"].startswith("text/csv")
    plain = await client.post("/segment", content=arrow_body, headers={"content-type": ARROW})
    assert read_arrow(plain).num_rows == 50


async def test_a_json_body_may_start_with_a_byte_order_mark(client: httpx.AsyncClient) -> None:
    body = (
        b"\xef\xbb\xbf"
        + json.dumps(
            {"customers": [{"age": 30, "annual_income": 70, "spending_score": 80}]}
        ).encode()
    )
    response = await client.post("/segment", content=body, headers={"content-type": JSON_TYPE})
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
async def test_a_compressed_body_is_415_naming_its_encoding(
    client: httpx.AsyncClient, encoding: str
) -> None:
    response = await client.post(
        "/segment",
        content=b"\x1f\x8b\x08\x00",
        headers={"content-type": JSON_TYPE, "content-encoding": encoding},
    )
    assert_error(response, 415, "unsupported_media_type", f"content-encoding '{encoding}'")


async def test_an_arrow_answer_for_json_and_explanations(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/segment",
        json={
            "customers": [
                {"customer_id": "C-9", "age": 31, "annual_income": 72, "spending_score": 81}
            ]
        },
        headers={"accept": ARROW},
        params={"explain": "true"},
    )
    answer = read_arrow(response)
    assert answer.column("customer_id").to_pylist() == ["C-9"]
    assert "margin" in answer.column_names
    assert "contribution_age" in answer.column_names


def _table(**columns: Any) -> pa.Table:
    base: dict[str, Any] = {"age": [30, 40], "annual_income": [70, 20], "spending_score": [80, 5]}
    return pa.table({**base, **columns})


BAD_ARROW: list[tuple[str, pa.Table, str]] = [
    ("null", _table(age=pa.array([30, None])), "row 2.age: missing value"),
    ("NaN", _table(age=[30.0, float("nan")]), "row 2.age"),
    ("out of range", _table(spending_score=[80, 101]), "row 2.spending_score: value 101"),
    ("words", _table(age=["30", "old"]), "row 2.age: value 'old' is not a number"),
    ("booleans", _table(age=[True, False]), "row 1.age"),
    ("bad gender", _table(gender=["Female", "x"]), "row 2.gender"),
    # Bytes that are not UTF-8, in a level or a number sent as bytes.
    (
        "binary level",
        _table(gender=pa.array([b"Female", b"\xff"], pa.binary())),
        "row 2.gender: value is not UTF-8 text",
    ),
    (
        "binary number",
        _table(age=pa.array([b"30", b"3\xff"], pa.large_binary())),
        "row 2.age: value is not UTF-8 text",
    ),
    # Valid UTF-8 bytes are read as the text they are.
    ("binary words", _table(age=pa.array([b"30", b"old"], pa.binary())), "row 2.age: value 'old'"),
]


@pytest.mark.parametrize(
    ("table", "text"), [c[1:] for c in BAD_ARROW], ids=[c[0] for c in BAD_ARROW]
)
async def test_bad_arrow_values_are_422_naming_the_row(
    client: httpx.AsyncClient, table: pa.Table, text: str
) -> None:
    response = await client.post(
        "/segment", content=arrow_bytes(table), headers={"content-type": ARROW}
    )
    error = assert_error(response, 422, "invalid_request", "customers are invalid")
    field, _, message = text.partition(": ")
    detail = error["details"][0]
    assert detail["field"] == field
    assert message in detail["message"]


async def test_an_arrow_stream_without_a_needed_column_is_422(client: httpx.AsyncClient) -> None:
    table = pa.table({"age": [30], "annual_income": [70]})
    response = await client.post(
        "/segment", content=arrow_bytes(table), headers={"content-type": ARROW}
    )
    assert_error(response, 422, "invalid_request", "missing column 'spending_score'")


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"", "the request body is empty"),
        (b"not arrow at all", "malformed Arrow IPC stream"),
        (arrow_bytes(_table().slice(0, 0)), "the Arrow stream has no rows"),
    ],
    ids=["empty", "garbage", "no rows"],
)
async def test_unreadable_arrow_bodies_are_400(
    client: httpx.AsyncClient, raw: bytes, text: str
) -> None:
    response = await client.post("/segment", content=raw, headers={"content-type": ARROW})
    assert_error(response, 400, "malformed_request", text)


async def test_arrow_batches_obey_the_limit(
    trained_models: Path, make_client: ClientFactory
) -> None:
    table = pa.table({name: [30] * 4 for name in FEATURES})
    async with make_client(models_dir=trained_models, max_batch=3) as client:
        response = await client.post(
            "/segment", content=arrow_bytes(table), headers={"content-type": ARROW}
        )
        assert_error(response, 413, "batch_too_large", "a batch of 4 customers")


# ---------------------------------------------------------------------------------------------
# CSV through pyarrow


async def test_a_large_csv_matches_the_pipeline_and_echoes_every_cell(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    frame = generate_customers(4000, 5).frame
    frame["Note"] = ['say "hi", then\nleave' if i % 7 == 0 else f" {i} " for i in range(4000)]
    text = frame.to_csv(index=False)
    response = await client.post(
        "/segment", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    answer = pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)
    sent = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(answer[list(sent.columns)], sent)
    renamed = frame.rename(columns=CLASSIC_TO_SNAKE)
    assert answer["segment_id"].astype(int).tolist() == expected(trained_models, renamed)


async def test_csv_with_repeated_headers_is_read_as_pandas_reads_it(
    client: httpx.AsyncClient,
) -> None:
    text = "age,annual_income,spending_score,note,note\n30,70,80,a,b\n"
    response = await client.post(
        "/segment", content=text.encode(), headers={"content-type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.text.splitlines()[0].startswith(
        '"age","annual_income","spending_score","note","note.1"'
    )


# ---------------------------------------------------------------------------------------------
# one check, one bound: every format refuses the same bad customers in the same words


def _bad_customers(rows: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [f"x{i}" for i in range(rows)],
            "annual_income": [70] * rows,
            "spending_score": [0] * rows,
        }
    )


def _body_of(layout: str, frame: pd.DataFrame) -> tuple[bytes, str]:
    if layout == "objects":
        return json.dumps({"customers": frame.to_dict("records")}).encode(), "application/json"
    if layout == "split":
        return json.dumps(split_body(frame)).encode(), "application/json"
    if layout == "csv":
        return frame.to_csv(index=False).encode(), "text/csv"
    return arrow_bytes(pa.Table.from_pandas(frame, preserve_index=False)), ARROW


@pytest.mark.parametrize("layout", ["objects", "split", "csv", "arrow"])
async def test_every_format_lists_the_first_100_problems_and_counts_them_all(
    client: httpx.AsyncClient, layout: str
) -> None:
    body, content_type = _body_of(layout, _bad_customers(150))
    response = await client.post("/segment", content=body, headers={"content-type": content_type})
    error = assert_error(response, 422, "invalid_request", "150 of 150 customers are invalid")
    assert (len(error["details"]), error["total"], error["truncated"]) == (100, 300, True)
    first, second = error["details"][:2]
    where = {"objects": "customers[0].", "split": "data[0].", "csv": "row 1.", "arrow": "row 1."}
    assert first["field"] == where[layout] + "age"
    assert second["field"] == where[layout] + "spending_score"
    # The same check words each problem the same way; JSON adds only that "x0" is a string.
    kind = "JSON number" if layout in ("objects", "split") else "number"
    # A CSV file's problems start with where they are in the file: its line and header.
    line = 'line 2, column "{}": ' if layout == "csv" else ""
    assert first["message"] == f"{line.format('age')}value 'x0' is not a {kind}"
    assert (
        second["message"]
        == f"{line.format('spending_score')}value 0 is outside the valid range 1 to 100"
    )


@pytest.mark.parametrize("layout", ["objects", "split", "csv", "arrow"])
async def test_a_full_batch_of_bad_customers_gets_a_bounded_answer(
    client: httpx.AsyncClient, layout: str
) -> None:
    """10,000 customers, each with two problems: 100 listed, 20,000 counted, a small body."""
    body, content_type = _body_of(layout, _bad_customers(10_000))
    response = await client.post("/segment", content=body, headers={"content-type": content_type})
    error = assert_error(response, 422, "invalid_request", "10000 of 10000 customers are invalid")
    assert (len(error["details"]), error["total"], error["truncated"]) == (100, 20_000, True)
    assert len(response.content) < 16_000
    last = {"objects": "customers[49].", "split": "data[49].", "csv": "row 50.", "arrow": "row 50."}
    assert error["details"][-1]["field"] == last[layout] + "spending_score"
