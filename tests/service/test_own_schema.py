"""A retailer's own customer table, served: the bundle's schema decides every field, in every
body format, with every bad input named; reloads and pinned versions follow their own schema."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from segmentation.bundle import Bundle, promote_version
from segmentation.sources import DataSource
from service.http.arrow_body import ARROW_STREAM
from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error
from training.data import DataError
from training.sample_retail import generate_retail_customers
from training.train import TrainingOptions, train

pytestmark = pytest.mark.anyio

FEATURES = ("tenure_months", "orders_per_year", "average_basket", "channel", "loyalty_tier")
SCHEMA = """
[[feature]]
name = "tenure_months"
unit = "months"
minimum = 0
maximum = 240

[[feature]]
name = "orders_per_year"
transform = "log1p"

[[feature]]
name = "average_basket"
unit = "EUR"
transform = "log1p"

[[feature]]
name = "channel"
levels = ["online", "store", "both"]

[[feature]]
name = "loyalty_tier"
levels = ["Bronze", "Silver", "Gold"]
"""
CUSTOMER = {
    "customer_id": "R-1",
    "tenure_months": 30,
    "orders_per_year": 12,
    "average_basket": 80.5,
    "channel": "Both",
    "loyalty_tier": "gold",
}


@pytest.fixture(scope="module")
def retail(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    root = tmp_path_factory.mktemp("retail")
    data = root / "customers.csv"
    generate_retail_customers(400, seed=5).frame.to_csv(data, index=False)
    schema = root / "features.toml"
    schema.write_text(SCHEMA, encoding="utf-8")
    options = TrainingOptions(
        source=DataSource(str(data)),
        models_dir=root / "models",
        features=FEATURES,
        schema_file=schema,
        k=4,
        stability_samples=0,
    )
    return train(options)


def predicted(bundle: Bundle, rows: list[dict[str, Any]]) -> list[int]:
    """What the pickled pipeline says, on the rows as a retailer's table holds them."""
    frame = pd.DataFrame(rows)[list(FEATURES)]
    frame["channel"] = frame["channel"].str.lower()
    frame["loyalty_tier"] = frame["loyalty_tier"].str.capitalize()
    return [int(v) for v in bundle.pipeline.predict(frame)]


def customers(count: int) -> list[dict[str, Any]]:
    frame = generate_retail_customers(count, seed=9).frame
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame[["customer_id", *FEATURES]].to_dict("records")
    ]


async def test_every_body_format_assigns_what_the_pipeline_predicts(
    retail: Bundle, make_client: ClientFactory
) -> None:
    rows = customers(300)
    expected = predicted(retail, rows)
    frame = pd.DataFrame(rows)
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    async with make_client(models_dir=retail.path.parent) as client:
        one = await client.post("/segment", json=CUSTOMER)
        assert one.status_code == 200, one.text
        assert one.json()["results"][0]["segment_id"] == predicted(retail, [CUSTOMER])[0]

        objects = await client.post("/segment", json={"customers": rows})
        assert [r["segment_id"] for r in objects.json()["results"]] == expected

        split = await client.post("/segment", json=frame.to_dict(orient="split", index=False))
        assert split.status_code == 200, split.text
        columns = split.json()["columns"]
        assert [row[columns.index("segment_id")] for row in split.json()["data"]] == expected

        csv = await client.post(
            "/segment",
            content=frame.to_csv(index=False),
            headers={"content-type": "text/csv"},
        )
        assert csv.status_code == 200, csv.text
        answer = pd.read_csv(io.StringIO(csv.text))
        assert answer["segment_id"].tolist() == expected
        assert answer["channel"].tolist() == frame["channel"].tolist()  # echoed as sent

        arrow = await client.post(
            "/segment",
            content=sink.getvalue().to_pybytes(),
            headers={"content-type": ARROW_STREAM},
        )
        assert arrow.status_code == 200, arrow.text
        answered = pa.ipc.open_stream(arrow.content).read_all()
        assert answered["segment_id"].to_pylist() == expected


async def test_explanations_name_every_feature_categorical_ones_included(
    retail: Bundle, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post("/segment?explain=true", json=CUSTOMER)
    contributions = response.json()["results"][0]["explanation"]["contributions"]
    assert list(contributions) == list(FEATURES)
    assert sum(contributions.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {**CUSTOMER, "channel": "fax"},
            "channel",
            "value 'fax' is not one of 'online', 'store', 'both'",
        ),
        ({**CUSTOMER, "tenure_months": 300}, "tenure_months", "outside the valid range 0 to 240"),
        ({**CUSTOMER, "average_basket": "80"}, "average_basket", "is not a JSON number"),
        ({**CUSTOMER, "age": 30}, "age", "unknown field"),
        (
            {k: v for k, v in CUSTOMER.items() if k != "loyalty_tier"},
            "loyalty_tier",
            "missing value",
        ),
        (
            {"customers": [CUSTOMER, {**CUSTOMER, "loyalty_tier": "Platinum"}]},
            "customers[1].loyalty_tier",
            "'Bronze', 'Silver', 'Gold'",
        ),
    ],
)
async def test_bad_json_fields_are_422_naming_the_field(
    retail: Bundle, make_client: ClientFactory, body: dict[str, Any], field: str, message: str
) -> None:
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post("/segment", json=body)
    error = assert_error(response, 422, "invalid_request", field)
    assert any(d["field"] == field and message in d["message"] for d in error["details"]), error


