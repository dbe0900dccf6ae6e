"""Score a file as a marketer would: one bad row does not sink the file; it is listed with the
file's own line number and column header, the rest are scored, and each segment's customers
download as a CSV of their own."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser

from tests.conftest import CLASSIC_CSV
from tests.ui.conftest import open_page

pytestmark = pytest.mark.e2e

SPENDING = "Spending Score (1-100)"


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_a_file_with_one_bad_row_lists_it_scores_the_rest_and_splits_by_segment(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    lines = CLASSIC_CSV.read_text().splitlines()[:13]
    # Line 6 of the file (customer 5): a spending score written with a decimal comma.
    cells = next(csv.reader([lines[5]]))
    cells[4] = "40,5"
    lines[5] = ",".join(f'"{c}"' if "," in c else c for c in cells)
    upload = tmp_path / "mall.csv"
    upload.write_text("\n".join(lines) + "\n")
    page, watched = open_page(browser, url)
    page.wait_for_selector("#csv-file")
    page.set_input_files("#csv-file", str(upload))
    with page.expect_download() as download:
        page.click("#file-form button")
    assert download.value.suggested_filename == "mall-segments.csv"
    scored = read_csv(Path(download.value.path()))
    assert [row["CustomerID"] for row in scored] == [str(n) for n in range(1, 13)]
    bad = [row for row in scored if row["error"]]
    assert [row["CustomerID"] for row in bad] == ["5"]
    assert bad[0]["segment_id"] == ""
    assert "Scored 11 of 12 rows of mall.csv" in page.locator("#file-status").inner_text()
    listed = page.locator("#rejected-rows li").all_inner_texts()
    assert len(listed) == 1
    assert listed[0].startswith("line 6")
    assert f'column "{SPENDING}"' in listed[0]
    assert "use a decimal point: 40.5" in listed[0]
    # Each segment's customers, as the API scored them, in a file of their own.
    expected: dict[str, list[str]] = {}
    for row in scored:
        if not row["error"]:
            expected.setdefault(row["segment_id"], []).append(row["CustomerID"])
    links = page.locator("#file-result a")
    assert links.count() == len(expected)
    for index in range(links.count()):
        link = links.nth(index)
        segment = (link.get_attribute("id") or "").split("-")[1]
        with page.expect_download() as part:
            link.click()
        assert part.value.suggested_filename == f"mall-segment-{segment}.csv"
        rows = read_csv(Path(part.value.path()))
        assert [row["CustomerID"] for row in rows] == expected[segment]
        assert {row["segment_id"] for row in rows} == {segment}
        assert "error" not in rows[0]
        assert f"{len(rows)} customer" in link.inner_text()
    assert watched.problems == []
    page.close()


def test_a_file_whose_header_is_wrong_is_refused_whole_naming_the_column(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    upload = tmp_path / "bad.csv"
    upload.write_text("age,annual_income,spend\n30,70,80\n")
    refused = httpx.post(
        f"{url}/segment",
        params={"invalid_rows": "mark"},
        content=upload.read_bytes(),
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 422
    page, watched = open_page(browser, url)
    page.wait_for_selector("#csv-file")
    page.set_input_files("#csv-file", str(upload))
    page.click("#file-form button")
    page.locator("#file-status", has_text="refused").wait_for()
    message = refused.json()["error"]["message"]
    # Said once: the API's message is its first detail's words.
    assert page.locator("#file-errors").inner_text().count(message) == 1
    assert watched.only_refusals(422)
    page.close()


def test_a_windows_1252_file_is_read_as_such_said_so_and_scored(
    browser: Browser, url: str, tmp_path: Path
) -> None:
    """Excel's "CSV" on a Western Windows is Windows-1252, and a person cannot declare a
    charset: the page reads a file that is not UTF-8 as Windows-1252, says so, and sends it
    as UTF-8. '€' is 0x80 there (not Latin-1), 'ü' 0xFC."""
    header = CLASSIC_CSV.read_text().splitlines()[0]
    ids = ["Müller-1", "€-club-2", "Ærø-3"]
    rows = [f"{ids[0]},Male,31,72,81", f"{ids[1]},Female,45,40,20", f"{ids[2]},Female,23,18,77"]
    upload = tmp_path / "kunden.csv"
    upload.write_bytes(("\r\n".join([header, *rows]) + "\r\n").encode("cp1252"))
    assert b"\x80" in upload.read_bytes()
    page, watched = open_page(browser, url)
    page.wait_for_selector("#csv-file")
    page.set_input_files("#csv-file", str(upload))
    with (
        page.expect_request(lambda r: urlsplit(r.url).path == "/segment") as sent,
        page.expect_download(timeout=15_000) as download,
    ):
        page.click("#file-form button")
    assert sent.value.headers["content-type"] == "text/csv; charset=utf-8"
    assert "€-club-2" in (sent.value.post_data_buffer or b"").decode("utf-8")
    status = page.locator("#file-status").inner_text()
    assert "kunden.csv was not UTF-8: read as Windows-1252." in status
    assert "Scored 3 of 3 rows of kunden.csv" in status
    scored = read_csv(Path(download.value.path()))
    assert [row["CustomerID"] for row in scored] == ids
    assert all(row["segment_id"] != "" for row in scored)
    # A UTF-8 file is read as UTF-8 and nothing is said about it.
    utf8 = tmp_path / "customers.csv"
    utf8.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    page.set_input_files("#csv-file", str(utf8))
    with page.expect_download() as again:
        page.click("#file-form button")
    assert [row["CustomerID"] for row in read_csv(Path(again.value.path()))] == ids
    assert "Windows-1252" not in page.locator("#file-status").inner_text()
    assert watched.problems == []
    page.close()
