"""The write-back table knows what changed: previous_segment_id and segment_changed_at, kept by
the upsert, on SQLite and a real PostgreSQL; a table from before them is migrated in the same
transaction as the rows, so a failed run leaves it exactly as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy
from sqlalchemy.exc import OperationalError

from scoring import database as database_module
from scoring.batch import ScoringError
from scoring.database import OUTPUT_COLUMNS, SCORED_COLUMNS, score_into_table
from segmentation.assigner import Assigner
from segmentation.bundle import Bundle
from segmentation.sources import DataSource
from tests.conftest import TrainFn
from tests.retraining_data import CENTRES, planted

OUTPUT = "customer_segments"
TIMES = [datetime(2026, 12, day, 9, tzinfo=UTC) for day in range(1, 5)]


@pytest.fixture
def model(tmp_path: Path, train_into: TrainFn) -> Bundle:
    return train_into(tmp_path / "models", k=3, data=planted(tmp_path / "train.csv", CENTRES))


def write_customers(url: str, frame: pd.DataFrame) -> None:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            frame.to_sql("customers", connection, index=False, if_exists="replace")
    finally:
        engine.dispose()


def read_output(url: str) -> pd.DataFrame:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            frame = pd.read_sql_query(
                sqlalchemy.text(f"SELECT * FROM {OUTPUT} ORDER BY customer_id"), connection
            )
    finally:
        engine.dispose()
    frame["segment_changed_at"] = pd.to_datetime(frame["segment_changed_at"], utc=True)
    return frame


def expected_ids(model: Bundle, frame: pd.DataFrame) -> np.ndarray:
    rows = model.pipeline.predict(frame[model.metadata.features])
    return np.asarray(model.metadata.segment_ids)[rows]


def score(model: Bundle, url: str, when: datetime) -> None:
    score_into_table(
        Assigner.from_bundle(model),
        DataSource(url, table="customers"),
        OUTPUT,
        model_version=model.metadata.version,
        now=when,
    )


def test_the_upsert_keeps_the_previous_segment_and_when_it_changed(
    database_url: str, model: Bundle, tmp_path: Path
) -> None:
    customers = pd.read_csv(planted(tmp_path / "customers.csv", CENTRES, seed=7, size=20))
    write_customers(database_url, customers)
    score(model, database_url, TIMES[0])
    first = read_output(database_url)
    assert list(first.columns) == list(OUTPUT_COLUMNS)
    assert first["segment_id"].tolist() == expected_ids(model, customers).tolist()
    assert first["previous_segment_id"].isna().all()
    assert first["segment_changed_at"].isna().all()

    score(model, database_url, TIMES[1])
    again = read_output(database_url)
    assert again["previous_segment_id"].isna().all()
    assert again["segment_changed_at"].isna().all()

    # Five young customers become middle-aged, middle-income ones.
    changed = customers.copy()
    movers = changed.index[:5]
    changed.loc[movers, ["age", "annual_income", "spending_score"]] = CENTRES["middle"]
    write_customers(database_url, changed)
    score(model, database_url, TIMES[2])
    after = read_output(database_url)
    before_ids = expected_ids(model, customers)
    after_ids = expected_ids(model, changed)
    moved = before_ids != after_ids
    assert moved.sum() == 5
    assert after["segment_id"].tolist() == after_ids.tolist()
    assert (
        after.loc[moved, "previous_segment_id"].astype(int).tolist() == before_ids[moved].tolist()
    )
    assert after.loc[moved, "segment_changed_at"].eq(TIMES[2]).all()
    assert after.loc[~moved, "previous_segment_id"].isna().all()
    assert after.loc[~moved, "segment_changed_at"].isna().all()

    # Scored again with nothing changed: the change stays recorded as it was.
    score(model, database_url, TIMES[3])
    later = read_output(database_url)
    pd.testing.assert_series_equal(later["previous_segment_id"], after["previous_segment_id"])
    pd.testing.assert_series_equal(later["segment_changed_at"], after["segment_changed_at"])
    assert pd.to_datetime(later["scored_at"], utc=True).eq(TIMES[3]).all()


def old_table(url: str, segment: int) -> None:
    """An output table as segment-score wrote it before the change columns, with one row."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text(
                    f"CREATE TABLE {OUTPUT} (customer_id BIGINT PRIMARY KEY, segment_id INTEGER "
                    "NOT NULL, segment_name TEXT NOT NULL, distance FLOAT NOT NULL, atypical "
                    "BOOLEAN NOT NULL, model_version TEXT NOT NULL, scored_at TIMESTAMP WITH "
                    "TIME ZONE NOT NULL)"
                )
            )
            connection.execute(
                sqlalchemy.text(
                    f"INSERT INTO {OUTPUT} VALUES (1, {segment}, 'old name', 0.5, false, "
                    "'v-old', '2026-11-01 09:00:00+00:00')"
                )
            )
    finally:
        engine.dispose()


def columns_of(url: str) -> list[str]:
    engine = sqlalchemy.create_engine(url)
    try:
        return [c["name"] for c in sqlalchemy.inspect(engine).get_columns(OUTPUT)]
    finally:
        engine.dispose()


def test_a_table_from_before_is_migrated_with_the_rows_or_not_at_all(
    database_url: str, model: Bundle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    customers = pd.read_csv(planted(tmp_path / "customers.csv", CENTRES, seed=7, size=20))
    write_customers(database_url, customers)
    ids = expected_ids(model, customers)
    other = next(i for i in model.metadata.segment_ids if i != ids[0])
    old_table(database_url, other)

    def broken_merge(*_: object) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(database_module, "_merge", broken_merge)
    with pytest.raises(ScoringError, match="database error"):
        score(model, database_url, TIMES[0])
    assert columns_of(database_url) == list(SCORED_COLUMNS)
    monkeypatch.undo()

    score(model, database_url, TIMES[0])
    assert columns_of(database_url) == list(OUTPUT_COLUMNS)
    written = read_output(database_url)
    assert written["segment_id"].tolist() == ids.tolist()
    # Customer 1 was in another segment before the migration: that is a change.
    assert written.loc[0, "previous_segment_id"] == other
    assert written.loc[0, "segment_changed_at"] == TIMES[0]
    assert written.loc[1:, "previous_segment_id"].isna().all()
    assert written.loc[1:, "segment_changed_at"].isna().all()
