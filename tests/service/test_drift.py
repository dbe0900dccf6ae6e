"""GET /drift and its reset: PSI per feature and share shift per segment against the bundle."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from segmentation.bundle import load_bundle
from service.operations.drift import bin_counts, psi
from tests.conftest import TrainFn, write_sample_csv
from tests.real_server import start_server
from tests.schemas import CLASSIC_TO_SNAKE
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error
from tests.service.metrics_text import parse_metrics, value

pytestmark = pytest.mark.anyio

FEATURES = ("age", "annual_income", "spending_score")


def test_psi_matches_its_definition() -> None:
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0
    expected = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert psi([0.5, 0.5], [0.9, 0.1]) == pytest.approx(expected)
    # An empty bin gives a large but finite term instead of infinity.
    assert 0.25 < psi([0.5, 0.5], [1.0, 0.0]) < 10


async def post_rows(client: httpx.AsyncClient, frame: pd.DataFrame) -> None:
    customers = frame.rename(columns=CLASSIC_TO_SNAKE)[list(FEATURES)].to_dict("records")
    for start in range(0, len(customers), 100):
        response = await client.post("/segment", json={"customers": customers[start : start + 100]})
        assert response.status_code == 200


async def test_traffic_like_the_training_data_shows_no_drift(
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    data = write_sample_csv(tmp_path / "customers.csv", rows=300)
    bundle = trained_copy(tmp_path / "models")  # trained on these same 300 rows
    frame = pd.read_csv(data)
    async with make_client(models_dir=tmp_path / "models", drift_min_observations=300) as client:
        await post_rows(client, frame)
        report = (await client.get("/drift")).json()
    assert report["model_version"] == bundle.metadata.version
    assert report["observations"] == 300
    assert (report["status"], report["drift_detected"]) == ("ok", False)
    assert report["thresholds"] == {"psi": 0.2, "share_shift": 0.1, "min_observations": 300}
    for feature in report["features"]:
        # The very rows the histograms were made from: the shares match exactly.
        assert feature["psi"] == pytest.approx(0, abs=1e-9)
        assert sum(b["count"] for b in feature["bins"]) == 300
        histogram = bundle.metadata.feature_histograms[feature["feature"]]
        assert [b["expected_share"] for b in feature["bins"]] == histogram.shares
        assert [b["upper"] for b in feature["bins"]] == [*histogram.edges, None]
    for segment, profile in zip(report["segments"], bundle.metadata.segments, strict=True):
        assert segment["observed_share"] == pytest.approx(profile.share)
        assert segment["drifted"] is False
    assert report["segment_psi"] == pytest.approx(0, abs=1e-9)


async def test_shifted_traffic_is_flagged_and_exposed_as_metrics(
    trained_models: Path, make_client: ClientFactory
) -> None:
    old_customers = [
        {"age": 70, "annual_income": 20 + i % 50, "spending_score": 50} for i in range(50)
    ]
    async with make_client(models_dir=trained_models, drift_min_observations=50) as client:
        await client.post("/segment", json={"customers": old_customers})
        report = (await client.get("/drift")).json()
        metrics = parse_metrics((await client.get("/metrics")).text)
    assert (report["status"], report["drift_detected"]) == ("drift", True)
    by_name = {f["feature"]: f for f in report["features"]}
    assert by_name["age"]["drifted"] is True
    assert by_name["age"]["psi"] > 1
    assert by_name["age"]["bins"][-1]["count"] == 50
    assert any(s["drifted"] for s in report["segments"])
    version = report["model_version"]
    assert value(metrics, "segment_drift_detected", model_version=version) == 1
    assert value(metrics, "segment_drift_observations", model_version=version) == 50
    assert value(
        metrics, "segment_drift_feature_psi", model_version=version, feature="age"
    ) == pytest.approx(by_name["age"]["psi"])
    for segment in report["segments"]:
        labels = {"model_version": version, "segment_id": str(segment["segment_id"])}
        assert value(metrics, "segment_drift_segment_share_shift", **labels) == pytest.approx(
            segment["shift"]
        )


async def test_drift_is_not_judged_before_enough_customers_were_seen(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, drift_min_observations=500) as client:
        await client.post("/segment", json={"customers": [{**CUSTOMER, "age": 90}] * 499})
        early = (await client.get("/drift")).json()
        await client.post("/segment", json={**CUSTOMER, "age": 90})
        enough = (await client.get("/drift")).json()
    assert (early["status"], early["drift_detected"], early["observations"]) == (
        "insufficient_data",
        False,
        499,
    )
    # Below the minimum: no verdict number at all, only the counts and the sample size.
    assert all(f["psi"] is None and not f["drifted"] for f in early["features"])
    assert all(s["shift"] is None and not s["drifted"] for s in early["segments"])
    assert early["segment_psi"] is None
    assert sum(b["count"] for b in early["features"][0]["bins"]) == 499
    assert sum(s["count"] for s in early["segments"]) == 499
    # At the minimum: the numbers, and the verdict they give.
    assert (enough["status"], enough["drift_detected"]) == ("drift", True)
    assert enough["features"][0]["psi"] > 0.2
    assert all(s["shift"] is not None for s in enough["segments"])
    assert enough["segment_psi"] is not None


async def test_below_the_minimum_metrics_carry_no_verdict_numbers(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, drift_min_observations=3) as client:
        await client.post("/segment", json={"customers": [{**CUSTOMER, "age": 90}] * 2})
        early = parse_metrics((await client.get("/metrics")).text)
        await client.post("/segment", json={**CUSTOMER, "age": 90})
        enough = parse_metrics((await client.get("/metrics")).text)
    assert not any(name.startswith("segment_drift_feature_psi") for name, _ in early)
    assert not any(name.startswith("segment_drift_segment_share_shift") for name, _ in early)
    assert any(name.startswith("segment_drift_feature_psi") for name, _ in enough)


async def test_since_says_when_counting_began_even_before_any_reset(
    trained_models: Path, make_client: ClientFactory
) -> None:
    before = datetime.now(UTC)
    async with make_client(models_dir=trained_models) as client:
        first = (await client.get("/drift")).json()
        await client.post("/segment", json=CUSTOMER)
        second = (await client.get("/drift")).json()
    since = datetime.fromisoformat(first["since"])
    assert before - timedelta(seconds=1) <= since <= datetime.now(UTC)
    assert second["since"] == first["since"]


async def test_a_value_on_a_bin_edge_counts_in_the_bin_it_closes(
    trained_models: Path, make_client: ClientFactory
) -> None:
    edges = load_bundle(trained_models).metadata.feature_histograms["age"].edges
    async with make_client(models_dir=trained_models) as client:
        await client.post("/segment", json={**CUSTOMER, "age": edges[2]})
        await client.post("/segment", json={**CUSTOMER, "age": edges[2] + 1e-9})
        bins = (await client.get("/drift")).json()["features"][0]["bins"]
    assert (bins[2]["count"], bins[3]["count"]) == (1, 1)
    assert bins[2]["upper"] == edges[2] == bins[3]["lower"]


async def test_reset_starts_the_statistics_again(
    trained_models: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models) as client:
        await client.post("/segment", json={"customers": [CUSTOMER] * 7})
        assert (await client.get("/drift")).json()["observations"] == 7
        reset = (await client.post("/drift/reset")).json()
        assert (reset["observations"], reset["status"]) == (0, "insufficient_data")
        assert reset["since"] is not None
        assert all(f["psi"] is None for f in reset["features"])
        await client.post("/segment", json={"customers": [CUSTOMER] * 3})
        report = (await client.get("/drift")).json()
        metrics = parse_metrics((await client.get("/metrics")).text)
    assert report["observations"] == 3
    assert report["since"] == reset["since"]
    version = report["model_version"]
    # The Prometheus counters themselves stay monotonic; only the drift view was reset.
    assert (
        value(metrics, "segment_customers_scored_total", model_version=version, protocol="segment")
        == 10
    )
    assert value(metrics, "segment_drift_observations", model_version=version) == 3


async def test_memory_stays_bounded_however_many_customers_arrive(
    trained_models: Path, make_client: ClientFactory
) -> None:
    customers = [
        {"age": 18 + i % 60, "annual_income": (i * 7) % 140, "spending_score": 1 + i % 100}
        for i in range(1000)
    ]
    async with make_client(models_dir=trained_models) as client:
        await client.post("/segment", json={"customers": customers})
        await client.get("/metrics")  # so the scrape itself is already counted
        series_before = len(parse_metrics((await client.get("/metrics")).text))
        for _ in range(20):
            await client.post("/segment", json={"customers": customers})
        for customer in customers[:200]:
            await client.post("/segment", json=customer)
        series_after = len(parse_metrics((await client.get("/metrics")).text))
        report = (await client.get("/drift")).json()
    assert report["observations"] == 21 * 1000 + 200
    # Every distinct bin and segment was already seen: more traffic adds counts, not series
    # (the request counters above account for the single-customer route being used).
    assert series_after == series_before


async def test_after_a_reload_drift_is_measured_for_the_new_model(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    trained_copy(models, k=3)
    async with make_client(models_dir=models) as client:
        await client.post("/segment", json={"customers": [CUSTOMER] * 5})
        new = train_into(models, k=4)
        await client.post("/admin/reload")
        report = (await client.get("/drift")).json()
        await client.post("/segment", json=CUSTOMER)
        after = (await client.get("/drift")).json()
    assert (report["model_version"], report["observations"]) == (new.metadata.version, 0)
    assert len(report["segments"]) == 4
    assert after["observations"] == 1


async def test_drift_needs_a_model(tmp_path: Path, make_client: ClientFactory) -> None:
    (tmp_path / "models").mkdir()
    async with make_client(models_dir=tmp_path / "models") as client:
        assert_error(await client.get("/drift"), 503, "model_unavailable", "no model is loaded")
        assert_error(
            await client.post("/drift/reset"), 503, "model_unavailable", "no model is loaded"
        )
        assert (await client.get("/metrics")).status_code == 200


# Whole and half numbers around a few edges, so that values equal to an edge, repeated edges and
# NaN all occur: the counts must be exactly the binary search's.
_VALUES = st.lists(
    st.one_of(st.integers(-3, 12).map(lambda n: n / 2), st.just(math.nan)), max_size=200
)
_EDGES = st.lists(st.integers(-2, 10).map(lambda n: n / 2), max_size=12).map(sorted)


@given(values=_VALUES, edges=_EDGES)
def test_bin_counts_are_the_counts_of_a_binary_search_into_the_edges(
    values: list[float], edges: list[float]
) -> None:
    column = np.array(values, dtype=np.float64)
    expected = np.bincount(
        np.searchsorted(np.array(edges, dtype=np.float64), column, side="left"),
        minlength=len(edges) + 1,
    )
    counts = bin_counts(column, edges)
    assert counts.tolist() == expected.tolist()
    assert counts.sum() == len(values)


def test_bin_counts_read_one_column_of_a_batch_in_place() -> None:
    rows = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    assert bin_counts(rows[:, 1], [15.0, 30.0]).tolist() == [1, 2, 1]


@pytest.mark.e2e
def test_with_several_workers_since_is_the_start_of_their_shared_counting(
    trained_models: Path, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    running = start_server(trained_models, tmp_path / "server.log", SEGMENT_WORKERS="2")
    try:
        running.wait_for()
        with httpx.Client(base_url=running.url, timeout=10) as client:
            answers = {client.get("/drift").json()["since"] for _ in range(8)}
    finally:
        running.stop()
    assert len(answers) == 1  # whichever worker answers
    since = datetime.fromisoformat(answers.pop())
    assert before - timedelta(seconds=1) <= since <= datetime.now(UTC)
