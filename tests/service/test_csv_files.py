"""CSV files as a marketer sends them: errors by the file's own headers and physical lines,
?invalid_rows=mark to score the rest, and hints for decimal commas and "45k"."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error

pytestmark = pytest.mark.anyio

HEADER = "CustomerID,Age,Annual Income (k$),Spending Score (1-100),Note"
CSV = {"Content-Type": "text/csv"}

# Line 1 is the header; the note of line 3 spans lines 3 to 5, so the next record is line 6.
FILE = (
    "\n".join(
        [
            HEADER,
            "1,31,72,81,fine",
            '2,45,60,40,"a note',
            "over",
            'three lines"',
            "3,52,30,150,too keen",
            "",
            '4,38,"34,5",50,comma',
            "5,29,45k,60,suffix",
            "6,33,,50,blank",
            "7,41,50,55,fine",
        ]
    )
    + "\n"
)


async def post(client: httpx.AsyncClient, body: str, query: str = "") -> httpx.Response:
    return await client.post(f"/segment{query}", content=body.encode(), headers=CSV)


async def test_errors_name_the_files_headers_and_physical_lines(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, FILE)
    error = assert_error(response, 422, "invalid_request", "")
    found = [(d["line"], d["column"], d["field"]) for d in error["details"]]
    assert found == [
        (6, "Spending Score (1-100)", "row 3.spending_score"),
        (8, "Annual Income (k$)", "row 4.annual_income"),
        (9, "Annual Income (k$)", "row 5.annual_income"),
        (10, "Annual Income (k$)", "row 6.annual_income"),
    ]
    first = error["details"][0]["message"]
    assert (
        first
        == 'line 6, column "Spending Score (1-100)": value 150 is outside the valid range 1 to 100'
    )
    assert error["message"].startswith(first)
    assert "use a decimal point: 34.5" in error["details"][1]["message"]
    assert "write the full number: 45000" in error["details"][2]["message"]
    assert error["details"][3]["message"].endswith("missing value")


async def test_marking_answers_every_row_with_its_reason(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        marked = await post(client, FILE, "?invalid_rows=mark")
        valid_only = "\n".join(
            [HEADER, "1,31,72,81,fine", '2,45,60,40,"a note\nover\nthree lines"', "7,41,50,55,fine"]
        )
        plain = await post(client, valid_only + "\n")
    assert marked.status_code == 200, marked.text
    assert marked.headers["content-type"].startswith("text/csv")
    assert marked.headers["X-Rows-Rejected"] == "4"
    rows = list(csv.DictReader(io.StringIO(marked.text)))
    assert [r["CustomerID"] for r in rows] == ["1", "2", "3", "4", "5", "6", "7"]
    assert rows[1]["Note"] == "a note\nover\nthree lines"
    expected = list(csv.DictReader(io.StringIO(plain.text)))
    columns = [c for c in expected[0] if c not in HEADER.split(",")]
    assert list(rows[0])[-1] == "error"
    assert list(rows[0])[:-1] == list(expected[0])  # today's columns, then error
    scored = [rows[0], rows[1], rows[6]]
    for got, want in zip(scored, expected, strict=True):
        assert {c: got[c] for c in columns} == {c: want[c] for c in columns}
        assert got["error"] == ""
    for row in rows[2:6]:
        assert all(row[c] == "" for c in columns)
    assert rows[2]["error"].startswith('line 6, column "Spending Score (1-100)": value 150')
    assert "use a decimal point: 34.5" in rows[3]["error"]
    assert "write the full number: 45000" in rows[4]["error"]
    assert rows[5]["error"] == 'line 10, column "Annual Income (k$)": missing value'


async def test_a_file_whose_every_row_fails_is_still_answered(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(
            client, "age,annual_income,spending_score\n200,1,1\n", "?invalid_rows=mark"
        )
    assert response.status_code == 200, response.text
    assert response.headers["X-Rows-Rejected"] == "1"
    [row] = list(csv.DictReader(io.StringIO(response.text)))
    assert row["segment_id"] == ""
    assert "line 2" in row["error"]


async def test_a_wrong_header_is_refused_whole_even_when_marking(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, "age,annual_income\n31,72\n", "?invalid_rows=mark")
    assert_error(response, 422, "invalid_request", "spending_score")


@pytest.mark.parametrize(
    ("body", "line", "fields"),
    [
        # A decimal comma unquoted: the id would be lost and every value read one column left.
        ("CustomerID,Age,Annual Income (k$),Spending Score (1-100)\nA1,31,72,5,81\n", 2, 5),
        # A trailing comma on every row, as some exports write.
        ("age,annual_income,spending_score\n31,72,81,\n40,50,60,\n", 2, 4),
        # A row short of a field, after a good one and a quoted value over two lines.
        ('age,annual_income,spending_score,note\n31,72,81,"a\nb"\n40,50\n', 4, 2),
    ],
)
@pytest.mark.parametrize("query", ["", "?invalid_rows=mark"])
async def test_a_row_with_more_or_fewer_fields_than_the_header_is_refused_by_its_line(
    trained_models: Path,
    tmp_path: Path,
    make_client: ClientFactory,
    body: str,
    line: int,
    fields: int,
    query: str,
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, body, query)
        header = len(body.split("\n")[0].split(","))
        words = f"line {line} has {fields} fields and the header has {header}"
        assert_error(response, 400, "malformed_request", words)
        # MLflow's /invocations reads CSV the same way.
        mlflow = await client.post("/invocations", content=body.encode(), headers=CSV)
        assert mlflow.status_code == 400, mlflow.text
        assert mlflow.json()["error_code"] == "BAD_REQUEST"
        assert words in mlflow.json()["message"]


async def test_a_feature_column_sent_twice_is_refused_and_other_columns_twice_are_echoed(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        doubled = await post(client, "age,age,annual_income,spending_score\n31,32,72,81\n")
        # An alias and the name of one feature, and a blank header (an index pandas wrote).
        alias = await post(client, "Age,age,annual_income,spending_score\n31,32,72,81\n")
        kept = await post(client, ",age,annual_income,spending_score,note,note\n0,31,72,81,a,b\n")
    error = assert_error(doubled, 422, "invalid_request", "columns 'age' and 'age' both give 'age'")
    assert error["details"][0]["field"] == "columns"
    assert_error(alias, 422, "invalid_request", "columns 'Age' and 'age' both give 'age'")
    assert kept.status_code == 200, kept.text
    [row] = list(csv.DictReader(io.StringIO(kept.text)))
    assert {k: row[k] for k in ("Unnamed: 0", "age", "note", "note.1")} == {
        "Unnamed: 0": "0",
        "age": "31",
        "note": "a",
        "note.1": "b",
    }


async def test_blank_lines_a_byte_order_mark_and_crlf_are_read_as_spreadsheets_write_them(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    rows = ["31,72,81", "   ", "40,50,60", "", "52,30,20"]
    # (And a bad cell is named by the header as written, without the mark.)
    marked = "\ufeffAge,annual_income,spending_score\n31,72,81\nold,50,60\n"
    body = "\ufeffage,annual_income,spending_score\r\n" + "\r\n".join(rows) + "\r\n"
    repeated = (
        ",age,annual_income,spending_score\n"
        + "\n".join(f"{i},{r}" for i, r in enumerate(["31,72,81", "40,50,60"]))
        + "\n \n"
    )
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        answers = [await post(client, body), await post(client, repeated)]
        bad = await post(client, marked)
    error = assert_error(bad, 422, "invalid_request", 'line 3, column "Age": value')
    assert error["details"][0]["column"] == "Age"
    for answer, count in zip(answers, (3, 2), strict=True):
        assert answer.status_code == 200, answer.text
        scored = list(csv.DictReader(io.StringIO(answer.text)))
        assert len(scored) == count
        assert all(row["segment_id"] for row in scored)


async def test_a_very_long_header_is_cut_once_with_its_length(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    header = "age" + " " * 300  # read as age: headers are trimmed
    body = f"{header},annual_income,spending_score\nold,72,81\n"
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, body)
    [detail] = assert_error(response, 422, "invalid_request", "")["details"]
    shown = f"{header[:240]}... (303 characters)"
    assert detail["column"] == shown
    assert detail["message"].startswith(f'line 2, column "{shown}": value')


async def test_a_quote_never_closed_is_named_by_its_line(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    body = ',age,annual_income,spending_score\n0,31,72,81\n1,30,"70,80\n2,40,50,60\n'
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, body)
    assert_error(response, 400, "malformed_request", "the quote opened on line 3 is never closed")


async def test_a_file_that_is_not_utf8_is_refused_naming_the_line_and_byte(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    """(segment-score words it the same, from ``segmentation.csv_lines``.)"""
    body = '\ufeffage,annual_income,spending_score,note\n31,72,81,"a\r\nb"\n31,72,81,caf\xe9\n'
    raw = b"\xef\xbb\xbf" + body[1:].encode("latin-1")
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await client.post("/segment", content=raw, headers=CSV)
    words = (
        f"line 4: byte {raw.index(0xE9)} is not UTF-8; send UTF-8, or declare the file's charset"
    )
    assert_error(response, 400, "malformed_request", words)


async def test_a_quote_never_closed_in_a_long_body_is_named_by_its_line(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory
) -> None:
    """Past the csv module's limit for one value (128 KiB), it used to say only 'field larger
    than field limit (131072)'."""
    rows = "".join(f"{age},50,60,fine\n" for age in range(20, 60)) * 400
    body = f'age,annual_income,spending_score,note\n31,72,81,x\n"40,50,60,x\n{rows}'
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await post(client, body)
    words = "line 3 starts a value longer than 131,072 characters: is a quote opened there"
    assert_error(response, 400, "malformed_request", words)


