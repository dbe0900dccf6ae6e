"""GET /metrics: requests, latency, scoring, the model version and reloads, in Prometheus format."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from segmentation.bundle import promote_version
from segmentation.metadata import MODEL_FILE
from tests.conftest import TrainFn
from tests.service.conftest import API_KEY, AUTH, ClientFactory
from tests.service.helpers import CUSTOMER
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.anyio


async def test_requests_are_counted_and_timed_by_route_and_status(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, api_keys=(API_KEY,)) as client:
        for _ in range(2):
            await client.post("/segment", json=CUSTOMER, headers=AUTH)
        await client.post("/segment", json={"age": -1}, headers=AUTH)
        await client.get("/segments/1", headers=AUTH)
        await client.get("/segments/2", headers=AUTH)
        await client.get("/model")
        await client.get("/no/such/path", headers=AUTH)
        response = await client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    metrics = parse_metrics(response.text)
    requests = "segment_http_requests_total"
    assert value(metrics, requests, method="POST", route="/segment", status="200") == 2
    assert value(metrics, requests, method="POST", route="/segment", status="422") == 1
    route = "/segments/{segment_id}"
    assert value(metrics, requests, method="GET", route=route, status="200") == 2
    assert value(metrics, requests, method="GET", route="/model", status="401") == 1
    assert value(metrics, requests, method="GET", route="unmatched", status="404") == 1
    latency = "segment_http_request_duration_seconds"
    assert value(metrics, f"{latency}_count", method="POST", route="/segment", status="200") == 2
    assert (
        value(
            metrics, f"{latency}_bucket", method="POST", route="/segment", status="200", le="+Inf"
        )
        == 2
    )
    assert value(metrics, f"{latency}_sum", method="POST", route="/segment", status="200") > 0


async def test_scoring_is_counted_per_segment_with_the_model_version(
    trained_models: Path, make_client: ClientFactory
) -> None:
    customers = [
        {"age": 20 + i, "annual_income": 10 + 9 * i, "spending_score": 1 + (37 * i) % 100}
        for i in range(12)
    ]
    async with make_client(models_dir=trained_models) as client:
        batch = (await client.post("/segment", json={"customers": customers})).json()
        single = (await client.post("/segment", json=CUSTOMER)).json()
        metrics = parse_metrics((await client.get("/metrics")).text)
    version = batch["model_version"]
    assigned = Counter(r["segment_id"] for r in batch["results"] + single["results"])
    assert (
        value(metrics, "segment_customers_scored_total", model_version=version, protocol="segment")
        == 13
    )
    for segment_id, count in assigned.items():
        assert (
            value(
                metrics,
                "segment_assignments_total",
                model_version=version,
                segment_id=str(segment_id),
            )
            == count
        )
    flagged = sum(r["atypical"] for r in batch["results"] + single["results"])
    assert value(metrics, "segment_atypical_customers_total", model_version=version) == flagged
    assert value(metrics, "segment_model_info", model_version=version) == 1


async def test_reloads_and_the_served_version_are_visible(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    old = trained_copy(models, k=3)
    async with make_client(models_dir=models) as client:
        new = train_into(models, k=4)
        assert (await client.post("/admin/reload")).status_code == 200
        # A third bundle whose model file was tampered with is refused.
        broken = models / "broken-1"
        shutil.copytree(new.path, broken)
        (broken / MODEL_FILE).write_bytes(b"not the model")
        (broken / "metadata.json").write_text(
            (broken / "metadata.json").read_text().replace(new.metadata.version, "broken-1")
        )
        promote_version(models, "broken-1")
        assert (await client.post("/admin/reload")).status_code == 409
        metrics = parse_metrics((await client.get("/metrics")).text)
    reloads = "segment_model_reloads_total"
    assert value(metrics, reloads, trigger="api", outcome="success") == 1
    assert value(metrics, reloads, trigger="api", outcome="failure") == 1
    assert value(metrics, reloads, trigger="signal", outcome="success") == 0
    assert value(metrics, "segment_model_info", model_version=old.metadata.version) == 0
    assert value(metrics, "segment_model_info", model_version=new.metadata.version) == 1
    assert value(metrics, "segment_model_info", model_version="broken-1") is None
