"""MLflow's and the Open Inference Protocol's calls go through the service's one path: the same
API keys, body and batch limits, version pinning, drift and metrics (labelled by protocol), each
refusal worded in the protocol's own error shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.service.conftest import API_KEY, AUTH, ClientFactory
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.anyio

ROWS = [[31, 72, 81], [22, 20, 85], [45, 90, 10]]
MLFLOW = json.dumps(
    {"dataframe_split": {"columns": ["age", "annual_income", "spending_score"], "data": ROWS}}
).encode()
V2: dict[str, Any] = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [3, 3], "data": ROWS}]}
INFER = "/v2/models/segments/infer"


async def test_api_keys_guard_both_protocols_and_their_probes_stay_open(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, api_keys=API_KEY) as client:
        refused = await client.post("/invocations", content=MLFLOW)
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "UNAUTHENTICATED"
        wrong = await client.post("/invocations", content=MLFLOW, headers={"X-API-Key": "x" * 20})
        assert wrong.status_code == 403
        assert wrong.json()["error_code"] == "PERMISSION_DENIED"
        v2 = await client.post(INFER, json=V2)
        assert v2.status_code == 401
        assert set(v2.json()) == {"error"}
        assert "API key" in v2.json()["error"]
        assert (await client.get("/v2/models/segments")).json() == v2.json()
        for probe in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
            assert (await client.get(probe)).status_code == 200, probe
        assert (await client.post("/invocations", content=MLFLOW, headers=AUTH)).status_code == 200
        assert (await client.post(INFER, json=V2, headers=AUTH)).status_code == 200


async def test_body_and_batch_limits_apply_in_each_protocols_shape(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, max_batch=2) as client:
        batch = await client.post("/invocations", content=MLFLOW)
        assert batch.status_code == 413
        assert batch.json()["error_code"] == "RESOURCE_EXHAUSTED"
        assert (
            "dataframe_split.data: a batch of 3 customers is over the limit of 2"
            in (batch.json()["message"])
        )
        v2 = await client.post(INFER, json=V2)
        assert v2.status_code == 413
        assert "x: a batch of 3 customers is over the limit of 2" in v2.json()["error"]
    async with make_client(models_dir=trained_models, max_body_bytes=1024) as client:
        big = MLFLOW.replace(b'"data": [', b'"data": [' + b"[31, 72, 81], " * 100)
        body = await client.post("/invocations", content=big)
        assert body.status_code == 413
        assert body.json()["error_code"] == "RESOURCE_EXHAUSTED"
        assert "over the limit of 1,024 bytes" in body.json()["message"]


async def test_a_version_is_pinned_in_each_protocols_own_way(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models) as client:
        version = (await client.get("/model")).json()["version"]
        pinned = await client.post(f"/invocations?version={version}&extras=true", content=MLFLOW)
        assert pinned.json()["model_version"] == version
        other = await client.post("/invocations?version=19990101T000000Z-00000000", content=MLFLOW)
        assert other.status_code == 404
        assert other.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert "is not served; available:" in other.json()["message"]
        v2 = await client.post(f"/v2/models/segments/versions/{version}/infer", json=V2)
        assert v2.json()["model_version"] == version


async def test_metrics_and_drift_count_every_protocol(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models) as client:
        version = (await client.get("/model")).json()["version"]
        await client.post("/invocations", content=MLFLOW)
        await client.post("/invocations", content=MLFLOW)
        await client.post(INFER, json=V2)
        await client.post(
            "/segment", json={"customers": [{"age": 31, "annual_income": 72, "spending_score": 81}]}
        )
        await client.post("/invocations", content=b"{}")
        metrics = parse_metrics((await client.get("/metrics")).text)
        drift = (await client.get("/drift")).json()
    scored = "segment_customers_scored_total"
    assert value(metrics, scored, model_version=version, protocol="mlflow") == 6
    assert value(metrics, scored, model_version=version, protocol="v2") == 3
    assert value(metrics, scored, model_version=version, protocol="segment") == 1
    requests = "segment_http_requests_total"
    assert value(metrics, requests, method="POST", route="/invocations", status="200") == 2
    assert value(metrics, requests, method="POST", route="/invocations", status="400") == 1
    route = "/v2/models/{model_name}/infer"
    assert value(metrics, requests, method="POST", route=route, status="200") == 1
    assert drift["observations"] == 10


async def test_routing_refusals_are_worded_in_each_paths_protocol(
    trained_models: Path, make_client: ClientFactory
) -> None:
    """A wrong method or an unknown path under a protocol's routes gets that protocol's error
    body, with ``Allow`` on a 405; every other path keeps this service's own."""
    async with make_client(models_dir=trained_models) as client:
        for method, path, status, body in [
            ("GET", "/invocations", 405, {"error_code": "BAD_REQUEST"}),
            ("POST", "/ping", 405, {"error_code": "BAD_REQUEST"}),
            ("GET", INFER, 405, {"error": "Method Not Allowed"}),
            ("GET", "/v2/no/such/route", 404, {"error": "Not Found"}),
        ]:
            response = await client.request(method, path)
            assert response.status_code == status, (method, path)
            answer = response.json()
            assert body.items() <= answer.items(), (method, path, answer)
            assert "message" in answer or "error" in answer
        assert (await client.get("/invocations")).headers["allow"] == "POST"
        assert (await client.post("/ping")).headers["allow"] == "GET"
        own = await client.get("/segment")
        assert own.status_code == 405
        assert own.headers["allow"] == "POST"
        assert own.json()["error"]["code"] == "method_not_allowed"
        unknown = await client.get("/no-such-route")
        assert unknown.json()["error"]["code"] == "not_found"