@pytest.mark.parametrize(
    ("csv", "field", "message"),
    [
        ("channel,tenure_months\nonline,3\n", "columns", "missing column 'orders_per_year'"),
        (
            "tenure_months,orders_per_year,average_basket,channel,loyalty_tier\n"
            "3,4,20,online,Gold\n5,4,20,Fax,Gold\n",
            "row 2.channel",
            "value 'Fax' is not one of 'online', 'store', 'both'",
        ),
        (
            "tenure_months,orders_per_year,average_basket,channel,loyalty_tier\n"
            "3,4,-2,online,Gold\n",
            "row 1.average_basket",
            "is outside the valid range",
        ),
    ],
)
async def test_bad_csv_cells_are_422_naming_row_and_column(
    retail: Bundle, make_client: ClientFactory, csv: str, field: str, message: str
) -> None:
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post("/segment", content=csv, headers={"content-type": "text/csv"})
    error = assert_error(response, 422, "invalid_request", "")
    assert any(d["field"] == field and message in d["message"] for d in error["details"]), error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"age": 30, "annual_income": 60, "spending_score": 50}, "body"),
        (
            {"customers": [{"age": 30, "annual_income": 60, "spending_score": 50}] * 2},
            "customers[0]",
        ),
    ],
    ids=["one customer", "a batch"],
)
async def test_another_models_customers_are_told_what_this_model_reads(
    retail: Bundle, make_client: ClientFactory, body: dict[str, Any], field: str
) -> None:
    """A client left on the mall's columns after a reload got "age: unknown field (and 7 more
    problems)", and no word of what the model reads."""
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post("/segment", json=body)
    error = assert_error(response, 422, "invalid_request", "")
    expected = "none of its fields is one of the model's features: it reads " + ", ".join(FEATURES)
    assert error["message"].startswith(f"{field}: {expected}"), error["message"]
    assert error["details"][0] == {"field": field, "message": expected}


@pytest.mark.parametrize(
    ("csv", "hint"),
    [
        (
            "tenure_months;orders_per_year;average_basket;channel;loyalty_tier\n3;4;20;web;Gold\n",
            "(the header is one column: the file looks separated by semicolons; save it separated "
            "by commas)",
        ),
        (
            "TENURE_MONTHS,orders_per_year,average_basket,channel,loyalty_tier\n3,4,20,web,Gold\n",
            "(column 'TENURE_MONTHS' differs only in letter case or spacing)",
        ),
    ],
    ids=["semicolons", "letter case"],
)
async def test_a_header_that_misses_a_column_says_why(
    retail: Bundle, make_client: ClientFactory, csv: str, hint: str
) -> None:
    """Excel saves CSV with semicolons in many locales: 'missing column' alone, for a header
    that plainly holds the name, sent people looking for a typo."""
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post("/segment", content=csv, headers={"content-type": "text/csv"})
    error = assert_error(response, 422, "invalid_request", "")
    assert any(
        d["message"].startswith("missing column 'tenure_months'") and d["message"].endswith(hint)
        for d in error["details"]
    ), error


async def test_the_model_and_openapi_show_the_bundles_own_fields(
    retail: Bundle, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=retail.path.parent) as client:
        model = (await client.get("/model")).json()
        openapi = (await client.get("/openapi.json")).json()
    schema = model["feature_schema"]
    assert [f["name"] for f in schema["features"]] == list(FEATURES)
    assert schema["features"][2]["transform"] == "log1p"
    document = openapi["components"]["schemas"]["Customer"]
    customer = document["properties"]
    assert set(customer) == {"customer_id", *FEATURES}
    assert customer["channel"]["enum"] == ["online", "store", "both"]
    assert customer["tenure_months"]["maximum"] == 240
    # Every feature required and not null, as the service checks a customer; the id optional.
    assert document["required"] == list(FEATURES)
    assert all(
        "anyOf" not in customer[name] and "default" not in customer[name] for name in FEATURES
    )
    assert {"type": "null"} in customer["customer_id"]["anyOf"]
    example = openapi["paths"]["/segment"]["post"]["requestBody"]["content"]["application/json"]
    one = example["examples"]["one customer"]["value"]
    assert set(one) == {"customer_id", *FEATURES}
    # The answers shown are this model's answer to that customer: its features, no others.
    answers = openapi["paths"]["/segment"]["post"]["responses"]["200"]["content"]
    [result] = answers["application/json"]["examples"]["customer objects"]["value"]["results"]
    assert list(result["explanation"]["contributions"]) == list(FEATURES)
    assert "annual_income" not in json.dumps(openapi)


