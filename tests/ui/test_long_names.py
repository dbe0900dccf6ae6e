"""A retailer's model whose column names are long (a 78-character one, as CRM exports have) and
that was retrained: the page's bars, map popover and axis titles keep their shape at 1280 and
390 px, and what changed since the previous version reads in words, not one-hot codes and
float noise."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, FloatRect, Page

from segmentation.sources import DataSource
from tests.ui.conftest import open_page, serve
from training.sample_retail import generate_retail_customers
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e

LONG = "average_basket_value_in_euros_across_all_orders_placed_online_and_in_our_shops"
LONG_LABEL = "Average basket value in euros across all orders placed online and in our shops"
FEATURES = ("tenure_months", "orders_per_year", LONG, "channel", "loyalty_tier")
CUSTOMER = {
    "tenure_months": "40",
    "orders_per_year": "20",
    LONG: "60",
    "channel": "store",
    "loyalty_tier": "Gold",
}
MINUS = "\N{MINUS SIGN}"


@pytest.fixture(scope="module")
def long_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The retailer's customers with the basket column renamed to 78 characters, trained on one
    draw and then retrained on another (so the current version has a comparison)."""
    assert len(LONG) == 78
    folder = tmp_path_factory.mktemp("ui-long-names")
    for seed in (7, 8):
        data = folder / f"customers-{seed}.csv"
        frame = generate_retail_customers(300, seed=seed).frame
        frame.rename(columns={"average_basket": LONG}).to_csv(data, index=False)
        options = TrainingOptions(
            source=DataSource(str(data)),
            models_dir=folder / "models",
            features=FEATURES,
            k=5,
            stability_samples=0,
        )
        train(options)
    yield from serve(folder / "models", folder)


def try_customer(page: Page) -> None:
    page.wait_for_selector("#try-tenure_months")
    for name, value in CUSTOMER.items():
        if name in {"channel", "loyalty_tier"}:
            page.select_option(f"#try-{name}", value)
        else:
            page.fill(f"#try-{name}", value)
    page.click("#try-form button")
    page.wait_for_selector("#try-segment .bars")


def box_of(page: Page, selector: str) -> FloatRect:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box


def inside(inner: FloatRect, outer: FloatRect, slack: float = 0.5) -> bool:
    return (
        inner["x"] >= outer["x"] - slack
        and inner["y"] >= outer["y"] - slack
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack
    )


@pytest.mark.parametrize("width", [1280, 390])
def test_a_long_feature_name_wraps_beside_its_bar_and_the_bar_keeps_its_width(
    browser: Browser, long_url: str, width: int
) -> None:
    page, watched = open_page(browser, long_url, width)
    try_customer(page)
    chart = box_of(page, "#try-segment .bars")
    tracks = page.locator("#try-segment .bars .track")
    assert tracks.count() == 5
    for track in tracks.all():
        box = track.bounding_box()
        assert box is not None
        # A usable bar: at least a quarter of the chart, never the 2 px it collapsed to.
        assert box["width"] > max(80, chart["width"] / 4), (box, chart)
    label = page.locator("#try-segment .bars .feature", has_text=LONG_LABEL)
    label_box = label.bounding_box()
    assert label_box is not None
    track_box = tracks.nth(2).bounding_box()
    assert track_box is not None
    # The name wraps on several lines to the left of its own bar, inside the chart.
    assert label_box["height"] > 2 * float(
        label.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    )
    assert label_box["x"] + label_box["width"] <= track_box["x"]
    assert inside(label_box, chart)
    assert watched.problems == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_popover_wraps_a_long_name_and_keeps_every_value_inside_it(
    browser: Browser, long_url: str, width: int
) -> None:
    page, watched = open_page(browser, long_url, width)
    page.wait_for_selector("g.point")
    point = page.locator("g.point").first
    point.focus()
    popover = page.locator("#map-popover")
    popover.wait_for()
    assert LONG_LABEL in popover.inner_text()
    outer = box_of(page, "#map-popover")
    values = popover.locator("dd")
    assert values.count() == 3
    for value in values.all():
        box = value.bounding_box()
        assert box is not None
        assert box["width"] > 10
        assert inside(box, outer), (box, outer)
        assert value.inner_text().strip() != ""
    names = popover.locator("dt")
    for name in names.all():
        box = name.bounding_box()
        assert box is not None
        assert inside(box, outer), (box, outer)
    assert watched.problems == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_long_axis_title_is_cut_to_fit_with_the_full_name_kept(
    browser: Browser, long_url: str, width: int
) -> None:
    page, watched = open_page(browser, long_url, width)
    page.wait_for_selector("g.point")
    # The last two numbers by default: the long name is the vertical axis; then horizontal.
    assert page.input_value("#map-y") == LONG
    for axis in ("map-y", "map-x"):
        if axis == "map-x":
            page.select_option("#map-y", "tenure_months")
            page.select_option("#map-x", LONG)
        svg = box_of(page, "#map svg")
        titles = page.locator("#map .axis-title")
        assert titles.count() == 2
        for title in titles.all():
            box = title.bounding_box()
            assert box is not None
            assert inside(box, svg), (axis, box, svg)
        long_title = titles.nth(1 if axis == "map-y" else 0)
        shown = long_title.evaluate(
            "t => [...t.childNodes].filter(n => n.nodeType === Node.TEXT_NODE)"
            ".map(n => n.textContent).join('')"
        )
        assert shown.endswith("…")
        assert LONG_LABEL.startswith(shown[:-1].rstrip())
        assert len(shown) > 10
        assert long_title.locator("title").text_content() == LONG_LABEL
        assert LONG_LABEL in (page.get_attribute("#map svg", "aria-label") or "")
    # A short name is not cut and has no tooltip of its own.
    short = page.locator("#map .axis-title").nth(1)
    assert short.text_content() == "Tenure months"
    assert short.locator("title").count() == 0
    assert watched.problems == []
    page.close()


