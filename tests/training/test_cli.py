"""The training command: output, determinism, and failures that leave the current model alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from segmentation.metadata import (
    CURRENT_POINTER,
    METADATA_FILE,
    MODEL_FILE,
    REPORT_FILE,
    REPORT_SAMPLE_FILE,
)
from tests.conftest import REPO_ROOT
from tests.postgres import PostgresServer
from training.cli import main
from training.sample_data import generate_customers

HEADER = "CustomerID,Gender,Age,Annual Income (k$),Spending Score (1-100)"


def snapshot(models_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(models_dir)): p.read_bytes()
        for p in sorted(models_dir.rglob("*"))
        if p.is_file()
    }


def test_trains_and_promotes_a_bundle(
    sample_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    code = main(["--data", str(sample_csv), "--models-dir", str(models), "--k", "4"])
    assert code == 0
    version = (models / CURRENT_POINTER).read_text().strip()
    bundle = models / version
    assert {p.name for p in bundle.iterdir()} == {
        MODEL_FILE,
        METADATA_FILE,
        REPORT_FILE,
        REPORT_SAMPLE_FILE,
    }
    metadata = json.loads((bundle / METADATA_FILE).read_text())
    assert metadata["k"] == 4
    assert metadata["features"] == ["age", "annual_income", "spending_score"]
    assert len(metadata["segments"]) == 4
    out = capsys.readouterr().out
    assert f"trained {version}: k=4 (fixed), 300 customers" in out
    assert "stability: mean adjusted Rand index" in out
    assert "(now current)" in out


def test_the_models_folder_defaults_to_segment_models_dir_like_the_service(
    sample_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "from-env"
    monkeypatch.setenv("SEGMENT_MODELS_DIR", str(models))
    monkeypatch.chdir(tmp_path)
    assert main(["--data", str(sample_csv), "--k", "3", "--stability-samples", "0", "--quiet"]) == 0
    assert (models / CURRENT_POINTER).is_file()
    assert not (tmp_path / "models").exists()


def test_no_promote_writes_the_bundle_but_keeps_the_current_one(
    sample_csv: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    args = [
        "--data",
        str(sample_csv),
        "--models-dir",
        str(models),
        "--k",
        "3",
        "--stability-samples",
        "0",
    ]
    assert main(args) == 0
    current = (models / CURRENT_POINTER).read_text()
    assert main([*args, "--no-promote"]) == 0
    assert (models / CURRENT_POINTER).read_text() == current
    assert len([p for p in models.iterdir() if p.is_dir()]) == 2


def test_same_data_and_seed_give_the_same_bundle(sample_csv: Path, tmp_path: Path) -> None:
    bundles = []
    for run in ("a", "b"):
        models = tmp_path / run
        args = ["--data", str(sample_csv), "--models-dir", str(models), "--seed", "9", "--quiet"]
        assert main([*args, "--k-range", "3-5", "--stability-samples", "2"]) == 0
        bundles.append(models / (models / CURRENT_POINTER).read_text().strip())
    first, second = (json.loads((b / METADATA_FILE).read_text()) for b in bundles)
    for metadata in (first, second):
        del metadata["created_at"], metadata["version"]
    assert first == second
    assert (bundles[0] / MODEL_FILE).read_bytes() == (bundles[1] / MODEL_FILE).read_bytes()
    for name in (REPORT_FILE, REPORT_SAMPLE_FILE):
        assert (bundles[0] / name).read_bytes() == (bundles[1] / name).read_bytes()


def test_different_seed_is_recorded(sample_csv: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert (
        main(
            [
                "--data",
                str(sample_csv),
                "--models-dir",
                str(models),
                "--seed",
                "123",
                "--k",
                "3",
                "--stability-samples",
                "0",
            ]
        )
        == 0
    )
    version = (models / CURRENT_POINTER).read_text().strip()
    assert json.loads((models / version / METADATA_FILE).read_text())["seed"] == 123


BAD_RUNS = {
    "missing file": (None, ["--data", "{tmp}/absent.csv"], "absent.csv: file not found"),
    "repeated customer id": (
        f"{HEADER}\n1,Male,20,15,39\n1,Male,30,15,39\n",
        [],
        "customer id '1' is repeated",
    ),
    "names file missing": (
        f"{HEADER}\n" + "\n".join(f"{i},Male,{20 + i},{15 + i},{30 + i}" for i in range(20)),
        ["--k", "3", "--names", "{tmp}/names.yaml"],
        "names.yaml: file not found",
    ),
    "empty file": ("", [], "the file is empty"),
    "missing column": (
        "CustomerID,Age,Spending Score (1-100)\n1,19,39\n",
        [],
        "missing required column 'annual_income'",
    ),
    "non-numeric": (f"{HEADER}\n1,Male,x,15,39\n", [], "column 'age' ('Age'), row 1 (line 2)"),
    "missing value": (f"{HEADER}\n1,Male,19,15,\n", [], "missing value"),
    "age out of range": (f"{HEADER}\n1,Male,200,15,39\n", [], "value 200 is outside"),
    "negative income": (f"{HEADER}\n1,Male,20,-1,39\n", [], "value -1 is outside"),
    "score out of range": (f"{HEADER}\n1,Male,20,15,150\n", [], "value 150 is outside"),
    "fewer rows than k": (
        f"{HEADER}\n1,Male,20,15,39\n2,Male,30,15,39\n",
        ["--k", "3", "--min-rows", "1"],
        "2 rows are fewer than k=3",
    ),
    "too few distinct rows": (
        f"{HEADER}\n1,Male,20,15,39\n2,Male,20,15,39\n3,Female,20,15,39\n",
        ["--k", "2", "--min-rows", "1"],
        "only 1 distinct customers in 3 rows, fewer than k=2",
    ),
    "too few customers to choose k": (
        HEADER + "".join(f"\n{i},Male,{20 + i},{15 + 3 * i},{5 * i}" for i in range(1, 12)) + "\n",
        [],
        "11 customers are too few to choose k in 2-10: --k auto tries a k only where segments "
        "would average at least 10 customers (20 for k = 2); give --k",
    ),
    "too few rows left after dropping": (
        f"{HEADER}\n1,Male,20,15,39\n2,Male,x,15,39\n3,Female,25,15,39\n",
        ["--drop-invalid", "--min-rows", "3"],
        "only 2 valid rows of 3, fewer than the 3 needed",
    ),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_input_exits_2_with_one_line_and_leaves_the_model_untouched(
    case: str, tmp_path: Path, sample_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    assert (
        main(
            [
                "--data",
                str(sample_csv),
                "--models-dir",
                str(models),
                "--k",
                "3",
                "--stability-samples",
                "0",
            ]
        )
        == 0
    )
    before = snapshot(models)
    capsys.readouterr()
    text, extra, expected = BAD_RUNS[case]
    data = tmp_path / "bad.csv"
    if text is not None:
        data.write_text(text)
    args = ["--data", str(data), "--models-dir", str(models)]
    args += [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert main(args) == 2
    errors = [
        line
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("segment-train: error: ")
    ]
    assert len(errors) == 1
    assert expected in errors[0]
    assert snapshot(models) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--k", "1"], "k must be at least 2, got 1"),
        (["--k", "five"], "k must be a whole number or 'auto', got 'five'"),
        (["--k-range", "1-5"], "k range must be LOW-HIGH with 2 <= LOW <= HIGH"),
        (["--k-range", "6-3"], "k range must be LOW-HIGH"),
        (["--k-range", "a-b"], "k range must look like 2-10"),
        (["--columns", "Income"], "is not of the form SOURCE=TARGET"),
        (["--min-rows", "0"], "must be at least 1"),
        (["--stability-samples", "-1"], "must be 0 or more"),
        (["--as-of", "2026-13-01"], "'2026-13-01' is not a date of the form YYYY-MM-DD"),
        (["--features", "age,age"], "feature 'age' is listed more than once"),
        (["--features", ","], "the feature list is empty"),
    ],
)
def test_bad_options_exit_2(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    assert expected in capsys.readouterr().err


def test_module_entry_point_runs(sample_csv: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training",
            "--data",
            str(sample_csv),
            "--models-dir",
            str(tmp_path / "m"),
            "--features",
            "annual_income,spending_score",
            # The entry point is what is tested: no k search and no refits (the slow parts).
            "--k",
            "5",
            "--stability-samples",
            "0",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "segment 4:" in result.stdout


def test_trains_from_a_postgresql_table_with_mapped_columns_and_keeps_no_password(
    postgres: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.url(postgres.create_database(), password="pw-s3cret")
    crm_names = {"CustomerID": "id", "Age": "years", "Annual Income (k$)": "income"}
    frame = generate_customers(300, seed=4).frame.rename(columns=crm_names)
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        frame.to_sql("crm_customers", connection, index=False)
    engine.dispose()
    models = tmp_path / "models"
    mapping = "id=customer_id,years=age,income=annual_income"
    args = ["--data", url, "--table", "crm_customers", "--columns", mapping]
    args += ["--models-dir", str(models), "--k", "3", "--stability-samples", "0"]
    assert main(args) == 0
    version = (models / CURRENT_POINTER).read_text().strip()
    metadata = (models / version / METADATA_FILE).read_text()
    assert json.loads(metadata)["training_data"]["rows"] == 300
    printed = capsys.readouterr()
    for text in (metadata, printed.out, printed.err):
        assert "pw-s3cret" not in text
    assert "postgres:***@" in metadata
