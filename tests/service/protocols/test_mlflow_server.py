"""MLflow's scoring protocol on a real server: the bodies MLflow documents for
``mlflow models serve`` get the segments ``Pipeline.predict`` gives the same rows, in MLflow's
answer; bad bodies get MLflow's error shape, naming the field and the row.

MLFLOW_OBSERVED below is what MLflow 3 answered when it served this project's fitted pipeline
(``mlflow models serve --env-manager local``, the venv ``make bench-peers`` installs), tried by
hand once; the suite does not need MLflow installed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from importlib import metadata
from typing import Any

import httpx
import pandas as pd
import pytest

pytestmark = pytest.mark.e2e

# What MLflow 3.17.2 answered, serving the same fitted pipeline (k = 5 on the committed sample),
# to three customers, 2026-12-06:
# - dataframe_split (as pandas writes it, and without "columns"), dataframe_records, instances
#   and inputs as rows, CSV and Parquet, with "params" or an unknown key beside the data: 200,
#   {"predictions": [1, 0, 3]} (json.dumps' spacing; ours is compact, the same JSON);
# - instances as records, inputs as columns, a customer_id column, columns in another order,
#   a missing column, a null or a word for a number: 400 {"error_code": "BAD_REQUEST",
#   "message": "Encountered an unexpected error while evaluating the model. ...", "sqlstate",
#   "error_class": "INVALID_PARAMETER_VALUE", "stack_trace"}: the pipeline refused them. Here the
#   first four are scored (names are matched, not positions) and the rest refused naming the
#   field and row;
# - an age of 150: 200, scored (MLflow checks nothing); here a 400 naming the field and row;
# - "39" for a number: scored as 39; here too;
# - a short row, two input formats, none, a list body, malformed JSON: 400 BAD_REQUEST;
# - text/plain: 415 in text/plain (here 415 in MLflow's JSON error shape); no content type: 500
#   (here read as JSON); a charset other than UTF-8: 415 (here JSON is read as UTF-8 anyway);
# - GET /ping and /health: 200, "\n" as application/json; GET /version: "3.17.2".

Body = Callable[[pd.DataFrame], tuple[str, bytes]]


def as_json(document: Any) -> tuple[str, bytes]:
    return "application/json", json.dumps(document).encode()


def parquet(frame: pd.DataFrame) -> tuple[str, bytes]:
    sink = io.BytesIO()
    frame.to_parquet(sink)
    return "application/vnd.apache.parquet", sink.getvalue()


# The bodies of MLflow's "Deploy MLflow Model as a Local Inference Server" page, and what its
# own client (mlflow.deployments, pandas' to_dict(orient="split")) sends.
BODIES: dict[str, Body] = {
    "dataframe_split as pandas writes it": lambda f: as_json(
        {"dataframe_split": f.to_dict(orient="split")}
    ),
    "dataframe_split, columns and data": lambda f: as_json(
        {"dataframe_split": {"columns": list(f.columns), "data": f.to_numpy().tolist()}}
    ),
    "dataframe_split without columns": lambda f: as_json(
        {"dataframe_split": {"data": f.to_numpy().tolist()}}
    ),
    "dataframe_records": lambda f: as_json({"dataframe_records": f.to_dict(orient="records")}),
    "instances as records": lambda f: as_json({"instances": f.to_dict(orient="records")}),
    "instances as rows": lambda f: as_json({"instances": f.to_numpy().tolist()}),
    "inputs as columns": lambda f: as_json({"inputs": f.to_dict(orient="list")}),
    "inputs as rows": lambda f: as_json({"inputs": f.to_numpy().tolist()}),
    "params beside the data": lambda f: as_json(
        {"dataframe_split": f.to_dict(orient="split"), "params": {"ignored": True}}
    ),
    "numbers as text, as MLflow reads them": lambda f: as_json(
        {"dataframe_records": f.astype(str).to_dict(orient="records")}
    ),
    "ids and columns in another order (MLflow refuses them)": lambda f: as_json(
        {"dataframe_split": f.iloc[:, ::-1].assign(customer_id=range(len(f))).to_dict("split")}
    ),
    "CSV": lambda f: ("text/csv", f.to_csv(index=False).encode()),
    "Parquet": parquet,
}


@pytest.mark.parametrize("make_body", BODIES.values(), ids=BODIES.keys())
def test_mlflow_bodies_get_the_pipelines_segments(
    server: str, customers: pd.DataFrame, expected: list[int], make_body: Body
) -> None:
    content_type, body = make_body(customers)
    response = httpx.post(
        f"{server}/invocations", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"predictions": expected}


def test_one_row_is_a_list_of_one(
    server: str, customers: pd.DataFrame, expected: list[int]
) -> None:
    _, body = BODIES["dataframe_split as pandas writes it"](customers.head(1))
    response = httpx.post(f"{server}/invocations", content=body)
    assert response.json() == {"predictions": expected[:1]}


def test_our_extras_come_only_when_asked_for_beside_the_predictions(
    server: str, customers: pd.DataFrame, expected: list[int]
) -> None:
    _, body = BODIES["dataframe_split as pandas writes it"](customers)
    headers = {"Content-Type": "application/json"}
    plain = httpx.post(f"{server}/invocations", content=body, headers=headers).json()
    assert set(plain) == {"predictions"}
    extras = httpx.post(
        f"{server}/invocations?extras=true&explain=true", content=body, headers=headers
    ).json()
    segments = {s["id"]: s["name"] for s in httpx.get(f"{server}/segments").json()["segments"]}
    assert extras["predictions"] == expected
    assert extras["segment_names"] == [segments[s] for s in expected]
    assert len(extras["distances"]) == len(expected)
    assert all(d >= 0 for d in extras["distances"])
    assert {type(flag) for flag in extras["atypical"]} == {bool}
    assert extras["model_version"] == httpx.get(f"{server}/model").json()["version"]
    explanations = extras["explanations"]
    assert all(e["runner_up_segment_id"] != s for e, s in zip(explanations, expected, strict=True))
    assert all(0 <= e["confidence"] <= 1 for e in extras["explanations"])


def test_ping_health_and_version_as_mlflow_has_them(server: str) -> None:
    for path in ("/ping", "/health"):
        response = httpx.get(f"{server}{path}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.text == "\n"
    version = httpx.get(f"{server}/version")
    assert version.status_code == 200
    assert version.text == metadata.version("customer-segmentation")


def split(
    rows: list[list[Any]], columns: tuple[str, ...] = ("age", "annual_income", "spending_score")
) -> bytes:
    return json.dumps({"dataframe_split": {"columns": list(columns), "data": rows}}).encode()


GOOD = [31, 72, 81]
BAD_BODIES = [
    pytest.param(
        split([GOOD, GOOD, GOOD, [150, 72, 81]]),
        "application/json",
        400,
        "BAD_REQUEST",
        "dataframe_split.data[3].age: value 150 is outside the valid range 0 to 120",
        id="out of range",
    ),
    pytest.param(
        split([GOOD, [31, 72]]),
        "application/json",
        400,
        "BAD_REQUEST",
        "dataframe_split.data[1]: has 2 values, but there are 3 columns",
        id="short row",
    ),
    pytest.param(
        split([GOOD], ("age", "annual_income", "score")),
        "application/json",
        400,
        "BAD_REQUEST",
        "dataframe_split.columns: missing column 'spending_score'",
        id="missing column",
    ),
    pytest.param(
        json.dumps(
            {"dataframe_records": [{"age": 31, "annual_income": 72, "spending_score": "a lot"}]}
        ).encode(),
        "application/json",
        400,
        "BAD_REQUEST",
        "dataframe_records[0].spending_score: value 'a lot' is not a number",
        id="a word for a number",
    ),
    pytest.param(
        json.dumps({"instances": [GOOD, [31, 72, 81, 5]]}).encode(),
        "application/json",
        400,
        "BAD_REQUEST",
        "instances[1]: has 4 values, but there are 3 columns; without names, each row holds "
        "the model's 3 features in order: age, annual_income, spending_score",
        id="instance too wide",
    ),
    pytest.param(
        json.dumps(
            {"inputs": {"age": [31, 40], "annual_income": [72, None], "spending_score": [81, 9]}}
        ).encode(),
        "application/json",
        400,
        "BAD_REQUEST",
        "inputs.annual_income[1]: missing value",
        id="null in a column",
    ),
    pytest.param(
        json.dumps(
            {"dataframe_split": {"columns": ["age"], "data": [[1]]}, "instances": [GOOD]}
        ).encode(),
        "application/json",
        400,
        "BAD_REQUEST",
        'body: must hold exactly one of "dataframe_split", "dataframe_records", "instances", '
        '"inputs"; it holds "dataframe_split", "instances"',
        id="two formats",
    ),
    pytest.param(
        json.dumps({"data": [GOOD]}).encode(),
        "application/json",
        400,
        "BAD_REQUEST",
        "it holds none of them",
        id="no format",
    ),
    pytest.param(
        b'{"dataframe_split": ',
        "application/json",
        400,
        "BAD_REQUEST",
        "malformed JSON",
        id="malformed",
    ),
    pytest.param(
        b"age,annual_income,spending_score\n31,72,81\n31,abc,81\n",
        "text/csv",
        400,
        "BAD_REQUEST",
        "row 2.annual_income: value 'abc' is not a number",
        id="CSV",
    ),
    pytest.param(
        b"31,72,81",
        "text/plain",
        415,
        "BAD_REQUEST",
        "'text/plain' is not supported",
        id="media type",
    ),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code", "text"), BAD_BODIES)
def test_bad_bodies_get_mlflows_error_naming_the_field_and_row(
    server: str, body: bytes, content_type: str, status: int, code: str, text: str
) -> None:
    response = httpx.post(
        f"{server}/invocations", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert {"error_code", "message"} <= set(error)
    assert error["error_code"] == code
    assert text in error["message"], error["message"]
