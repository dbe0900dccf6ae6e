"""The page's layout as a marketer meets it: the segments first, in words, on a phone too; the
statistics below, each explained; and a printed report without the forms."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser

from tests.ui.conftest import Watched, open_page

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


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
