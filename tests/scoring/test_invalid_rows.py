"""Invalid rows of a file scored offline: named where a person finds them (row, line, customer
id), counted up to where the run stopped; or, with --on-invalid flag, written with a null
segment and their reason, as on Spark, never dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from scoring import batch
from scoring.cli import build_parser, main
from tests.conftest import REPO_ROOT
from tests.retraining_data import RETAIL_CSV
from training.cli import main as train_main

# A CRM's own customer table: its id column is member_no, its channel sales_channel.
SCHEMA = """id_aliases = ["member_no"]

[[feature]]
name = "tenure_months"
minimum = 0
maximum = 600

[[feature]]
name = "orders_per_year"
transform = "log1p"

[[feature]]
name = "sales_channel"
levels = ["online", "store", "both"]
"""
HEADER = "member_no,tenure_months,orders_per_year,sales_channel,note"
FAX = "column 'sales_channel': value 'fax' is not one of 'online', 'store', 'both'"
SAMPLE_ORDERS = REPO_ROOT / "data" / "sample_orders.csv"


@pytest.fixture(scope="module")
def member_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("members")
    retail = pd.read_csv(RETAIL_CSV)
    export = pd.DataFrame(
        {
            "member_no": [f"M{n}" for n in range(1, len(retail) + 1)],
            "tenure_months": retail["tenure_months"],
            "orders_per_year": retail["orders_per_year"],
            "sales_channel": retail["channel"],
        }
    )
    export.to_csv(root / "members.csv", index=False)
    (root / "schema.toml").write_text(SCHEMA)
    options = ["--schema", str(root / "schema.toml"), "--k", "3", "--stability-samples", "0"]
    arguments = ["--data", str(root / "members.csv"), "--models-dir", str(root / "models")]
    assert train_main([*arguments, *options, "--quiet"]) == 0
    return root / "models"


def write_members(path: Path, rows: int, bad: dict[int, str]) -> dict[int, int]:
    """``rows`` members (row n is member 'Mn'), every fourth with a note over three lines, and
    the rows in ``bad`` with that text as their channel ('fax') or, when it has a comma, as the
    whole row; the line each row starts on (the header is line 1)."""
    lines, starts, line = [HEADER], {}, 2
    for row in range(1, rows + 1):
        note = '"called,\nwrote\nvisited"' if row % 4 == 0 else "none"
        channel = bad.get(row) or ("online", "store", "both")[row % 3]
        text = f"M{row},{row % 90},{1 + row % 30},{channel},{note}"
        lines.append(text if "," not in channel else channel)
        starts[row] = line
        line += lines[-1].count("\n") + 1
    path.write_text("\n".join(lines) + "\n")
    return starts


def score(models: Path, source: Path, target: Path, *extra: str) -> int:
    arguments = ["--models-dir", str(models), "--input", str(source), "--output", str(target)]
    return main([*arguments, "--quiet", *extra])


def test_a_bad_row_is_named_by_its_line_and_customer_id_and_counted(
    member_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """QA's file: 'row 2' without the member it is, a row number that is not the line an
    editor shows, and '6 invalid rows in this chunk'."""
    source = tmp_path / "bad.csv"
    lines = write_members(source, 40, dict.fromkeys([2, 5, 10], "fax"))
    assert (lines[5], lines[10]) == (8, 15)  # values over several lines come before them
    target = tmp_path / "o.csv"
    assert score(member_models, source, target) == 2
    err = capsys.readouterr().err
    first, *others = err.splitlines()
    assert first == (
        f"segment-score: error: {source}: row 2 (line 3), customer_id 'M2', {FAX} (3 invalid "
        "rows in 40 rows; nothing was written; --on-invalid flag keeps them with a null "
        "segment and a 'problem' column)"
    )
    fax = FAX.removeprefix("column 'sales_channel'")
    assert others == [
        f"  row 5 (line 8), customer_id 'M5', sales_channel{fax}",
        f"  row 10 (line 15), customer_id 'M10', sales_channel{fax}",
    ]
    assert not target.exists()


def test_the_count_says_where_the_run_stopped(
    member_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The file is scored in chunks and the run stops at the first with an invalid row: the
    count is of the rows read up to there, and says so."""
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    source = tmp_path / "bad.csv"
    lines = write_members(source, 300, dict.fromkeys([150, 151, 290], "fax"))
    ends = pd.Series([b.num_rows for b in batch._batches(source)]).cumsum().tolist()
    end = next(e for e in ends if e >= 151)
    assert end < 290 < ends[-1] == 300
    assert score(member_models, source, tmp_path / "o.csv") == 2
    err = capsys.readouterr().err
    assert f"row 150 (line {lines[150]}), customer_id 'M150', {FAX}" in err
    assert f"(2 invalid rows in the first {end} rows, where the run stopped;" in err
    assert "M290" not in err