SHIFT = re.compile(
    r"^(?P<name>.+?)(?:: (?P<level>\S+))? "
    r"(?P<sign>[+\N{MINUS SIGN}])(?P<size>\d+\.\d)(?P<points> points)?$"
)


def shown_shifts(text: str) -> dict[str, float]:
    """The page's "its centre moved by Tenure months +1.2, Channel: both +3.2 points" as the
    API's keys and values (a level's points as a share)."""
    if "; its centre moved by " not in text:
        return {}
    shifts = {}
    for item in text.split("; its centre moved by ", 1)[1].split(", "):
        found = SHIFT.match(item)
        assert found, item
        size = float(found["size"]) * (-1 if found["sign"] == MINUS else 1)
        name = found["name"].lower().replace(" ", "_")
        if found["level"]:
            assert found["points"], item
            shifts[f"{name}={found['level']}"] = size / 100
        else:
            assert not found["points"], item
            shifts[name] = size
    return shifts


def test_what_changed_reads_levels_in_words_without_float_noise_and_one_customer(
    browser: Browser, long_url: str
) -> None:
    comparison: dict[str, Any] = httpx.get(f"{long_url}/model").json()["comparison"]
    page, watched = open_page(browser, long_url)
    page.wait_for_selector("#changes:not([hidden])")
    kept = [s for s in comparison["segments"] if s["status"] == "kept"]
    items = page.locator("#changes-segments li").all_inner_texts()
    assert len(items) == len(comparison["segments"])
    text = "\n".join(items)
    assert "=" not in text
    assert not re.search(r"[+\N{MINUS SIGN}-]0\.0\b", text)
    assert "e-" not in text
    noise = [
        (s["id"], name, v)
        for s in kept
        for name, v in s["centroid_shift"].items()
        if v != 0 and abs(v) < 1e-9
    ]
    assert noise, "the retrained model should carry float noise in a centre shift"
    for segment in kept:
        [item] = [i for i in items if i.startswith(f"'{segment['new_name']}': ")]
        shifts = shown_shifts(item)
        for name, value in segment["centroid_shift"].items():
            # Points for a level (a share of the segment's customers), the unit otherwise.
            scale = 100 if "=" in name else 1
            if abs(scale * value) >= 0.06:
                assert name in shifts, (name, value, item)
                assert abs(scale * (shifts[name] - value)) <= 0.051, (name, value, item)
            if abs(scale * value) < 0.04:
                assert name not in shifts, (name, value, item)
        assert set(shifts) <= set(segment["centroid_shift"])
    assert "Channel: " in text
    # One customer is one customer.
    moves = page.locator("#changes-moves li").all_inner_texts()
    assert moves
    for move in moves:
        found = re.match(r"^([\d,]+) (customers?) \(", move)
        assert found, move
        assert found[2] == ("customer" if found[1] == "1" else "customers"), move
    assert any(move.startswith("1 customer (") for move in moves), moves
    assert watched.problems == []
    page.close()
