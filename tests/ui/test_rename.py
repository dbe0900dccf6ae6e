"""Renaming a segment on the page: with an admin key the card's Edit saves a new version that the
page then shows; the API's refusals appear by the field; without the role the page is read-only
and says why."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from segmentation.sources import DataSource
from tests.conftest import CLASSIC_CSV
from tests.ui.conftest import Watched, open_page, serve
from training.train import TrainingOptions, train

pytestmark = pytest.mark.e2e

READER_KEY = "ui-reader-key-4b8e2d7a1c"
ADMIN_KEY = "ui-admin-key-9f3a6c1e5d"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
# Saving a rename writes and loads a new bundle version: longer than httpx's 5 s default here.
SAVE_TIMEOUT = 60


@pytest.fixture
def admin_url(tmp_path: Path, trained_copy: object) -> Iterator[str]:
    """A server of its own (renaming writes versions) with a reader and an admin key."""
    trained_copy(tmp_path / "models")  # type: ignore[operator]
    yield from serve(
        tmp_path / "models", tmp_path, SEGMENT_API_KEYS=READER_KEY, SEGMENT_ADMIN_KEYS=ADMIN_KEY
    )


def signed_in(browser: Browser, url: str, key: str) -> tuple[Page, Watched]:
    page, watched = open_page(browser, url)
    page.wait_for_selector("#key-panel:not([hidden])")
    page.fill("#api-key", key)
    page.click("#key-form button")
    page.wait_for_selector(".card")
    return page, watched


def refusal(url: str, version: str, edit: dict[str, object]) -> tuple[int, str]:
    answer = httpx.put(
        f"{url}/admin/names",
        json={"version": version, "segments": [edit]},
        headers=ADMIN,
        timeout=SAVE_TIMEOUT,
    )
    body = answer.json()["error"]
    details = [d["message"] for d in body["details"]]
    return answer.status_code, details[0] if details else body["message"]


def test_an_admin_renames_a_segment_and_the_page_moves_to_the_new_version(
    browser: Browser, admin_url: str
) -> None:
    before = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    segments = httpx.get(f"{admin_url}/segments", headers=ADMIN).json()["segments"]
    top, other = sorted(segments, key=lambda s: (-s["size"], s["id"]))[:2]
    page, watched = signed_in(browser, admin_url, ADMIN_KEY)
    assert page.locator("#access-note").is_hidden()
    card = page.locator(f".card[data-segment='{top['id']}']")
    card.get_by_role("button", name=f"Edit {top['name']}").click()
    prefix = f"#edit-{top['id']}"
    # A blank name and another segment's name: the API's words by the name field; nothing saved.
    for name in ("   ", other["name"]):
        status, message = refusal(admin_url, before, {"id": top["id"], "name": name})
        assert status == 422
        page.fill(f"{prefix}-name", name)
        page.click(f"{prefix}-form button[type=submit]")
        page.locator(f"{prefix}-name-error", has_text=message).wait_for()
        assert page.get_attribute(f"{prefix}-name", "aria-invalid") == "true"
    assert httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"] == before
    page.fill(f"{prefix}-name", "Weekend big spenders")
    page.fill(f"{prefix}-description", "Come on Saturdays and fill the basket.")
    page.fill(f"{prefix}-action", "Saturday bundles.")
    page.click(f"{prefix}-form button[type=submit]")
    # Saving writes and loads a version: the page says so and Save cannot be sent twice.
    page.locator(f"{prefix}-form", has_text="Saving a new version").wait_for()
    assert page.locator(f"{prefix}-form button[type=submit]").is_disabled()
    page.locator(".card h3 .name", has_text="Weekend big spenders").wait_for()
    after = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    assert after != before
    assert after in page.locator("#model-line").inner_text()
    card = page.locator(f".card[data-segment='{top['id']}']")
    assert "Come on Saturdays and fill the basket." in card.inner_text()
    assert "Suggested action: Saturday bundles." in card.inner_text()
    assert page.locator("#version-banner").is_hidden()
    names = [
        s["name"] for s in httpx.get(f"{admin_url}/segments", headers=ADMIN).json()["segments"]
    ]
    assert "Weekend big spenders" in names
    assert watched.only_refusals(401, 422)
    page.close()


def test_a_stale_edit_is_refused_with_the_apis_message(browser: Browser, admin_url: str) -> None:
    page, watched = signed_in(browser, admin_url, ADMIN_KEY)
    shown = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    segment = httpx.get(f"{admin_url}/segments", headers=ADMIN).json()["segments"][0]
    page.locator(f".card[data-segment='{segment['id']}'] .edit > button").click()
    # Someone else saves first: the version the page shows is no longer the current one.
    httpx.put(
        f"{admin_url}/admin/names",
        json={"version": shown, "segments": [{"id": segment["id"], "name": "Renamed elsewhere"}]},
        headers=ADMIN,
        timeout=SAVE_TIMEOUT,
    ).raise_for_status()
    status, message = refusal(admin_url, shown, {"id": segment["id"], "name": "Mine"})
    assert status == 409
    page.fill(f"#edit-{segment['id']}-name", "Mine")
    page.click(f"#edit-{segment['id']}-form button[type=submit]")
    page.locator(f"#edit-{segment['id']}-error", has_text=message).wait_for()
    assert watched.only_refusals(401, 409)
    page.close()


def test_without_the_role_the_page_is_read_only_and_says_why(
    browser: Browser, admin_url: str, url: str
) -> None:
    access = httpx.get(
        f"{admin_url}/admin/access", headers={"Authorization": f"Bearer {READER_KEY}"}
    ).json()
    assert access["can_rename"] is False
    page, watched = signed_in(browser, admin_url, READER_KEY)
    assert page.locator("#access-note").inner_text() == f"Read-only: {access['reason']}"
    assert page.locator(".edit").count() == 0
    assert watched.only_refusals(401)
    page.close()
    # A service with no admin key at all says so.
    none = httpx.get(f"{url}/admin/access").json()
    assert "SEGMENT_ADMIN_KEYS" in none["reason"]
    plain, plain_watched = open_page(browser, url)
    plain.wait_for_selector(".card")
    assert plain.locator("#access-note").inner_text() == f"Read-only: {none['reason']}"
    assert plain.locator(".edit").count() == 0
    assert plain_watched.problems == []
    plain.close()


def scored_history(url: str, total: int) -> None:
    """Until GET /segments/history (every version's days) counts ``total`` customers: the
    service writes its counts every few seconds."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        days = httpx.get(f"{url}/segments/history", headers=ADMIN).json()["days"]
        if sum(day["total"] for day in days) == total:
            return
        time.sleep(0.5)
    raise AssertionError(f"the history never reached {total} customers: {days}")


def test_after_a_rename_the_shares_over_time_still_show_the_days_before_it(
    browser: Browser, admin_url: str
) -> None:
    """A rename serves a new version; the days scored before it were served by the old one and
    still count (segment ids are kept), also on a link that opens the old version."""
    customers = [
        {
            "age": 20 + i % 50,
            "annual_income": 15 + (7 * i) % 120,
            "spending_score": 1 + (13 * i) % 99,
        }
        for i in range(40)
    ]
    httpx.post(
        f"{admin_url}/segment", json={"customers": customers}, headers=ADMIN
    ).raise_for_status()
    scored_history(admin_url, 40)
    before = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    summary = "40 customers scored on 1 of the last 30 days"
    page, watched = signed_in(browser, admin_url, ADMIN_KEY)
    page.locator("#history-summary", has_text=summary).wait_for()
    charted = page.locator("#history-chart figure").count()
    assert charted > 0
    top = int(page.locator("#history-chart figure").first.get_attribute("data-segment") or "-1")
    page.locator(f".card[data-segment='{top}'] .edit > button").click()
    page.fill(f"#edit-{top}-name", "Renamed on the page")
    page.click(f"#edit-{top}-form button[type=submit]")
    page.locator(".card h3 .name", has_text="Renamed on the page").wait_for()
    after = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    assert after != before
    assert after in page.locator("#model-line").inner_text()
    # The new version's page: the same days, the segment under its new name.
    history = page.locator("#history-summary").inner_text()
    assert summary in history
    assert "Days served by other model versions count too" in history
    assert page.locator("#history-chart figure").count() == charted
    figure = page.locator(f"#history-chart figure[data-segment='{top}']")
    assert figure.locator("h3").inner_text().strip() == "Renamed on the page"
    assert watched.only_refusals(401)
    page.close()
    # A link to the old version shows the same days, under that version's names.
    old, old_watched = open_page(browser, admin_url, path=f"/ui?version={before}")
    old.wait_for_selector("#key-panel:not([hidden])")
    old.fill("#api-key", ADMIN_KEY)
    old.click("#key-form button")
    old.locator("#history-summary", has_text=summary).wait_for()
    assert before in old.locator("#model-line").inner_text()
    assert "Renamed on the page" not in old.locator("#history-chart").inner_text()
    assert old_watched.only_refusals(401)
    old.close()


@pytest.fixture
def retrained_admin_url(tmp_path: Path) -> Iterator[str]:
    """The study's model retrained (another seed), so the current version says what changed;
    served with a reader and an admin key."""
    for seed in (42, 7):
        train(
            TrainingOptions(
                source=DataSource(str(CLASSIC_CSV)),
                models_dir=tmp_path / "models",
                k=5,
                seed=seed,
                stability_samples=0,
            )
        )
    yield from serve(
        tmp_path / "models", tmp_path, SEGMENT_API_KEYS=READER_KEY, SEGMENT_ADMIN_KEYS=ADMIN_KEY
    )


def test_what_changed_names_a_segment_renamed_on_the_page_by_its_new_name(
    browser: Browser, retrained_admin_url: str
) -> None:
    """The rename serves a new version whose comparison keeps the names training gave: what
    changed said the old name while every other part said the new one."""
    page, watched = signed_in(browser, retrained_admin_url, ADMIN_KEY)
    page.wait_for_selector("#changes:not([hidden])")
    top = page.locator(".card").first
    segment = top.get_attribute("data-segment")
    old_name = top.locator("h3 .name").inner_text()
    assert f"'{old_name}'" in page.locator("#changes-segments").inner_text()
    top.locator(".edit > button").click()
    page.fill(f"#edit-{segment}-name", "Weekend big spenders")
    page.click(f"#edit-{segment}-form button[type=submit]")
    expect(page.locator(".card h3 .name", has_text="Weekend big spenders")).to_be_visible(
        timeout=SAVE_TIMEOUT * 1000
    )
    comparison = httpx.get(f"{retrained_admin_url}/model", headers=ADMIN).json()["comparison"]
    assert [s["new_name"] for s in comparison["segments"] if str(s["id"]) == segment] == [old_name]
    said = page.locator("#changes-segments").inner_text()
    assert "'Weekend big spenders'" in said
    assert f"'{old_name}'" not in said
    columns = page.locator("#changes-matrix thead th").all_inner_texts()
    assert "Weekend big spenders" in columns
    assert old_name not in columns
    assert watched.only_refusals(401)
    page.close()


def test_a_version_not_served_now_offers_no_edit_and_says_where_to_rename(
    browser: Browser, admin_url: str
) -> None:
    """Viewing an older version (a link), every card offered Edit and Save failed with 409; and
    a banner said a new version was served though nothing changed while the page was open."""
    before = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    segment = httpx.get(f"{admin_url}/segments", headers=ADMIN).json()["segments"][0]
    httpx.put(
        f"{admin_url}/admin/names",
        json={"version": before, "segments": [{"id": segment["id"], "name": "Renamed by API"}]},
        headers=ADMIN,
        timeout=SAVE_TIMEOUT,
    ).raise_for_status()
    after = httpx.get(f"{admin_url}/model", headers=ADMIN).json()["version"]
    assert after != before
    page, watched = open_page(browser, admin_url, path=f"/ui?version={before}")
    page.wait_for_selector("#key-panel:not([hidden])")
    page.fill("#api-key", ADMIN_KEY)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/models") as checked:
        page.click("#key-form button")
        page.wait_for_selector(".card")
    assert before in page.locator("#model-line").inner_text()
    assert page.locator(".edit").count() == 0
    note = page.locator("#access-note")
    assert note.inner_text() == (
        f"Read-only: this is version {before}, and segments are renamed on the version served "
        f"now, {after}. Rename them there"
    )
    assert note.locator("a").get_attribute("href") == f"/ui?version={after}"
    assert checked.value.ok
    page.wait_for_timeout(300)  # (the page's own check of the version served has answered)
    assert page.locator("#version-banner").is_hidden()
    note.locator("a").click()
    page.locator(".card h3 .name", has_text="Renamed by API").wait_for()
    served = httpx.get(f"{admin_url}/segments", headers=ADMIN).json()["segments"]
    assert page.locator(".edit").count() == len(served)
    assert page.locator("#access-note").is_hidden()
    assert watched.only_refusals(401)
    page.close()