@pytest.mark.parametrize(
    ("query", "content_type", "body"),
    [
        ("?invalid_rows=keep", "text/csv", "age,annual_income,spending_score\n31,72,81\n"),
        ("?invalid_rows=", "text/csv", "age,annual_income,spending_score\n31,72,81\n"),
        (
            "?invalid_rows=mark",
            "application/json",
            '{"age": 31, "annual_income": 72, "spending_score": 81}',
        ),
    ],
)
async def test_invalid_rows_is_checked_and_only_for_csv(
    trained_models: Path,
    tmp_path: Path,
    make_client: ClientFactory,
    query: str,
    content_type: str,
    body: str,
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await client.post(
            f"/segment{query}", content=body.encode(), headers={"Content-Type": content_type}
        )
    error = assert_error(response, 422, "invalid_request", "invalid_rows")
    assert error["details"][0]["field"] == "query.invalid_rows"


@pytest.mark.parametrize(
    ("value", "hint"),
    [("34,5", "use a decimal point: 34.5"), ("45k", "write the full number: 45000")],
)
async def test_json_gets_the_same_hints(
    trained_models: Path, tmp_path: Path, make_client: ClientFactory, value: str, hint: str
) -> None:
    async with make_client(models_dir=trained_models, state_dir=tmp_path) as client:
        response = await client.post(
            "/segment", json={"age": 31, "annual_income": value, "spending_score": 81}
        )
    error = assert_error(response, 422, "invalid_request", hint)
    assert error["details"][0]["field"] == "annual_income"
    assert "line" not in error["details"][0]
