"""The Open Inference Protocol (v2) on a real server, spoken by hand: per-feature inputs and one
``[n, features]`` tensor, JSON and binary tensor data, the metadata and health routes, and its
errors, each answer checked against ``Pipeline.predict`` on the same rows."""

from __future__ import annotations

import json
import struct
from importlib import metadata
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from segmentation.bundle import Bundle

pytestmark = pytest.mark.e2e

INFER = "/v2/models/segments/infer"


def feature_inputs(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {"name": name, "datatype": "FP64", "shape": [len(frame)], "data": frame[name].tolist()}
        for name in frame.columns
    ]


def outputs_of(answer: dict[str, Any]) -> dict[str, Any]:
    return {output["name"]: output for output in answer["outputs"]}


def test_one_input_per_feature(
    server: str, bundle: Bundle, customers: pd.DataFrame, expected: list[int]
) -> None:
    body = {"id": "call-7", "inputs": feature_inputs(customers)}
    response = httpx.post(f"{server}{INFER}", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["model_name"] == "segments"
    assert answer["model_version"] == bundle.metadata.version
    assert answer["id"] == "call-7"
    outputs = outputs_of(answer)
    assert list(outputs) == ["segment_id", "distance", "segment_name", "atypical"]
    count = len(expected)
    assert outputs["segment_id"] == {
        "name": "segment_id",
        "datatype": "INT64",
        "shape": [count],
        "data": expected,
    }
    assert outputs["distance"]["datatype"] == "FP64"
    names = {p.id: p.name for p in bundle.metadata.segments}
    assert outputs["segment_name"]["datatype"] == "BYTES"
    assert outputs["segment_name"]["data"] == [names[s] for s in expected]
    assert outputs["atypical"]["datatype"] == "BOOL"
    assert {type(v) for v in outputs["atypical"]["data"]} == {bool}
    assert all(o["shape"] == [count] for o in outputs.values())


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
def test_one_tensor_of_n_rows_by_features(
    server: str, customers: pd.DataFrame, expected: list[int], datatype: str
) -> None:
    tensor = {
        "name": "input-0",
        "datatype": datatype,
        "shape": list(customers.shape),
        "data": customers.to_numpy().tolist(),  # nested rows, as the protocol allows
    }
    body = {"inputs": [tensor], "outputs": [{"name": "segment_id"}]}
    answer = httpx.post(f"{server}{INFER}", json=body).json()
    assert [o["name"] for o in answer["outputs"]] == ["segment_id"]
    assert answer["outputs"][0]["data"] == expected
    assert "id" not in answer


def test_binary_tensor_data_in_and_out(
    server: str, bundle: Bundle, customers: pd.DataFrame, expected: list[int]
) -> None:
    matrix = customers.to_numpy(dtype="<f8")
    header = {
        "inputs": [
            {
                "name": "input-0",
                "datatype": "FP64",
                "shape": list(matrix.shape),
                "parameters": {"binary_data_size": matrix.nbytes},
            }
        ],
        "outputs": [
            {"name": "segment_id", "parameters": {"binary_data": True}},
            {"name": "segment_name", "parameters": {"binary_data": True}},
            {"name": "atypical"},
        ],
    }
    document = json.dumps(header).encode()
    response = httpx.post(
        f"{server}/v2/models/segments/versions/{bundle.metadata.version}/infer",
        content=document + matrix.tobytes(),
        headers={
            "Inference-Header-Content-Length": str(len(document)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    answer = json.loads(response.content[:length])
    blobs = response.content[length:]
    ids, names, atypical = answer["outputs"]
    assert "data" not in ids
    assert "data" not in names
    id_size = ids["parameters"]["binary_data_size"]
    assert np.frombuffer(blobs[:id_size], dtype="<i8").tolist() == expected
    texts, at = [], id_size
    while at < len(blobs):
        (size,) = struct.unpack_from("<I", blobs, at)
        texts.append(blobs[at + 4 : at + 4 + size].decode())
        at += 4 + size
    assert at - id_size == names["parameters"]["binary_data_size"]
    by_id = {p.id: p.name for p in bundle.metadata.segments}
    assert texts == [by_id[s] for s in expected]
    assert len(atypical["data"]) == len(expected)


def test_server_and_model_metadata_and_health(server: str, bundle: Bundle) -> None:
    version = bundle.metadata.version
    assert httpx.get(f"{server}/v2").json() == {
        "name": "customer-segmentation",
        "version": metadata.version("customer-segmentation"),
        "extensions": ["binary_tensor_data"],
    }
    assert httpx.get(f"{server}/v2/health/live").json() == {"live": True}
    assert httpx.get(f"{server}/v2/health/ready").json() == {"ready": True}
    model = httpx.get(f"{server}/v2/models/segments").json()
    assert model["name"] == "segments"
    assert model["versions"] == [version]
    assert model["inputs"] == [
        {"name": name, "datatype": "FP64", "shape": [-1]} for name in bundle.metadata.features
    ]
    assert [o["name"] for o in model["outputs"]][:4] == [
        "segment_id",
        "distance",
        "segment_name",
        "atypical",
    ]
    assert httpx.get(f"{server}/v2/models/segments/versions/{version}").json() == model
    assert httpx.get(f"{server}/v2/models/segments/ready").json() == {
        "name": "segments",
        "ready": True,
    }
    ready = httpx.get(f"{server}/v2/models/segments/versions/{version}/ready")
    assert ready.status_code == 200


def tensor(
    data: list[list[float]], name: str = "input-0", datatype: str = "FP64"
) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": [len(data), len(data[0])], "data": data}


GOOD = [31.0, 72.0, 81.0]
BAD_REQUESTS = [
    pytest.param(
        INFER,
        {"inputs": [tensor([GOOD, GOOD, [150.0, 72.0, 81.0]])]},
        400,
        "input 'input-0' row 2 (age): value 150.0 is outside the valid range 0 to 120",
        id="out of range",
    ),
    pytest.param(
        INFER,
        {"inputs": [tensor([[31.0, 72.0]])]},
        400,
        "input 'input-0': shape [1, 2] is not [n, 3]",
        id="too narrow",
    ),
    pytest.param(
        INFER,
        {
            "inputs": [
                {"name": "age", "datatype": "FP64", "shape": [2], "data": [31, 40]},
                {"name": "annual_income", "datatype": "FP64", "shape": [2], "data": [72, 9]},
            ]
        },
        400,
        "missing input 'spending_score'",
        id="missing feature",
    ),
    pytest.param(
        INFER,
        {
            "inputs": [
                {"name": "age", "datatype": "BYTES", "shape": [1], "data": ["31"]},
                {"name": "annual_income", "datatype": "FP64", "shape": [1], "data": [72]},
                {"name": "spending_score", "datatype": "FP64", "shape": [1], "data": [81]},
            ]
        },
        400,
        "input 'age': datatype BYTES, but 'age' is a number",
        id="wrong datatype",
    ),
    pytest.param(
        INFER,
        {"inputs": [tensor([GOOD])], "outputs": [{"name": "cluster"}]},
        400,
        "outputs: unknown output 'cluster'",
        id="unknown output",
    ),
    pytest.param(
        INFER, {"inputs": "x"}, 400, "Expected `array`, got `str` - at `$.inputs`", id="shape"
    ),
    pytest.param(
        "/v2/models/churn/infer",
        {"inputs": [tensor([GOOD])]},
        404,
        "model 'churn' is not served here; the model is 'segments'",
        id="other model",
    ),
    pytest.param(
        "/v2/models/segments/versions/20200101T000000Z-00000000/infer",
        {"inputs": [tensor([GOOD])]},
        404,
        "model version '20200101T000000Z-00000000' is not served",
        id="other version",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "text"), BAD_REQUESTS)
def test_bad_requests_get_the_protocols_error_naming_the_input_and_row(
    server: str, path: str, body: dict[str, Any], status: int, text: str
) -> None:
    response = httpx.post(f"{server}{path}", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert set(error) == {"error"}
    assert text in error["error"], error["error"]


def test_binary_data_that_does_not_fit_is_refused(server: str) -> None:
    document = json.dumps(
        {
            "inputs": [
                {
                    "name": "input-0",
                    "datatype": "FP64",
                    "shape": [2, 3],
                    "parameters": {"binary_data_size": 40},
                }
            ]
        }
    ).encode()
    response = httpx.post(
        f"{server}{INFER}",
        content=document + bytes(40),
        headers={"Inference-Header-Content-Length": str(len(document))},
    )
    assert response.status_code == 400
    assert "40 binary bytes, but shape [2, 3] of FP64 needs 48" in response.json()["error"]