def test_a_parquet_row_is_named_by_number_and_customer_id(
    member_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parquet has no lines; an integer id is shown as written, not as a float."""
    frame = pd.DataFrame(
        {
            "member_no": pd.array([1001, None, 1003, 1004], dtype="Int64"),
            "tenure_months": [10, 20, 30, 40],
            "orders_per_year": [5, 6, 7, 8],
            "sales_channel": ["online", "fax", "store", "fax"],
        }
    )
    source = tmp_path / "bad.parquet"
    frame.to_parquet(source)
    assert score(member_models, source, tmp_path / "o.parquet") == 2
    first, second = capsys.readouterr().err.splitlines()
    # Row 2 has no id: named by its number alone.
    assert first.endswith(
        f"bad.parquet: row 2, {FAX} (2 invalid rows in 4 rows; nothing was "
        "written; --on-invalid flag keeps them with a null segment and a "
        "'problem' column)"
    )
    assert second.startswith("  row 4, customer_id '1004', sales_channel: value 'fax'")


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_flagged_rows_are_written_in_place_with_a_null_segment_and_their_problem(
    member_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    suffix: str,
) -> None:
    """As --engine spark --on-invalid flag and POST /segment?invalid_rows=mark: every row comes
    back, in order; a valid one scored as usual, an invalid one with empty segment columns and
    its reason. Chunks with and without invalid rows go into one file."""
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    bad = {3: "fax", 150: "fax", 151: "M151,-1,5,fax,none", 290: "fax"}
    source = tmp_path / "bad.csv"
    write_members(source, 300, bad)
    clean = tmp_path / "clean.csv"
    write_members(clean, 300, {})
    assert score(member_models, clean, tmp_path / f"clean{suffix}") == 0
    capsys.readouterr()
    target = tmp_path / f"flagged{suffix}"
    assert score(member_models, source, target, "--on-invalid", "flag") == 0
    out = capsys.readouterr().out
    assert out.startswith("scored 296 customers with ")
    assert "  invalid, kept with a null segment: 4 (300 rows written)\n" in out
    flagged, expected = read(target), read(tmp_path / f"clean{suffix}")
    assert flagged["member_no"].tolist() == [f"M{n}" for n in range(1, 301)]
    assert list(flagged.columns) == [*expected.columns, "problem"]
    invalid = flagged["member_no"].isin([f"M{n}" for n in bad])
    assert flagged.loc[invalid, "problem"].tolist() == [
        FAX,
        FAX,
        "column 'tenure_months': value -1 is outside the valid range 0 to 600; " + FAX,
        FAX,
    ]
    assert flagged.loc[~invalid, "problem"].isna().all()
    assigned = ["segment_id", "segment_name", "distance", "atypical"]
    assert flagged.loc[invalid, assigned].isna().all().all()
    # The valid rows as a file without the invalid ones scores them (0 == 0.0: a column with
    # nulls reads back as floats in pandas, while the file keeps its types, below).
    records = flagged.loc[~invalid, assigned].to_dict("records")
    assert records == expected.loc[~invalid, assigned].to_dict("records")
    if suffix == ".parquet":
        types = pq.read_schema(target)
        assert (
            types.field("segment_id").type
            == pq.read_schema(tmp_path / "clean.parquet").field("segment_id").type
        )
        assert str(types.field("atypical").type) == "bool"


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines()])
    return pd.read_csv(path, dtype={"segment_id": "Int64"})


def test_flag_goes_with_a_file_not_with_a_database_table(
    member_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database output table is written all or nothing, and has no column for a problem."""
    arguments = ["--models-dir", str(member_models), "--data", f"sqlite:///{tmp_path}/crm.db"]
    arguments += ["--table", "customers", "--output-table", "segments", "--on-invalid", "flag"]
    with pytest.raises(SystemExit) as exited:
        main(arguments)
    assert exited.value.code == 2
    assert (
        "--on-invalid flag writes invalid rows into a file; a database --output-table is written "
        "all or nothing" in capsys.readouterr().err
    )
    assert not (tmp_path / "crm.db").exists()


def test_the_help_says_what_each_choice_does_and_where_flag_goes() -> None:
    help_text = " ".join(build_parser().format_help().split())
    assert (
        "--on-invalid {fail,flag} fail: an invalid row fails the run, named with its problems "
        "and counted, and nothing is written (default); flag: every row is written, an invalid "
        "one with empty segment columns and its reason in a 'problem' column, and counted. flag "
        "writes files (and, with --engine spark, catalog tables); a database --output-table is "
        "all or nothing" in help_text
    )


def test_customers_from_orders_are_named_by_id_and_can_be_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A customer made from orders has no row of the file: 'row 1' named a row of the totals."""
    models = tmp_path / "models"
    training = ["--transactions", str(SAMPLE_ORDERS), "--models-dir", str(models), "--k", "4"]
    assert train_main([*training, "--stability-samples", "0", "--quiet"]) == 0
    orders = pd.read_csv(SAMPLE_ORDERS, dtype=str)
    customer = orders.loc[0, "customer_id"]
    orders.loc[orders["customer_id"] == customer, "amount"] = "1e300"
    path = tmp_path / "orders.csv"
    orders.to_csv(path, index=False)
    arguments = ["--models-dir", str(models), "--transactions", str(path), "--quiet"]
    capsys.readouterr()
    assert main([*arguments, "--output", str(tmp_path / "o.csv")]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert f"(customers from orders): customer_id '{customer}', column 'monetary': " in first
    assert "(1 invalid row in 500 rows; nothing was written; --on-invalid flag keeps" in first
    target = tmp_path / "flagged.csv"
    assert main([*arguments, "--output", str(target), "--on-invalid", "flag"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("scored 499 customers with ")
    assert "  invalid, kept with a null segment: 1 (500 rows written)\n" in out
    flagged = pd.read_csv(target, dtype={"customer_id": str})
    assert len(flagged) == 500
    [row] = flagged[flagged["problem"].notna()].to_dict("records")
    assert row["customer_id"] == customer
    assert row["problem"].startswith("column 'monetary': value ")
    assert pd.isna(row["segment_id"])
