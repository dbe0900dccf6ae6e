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


def post_to_service(models: Path, body: bytes, explain: bool = False) -> httpx.Response:
    """What POST /segment answers for the same CSV, through the real app."""
    app = create_app(Settings(models_dir=models))
    import anyio

    async def ask() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                return await client.post(
                    "/segment",
                    content=body,
                    headers={"content-type": "text/csv"},
                    params={"explain": str(explain).lower()},
                )

    return anyio.run(ask)


def service_csv(models: Path, text: str, explain: bool) -> pd.DataFrame:
    response = post_to_service(models, text.encode(), explain)
    assert response.status_code == 200, response.text
    return pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)


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
    assert "row 300 (line 301), customer_id '300', column 'age': value 'abc' is not a number" in err
    assert "row 350" not in err  # a later chunk: the count stops where the run did
    assert "(1 invalid row in the first " in err
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
    assert "row 100, customer_id '100', column 'age': missing value" in err
    assert "(line" not in err  # Parquet has no lines
    assert "(1 invalid row in the first 112 rows, where the run stopped;" in err
    assert "row 150" not in err  # a later chunk: the first chunk with a problem is reported
    assert "nothing was written" in err
    assert not target.exists()


HEADER = "CustomerID,Age,Annual Income (k$),Spending Score (1-100),Note"


def customer_lines(count: int) -> list[str]:
    """Lines of a customer file (the header is line 1), every fifth with a note over three lines
    (quoted, with a comma): the lines a record starts on are not the row numbers."""
    lines = [HEADER]
    for row in range(1, count + 1):
        note = f'"a note,\nover\nthree lines {row}"' if row % 5 == 0 else "fine"
        lines.append(f"C{row:04d},{20 + row % 50},{15 + row % 100},{1 + row % 99},{note}")
    return lines


def physical_line(lines: list[str], index: int) -> int:
    """The physical line ``lines[index]`` starts on, a line end inside a value counting too."""
    return 1 + sum(line.count("\n") + 1 for line in lines[:index])


def malformed(lines: list[str]) -> dict[str, tuple[bytes, str]]:
    """Files wrong at one line beyond the first 1 KiB block, each with the words both readers
    use (``{line}`` stands for where it is)."""
    at = 150
    line = physical_line(lines, at)
    ragged, quoted, latin, spaces = list(lines), list(lines), list(lines), list(lines)
    # In the last column: both pyarrow and the csv module took the rest of the file as the
    # value, and 151 of 300 customers were scored without a word.
    last = [*lines[:at], 'C0150,40,50,60,"a note', *(x for x in lines[at + 1 :] if '"' not in x)]
    ragged[at] = "C0150,40,50,60"
    # Not in the last column, and no quote after it (the next one would close it): pyarrow
    # takes a last value that runs to the end of the file as written.
    quoted[at:] = ['C0150,40,50,"60,a note', *(x for x in lines[at:] if '"' not in x)]
    latin[at] = "C0150,40,50,60,café"
    spaces[at] = "   "
    cases = {
        "ragged": (
            ragged,
            f"line {line} has 4 fields and the header has 5 (a comma inside a "
            "value must be quoted)",
        ),
        "never closed": (quoted, f"the quote opened on line {line} is never closed"),
        "open to the end": (last, f"the quote opened on line {line} is never closed"),
        "spaces": (spaces, f"line {line} holds only spaces: delete it, or leave it empty"),
    }
    found = {
        name: ("\n".join(text).encode() + b"\n", words) for name, (text, words) in cases.items()
    }
    body = ("\n".join(latin) + "\n").encode("latin-1")
    found["not utf-8"] = (body, f"line {line}: byte {body.index(0xE9)} is not UTF-8")
    return found


