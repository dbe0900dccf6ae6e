"""segment-score writes the format its --output suffix names, or refuses a suffix it does not
know, listing the ones it does."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
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


def test_spark_only_options_say_so_in_the_help() -> None:
    help_text = " ".join(build_parser().format_help().split())
    assert "--on-invalid {fail,flag} with --engine spark only:" in help_text
    assert ".jsonl (JSON lines), .json (one array) or .parquet" in help_text
