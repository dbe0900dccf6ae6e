"""The segment map on real data: one extreme customer does not squash the others, the axes
never show the same feature, every point is reached by keyboard and by touch with a popover
naming its segment, the table view is its text alternative, and each segment's colour and
shape come from its stable id in a colour-blind-safe palette."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page

from tests.conftest import CLASSIC_CSV
from tests.ui.conftest import LABELS, Watched, open_page, train_and_serve

pytestmark = pytest.mark.e2e

OKABE_ITO = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"}
EXTREME_INCOME = 1000


@pytest.fixture(scope="module")
def outlier_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The study's customers and one more who earns 1,000 k$ (the study's richest earn 137)."""
    folder = tmp_path_factory.mktemp("ui-outlier")
    frame = pd.read_csv(CLASSIC_CSV)
    extreme = {
        "CustomerID": 999,
        "Gender": "Female",
        "Age": 40,
        "Annual Income (k$)": EXTREME_INCOME,
    }
    frame = pd.concat([frame, pd.DataFrame([{**extreme, "Spending Score (1-100)": 50}])])
    frame.to_csv(folder / "customers.csv", index=False)
    yield from train_and_serve(folder, folder / "customers.csv", k=5)


def point_centres(page: Page, selector: str) -> list[tuple[float, float]]:
    return [
        (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for box in (node.bounding_box() for node in page.locator(selector).all())
        if box
    ]


def test_one_extreme_customer_is_drawn_at_the_edge_and_the_rest_spread_out(
    browser: Browser, outlier_url: str
) -> None:
    sample = httpx.get(f"{outlier_url}/model/sample").json()
    assert (
        max(row[sample["features"].index("annual_income")] for row in sample["rows"])
        == EXTREME_INCOME
    )
    page, watched = open_page(browser, outlier_url)
    page.wait_for_selector("g.point")
    assert page.input_value("#map-x") == "annual_income"
    # Only the extreme customer lies beyond the axes; the axis stops near the study's range.
    assert page.locator("g.point.beyond").count() == 1
    numbers = [
        float(t) for t in page.locator("#map svg > text:not(.axis-title)").all_text_contents()
    ]
    assert max(numbers) < 200
    assert page.locator("g.point.beyond .edge-arrow").count() == 1
    # The other customers use most of the plot's width, not a corner of it.
    plot = page.locator("#map svg").bounding_box()
    assert plot is not None
    xs = [x for x, _ in point_centres(page, "g.point:not(.beyond)")]
    assert (max(xs) - min(xs)) / plot["width"] > 0.75
    # Its popover tells its real value and that it is drawn at the edge.
    page.locator("g.point.beyond").focus()
    popover = page.locator("#map-popover")
    popover.wait_for()
    assert "Annual income (k$)" in popover.inner_text()
    assert str(EXTREME_INCOME) in popover.inner_text()
    assert "Beyond the axis range" in popover.inner_text()
    assert "beyond the axis range" in page.locator("#map-legend").inner_text()
    assert watched.problems == []
    page.close()


def test_the_two_axes_never_show_the_same_feature(browser: Browser, url: str) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    assert page.locator("#map-y option[value='annual_income']").is_disabled()
    assert page.locator("#map-x option[value='spending_score']").is_disabled()
    page.select_option("#map-x", "age")
    assert page.locator("#map .axis-title").first.text_content() == LABELS["age"]
    assert page.locator("#map-y option[value='age']").is_disabled()
    assert not page.locator("#map-y option[value='annual_income']").is_disabled()
    # Forcing the same value (as a script could) still leaves two different features.
    page.locator("#map-y").evaluate(
        "(select) => { select.value = document.getElementById('map-x').value;"
        " select.dispatchEvent(new Event('change')); }"
    )
    assert page.input_value("#map-x") != page.input_value("#map-y")
    titles = page.locator("#map .axis-title").all_text_contents()
    assert titles[0] != titles[1]
    assert watched.problems == []
    page.close()


def test_points_are_reached_by_keyboard_with_a_popover_naming_the_segment(
    browser: Browser, url: str
) -> None:
    segments = {s["id"]: s["name"] for s in httpx.get(f"{url}/segments").json()["segments"]}
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    page.focus("#map-as-table")
    page.keyboard.press("Tab")
    popover = page.locator("#map-popover")
    popover.wait_for()
    focused = page.evaluate("document.activeElement.dataset.segment")
    first_text = popover.inner_text()
    assert f"segment {focused}, {segments[int(focused)]}" in first_text
    for label in LABELS.values():
        assert label in first_text
    assert page.evaluate("document.activeElement.getAttribute('aria-describedby')") == "map-popover"
    # No native tooltip: the words are the point's label and the popover, not an SVG title.
    assert page.locator("#map title").count() == 0
    page.keyboard.press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.position") == "1"
    page.keyboard.press("End")
    assert page.evaluate("document.activeElement.dataset.position") == str(
        page.locator("#map g[data-position]").count() - 1
    )
    page.keyboard.press("Escape")
    assert popover.is_hidden()
    # One tab stop for the whole map: Tab leaves it for the form.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "try-customer_id"
    assert watched.problems == []
    page.close()


def test_a_tap_on_a_point_opens_its_popover(browser: Browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    watched = Watched(page)
    page.goto(f"{url}/ui")
    page.wait_for_selector("g.centroid")
    centroid = page.locator("g.centroid").first
    centroid.scroll_into_view_if_needed()
    centroid.tap()
    popover = page.locator("#map-popover")
    popover.wait_for()
    assert f"The centre of segment {centroid.get_attribute('data-segment')}" in popover.inner_text()
    assert watched.problems == []
    page.close()


def test_the_table_view_lists_every_customer_of_the_map(browser: Browser, url: str) -> None:
    sample = httpx.get(f"{url}/model/sample").json()
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    page.click("#map-as-table")
    assert page.get_attribute("#map-as-table", "aria-pressed") == "true"
    assert page.locator("#map").is_hidden()
    rows = page.locator("#map-table tbody tr")
    assert rows.count() == len(sample["rows"])
    first = rows.first.inner_text()
    assert first.split()[0] == str(sample["segment_ids"][0])
    page.click("#map-as-table")
    assert page.locator("#map").is_visible()
    assert watched.problems == []
    page.close()


def test_colours_and_shapes_follow_the_stable_id_in_a_colour_blind_safe_palette(
    browser: Browser, url: str
) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    marks = page.evaluate(
        "[...document.querySelectorAll('#map-legend svg.swatch')].map(s => "
        "[s.dataset.shape, s.querySelector('path').getAttribute('fill')])"
    )
    segments = sorted(httpx.get(f"{url}/segments").json()["segments"], key=lambda s: -s["size"])
    assert len(marks) == len(segments)
    assert len({tuple(m) for m in marks}) == len(segments)
    assert {fill for _, fill in marks} <= OKABE_ITO
    # A point wears its segment's mark; ids beyond the palette's eight colours stay distinct.
    first = page.locator("g.point").first
    segment = int(first.get_attribute("data-segment") or "-1")
    legend_index = [s["id"] for s in segments].index(segment)
    assert first.locator("path").first.get_attribute("fill") == marks[legend_index][1]
    pairs = page.evaluate(
        "async () => { const p = await import('/ui/static/palette.js'); "
        "const ids = [...Array(56).keys()]; const colours = p.assignColours(ids); "
        "return ids.map(i => p.OKABE_ITO[colours.get(i)] + ' ' + p.shapeName(i)); }"
    )
    assert len(set(pairs)) == 56
    assert watched.problems == []
    page.close()
