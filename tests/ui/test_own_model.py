"""A retailer's own model, as a marketer's QA pass used it: annual spend (EUR) and store visits
read through log1p, ten segments, retrained, then one segment renamed to 140 characters with no
space. The page draws a logged feature on the scale the model reads it, in the feature's unit;
gives the segments of one version colours of their own while there are colours; keeps its width
with the long name; shows the median on a black segment; says what changed under the names it
shows; and hints at a thousands separator without steering to a decimal point."""

from __future__ import annotations

import io
import math
import re
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from segmentation.sources import DataSource
from tests.ui.conftest import open_page, serve
from training.train import TrainingOptions, rename_segments, train

pytestmark = pytest.mark.e2e

SCHEMA = """
[[feature]]
name = "annual_spend"
unit = "EUR"
transform = "log1p"

[[feature]]
name = "store_visits_per_year"
unit = "visits"
transform = "log1p"

[[feature]]
name = "tenure_months"
unit = "months"
minimum = 0
maximum = 600

[[feature]]
name = "channel"
levels = ["store", "online", "app", "mixed"]

[[feature]]
name = "member_tier"
levels = ["none", "basic", "premium"]

[[attribute]]
name = "region"
levels = ["Nord", "Süd", "Ost", "West"]
"""
# Planted groups: weight, spend median (EUR), visits a year, tenure (months), channel shares
# (store, online, app, mixed), tier shares (none, basic, premium). Spend spans 60 to 8,000 EUR:
# on a linear axis most customers crowd its low end.
GROUPS = (
    (0.20, 120, 3, 8, (0.2, 0.6, 0.1, 0.1), (0.8, 0.2, 0.0)),
    (0.15, 900, 14, 60, (0.6, 0.1, 0.1, 0.2), (0.1, 0.5, 0.4)),
    (0.12, 3500, 30, 90, (0.2, 0.1, 0.2, 0.5), (0.0, 0.2, 0.8)),
    (0.10, 400, 8, 30, (0.05, 0.1, 0.8, 0.05), (0.3, 0.6, 0.1)),
    (0.10, 250, 2, 120, (0.7, 0.15, 0.05, 0.1), (0.6, 0.4, 0.0)),
    (0.10, 1500, 6, 20, (0.05, 0.8, 0.1, 0.05), (0.2, 0.5, 0.3)),
    (0.08, 60, 1, 3, (0.1, 0.5, 0.3, 0.1), (1.0, 0.0, 0.0)),
    (0.08, 8000, 45, 150, (0.3, 0.1, 0.1, 0.5), (0.0, 0.0, 1.0)),
    (0.07, 600, 20, 10, (0.1, 0.2, 0.5, 0.2), (0.2, 0.7, 0.1)),
)
LONG_NAME = "Premium_Nord_Family_Segment_" * 5
SPEND = "Annual spend (EUR)"


