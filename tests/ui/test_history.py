"""Segment shares over time on the page, against GET /segments/history: one small chart per
segment and the same numbers as a table; customers tried on the page are not counted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser

from tests.ui.conftest import open_page, serve

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def history_url(trained_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("ui-history")
    yield from serve(trained_models, folder, SEGMENT_STATE_DIR=str(folder / "state"))


def history_with(url: str, total: int) -> dict[str, Any]:
    """GET /segments/history once the service has written ``total`` customers (it flushes its
    counts every few seconds)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history: dict[str, Any] = httpx.get(f"{url}/segments/history").json()
        if sum(day["total"] for day in history["days"]) == total:
            return history
        time.sleep(0.5)
    raise AssertionError(f"the history never reached {total} customers: {history}")


def test_the_shares_of_each_day_are_drawn_and_tabled_as_the_api_gives_them(
    browser: Browser, history_url: str
) -> None:
    page, watched = open_page(browser, history_url)
    page.locator("#history-summary", has_text="No customers were scored").wait_for()
    customers = [
        {
            "age": 20 + i % 50,
            "annual_income": 15 + (7 * i) % 120,
            "spending_score": 1 + (13 * i) % 99,
        }
        for i in range(60)
    ]
    httpx.post(f"{history_url}/segment", json={"customers": customers}).raise_for_status()
    history = history_with(history_url, 60)
    [day] = history["days"]
    page.reload()
    page.locator(
        "#history-summary", has_text="60 customers scored on 1 of the last 30 days"
    ).wait_for()
    charts = page.locator("#history-chart figure")
    assert charts.count() == len(day["segments"])
    shares = {s["id"]: s["share"] for s in day["segments"]}
    for figure in charts.all():
        segment = int(figure.get_attribute("data-segment") or "-1")
        assert f"{100 * shares[segment]:.1f}%" in figure.inner_text()
        assert figure.locator("svg path").count() >= 2
    page.click("#history-as-table")
    rows = page.locator("#history-table tbody tr")
    assert rows.count() == 1
    assert rows.first.inner_text().split("\t")[:2] == [day["date"], "60"]
    # A customer tried on the page is not counted: one more from another caller, scored after
    # it, makes 61 once written, never 62.
    page.fill("#try-age", "31")
    page.fill("#try-annual_income", "72")
    page.fill("#try-spending_score", "81")
    page.click("#try-form button")
    page.wait_for_selector("#try-segment")
    httpx.post(f"{history_url}/segment", json=customers[0]).raise_for_status()
    history_with(history_url, 61)
    assert watched.problems == []
    page.close()
