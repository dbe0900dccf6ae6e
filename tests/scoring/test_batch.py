"""Offline scoring: the same rows, columns and results as the service, chunk after chunk."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import httpx
import pandas as pd
import pytest

from scoring import batch
from scoring.cli import main
from segmentation.bundle import load_bundle
from service.app import create_app
from service.settings import Settings
from tests.conftest import SAMPLE_CSV
from tests.schemas import CLASSIC_TO_SNAKE
from training.cli import main as train_main


def score(models: Path, source: Path, target: Path, *extra: str) -> int:
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


def service_csv(models: Path, text: str, explain: bool) -> pd.DataFrame:
    """What POST /segment answers for the same CSV, through the real app."""
    app = create_app(Settings(models_dir=models))
    import anyio

    async def ask() -> str:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                response = await client.post(
                    "/segment",
                    content=text.encode(),
                    headers={"content-type": "text/csv"},
                    params={"explain": str(explain).lower()},
                )
                assert response.status_code == 200, response.text
                return response.text

    return pd.read_csv(io.StringIO(anyio.run(ask)), dtype=str, keep_default_na=False)


@pytest.mark.parametrize("explain", [False, True])
def test_csv_output_agrees_with_the_service_row_for_row(
    trained_models: Path, tmp_path: Path, explain: bool
) -> None:
    source = tmp_path / "export.csv"
    frame = pd.read_csv(SAMPLE_CSV, dtype=str)
    frame.insert(1, "Email", [f"c{i}@example.com" for i in range(len(frame))])
    frame.to_csv(source, index=False)
    target = tmp_path / "scored.csv"
    assert score(trained_models, source, target, *(["--explain"] if explain else [])) == 0
    offline = pd.read_csv(target, dtype=str, keep_default_na=False)
    online = service_csv(trained_models, source.read_text(), explain)
    pd.testing.assert_frame_equal(offline, online)
    assert len(offline) == 400
    assert offline["Email"].tolist() == frame["Email"].tolist()


def test_a_file_trained_with_columns_mapped_is_scored_and_posted_as_it_is(
    tmp_path: Path,
) -> None:
    """``segment-train --columns 'Client=customer_id,...'`` keeps the export's own names as
    aliases in the bundle, so the same export scores offline and online without a mapping."""
    export = tmp_path / "crm_export.csv"
    own = {"CustomerID": "Client", "Age": "Years", "Annual Income (k$)": "Income"}
    frame = pd.read_csv(SAMPLE_CSV).rename(columns={**own, "Spending Score (1-100)": "Score"})
    frame.to_csv(export, index=False)
    mapping = "Client=customer_id,Years=age,Income=annual_income,Score=spending_score"
    models = tmp_path / "models"
    options = ["--columns", mapping, "--k", "5", "--stability-samples", "0", "--quiet"]
    assert train_main(["--data", str(export), "--models-dir", str(models), *options]) == 0
    schema = load_bundle(models).metadata.feature_schema
    assert schema.id_aliases[-1] == "Client"
    assert {f.name: f.aliases[-1] for f in schema.features} == {
        "age": "Years",
        "annual_income": "Income",
        "spending_score": "Score",
    }
    target = tmp_path / "scored.csv"
    assert score(models, export, target) == 0
    offline = pd.read_csv(target, dtype=str, keep_default_na=False)
    assert offline["Client"].tolist() == frame["Client"].astype(str).tolist()
    online = service_csv(models, export.read_text(), explain=False)
    pd.testing.assert_frame_equal(offline, online)
    labels = load_bundle(models).pipeline.predict(
        frame.rename(
            columns={"Years": "age", "Income": "annual_income", "Score": "spending_score"}
        )[["age", "annual_income", "spending_score"]].astype(float)
    )
    assert offline["segment_id"].astype(int).tolist() == labels.tolist()


def test_parquet_in_and_out(trained_models: Path, tmp_path: Path) -> None:
    source = tmp_path / "export.parquet"
    pd.read_csv(SAMPLE_CSV).to_parquet(source)
    target = tmp_path / "scored.parquet"
    assert score(trained_models, source, target) == 0
    scored = pd.read_parquet(target)
    bundle = load_bundle(trained_models)
    features = scored.rename(columns=CLASSIC_TO_SNAKE)
    expected = bundle.pipeline.predict(features[bundle.metadata.features].astype(float))
    assert scored["segment_id"].tolist() == expected.tolist()
    assert scored["Age"].dtype.kind == "i"  # typed columns keep their types
    assert scored["atypical"].dtype == bool


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_scored_file_gets_the_umasks_mode_not_owner_only(
    trained_models: Path, tmp_path: Path, suffix: str
) -> None:
    """The people and jobs that read scores are often not the user who wrote them."""
    target = tmp_path / f"scored{suffix}"
    before = os.umask(0o022)
    try:
        assert score(trained_models, SAMPLE_CSV, target) == 0
    finally:
        os.umask(before)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_chunks_change_nothing(
    trained_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = tmp_path / "whole.csv"
    assert score(trained_models, SAMPLE_CSV, whole, "--explain") == 0
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    chunked = tmp_path / "chunked.csv"
    assert score(trained_models, SAMPLE_CSV, chunked, "--explain") == 0
    assert chunked.read_bytes() == whole.read_bytes()
    parquet = tmp_path / "in.parquet"
    pd.read_csv(SAMPLE_CSV).to_parquet(parquet)
    monkeypatch.setattr(batch, "PARQUET_BATCH_ROWS", 7)
    assert score(trained_models, parquet, tmp_path / "out.csv", "--explain") == 0
    assert (
        pd.read_csv(tmp_path / "out.csv")["segment_id"].tolist()
        == pd.read_csv(whole)["segment_id"].tolist()
    )


def test_a_bad_row_fails_the_run_and_writes_nothing(
    trained_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    lines = SAMPLE_CSV.read_text().splitlines()
    lines[300] = "300,Male,abc,40,50"
    lines[350] = "350,Male,40,40,500"
    source = tmp_path / "dirty.csv"
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / "scored.csv"
    target.write_text("yesterday's export\n")
    assert score(trained_models, source, target) == 2
    err = capsys.readouterr().err
    assert "segment-score: error: " in err
    assert "row 300, column 'age': value 'abc' is not a number" in err
    assert "nothing was written" in err
    assert target.read_text() == "yesterday's export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dirty.csv", "scored.csv"]


def test_a_bad_parquet_row_is_named_and_nothing_is_written(
    trained_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Parquet columns are typed: a null or an out-of-range number in a later chunk is named by
    its row in the file, as in a CSV, and the run writes nothing."""
    monkeypatch.setattr(batch, "PARQUET_BATCH_ROWS", 16)
    frame = pd.read_csv(SAMPLE_CSV)
    frame["Age"] = frame["Age"].astype("float64")
    frame.loc[99, "Age"] = None  # row 100 of the file
    frame.loc[149, "Annual Income (k$)"] = -5
    source = tmp_path / "dirty.parquet"
    frame.to_parquet(source)
    target = tmp_path / "scored.parquet"
    assert score(trained_models, source, target) == 2
    err = capsys.readouterr().err
    assert "row 100, column 'age': missing value" in err
    assert "row 150" not in err  # a later chunk: the first chunk with a problem is reported
    assert "nothing was written" in err
    assert not target.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("", "the file is empty"),
        ("age,spending_score\n30,50\n", "missing column 'annual_income'"),
        ("age,annual_income,spending_score\n", "no data rows"),
    ],
)
def test_unusable_inputs(
    trained_models: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    message: str,
) -> None:
    source = tmp_path / "in.csv"
    if content is not None:
        source.write_text(content)
    assert score(trained_models, source, tmp_path / "out.csv") == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_columns_for_a_file_says_how_a_files_columns_are_found(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("Years,annual_income,spending_score\n30,50,60\n")
    with pytest.raises(SystemExit) as exited:
        score(trained_models, source, tmp_path / "out.csv", "--columns", "Years=age")
    assert exited.value.code == 2
    assert "a model trained with --columns reads the names it mapped" in capsys.readouterr().err


def test_a_pinned_version_and_a_missing_bundle(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    version = load_bundle(trained_models).metadata.version
    assert score(trained_models, SAMPLE_CSV, tmp_path / "a.csv", "--version", version) == 0
    assert f"scored 400 customers with {version}" in capsys.readouterr().out
    assert score(tmp_path / "nothing", SAMPLE_CSV, tmp_path / "b.csv") == 2
    assert "no current model" in capsys.readouterr().err


def test_the_models_folder_defaults_to_segment_models_dir(
    trained_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEGMENT_MODELS_DIR", str(trained_models))
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "scored.csv"
    assert main(["--input", str(SAMPLE_CSV), "--output", str(output), "--quiet"]) == 0
    assert len(pd.read_csv(output)) == 400


def test_progress_lines_when_not_quiet(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "--models-dir",
        str(trained_models),
        "--input",
        str(SAMPLE_CSV),
        "--output",
        str(tmp_path / "o.csv"),
    ]
    assert main(args) == 0
    assert "segment-score: scoring: done, 400 rows in " in capsys.readouterr().err