def retail_customers(path: Path, rows: int, seed: int, shift: float = 0.0) -> Path:
    rng = np.random.default_rng(seed)
    weights = np.array([g[0] for g in GROUPS])
    planted = rng.choice(len(GROUPS), size=rows, p=weights / weights.sum())
    frame = pd.DataFrame(
        [
            {
                "customer_id": f"K-{n:05d}",
                "annual_spend": round(
                    float(np.exp(np.log(GROUPS[g][1] * (1 + shift)) + rng.normal(0, 0.35))), 2
                ),
                "store_visits_per_year": max(0, round(GROUPS[g][2] * np.exp(rng.normal(0, 0.3)))),
                "tenure_months": max(0, round(GROUPS[g][3] * np.exp(rng.normal(0, 0.3)))),
                "channel": rng.choice(["store", "online", "app", "mixed"], p=GROUPS[g][4]),
                "member_tier": rng.choice(["none", "basic", "premium"], p=GROUPS[g][5]),
                "region": rng.choice(["Nord", "Süd", "Ost", "West"]),
            }
            for n, g in enumerate(planted, start=1)
        ]
    )
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def own_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Ten segments trained on one month, retrained on the next (spend up 10%), then the
    smallest segment renamed to LONG_NAME as `segment-names apply` does: the current version."""
    assert len(LONG_NAME) == 140
    folder = tmp_path_factory.mktemp("ui-own-model")
    schema = folder / "retail.toml"
    schema.write_text(SCHEMA, encoding="utf-8")
    for seed, shift in ((1, 0.0), (2, 0.1)):
        data = retail_customers(folder / f"month-{seed}.csv", 1500, seed, shift)
        retrained = train(
            TrainingOptions(
                source=DataSource(str(data)),
                models_dir=folder / "models",
                schema_file=schema,
                k=10,
                stability_samples=0,
            )
        )
    smallest = min(retrained.metadata.segments, key=lambda s: s.size)
    names = folder / "names.yaml"
    names.write_text(yaml.safe_dump({"segments": {smallest.id: {"name": LONG_NAME}}}))
    assert rename_segments(folder / "models", names) is not None
    yield from serve(folder / "models", folder)


def model_of(url: str) -> dict[str, Any]:
    model: dict[str, Any] = httpx.get(f"{url}/model").json()
    return model


def number(text: str) -> float:
    return float(text.replace(",", ""))


def test_a_log1p_feature_is_drawn_on_the_scale_the_model_reads_in_its_own_unit(
    browser: Browser, own_url: str
) -> None:
    model = model_of(own_url)
    [spend] = [f for f in model["feature_schema"]["features"] if f["name"] == "annual_spend"]
    assert spend["transform"] == "log1p"
    everyone = model["feature_stats"]["annual_spend"]
    low, high = math.log1p(everyone["min"]), math.log1p(everyone["max"])

    def along(value: float) -> float:  # a value's place on the card's bar (0 to 100)
        return 100 * (math.log1p(value) - low) / (high - low)

    segments = httpx.get(f"{own_url}/segments").json()["segments"]
    page, watched = open_page(browser, own_url)
    page.wait_for_selector("g.point")
    # Each card's bar: the middle half of all customers, the segment's and its median, on log1p.
    for segment in segments:
        bar = page.locator(f".card[data-segment='{segment['id']}'] .dist svg").first
        assert (bar.get_attribute("aria-label") or "").startswith(f"{SPEND}: ")
        grey, coloured = bar.locator("rect").nth(1), bar.locator("rect").nth(2)
        mine = segment["features"]["annual_spend"]
        for rect, (q25, q75) in (
            (grey, (everyone["q25"], everyone["q75"])),
            (coloured, (mine["q25"], mine["q75"])),
        ):
            x, width = (float(rect.get_attribute(a) or "") for a in ("x", "width"))
            assert x == pytest.approx(along(q25), abs=0.01)
            assert width == pytest.approx(max(along(q75) - along(q25), 0.8), abs=0.01)
        median = float(bar.locator("line.median").get_attribute("x1") or "")
        assert median == pytest.approx(along(mine["median"]), abs=0.01)
    # The middle half of all customers is a quarter of the bar, not the 8% a linear bar gave it.
    assert along(everyone["q75"]) - along(everyone["q25"]) > 25
    assert f"{SPEND} and Store visits per year (visits) are drawn on a log scale" in (
        page.locator("#segments-intro").inner_text()
    )
    # The map across spend: the axis says its scale, the ticks are round euros placed on log1p.
    page.select_option("#map-y", "tenure_months")
    page.select_option("#map-x", "annual_spend")
    assert page.locator("#map .axis-title").first.text_content() == f"{SPEND}, log scale"
    # The horizontal axis's ticks: the lowest of the numbers drawn beside the axes.
    axis = page.locator("#map svg").evaluate(
        """svg => { const texts = [...svg.querySelectorAll(':scope > text:not(.axis-title)')];
            const bottom = Math.max(...texts.map(t => Number(t.getAttribute('y'))));
            return texts.filter(t => Number(t.getAttribute('y')) === bottom)
              .map(t => [t.textContent, Number(t.getAttribute('x'))]); }"""
    )
    ticks = [(number(text), x) for text, x in axis]
    assert len(ticks) >= 3
    assert any(text == "1,000" for text, _ in axis), axis
    for value, _ in ticks:  # 1, 2 or 3, or 5 times a power of ten, or 0
        assert value == 0 or re.fullmatch(r"[1235]0*", f"{value:.0f}"), axis
    (v0, x0), (v1, x1) = ticks[0], ticks[-1]
    pixels_per_log = (x1 - x0) / (math.log1p(v1) - math.log1p(v0))
    for value, x in ticks:
        assert x == pytest.approx(x0 + pixels_per_log * (math.log1p(value) - math.log1p(v0)), abs=1)
    # The customers spread over the axis: their middle half takes a fifth of it or more.
    plot = page.locator("#map svg").bounding_box()
    assert plot is not None
    xs = sorted(
        box["x"] + box["width"] / 2
        for box in (p.bounding_box() for p in page.locator("g.point:not(.beyond)").all())
        if box
    )
    quartiles = statistics.quantiles(xs, n=4)
    assert (quartiles[2] - quartiles[0]) / plot["width"] > 0.2
    # A value is still said in euros: the popover of a point gives the sample's own value.
    page.locator("g.point").first.focus()
    assert SPEND in page.locator("#map-popover").inner_text()
    assert watched.problems == []
    page.close()


def test_the_segments_of_one_version_have_colours_of_their_own_while_there_are_colours(
    browser: Browser, own_url: str
) -> None:
    page, watched = open_page(browser, own_url)
    page.wait_for_selector("g.point")
    assign = """async (ids) => { const p = await import('/ui/static/palette.js');
        const colours = p.assignColours(ids);
        return ids.map((id) => [p.OKABE_ITO[colours.get(id)], p.shapeName(id)]); }"""
    # Ids left after retraining (up to 14 for 8 segments): 1 and 9 no longer share a colour,
    # and a segment keeps its own colour (its id's) unless a lower id has it.
    ids = [0, 1, 3, 4, 9, 11, 12, 14]
    marks = page.evaluate(assign, ids)
    assert len({colour for colour, _ in marks}) == len(ids)
    own = page.evaluate("async () => (await import('/ui/static/palette.js')).OKABE_ITO")
    assert [colour for colour, _ in marks[:4]] == [own[0], own[1], own[3], own[4]]
    assert marks[ids.index(14)][0] == own[14 % 8]
    # More segments than colours: a colour is shared, never with the same shape.
    many = page.evaluate(assign, list(range(20)))
    assert len({colour for colour, _ in many}) == 8
    assert len({tuple(mark) for mark in many}) == 20
    # On the page: the legend, the cards and the map agree, the ten segments use every colour
    # and no two share a colour and a shape.
    legend = page.evaluate(
        "[...document.querySelectorAll('#map-legend svg.swatch')].map(s => "
        "[s.dataset.shape, s.querySelector('path').getAttribute('fill')])"
    )
    assert len(legend) == 10
    assert len({fill for _, fill in legend}) == 8
    assert len({tuple(mark) for mark in legend}) == 10
    for card in page.locator(".card").all():
        segment = card.get_attribute("data-segment")
        fill = card.locator("svg.swatch path").get_attribute("fill")
        point = page.locator(f"g.point[data-segment='{segment}'] path").first
        if point.count():
            assert point.get_attribute("fill") == fill
    assert watched.problems == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_long_name_without_spaces_wraps_and_the_page_keeps_its_width(
    browser: Browser, own_url: str, width: int
) -> None:
    page, watched = open_page(browser, own_url, width)
    page.wait_for_selector("g.point")
    entry = page.locator("#map-legend li", has_text=LONG_NAME)
    expect(entry).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    legend = page.locator("#map-legend").bounding_box()
    box = entry.bounding_box()
    assert legend is not None
    assert box is not None
    assert box["x"] + box["width"] <= legend["x"] + legend["width"] + 0.5
    assert watched.problems == []
    page.close()


def test_the_median_shows_on_a_black_segment(browser: Browser, own_url: str) -> None:
    """The median, a dark line, vanished on the palette's black: it is edged in white."""
    page, watched = open_page(browser, own_url)
    page.wait_for_selector(".card")
    black = page.locator(".card").filter(has=page.locator("svg.swatch path[fill='#000000']"))
    assert black.count() == 1
    # The feature whose bar gives the segment's middle half the most room.
    bars = black.locator(".dist svg")
    widths = [float(bar.locator("rect").nth(2).get_attribute("width") or "") for bar in bars.all()]
    bar = bars.nth(widths.index(max(widths)))
    bar.scroll_into_view_if_needed()
    rect = bar.locator("rect").nth(2)
    start, span = (float(rect.get_attribute(a) or "") for a in ("x", "width"))
    image = Image.open(io.BytesIO(bar.screenshot())).convert("L")
    scale = image.width / 100
    row = image.height // 2
    # Across the black box (its edges left out): black, and where the median is, light edges
    # either side of a dark line. Without the edges every pixel there is dark.
    inside = range(math.ceil(start * scale) + 1, int((start + span) * scale) - 1)
    assert len(inside) > 10, inside
    across = [image.getpixel((x, row)) for x in inside]
    assert min(across) < 80, across
    light = [x for x, value in zip(inside, across, strict=True) if value > 170]
    assert light, across
    median = float(bar.locator("line.median").get_attribute("x1") or "") * scale
    assert min(light) < median < max(light)
    assert max(light) - min(light) < 8
    assert watched.problems == []
    page.close()