@pytest.mark.parametrize(
    "case", ["ragged", "never closed", "open to the end", "not utf-8", "spaces"]
)
def test_a_malformed_file_is_named_by_its_first_bad_line_as_the_service_names_it(
    trained_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    """pyarrow's words (``Expected 5 columns, got 4: ...``, a byte in its buffer) named no line;
    the bad line lies beyond the first block, after quoted values over several lines."""
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    lines = customer_lines(300)
    assert len("\n".join(lines[:150])) > 3 * 1024  # in the fourth block or later
    body, words = malformed(lines)[case]
    source = tmp_path / "in.csv"
    source.write_bytes(body)
    target = tmp_path / "scored.csv"
    assert score(trained_models, source, target) == 2
    err = capsys.readouterr().err
    assert f"segment-score: error: {source}: malformed CSV: {words}" in err, err
    if case == "not utf-8":
        assert "save it as UTF-8 (in Excel, 'CSV UTF-8'" in err
    assert not target.exists()
    if case != "spaces":  # (the service reads a line of spaces as blank, as pandas did)
        answer = post_to_service(trained_models, body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"].startswith(f"malformed CSV: {words}")


def test_a_quote_left_open_in_the_last_column_loses_no_row_silently(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Within one block pyarrow read the rest of the file as the last value: 3 customers
    scored of 2,000, exit 0. A closed value over several lines in the last row still reads."""
    lines = [HEADER, "C1,20,15,39,fine", "C2,21,16,40,fine", 'C3,22,17,41,"a note']
    lines += [f"C{row},30,40,50,fine" for row in range(4, 2001)]
    source = tmp_path / "in.csv"
    source.write_text("\n".join(lines) + "\n")
    target = tmp_path / "scored.csv"
    assert score(trained_models, source, target) == 2
    assert "malformed CSV: the quote opened on line 4 is never closed" in (capsys.readouterr().err)
    assert not target.exists()
    answer = post_to_service(trained_models, source.read_bytes())
    assert answer.status_code == 400, answer.text
    assert "the quote opened on line 4 is never closed" in answer.json()["error"]["message"]
    closed = [*lines[:3], *lines[4:], 'C3,22,17,41,"a note\nover two lines"']
    source.write_text("\n".join(closed) + "\n")
    assert score(trained_models, source, target) == 0
    assert len(pd.read_csv(target)) == 2000
    # A value longer than the csv module's 128 KiB limit is no reason to refuse a file.
    closed[1] = f"C1,20,15,39,{'x' * 200_000}"
    source.write_text("\n".join(closed) + "\n")
    assert score(trained_models, source, target) == 0
    assert len(pd.read_csv(target)) == 2000


def test_a_quote_never_closed_in_a_large_file_is_named_without_reading_it_whole(
    trained_models: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Past the csv module's 128 KiB limit for a value, the value's first line is named."""
    lines = customer_lines(20)
    lines[20] = 'C0020,40,50,"60,a note'
    lines += [f"C{row},40,50,60,fine" for row in range(1000, 30_000)]
    source = tmp_path / "in.csv"
    source.write_text("\n".join(lines) + "\n")
    assert score(trained_models, source, tmp_path / "scored.csv") == 2
    line = physical_line(lines, 20)
    assert (
        f"malformed CSV: line {line} starts a value longer than 131,072 characters: is a quote "
        "opened there never closed?"
    ) in capsys.readouterr().err


def test_values_over_several_lines_are_read_across_blocks(
    trained_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note over three lines that a block ends inside used to stop the run (pyarrow's 'CSV
    parser got out of sync with chunker')."""
    source = tmp_path / "notes.csv"
    source.write_text("\n".join(customer_lines(300)) + "\n")
    whole = tmp_path / "whole.csv"
    assert score(trained_models, source, whole) == 0
    monkeypatch.setattr(batch, "CSV_BLOCK_BYTES", 1024)
    chunked = tmp_path / "chunked.csv"
    assert score(trained_models, source, chunked) == 0
    assert chunked.read_bytes() == whole.read_bytes()
    scored = pd.read_csv(chunked, dtype=str)
    assert len(scored) == 300
    assert scored["Note"].iloc[4] == "a note,\nover\nthree lines 5"


def test_a_byte_order_mark_leaves_every_column_text(trained_models: Path, tmp_path: Path) -> None:
    """The header used to be read with the mark, so the id column missed its text type and
    pyarrow read 007 as the number 7."""
    source = tmp_path / "excel.csv"
    source.write_bytes(
        b"\xef\xbb\xbfCustomerID,Age,Annual Income (k$),Spending Score (1-100)\n007,30,50,50\n"
    )
    target = tmp_path / "scored.csv"
    assert score(trained_models, source, target) == 0
    assert pd.read_csv(target, dtype=str)["CustomerID"].tolist() == ["007"]


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
