"""A fault in the service's own code: a 500 in the caller's protocol, with the request id, and
the traceback in the log; and the gateway's place when FastAPI's OpenTelemetry is on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from segmentation.assigner import Assigner
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio


def _broken_score(self: Assigner, rows: object) -> None:
    raise RuntimeError("a fault in the scorer")


async def test_a_fault_while_scoring_is_a_500_in_each_protocols_words_and_logged(
    trained_models: Path,
    make_client: ClientFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(Assigner, "score", _broken_score)
    caplog.set_level(logging.ERROR, logger="service.http.gateway")
    async with make_client(models_dir=trained_models) as client:
        ours = await client.post("/segment", json=CUSTOMER, headers={"X-Request-ID": "fault-1"})
        mlflow = await client.post("/invocations", json={"dataframe_records": [CUSTOMER]})
        v2 = await client.post(
            "/v2/models/segments/infer",
            json={
                "inputs": [
                    {"name": name, "shape": [1], "datatype": "FP64", "data": [value]}
                    for name, value in CUSTOMER.items()
                ]
            },
        )
        monkeypatch.undo()
        after = await client.post("/segment", json=CUSTOMER)
    assert_error(ours, 500, "internal_error", "internal server error")
    assert ours.headers["x-request-id"] == "fault-1"
    assert mlflow.status_code == 500
    assert mlflow.json()["error_code"] == "INTERNAL_ERROR"
    assert v2.status_code == 500
    assert v2.json() == {"error": "internal server error"}
    assert "a fault in the scorer" not in ours.text + mlflow.text + v2.text
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error on POST /segment"]
    assert logged
    assert logged[0].exc_info is not None
    assert "a fault in the scorer" in str(logged[0].exc_info[1])
    assert after.status_code == 200  # the service goes on


async def test_with_opentelemetry_on_the_gateway_still_answers_every_request(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(
        models_dir=trained_models, opentelemetry=True, api_keys="key-for-otel-test-0123"
    ) as client:
        refused = await client.post("/segment", json=CUSTOMER)
        scored = await client.post(
            "/segment", json=CUSTOMER, headers={"X-API-Key": "key-for-otel-test-0123"}
        )
        ready = await client.get("/health/ready")
    assert_error(refused, 401, "unauthorized", "API key")
    assert scored.status_code == 200
    assert {"x-request-id", "x-model-version"} <= set(scored.headers)
    assert ready.status_code == 200
    assert "x-request-id" in ready.headers