def test_what_changed_names_a_renamed_segment_as_the_page_does(
    browser: Browser, own_url: str
) -> None:
    comparison = model_of(own_url)["comparison"]
    [renamed] = [
        s for s in httpx.get(f"{own_url}/segments").json()["segments"] if s["name"] == LONG_NAME
    ]
    [entry] = [s for s in comparison["segments"] if s["id"] == renamed["id"]]
    # The comparison keeps the name training gave: the rename made a version of its own.
    assert entry["new_name"] != LONG_NAME
    page, watched = open_page(browser, own_url)
    page.wait_for_selector("#changes:not([hidden])")
    said = page.locator("#changes-segments").inner_text()
    assert f"'{LONG_NAME}'" in said
    assert f"'{entry['new_name']}'" not in said
    assert LONG_NAME in page.locator("#changes-matrix thead").inner_text()
    assert watched.problems == []
    page.close()


def fill_customer(page: Page, spend: str) -> None:
    page.fill("#try-annual_spend", spend)
    page.fill("#try-store_visits_per_year", "12")
    page.fill("#try-tenure_months", "30")
    page.select_option("#try-channel", "store")
    page.select_option("#try-member_tier", "basic")


def test_a_thousands_separator_is_not_read_as_a_decimal_comma_and_one_message_shows(
    browser: Browser, own_url: str
) -> None:
    page, watched = open_page(browser, own_url)
    page.wait_for_selector("#try-annual_spend")
    hint = page.locator("#try-annual_spend-hint")
    # Three digits after the comma: a thousands separator (1,234 EUR is not 1.23 EUR).
    fill_customer(page, "1,234")
    expect(hint).to_have_text("write it without the thousands separator: 1234")
    page.fill("#try-annual_spend", "12,500.50")
    expect(hint).to_have_text("write it without the thousands separator: 12500.50")
    # A leading zero is no thousands: "0,500" is a decimal comma.
    page.fill("#try-annual_spend", "0,500")
    expect(hint).to_have_text("use a decimal point: 0.500")
    # Not three digits: a decimal comma, as before.
    page.fill("#try-store_visits_per_year", "12,5")
    expect(page.locator("#try-store_visits_per_year-hint")).to_have_text(
        "use a decimal point: 12.5"
    )
    page.fill("#try-store_visits_per_year", "12")
    page.fill("#try-annual_spend", "1,234")
    # Sent: the API's message by the field, and only it.
    page.click("#try-form button")
    error = page.locator("#try-annual_spend-error")
    expect(error).not_to_be_empty()
    refused = httpx.post(
        f"{own_url}/segment",
        json={
            "annual_spend": "1,234",
            "store_visits_per_year": 12,
            "tenure_months": 30,
            "channel": "store",
            "member_tier": "basic",
        },
    ).json()["error"]
    [message] = [d["message"] for d in refused["details"] if d["field"] == "annual_spend"]
    expect(error).to_have_text(message)
    expect(hint).to_be_hidden()
    assert page.locator("#try-annual_spend-hint").inner_text() == ""
    # A new value: the API's message was about the old one; the page's hint for the new.
    page.fill("#try-annual_spend", "1234")
    expect(error).to_be_hidden()
    assert page.get_attribute("#try-annual_spend", "aria-invalid") is None
    assert watched.only_refusals(422)
    page.close()
