"""A model with categorical features over both protocols: levels travel as text (MLflow's
records, v2's BYTES inputs), one numeric tensor is refused with what to send instead, and an
unknown level is named with its input and row."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from segmentation.bundle import Bundle
from tests.service.conftest import ClientFactory

pytestmark = pytest.mark.anyio

INFER = "/v2/models/segments/infer"


def per_feature(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "datatype": "FP64" if pd.api.types.is_numeric_dtype(frame[name]) else "BYTES",
            "shape": [len(frame)],
            "data": frame[name].tolist(),
        }
        for name in frame.columns
    ]


async def test_levels_travel_as_text_in_both_protocols(
    retail: Bundle, retail_customers: pd.DataFrame, make_client: ClientFactory
) -> None:
    expected = [int(s) for s in retail.pipeline.predict(retail_customers)]
    records = {"dataframe_records": retail_customers.to_dict(orient="records")}
    async with make_client(models_dir=retail.path.parent) as client:
        mlflow = (await client.post("/invocations", json=records)).json()
        v2 = (await client.post(INFER, json={"inputs": per_feature(retail_customers)})).json()
        model = (await client.get("/v2/models/segments")).json()
    assert mlflow == {"predictions": expected}
    assert v2["outputs"][0]["data"] == expected
    assert {i["name"]: i["datatype"] for i in model["inputs"]} == {
        "tenure_months": "FP64",
        "orders_per_year": "FP64",
        "channel": "BYTES",
        "loyalty_tier": "BYTES",
    }


async def test_one_numeric_tensor_is_refused_with_what_to_send(
    retail: Bundle, make_client: ClientFactory
) -> None:
    body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 4], "data": [1, 2, 0, 1]}]}
    async with make_client(models_dir=retail.path.parent) as client:
        response = await client.post(INFER, json=body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(
        "input 'x': one [n, 4] tensor can only carry a model whose features are all numbers, "
        "and 'channel' is categorical; send one input per feature (tenure_months, "
        "orders_per_year, channel, loyalty_tier), categorical ones as BYTES"
    )


async def test_an_unknown_level_is_named_with_its_input_and_row(
    retail: Bundle, retail_customers: pd.DataFrame, make_client: ClientFactory
) -> None:
    frame = retail_customers.copy()
    frame.loc[2, "channel"] = "fax"
    records = frame.to_dict(orient="records")
    async with make_client(models_dir=retail.path.parent) as client:
        v2 = await client.post(INFER, json={"inputs": per_feature(frame)})
        mlflow = await client.post("/invocations", json={"instances": records})
    assert v2.status_code == 400
    assert v2.json()["error"].startswith(
        "input 'channel' row 2: value 'fax' is not one of 'online', 'store', 'both'"
    )
    assert mlflow.status_code == 400
    assert mlflow.json()["message"].startswith(
        "instances[2].channel: value 'fax' is not one of 'online', 'store', 'both'"
    )
