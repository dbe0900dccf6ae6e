"""Try a customer: the answer in words that never contradict the numbers, the terms defined
where they appear, and a form whose labels sit beside their inputs and hint at "34,5" and "45k"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.ui.conftest import LABELS, open_page

pytestmark = pytest.mark.e2e


def explained(url: str, customer: Mapping[str, float]) -> dict[str, Any]:
    answer = httpx.post(f"{url}/segment", params={"explain": "true"}, json=customer).json()
    result: dict[str, Any] = answer["results"][0]
    return result


def fill(page: Page, customer: Mapping[str, float]) -> None:
    for name, value in customer.items():
        page.fill(f"#try-{name}", str(value))
    page.click("#try-form button")
    page.wait_for_selector("#try-segment")


def test_a_customer_unlike_any_segment_is_told_so_naming_the_nearest_and_how_far(
    browser: Browser, url: str
) -> None:
    customer = {"age": 30, "annual_income": 900, "spending_score": 99}
    result = explained(url, customer)
    assert result["atypical"]
    segments = {s["id"]: s for s in httpx.get(f"{url}/segments").json()["segments"]}
    nearest = segments[result["segment_id"]]
    page, watched = open_page(browser, url)
    page.wait_for_selector("#try-age")
    fill(page, customer)
    box = page.locator("#try-segment")
    assert box.locator("h3").inner_text() == "Unlike any segment"
    headline = box.locator(".headline").inner_text()
    times = result["distance"] / nearest["distances"]["p50"]
    assert headline == (
        f"The nearest segment is '{nearest['name']}' (segment {nearest['id']}), but this customer "
        f"is {times:.1f} times as far from its centre as the segment's typical customer: farther "
        "than 99% of the segment's own customers."
    )
    # The values that set the customer apart, beside the segment's own middle half.
    text = box.inner_text()
    income = nearest["features"]["annual_income"]
    assert f"{LABELS['annual_income']} 900 (the segment's middle half: " in text
    assert income["q75"] < 900
    # The segment's name is given as the nearest one, never as the customer's description.
    assert text.count(nearest["name"]) == 1
    assert "typical member" not in text
    assert watched.problems == []
    page.close()


def test_a_typical_customer_gets_its_segment_with_distance_margin_and_confidence_defined(
    browser: Browser, url: str
) -> None:
    segments = httpx.get(f"{url}/segments").json()["segments"]
    centre = max(segments, key=lambda s: s["size"])["centroid"]
    customer = {name: round(centre[name]) for name in LABELS}
    result = explained(url, customer)
    assert not result["atypical"]
    page, watched = open_page(browser, url)
    page.wait_for_selector("#try-age")
    fill(page, customer)
    box = page.locator("#try-segment")
    assert box.locator(".segment-name").inner_text() == result["segment_name"]
    assert f"(segment {result['segment_id']})" in box.locator("h3").inner_text()
    terms = box.locator(".terms").inner_text()
    explanation = result["explanation"]
    assert f"Distance {result['distance']:.2f}" in terms
    assert f"Margin {explanation['margin']:.2f}" in terms
    assert f"Confidence {explanation['confidence']:.2f}" in terms
    for meaning in ("standard deviations", "runner-up", "halfway between"):
        assert meaning in terms
    assert watched.problems == []
    page.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_form_keeps_labels_beside_inputs_and_says_required_once(
    browser: Browser, url: str, width: int
) -> None:
    page, watched = open_page(browser, url, width)
    page.wait_for_selector("#try-age")
    assert page.locator("#try-form").inner_text().count("except those marked optional") == 1
    assert "required" not in page.locator("#try-fields").inner_text().lower()
    assert page.locator("label[for='try-gender']").inner_text() == "Gender (optional)"
    assert page.get_attribute("#try-age", "aria-required") == "true"
    for field in page.locator("#try-fields .field").all():
        label = field.locator("label").bounding_box()
        control = field.locator("input, select").bounding_box()
        assert label
        assert control
        middle = label["y"] + label["height"] / 2
        assert control["y"] <= middle <= control["y"] + control["height"]
        assert label["x"] + label["width"] <= control["x"]
    assert watched.problems == []
    page.close()


def test_a_decimal_comma_and_a_thousands_suffix_get_a_hint_by_the_field(
    browser: Browser, url: str
) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector("#try-age")
    page.fill("#try-age", "34,5")
    assert page.locator("#try-age-hint").inner_text() == "use a decimal point: 34.5"
    page.fill("#try-annual_income", "45k")
    assert page.locator("#try-annual_income-hint").inner_text() == "write the full number: 45000"
    page.fill("#try-age", "34.5")
    assert page.locator("#try-age-hint").is_hidden()
    # Sent as typed, the API refuses it under the same field.
    page.fill("#try-spending_score", "50")
    page.click("#try-form button")
    page.wait_for_selector("#try-annual_income[aria-invalid='true']")
    refused = httpx.post(
        f"{url}/segment", json={"age": 34.5, "annual_income": "45k", "spending_score": 50}
    ).json()["error"]
    message = next(d["message"] for d in refused["details"] if d["field"] == "annual_income")
    assert "write the full number: 45000" in message
    assert page.locator("#try-annual_income-error").inner_text() == message
    assert watched.only_refusals(422)
    page.close()


def test_a_new_attempt_clears_the_previous_answer_and_its_mark_on_the_map(
    browser: Browser, url: str
) -> None:
    page, watched = open_page(browser, url)
    page.wait_for_selector("g.point")
    fill(page, {"age": 31, "annual_income": 72, "spending_score": 81})
    assert page.locator("g.tried").count() == 1
    assert "the customer you tried" in page.locator("#map-legend").inner_text()
    # The next attempt is refused: only its errors are on screen, not the answer before it.
    page.fill("#try-age", "500")
    page.click("#try-form button")
    page.wait_for_selector("#try-age[aria-invalid='true']")
    assert page.locator("#try-age-error").inner_text() != ""
    assert page.locator("#try-segment").count() == 0
    assert page.locator("#try-result").inner_text() == ""
    assert page.locator("g.tried").count() == 0
    assert "the customer you tried" not in page.locator("#map-legend").inner_text()
    assert watched.only_refusals(422)
    page.close()


@pytest.mark.parametrize(
    ("typed", "sent"), [("Infinity", "Infinity"), ("0x10", "0x10"), ("3.5e1", 35)]
)
def test_a_number_is_sent_only_when_written_in_decimals_else_as_typed(
    browser: Browser, url: str, typed: str, sent: object
) -> None:
    """Number() read 'Infinity' as Infinity (sent as null: "missing value" under a filled field)
    and '0x10' as 16; only decimals (an exponent allowed) are numbers, the rest goes as typed so
    the API's own words come back under the field."""
    page, watched = open_page(browser, url)
    page.wait_for_selector("#try-age")
    page.fill("#try-age", typed)
    page.fill("#try-annual_income", "72")
    page.fill("#try-spending_score", "81")
    with page.expect_request(
        lambda r: urlsplit(r.url).path == "/segment" and r.method == "POST"
    ) as request:
        page.click("#try-form button")
    body = request.value.post_data_json
    assert body is not None
    assert body["age"] == sent
    assert type(body["age"]) is type(sent)
    if isinstance(sent, str):
        refused = httpx.post(f"{url}/segment", json=body).json()["error"]
        [message] = [d["message"] for d in refused["details"] if d["field"] == "age"]
        assert "not a JSON number" in message
        page.locator("#try-age-error", has_text=message).wait_for()
        assert page.locator("#try-age-error").inner_text() == message
        assert page.locator("#try-segment").count() == 0
        assert watched.only_refusals(422)
    else:
        page.wait_for_selector("#try-segment")
        assert page.locator("#try-age-error").inner_text() == ""
        assert watched.problems == []
    page.close()
