"""Drift on the page: the customers tried and scored on the page are never counted, and until the
minimum sample there is no verdict, only how many customers since when and how many more."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import CLASSIC_CSV
from tests.ui.conftest import LABELS, open_page, serve

pytestmark = pytest.mark.e2e

MINIMUM = 100


@pytest.fixture(scope="module")
def drift_url(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Drift judged from 100 customers, so one file of the study's 200 is enough for a verdict."""
    folder = tmp_path_factory.mktemp("ui-drift")
    yield from serve(trained_models, folder, SEGMENT_DRIFT_MIN_OBSERVATIONS=str(MINIMUM))


def mall_rows() -> list[dict[str, str]]:
    with CLASSIC_CSV.open() as handle:
        return list(csv.DictReader(handle))


def as_customers(rows: list[dict[str, str]]) -> list[dict[str, float]]:
    return [
        {
            "age": float(r["Age"]),
            "annual_income": float(r["Annual Income (k$)"]),
            "spending_score": float(r["Spending Score (1-100)"]),
        }
        for r in rows
    ]


def since_words(drift: dict[str, Any]) -> str:
    return datetime.fromisoformat(drift["since"]).strftime("since %Y-%m-%d %H:%M UTC")


def test_page_traffic_is_not_counted_and_no_verdict_is_shown_below_the_minimum(
    browser: Browser, drift_url: str, tmp_path: Path
) -> None:
    page, watched = open_page(browser, drift_url)
    status = page.locator("#drift-status")
    status.locator("text=more are needed").wait_for()
    drift = httpx.get(f"{drift_url}/drift").json()
    assert status.inner_text() == (
        f"0 customers {since_words(drift)}. Not enough customers yet to judge drift: "
        f"{MINIMUM} more are needed (the minimum is {MINIMUM})."
    )
    assert page.locator("#drift-tables").is_hidden()
    # A whole file and a customer scored on the page: drift does not move.
    upload = tmp_path / "mall.csv"
    upload.write_text(CLASSIC_CSV.read_text())
    page.set_input_files("#csv-file", str(upload))
    with page.expect_download():
        page.click("#file-form button")
    page.fill("#try-age", "31")
    page.fill("#try-annual_income", "72")
    page.fill("#try-spending_score", "81")
    page.click("#try-form button")
    page.wait_for_selector("#try-segment")
    assert httpx.get(f"{drift_url}/drift").json()["observations"] == 0
    # Customers scored elsewhere do count; below the minimum the page still judges nothing.
    customers = as_customers(mall_rows())
    httpx.post(f"{drift_url}/segment", json={"customers": customers[:40]}).raise_for_status()
    page.click("#drift-refresh")
    status.locator("text=40 customers").wait_for()
    assert f"{MINIMUM - 40} more are needed" in status.inner_text()
    assert page.locator("#drift-tables").is_hidden()
    assert "PSI" not in page.locator("#drift").inner_text().replace("PSI against", "")
    # At the minimum, the verdict and its numbers, agreeing with GET /drift.
    httpx.post(f"{drift_url}/segment", json={"customers": customers[40:]}).raise_for_status()
    page.click("#drift-refresh")
    status.locator("text=200 customers").wait_for()
    drift = httpx.get(f"{drift_url}/drift").json()
    assert drift["observations"] == 200
    text = status.inner_text()
    assert text.startswith({"ok": "No drift", "drift": "Drift:"}[drift["status"]])
    assert f"200 customers {since_words(drift)}" in text
    verdicts = page.locator("#drift-features tbody tr td:last-child").all_inner_texts()
    assert verdicts == ["⚠ yes" if f["drifted"] else "no" for f in drift["features"]]
    psi = page.locator("#drift-features tbody tr td:nth-child(2)").all_inner_texts()
    assert psi == [f"{f['psi']:.3f}" for f in drift["features"]]
    for feature in drift["features"]:
        if feature["drifted"]:
            assert LABELS[feature["feature"]] in text
    assert page.locator("#drift-segments tbody tr").count() == len(drift["segments"])
    assert all(r.headers.get("x-segment-source") == "ui" for r in watched.api_calls)
    assert watched.problems == []
    page.close()
