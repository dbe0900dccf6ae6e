"""GET /segments/history: customers scored per segment and UTC day, kept across restarts in a
small SQLite file written off the request path."""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from segmentation.metadata import current_version
from service.operations.history import HISTORY_FILE, KEPT_DAYS, SegmentHistory
from tests.conftest import TrainFn
from tests.real_server import start_server
from tests.service.conftest import ClientFactory
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio

CUSTOMERS = [
    CUSTOMER,
    {"age": 52, "annual_income": 30, "spending_score": 12},
    {"age": 23, "annual_income": 20, "spending_score": 90},
    {"age": 40, "annual_income": 110, "spending_score": 15},
    {"age": 61, "annual_income": 55, "spending_score": 50},
]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@pytest.mark.e2e
def test_counts_survive_a_restart_and_page_traffic_is_not_counted(
    trained_models: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = start_server(trained_models, tmp_path / "first.log", SEGMENT_STATE_DIR=str(state))
    try:
        first.wait_for()
        with httpx.Client(base_url=first.url, timeout=10) as client:
            answer = client.post("/segment", json={"customers": CUSTOMERS * 3}).json()
            for customer in CUSTOMERS:
                assert client.post("/segment", json=customer).status_code == 200
            page = client.post(
                "/segment", json={"customers": CUSTOMERS}, headers={"X-Segment-Source": "ui"}
            )
            assert page.status_code == 200
    finally:
        first.stop()  # at once: only the flush at shutdown can have written the counts
    expected = Counter(r["segment_id"] for r in answer["results"])
    expected.update(Counter(r["segment_id"] for r in answer["results"][: len(CUSTOMERS)]))

    second = start_server(trained_models, tmp_path / "second.log", SEGMENT_STATE_DIR=str(state))
    try:
        second.wait_for()
        with httpx.Client(base_url=second.url, timeout=10) as client:
            history = client.get("/segments/history").json()
    finally:
        output = second.stop()
    assert "Traceback" not in output, output
    version = current_version(trained_models)
    assert history["model_version"] == version
    assert history["since"] == today()
    [day] = history["days"]
    assert (day["date"], day["model_version"], day["total"]) == (today(), version, 20)
    assert {s["id"]: s["count"] for s in day["segments"]} == dict(expected)
    assert [s["id"] for s in day["segments"]] == sorted(expected)
    assert sum(s["share"] for s in day["segments"]) == pytest.approx(1)
    names = {p["id"]: p["name"] for p in answer["segments"]}
    assert all(s["name"] == names[s["id"]] for s in day["segments"])


async def test_a_version_reloaded_away_keeps_its_counts_and_its_names(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    first = trained_copy(models, k=3).metadata
    async with make_client(models_dir=models, state_dir=tmp_path / "state") as client:
        answer = (await client.post("/segment", json={"customers": CUSTOMERS})).json()
        # Two reloads before any flush: the first version is then not even the previous one.
        for k in (4, 5):
            train_into(models, k=k)
            assert (await client.post("/admin/reload")).json()["changed"] is True
        history = (await client.get("/segments/history?days=1")).json()
    [day] = [d for d in history["days"] if d["model_version"] == first.version]
    names = {p["id"]: p["name"] for p in answer["segments"]}
    assert {s["id"]: s["name"] for s in day["segments"]} == {
        r["segment_id"]: names[r["segment_id"]] for r in answer["results"]
    }
    assert day["total"] == len(CUSTOMERS)


async def test_each_served_version_has_its_own_entry(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    old = trained_copy(tmp_path / "models", k=3).metadata.version
    new = train_into(tmp_path / "models", k=4).metadata.version
    async with make_client(
        models_dir=tmp_path / "models", extra_versions=(old,), state_dir=tmp_path / "state"
    ) as client:
        assert (await client.post("/segment", json={"customers": CUSTOMERS})).status_code == 200
        pinned = await client.post(f"/segment?version={old}", json={"customers": CUSTOMERS[:2]})
        assert pinned.status_code == 200
        every = (await client.get("/segments/history")).json()
        only_old = (await client.get(f"/segments/history?version={old}")).json()
        missing = await client.get("/segments/history?version=v-gone")
    assert every["model_version"] == new
    assert [(d["model_version"], d["total"]) for d in every["days"]] == sorted([(old, 2), (new, 5)])
    assert only_old["model_version"] == old
    assert [(d["model_version"], d["total"]) for d in only_old["days"]] == [(old, 2)]
    assert_error(missing, 404, "not_found", "'v-gone' is not served")


@pytest.mark.parametrize("days", ["0", "367", "-1", "abc", "1.5", ""])
async def test_a_bad_number_of_days_is_a_422_naming_it(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory, days: str
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await client.get(f"/segments/history?days={days}")
    error = assert_error(response, 422, "invalid_request", "query.days")
    assert error["details"][0]["field"] == "query.days"


async def test_the_window_keeps_the_last_days_and_says_since_when(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    history = SegmentHistory(tmp_path, dict, lambda version: {})
    assert history.flush()  # creates the file, which began counting today
    old_day = (datetime.now(UTC).date() - timedelta(days=40)).isoformat()
    with sqlite3.connect(tmp_path / HISTORY_FILE) as connection:
        connection.execute(
            "INSERT INTO segment_counts VALUES (?, 'v-old', 1, 'Old name', 7)", (old_day,)
        )
        connection.execute("UPDATE started SET day = ?", (old_day,))
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        await client.post("/segment", json=CUSTOMER)
        month = (await client.get("/segments/history")).json()
        year = (await client.get("/segments/history?days=366")).json()
        week = (await client.get("/segments/history?days=7")).json()
    assert [d["date"] for d in month["days"]] == [today()]
    assert month["since"] == (datetime.now(UTC).date() - timedelta(days=29)).isoformat()
    assert [d["date"] for d in year["days"]] == [old_day, today()]
    assert year["days"][0]["segments"] == [{"id": 1, "name": "Old name", "count": 7, "share": 1.0}]
    assert year["since"] == old_day  # counting began then, after the window's first day
    assert week["since"] == (datetime.now(UTC).date() - timedelta(days=6)).isoformat()


def test_rows_older_than_the_kept_days_are_removed_on_flush(tmp_path: Path) -> None:
    history = SegmentHistory(tmp_path, dict, lambda version: {})
    assert history.flush()
    now = datetime.now(UTC).date()
    kept, gone = now - timedelta(days=KEPT_DAYS - 1), now - timedelta(days=KEPT_DAYS)
    with sqlite3.connect(tmp_path / HISTORY_FILE) as connection:
        for day in (kept, gone):
            connection.execute(
                "INSERT INTO segment_counts VALUES (?, 'v', 0, 'A', 1)", (day.isoformat(),)
            )
    assert history.flush()
    with sqlite3.connect(tmp_path / HISTORY_FILE) as connection:
        days = [row[0] for row in connection.execute("SELECT day FROM segment_counts")]
    assert days == [kept.isoformat()]


async def test_a_flush_that_fails_is_logged_and_never_fails_a_request(
    trained_models: Path,
    tmp_path: Path,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    history_dir = blocker / "state"
    caplog.set_level(logging.WARNING, logger="service.operations.history")
    async with make_client(models_dir=trained_models, state_dir=history_dir) as client:
        for _ in range(3):
            response = await client.post("/segment", json={"customers": CUSTOMERS})
            assert response.status_code == 200
        failed = await client.get("/segments/history")
        blocker.unlink()  # the folder can be made now: the counts kept in memory are written
        recovered = (await client.get("/segments/history")).json()
    assert_error(failed, 503, "history_unavailable", "the segment history cannot be read")
    warnings = [r for r in caplog.records if "segment history: cannot write" in r.getMessage()]
    assert len(warnings) == 1  # once per failing stretch, not once per flush
    assert [d["total"] for d in recovered["days"]] == [15]


def test_several_writers_add_up_and_each_writes_only_what_its_totals_grew_by(
    tmp_path: Path,
) -> None:
    # Each worker's running totals per (version, segment), as its drift counters give them.
    totals: list[dict[tuple[str, int], int]] = [{} for _ in range(3)]
    writers = [
        SegmentHistory(tmp_path, seen.copy, lambda version: {0: "A", 1: "B"}) for seen in totals
    ]
    for number, seen in enumerate(totals, start=1):
        seen.update({("v", 0): number, ("v", 1): 1})
    assert all(writer.flush() for writer in writers)
    totals[0][("v", 0)] += 10  # counted after the first flush: only these 10 are new
    assert writers[0].flush()
    assert writers[0].flush()  # nothing grew: nothing is added twice
    entries, _ = writers[0].days(1)
    [entry] = entries
    assert [(s.id, s.name, s.count) for s in entry.segments] == [(0, "A", 16), (1, "B", 3)]
