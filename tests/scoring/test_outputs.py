"""segment-score writes the format its --output suffix names, or refuses a suffix it does not
know, listing the ones it does."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring import batch
from scoring.cli import build_parser, main
from tests.conftest import SAMPLE_CSV


def score(models: Path, target: Path, *extra: str, source: Path = SAMPLE_CSV) -> int:
    return main(
        [
            "--models-dir",
            str(models),
            "--input",
            str(source),
            "--output",
            str(target),
            "--quiet",
            *extra,
        ]
    )


@pytest.fixture
def as_csv(trained_models: Path, tmp_path: Path) -> pd.DataFrame:
    assert score(trained_models, tmp_path / "reference.csv", "--explain") == 0
    return pd.read_csv(tmp_path / "reference.csv")


@pytest.mark.parametrize("suffix", [".jsonl", ".JSONL", ".ndjson"])
def test_json_lines_hold_the_csv_rows(
    trained_models: Path, tmp_path: Path, as_csv: pd.DataFrame, suffix: str
) -> None:
    target = tmp_path / f"scored{suffix}"
    assert score(trained_models, target, "--explain") == 0
    lines = target.read_text().splitlines()
    assert len(lines) == 400
    rows = [json.loads(line) for line in lines]
    assert list(rows[0]) == list(as_csv.columns)
    assert [r["segment_id"] for r in rows] == as_csv["segment_id"].tolist()
    assert [r["atypical"] for r in rows] == as_csv["atypical"].tolist()
    assert [r["distance"] for r in rows] == pytest.approx(as_csv["distance"].tolist(), abs=1e-9)


def test_a_json_file_is_one_array_in_every_chunk(
    trained_models: Path, tmp_path: Path, as_csv: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)  # many chunks, one array
    target = tmp_path / "scored.json"
    assert score(trained_models, target) == 0
    rows = json.loads(target.read_text())
    assert isinstance(rows, list)
    assert len(rows) == 400
    assert [r["segment_name"] for r in rows] == as_csv["segment_name"].tolist()
    assert [r["CustomerID"] for r in rows] == [str(i) for i in as_csv["CustomerID"]]


def test_parquet_by_either_suffix(trained_models: Path, tmp_path: Path) -> None:
    for name in ("scored.parquet", "scored.PQ"):
        assert score(trained_models, tmp_path / name) == 0
        assert pq.read_table(tmp_path / name).num_rows == 400


@pytest.mark.parametrize("name", ["scored.txt", "scored", "scored.csv.gz", "scored.xlsx"])
def test_a_suffix_that_names_no_format_is_refused_listing_the_supported_ones(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        score(trained_models, tmp_path / name)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --output:" in error
    assert ".csv, .jsonl, .ndjson, .json, .parquet, .pq" in error
    assert not list(tmp_path.iterdir())


def test_the_output_formats_are_in_the_help() -> None:
    help_text = " ".join(build_parser().format_help().split())
    assert ".jsonl (JSON lines), .json (one array) or .parquet" in help_text


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_every_double_reads_back_as_the_same_double_as_in_parquet(
    trained_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str
) -> None:
    """pandas wrote 15 significant digits (1.247132142398249 for 1.2471321423982489): three
    distances in four read back as another double than the Parquet file, the CSV file and the
    service give."""
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)  # many chunks
    assert score(trained_models, tmp_path / "scored.parquet", "--explain") == 0
    assert score(trained_models, tmp_path / f"scored{suffix}", "--explain") == 0
    assert score(trained_models, tmp_path / "scored.csv", "--explain") == 0
    parquet = pq.read_table(tmp_path / "scored.parquet")
    text = (tmp_path / f"scored{suffix}").read_text()
    rows = [json.loads(line) for line in text.splitlines()] if suffix == ".jsonl" else None
    rows = rows if rows is not None else json.loads(text)
    doubles = [f.name for f in parquet.schema if f.type == pa.float64()]
    assert {"distance", "margin", "confidence"} <= set(doubles)
    for name in doubles:
        assert [row[name] for row in rows] == parquet.column(name).to_pylist(), name
    # the same digits as the CSV file, which writes the shortest text that reads back
    as_csv = pd.read_csv(tmp_path / "scored.csv", dtype=str)["distance"].tolist()
    written = re.findall(r'"distance":([^,}]+)', text)
    assert written == as_csv


def test_texts_are_escaped_as_json_strings(trained_models: Path, tmp_path: Path) -> None:
    notes = ['say "hi"', "back\\slash", "two\nlines", "tab\there", "bell\x07", "Zoë → ✓", ""]
    frame = pd.read_csv(SAMPLE_CSV, dtype=str).head(len(notes))
    frame["Note"] = notes
    source = tmp_path / "notes.csv"
    frame.to_csv(source, index=False)
    for name in ("scored.jsonl", "scored.json"):
        assert score(trained_models, tmp_path / name, source=source) == 0
        text = (tmp_path / name).read_text()
        rows = [json.loads(x) for x in text.split("\n") if x] if name.endswith("l") else None
        rows = rows if rows is not None else json.loads(text)
        assert [row["Note"] for row in rows] == notes
        assert [row["CustomerID"] for row in rows] == frame["CustomerID"].tolist()


def test_a_parquet_files_typed_columns_are_json_values(
    trained_models: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(SAMPLE_CSV).head(3)
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "visits", pa.array([3, None, -1], pa.int64())
    )
    table = table.append_column("joined", pa.array([date(2024, 1, 2), None, date(2020, 5, 6)]))
    table = table.append_column("rate", pa.array([0.1, None, 2.5], pa.float32()))
    table = table.append_column("vip", pa.array([True, None, False]))
    source = tmp_path / "typed.parquet"
    pq.write_table(table, source)
    assert score(trained_models, tmp_path / "scored.jsonl", source=source) == 0
    text = (tmp_path / "scored.jsonl").read_text()
    rows = [json.loads(x) for x in text.splitlines()]
    assert [r["visits"] for r in rows] == [3, None, -1]
    assert re.findall(r'"visits":([^,]+)', text) == ["3", "null", "-1"]  # pandas wrote 3.0
    assert [r["joined"] for r in rows] == ["2024-01-02", None, "2020-05-06"]
    assert [r["rate"] for r in rows] == [0.1, None, 2.5]  # float32's shortest digits
    assert [r["vip"] for r in rows] == [True, None, False]
    assert [r["Age"] for r in rows] == frame["Age"].tolist()
