"""For callers: explanations, atypical flags, CSV in and out, and version pinning."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segmentation.bundle import load_bundle
from service.model.registry import ExtraVersionUnavailable
from tests.conftest import SAMPLE_CSV, TrainFn
from tests.schemas import CLASSIC_TO_SNAKE
from tests.service.conftest import ClientFactory, app_client
from tests.service.helpers import CUSTOMER, assert_error

pytestmark = pytest.mark.anyio
FAR_AWAY = {"age": 120, "annual_income": 1_000_000, "spending_score": 1}
APPENDED = ["segment_id", "segment_name", "distance", "atypical"]
EXPLAINED = [
    "runner_up_segment_id",
    "margin",
    "confidence",
    "contribution_age",
    "contribution_annual_income",
    "contribution_spending_score",
]


def read_csv(response: httpx.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return pd.read_csv(io.StringIO(response.text), dtype=str, keep_default_na=False)


async def post_csv(client: httpx.AsyncClient, text: str, **params: str) -> httpx.Response:
    return await client.post(
        "/segment", content=text.encode(), params=params, headers={"content-type": "text/csv"}
    )


async def test_results_carry_an_explanation_and_the_atypical_flag(
    client: httpx.AsyncClient,
) -> None:
    body = (
        await client.post(
            "/segment", json={"customers": [CUSTOMER, FAR_AWAY]}, params={"explain": "true"}
        )
    ).json()
    typical, far = body["results"]
    assert typical["atypical"] is False
    assert far["atypical"] is True
    explanation = typical["explanation"]
    assert set(explanation) == {
        "runner_up_segment_id",
        "runner_up_distance",
        "margin",
        "confidence",
        "contributions",
    }
    assert explanation["runner_up_segment_id"] != typical["segment_id"]
    assert explanation["margin"] == pytest.approx(
        explanation["runner_up_distance"] - typical["distance"]
    )
    assert explanation["confidence"] == pytest.approx(
        1 - typical["distance"] / explanation["runner_up_distance"]
    )
    assert sum(explanation["contributions"].values()) == pytest.approx(1.0)
    assert list(explanation["contributions"]) == ["age", "annual_income", "spending_score"]


async def test_explanations_are_off_unless_asked_for(client: httpx.AsyncClient) -> None:
    plain = (await client.post("/segment", json=CUSTOMER)).json()
    assert plain["results"][0]["explanation"] is None
    body = (await client.post("/segment", json=CUSTOMER, params={"explain": "false"})).json()
    assert body["results"][0]["explanation"] is None
    assert_error(
        await client.post("/segment", json=CUSTOMER, params={"explain": "maybe"}),
        422,
        "invalid_request",
        "explain",
    )


async def test_atypical_customers_are_counted(client: httpx.AsyncClient) -> None:
    await client.post("/segment", json={"customers": [FAR_AWAY, FAR_AWAY, CUSTOMER]})
    text = (await client.get("/metrics")).text
    counted = next(
        row for row in text.splitlines() if row.startswith("segment_atypical_customers_total")
    )
    assert float(counted.rsplit(" ", 1)[1]) == 2


# -- CSV -----------------------------------------------------------------------------------


async def test_a_crm_export_comes_back_with_segments_appended(
    client: httpx.AsyncClient, trained_models: Path
) -> None:
    export = pd.read_csv(SAMPLE_CSV, dtype=str).head(50)
    export["Region"] = ['North, "old" town', "Süd", ""] * 16 + ["x", "y"]
    text = export.to_csv(index=False)
    answer = read_csv(await post_csv(client, text, explain="true"))
    assert list(answer.columns) == [*export.columns, *APPENDED, *EXPLAINED]
    pd.testing.assert_frame_equal(answer[list(export.columns)], export.fillna(""))
    bundle = load_bundle(trained_models)
    features = export.rename(columns=CLASSIC_TO_SNAKE)
    expected = bundle.pipeline.predict(features[bundle.metadata.features].astype(float))
    assert answer["segment_id"].astype(int).tolist() == expected.tolist()
    names = {p.id: p.name for p in bundle.metadata.segments}
    assert answer["segment_name"].tolist() == [names[i] for i in expected]
    json_answer = (
        await client.post(
            "/segment",
            json={
                "customers": [
                    {
                        "age": float(r["Age"]),
                        "annual_income": float(r["Annual Income (k$)"]),
                        "spending_score": float(r["Spending Score (1-100)"]),
                    }
                    for _, r in export.iterrows()
                ]
            },
        )
    ).json()
    assert answer["distance"].astype(float).tolist() == pytest.approx(
        [r["distance"] for r in json_answer["results"]], rel=1e-12
    )
    assert answer["atypical"].tolist() == [
        str(r["atypical"]).lower() for r in json_answer["results"]
    ]


async def test_snake_case_csv_without_explanations(client: httpx.AsyncClient) -> None:
    text = "customer_id,age,annual_income,spending_score\nA,30,70,80\nB,60,20,10\n"
    answer = read_csv(await post_csv(client, text))
    assert list(answer.columns) == [
        "customer_id",
        "age",
        "annual_income",
        "spending_score",
        *APPENDED,
    ]
    assert answer["customer_id"].tolist() == ["A", "B"]


async def test_every_bad_row_is_reported_by_number(client: httpx.AsyncClient) -> None:
    text = (
        "Age,Annual Income (k$),Spending Score (1-100)\n30,70,80\nabc,70,80\n"
        "30,,80\n30,70,80\n200,70,0\n"
    )
    error = assert_error(
        await post_csv(client, text),
        422,
        "invalid_request",
        "line 3, column \"Age\": value 'abc' is not a number (and 3 more problems); "
        "3 of 5 customers are invalid",
    )
    # Rows by number (the header is not a row), and the file's own lines and headers.
    assert [(d["field"], d["line"], d["column"], d["message"]) for d in error["details"]] == [
        ("row 2.age", 3, "Age", "line 3, column \"Age\": value 'abc' is not a number"),
        (
            "row 3.annual_income",
            4,
            "Annual Income (k$)",
            'line 4, column "Annual Income (k$)": missing value',
        ),
        (
            "row 5.age",
            6,
            "Age",
            'line 6, column "Age": value 200 is outside the valid range 0 to 120',
        ),
        (
            "row 5.spending_score",
            6,
            "Spending Score (1-100)",
            'line 6, column "Spending Score (1-100)": value 0 is outside the valid range 1 to 100',
        ),
    ]


async def test_the_report_is_capped(client: httpx.AsyncClient) -> None:
    text = "age,annual_income,spending_score\n" + "x,1,1\n" * 150
    error = assert_error(
        await post_csv(client, text), 422, "invalid_request", "150 of 150 customers are invalid"
    )
    assert "the first 100 problems are listed" in error["message"]
    assert len(error["details"]) == 100
    assert (error["total"], error["truncated"]) == (150, True)


@pytest.mark.parametrize(
    ("text", "status", "code", "message"),
    [
        ("", 400, "malformed_request", "the request body is empty"),
        ("age,annual_income,spending_score\n", 400, "malformed_request", "no customer rows"),
        (
            'age,annual_income,spending_score\n"30,70,80\n',
            400,
            "malformed_request",
            "malformed CSV",
        ),
        ("age,spending_score\n30,80\n", 422, "invalid_request", "missing column 'annual_income'"),
        ("\xff\xfe", 400, "malformed_request", "malformed CSV"),
    ],
)
async def test_bad_csv_bodies(
    client: httpx.AsyncClient, text: str, status: int, code: str, message: str
) -> None:
    raw = text.encode("latin-1") if text.startswith("\xff") else text.encode()
    response = await client.post("/segment", content=raw, headers={"content-type": "text/csv"})
    assert_error(response, status, code, message)


@pytest.mark.parametrize("declared", ["windows-1252", "iso-8859-1", "cp1252", '"Windows-1252"'])
async def test_csv_in_the_charset_it_declares_is_decoded_as_declared(
    client: httpx.AsyncClient, declared: str
) -> None:
    text = "customer_id,name,age,annual_income,spending_score\nC-1,Zoë Müller,31,72,81\n"
    response = await client.post(
        "/segment",
        content=text.encode("cp1252"),
        headers={"content-type": f"text/csv; charset={declared}"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv; charset=utf-8")
    assert "Zoë Müller" in response.content.decode("utf-8")


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/csv", "malformed CSV"),  # undeclared: must be UTF-8, as before
        ("text/csv; charset=utf-8", "malformed CSV"),
        ("text/csv; charset=klingon", "charset 'klingon' is not one this service knows"),
        ("text/csv; charset=us-ascii", "the body is not valid us-ascii (byte 49)"),
    ],
)
async def test_a_body_not_in_its_charset_is_a_clear_400(
    client: httpx.AsyncClient, content_type: str, message: str
) -> None:
    body = "age,annual_income,spending_score,name\n31,72,81,Zoë\n".encode("cp1252")
    response = await client.post("/segment", content=body, headers={"content-type": content_type})
    assert_error(response, 400, "malformed_request", message)


async def test_csv_batches_obey_the_limit(trained_models: Path, make_client: ClientFactory) -> None:
    text = "age,annual_income,spending_score\n" + "30,70,80\n" * 4
    async with make_client(models_dir=trained_models, max_batch=3) as client:
        assert_error(
            await post_csv(client, text),
            413,
            "batch_too_large",
            "a batch of 4 customers is over the limit of 3",
        )


async def test_json_with_accept_csv_answers_csv(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/segment",
        json={"customers": [{"customer_id": 7, **CUSTOMER, "gender": "female"}]},
        headers={"accept": "text/csv"},
    )
    answer = read_csv(response)
    assert list(answer.columns) == [
        "customer_id",
        "age",
        "annual_income",
        "spending_score",
        "gender",
        *APPENDED,
    ]
    assert answer.loc[0, ["customer_id", "gender"]].tolist() == ["7", "Female"]
    plain = await client.post("/segment", json=CUSTOMER, headers={"accept": "text/csv;q=0"})
    assert plain.headers["content-type"] == "application/json"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    extra=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
            max_size=20,
        ),
        min_size=1,
        max_size=8,
    )
)
async def test_passthrough_columns_survive_any_text(trained_models: Path, extra: list[str]) -> None:
    rows = [
        {"note": value, "age": 30 + i, "annual_income": 50, "spending_score": 50}
        for i, value in enumerate(extra)
    ]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["note", "age", "annual_income", "spending_score"])
    writer.writeheader()
    writer.writerows(rows)
    async with app_client(_settings(trained_models)) as client:
        response = await post_csv(client, buffer.getvalue())
    answer = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["note"] for row in answer] == extra
    assert [row["age"] for row in answer] == [str(30 + i) for i in range(len(extra))]


def _settings(models: Path):  # type: ignore[no-untyped-def]
    from service.settings import Settings

    return Settings(models_dir=models)


# -- versions --------------------------------------------------------------------------------


async def test_callers_can_pin_a_held_version(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    old = trained_copy(k=3).metadata.version
    new = train_into(k=4).metadata.version
    async with make_client(models_dir=tmp_path / "models", extra_versions=(old,)) as client:
        default = (await client.post("/segment", json=CUSTOMER)).json()
        pinned = (await client.post("/segment", json=CUSTOMER, params={"version": old})).json()
        assert default["model_version"] == new
        assert pinned["model_version"] == old
        assert (await client.get("/model", params={"version": old})).json()["k"] == 3
        assert len((await client.get("/segments", params={"version": old})).json()["segments"]) == 3
        listed = (await client.get("/models")).json()
        assert listed["current"] == new
        assert [(m["version"], m["current"], m["k"]) for m in listed["models"]] == [
            (new, True, 4),
            (old, False, 3),
        ]
        unknown = await client.post("/segment", json=CUSTOMER, params={"version": "v-nope"})
        assert_error(
            unknown,
            404,
            "not_found",
            f"model version 'v-nope' is not served; available: {new} (current), {old}",
        )
        assert_error(
            await client.get("/segments/0", params={"version": "../x"}),
            422,
            "invalid_request",
            "version",
        )


async def test_an_unloadable_extra_version_stops_the_start_naming_the_setting(
    tmp_path: Path, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    trained_copy(k=3)
    with pytest.raises(ExtraVersionUnavailable) as raised:
        async with make_client(models_dir=tmp_path / "models", extra_versions=("v-gone",)):
            pytest.fail("the service started without an extra version it was asked for")
    assert str(raised.value).startswith("SEGMENT_EXTRA_VERSIONS names version 'v-gone', which ")
    assert "bundle 'v-gone' not found" in str(raised.value)


async def test_the_previous_version_stays_available_after_a_reload(
    tmp_path: Path, train_into: TrainFn, trained_copy: TrainFn, make_client: ClientFactory
) -> None:
    old = trained_copy(k=3).metadata.version
    async with make_client(models_dir=tmp_path / "models") as client:
        new = train_into(k=4).metadata.version
        assert (await client.post("/admin/reload")).status_code == 200
        pinned = await client.post("/segment", json=CUSTOMER, params={"version": old})
        assert pinned.json()["model_version"] == old
        assert (await client.post("/segment", json=CUSTOMER)).json()["model_version"] == new
