"""The page's layout as a marketer meets it: the segments first, in words, on a phone too; the
statistics below, each explained; and a printed report without the forms."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import REPO_ROOT
from tests.ui.conftest import Watched, open_page, train_and_serve

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
ORDERS_CSV = REPO_ROOT / "data" / "sample_orders.csv"


def test_on_a_phone_the_first_card_is_on_the_first_screen_and_nothing_scrolls_sideways(
    browser: Browser, url: str
) -> None:
    page = browser.new_page(viewport=PHONE)
    watched = Watched(page)
    page.goto(f"{url}/ui")
    page.wait_for_selector("g.point")
    first = page.locator(".card").first.bounding_box()
    assert first is not None
    assert first["y"] + 60 < PHONE["height"]
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert watched.problems == []
    page.close()


def test_the_statistics_come_after_the_segments_each_explained(browser: Browser, url: str) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector(".card")
    order = page.evaluate("[...document.querySelectorAll('main > section')].map(s => s.id)")
    assert order[0] == "segments"
    assert order[-1] == "statistics"
    statistics = page.locator("#statistics").inner_text()
    assert "k is the number of segments" in statistics
    assert "same segments come back" in statistics
    assert "current one answers unless a caller names another" in statistics
    # Each card reads in words before its numbers: the name, size and share, then the bars.
    segments = httpx.get(f"{url}/segments").json()["segments"]
    top = max(segments, key=lambda s: (s["size"], -s["id"]))
    card = page.locator(f".card[data-segment='{top['id']}']")
    assert card.locator(".name").inner_text() == top["name"]
    assert card.locator("details").get_attribute("open") is None
    assert watched.problems == []
    page.close()


def test_the_printed_report_has_the_segments_and_no_forms(browser: Browser, url: str) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    page.emulate_media(media="print")
    for hidden in (
        "#try-form",
        "#file-form",
        "#drift-refresh",
        "#view-tools",
        ".controls",
        "#try-section",
    ):
        assert page.locator(hidden).first.is_hidden(), hidden
    for shown in (".card", "#map", "#drift-status", "#statistics"):
        assert page.locator(shown).first.is_visible(), shown
    pdf = page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    page.emulate_media(media="screen")
    assert page.locator("#try-form").is_visible()
    assert watched.problems == []
    page.close()


@pytest.fixture(scope="module")
def rfm_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A model on the RFM features of the shipped sample of orders."""
    yield from train_and_serve(tmp_path_factory.mktemp("ui-rfm"), ORDERS_CSV, orders=True, k=5)


def test_a_model_on_orders_speaks_rfm_on_its_cards(browser: Browser, rfm_url: str) -> None:
    model = httpx.get(f"{rfm_url}/model").json()
    segments = {s["name"]: s for s in httpx.get(f"{rfm_url}/segments").json()["segments"]}
    page, watched = open_page(browser, rfm_url)
    page.wait_for_selector(".card .rfm")
    for name, segment in segments.items():
        words = page.locator(f".card[data-segment='{segment['id']}'] .rfm").inner_text()
        recency = segment["features"]["recency_days"]["median"]
        everyone = model["feature_stats"]["recency_days"]
        if recency <= everyone["q25"]:
            assert "recent buyers" in words, name
        elif recency >= everyone["q75"]:
            assert "lapsed buyers" in words, name
        assert "Recency days (days)" in words
    assert "recent buyers" in page.locator(".card", has_text="Champions").inner_text()
    assert "lapsed buyers" in page.locator(".card", has_text="Hibernating").inner_text()
    assert watched.problems == []
    page.close()