@pytest.mark.parametrize("name", FEATURES)
async def test_a_customer_without_a_feature_or_with_it_null_is_refused_but_not_without_an_id(
    retail: Bundle, make_client: ClientFactory, name: str
) -> None:
    without = {key: value for key, value in CUSTOMER.items() if key != name}
    async with make_client(models_dir=retail.path.parent) as client:
        missing = await client.post("/segment", json=without)
        null = await client.post("/segment", json={**CUSTOMER, name: None})
        unnamed = await client.post(
            "/segment", json={k: v for k, v in CUSTOMER.items() if k != "customer_id"}
        )
    assert_error(missing, 422, "invalid_request", name)
    assert_error(null, 422, "invalid_request", name)
    assert unnamed.status_code == 200, unnamed.text


async def test_a_reload_to_another_schema_switches_validation_and_openapi(
    retail: Bundle, tmp_path: Path, make_client: ClientFactory, sample_csv: Path
) -> None:
    models = tmp_path / "models"
    mall = train(
        TrainingOptions(
            source=DataSource(str(sample_csv)), models_dir=models, k=3, stability_samples=0
        )
    )
    shutil.copytree(retail.path, models / retail.metadata.version)
    async with make_client(models_dir=models, extra_versions=(mall.metadata.version,)) as client:
        mall_customer = {"age": 30, "annual_income": 50, "spending_score": 60}
        assert (await client.post("/segment", json=mall_customer)).status_code == 200
        promote_version(models, retail.metadata.version)
        reloaded = await client.post("/admin/reload")
        assert reloaded.json()["model_version"] == retail.metadata.version
        refused = await client.post("/segment", json=mall_customer)
        assert_error(refused, 422, "invalid_request", "")
        assert (await client.post("/segment", json=CUSTOMER)).status_code == 200
        openapi = (await client.get("/openapi.json")).json()
        assert "channel" in openapi["components"]["schemas"]["Customer"]["properties"]
        # A request pinned to the older version is validated against that version's schema.
        pinned = f"/segment?version={mall.metadata.version}"
        assert (await client.post(pinned, json=mall_customer)).status_code == 200
        assert_error(await client.post(pinned, json=CUSTOMER), 422, "invalid_request", "")


async def test_drift_counts_the_levels_of_categorical_features(
    retail: Bundle, make_client: ClientFactory
) -> None:
    async with make_client(models_dir=retail.path.parent) as client:
        body = {"customers": [{**CUSTOMER, "channel": "store"}] * 3 + [CUSTOMER]}
        assert (await client.post("/segment", json=body)).status_code == 200
        drift = (await client.get("/drift")).json()
    channel = next(f for f in drift["features"] if f["feature"] == "channel")
    counts = {b["level"]: b["count"] for b in channel["bins"]}
    assert counts == {"online": 0, "store": 3, "both": 1}
    basket = next(f for f in drift["features"] if f["feature"] == "average_basket")
    assert sum(b["count"] for b in basket["bins"]) == 4


@pytest.mark.parametrize("content_type", ["text/csv", ARROW_STREAM])
async def test_a_field_under_its_name_and_an_alias_is_refused(
    make_client: ClientFactory, trained_models: Path, content_type: str
) -> None:
    frame = pd.DataFrame({"age": [30], "Age": [31], "annual_income": [50], "spending_score": [60]})
    if content_type == ARROW_STREAM:
        sink = pa.BufferOutputStream()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        body = sink.getvalue().to_pybytes()
    else:
        body = frame.to_csv(index=False).encode()
    async with make_client(models_dir=trained_models) as client:
        response = await client.post(
            "/segment", content=body, headers={"content-type": content_type}
        )
    assert_error(response, 422, "invalid_request", "columns 'age' and 'Age' both give 'age'")


async def test_reserved_and_boolean_columns(tmp_path: Path, make_client: ClientFactory) -> None:
    """A boolean column's levels are "False" and "True", and JSON true and false are read as
    them; a column named like a key of the JSON layouts is refused when training."""
    frame = pd.DataFrame(
        {
            "spend": np.r_[np.linspace(10, 20, 30), np.linspace(80, 90, 30)],
            "member": [False] * 30 + [True] * 30,
        }
    )
    data = tmp_path / "customers.csv"
    frame.to_csv(data, index=False)
    options = TrainingOptions(
        source=DataSource(str(data)),
        models_dir=tmp_path / "models",
        features=("spend", "member"),
        k=2,
        stability_samples=0,
    )
    train(options)
    async with make_client(models_dir=tmp_path / "models") as client:
        one = await client.post("/segment", json={"spend": 85, "member": True})
        split = await client.post(
            "/segment", json={"columns": ["spend", "member"], "data": [[15, False], [85, True]]}
        )
    assert one.status_code == 200, one.text
    assert split.status_code == 200, split.text
    renamed = frame.rename(columns={"member": "data"})
    renamed.to_csv(data, index=False)
    with pytest.raises(DataError, match="column name 'data' is reserved"):
        train(
            TrainingOptions(
                source=DataSource(str(data)),
                models_dir=tmp_path / "other",
                features=("spend", "data"),
                k=2,
                stability_samples=0,
            )
        )
