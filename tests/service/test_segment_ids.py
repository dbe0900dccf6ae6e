"""A model whose segment ids are not 0 to k - 1 (a retrained model retired one and numbered a new
one above every id used before) is served under those ids, in every answer format."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pytest

from segmentation.metadata import describe_ids
from tests.conftest import TrainFn
from tests.retraining_data import CENTRES, MOVED, planted
from tests.service.conftest import ClientFactory
from tests.service.helpers import assert_error

pytestmark = pytest.mark.anyio

OLDER = {"customer_id": "c-older", "age": 66, "annual_income": 21, "spending_score": 94}
YOUNG = {"customer_id": "c-young", "age": 25, "annual_income": 20, "spending_score": 80}


async def test_sparse_segment_ids_are_served_in_json_csv_arrow_and_profiles(
    tmp_path: Path, train_into: TrainFn, make_client: ClientFactory
) -> None:
    models = tmp_path / "models"
    first = train_into(models, k=3, data=planted(tmp_path / "a.csv", CENTRES))
    second = train_into(models, k=3, data=planted(tmp_path / "b.csv", MOVED, seed=1))
    assert second.metadata.lineage is not None
    assert second.metadata.lineage.new == [3]
    names = {p.id: p.name for p in second.metadata.segments}
    [retired] = second.metadata.lineage.retired
    young = min(first.metadata.segments, key=lambda p: abs(p.centroid["spending_score"] - 80)).id
    async with make_client(models_dir=models) as client:
        answer = (
            await client.post("/segment?explain=true", json={"customers": [OLDER, YOUNG]})
        ).json()
        ids = [r["segment_id"] for r in answer["results"]]
        assert ids == [3, young]
        assert [r["segment_name"] for r in answer["results"]] == [names[3], names[young]]
        assert {s["id"] for s in answer["segments"]} == {3, young}
        runner_ups = {r["explanation"]["runner_up_segment_id"] for r in answer["results"]}
        assert runner_ups <= set(names)

        one = (await client.post("/segment", json=OLDER)).json()
        assert one["results"][0]["segment_id"] == 3
        assert [s["id"] for s in one["segments"]] == [3]

        csv = "customer_id,age,annual_income,spending_score\nc-older,66,21,94\nc-young,25,20,80\n"
        text = (
            await client.post("/segment", content=csv, headers={"content-type": "text/csv"})
        ).text
        answered = pd.read_csv(io.StringIO(text))
        assert answered["segment_id"].tolist() == [3, young]
        assert answered["segment_name"].tolist() == [names[3], names[young]]

        body = pa.table({key: [OLDER[key], YOUNG[key]] for key in OLDER})
        sink = pa.BufferOutputStream()
        with pyarrow.ipc.new_stream(sink, body.schema) as writer:
            writer.write_table(body)
        arrow = await client.post(
            "/segment",
            content=sink.getvalue().to_pybytes(),
            headers={"content-type": "application/vnd.apache.arrow.stream"},
        )
        table = pyarrow.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
        assert table["segment_id"].to_pylist() == [3, young]
        assert table["segment_name"].to_pylist() == [names[3], names[young]]

        # MLflow's protocol with our extras, and the Open Inference Protocol in JSON and binary.
        rows = [[66, 21, 94], [25, 20, 80]]
        split = {"columns": ["age", "annual_income", "spending_score"], "data": rows}
        mlflow = (
            await client.post("/invocations?extras=true", json={"dataframe_split": split})
        ).json()
        assert mlflow["predictions"] == [3, young]
        assert mlflow["segment_names"] == [names[3], names[young]]
        flat = [value for row in rows for value in row]
        tensor = {"name": "x", "datatype": "FP64", "shape": [2, 3], "data": flat}
        infer = "/v2/models/segments/infer"
        v2 = (await client.post(infer, json={"inputs": [tensor]})).json()
        outputs = {o["name"]: o["data"] for o in v2["outputs"]}
        assert outputs["segment_id"] == [3, young]
        assert outputs["segment_name"] == [names[3], names[young]]
        wanted = [{"name": "segment_name", "parameters": {"binary_data": True}}]
        binary = await client.post(infer, json={"inputs": [tensor], "outputs": wanted})
        header = int(binary.headers["inference-header-content-length"])
        data, texts = binary.content[header:], []
        while data:
            (length,) = struct.unpack_from("<I", data)
            texts.append(data[4 : 4 + length].decode())
            data = data[4 + length :]
        assert texts == [names[3], names[young]]

        assert (await client.get("/segments/3")).json()["name"] == names[3]
        assert_error(
            await client.get(f"/segments/{retired}"),
            404,
            "not_found",
            f"segment {retired} does not exist; this model has segments "
            f"{describe_ids(list(names))}",
        )
        sample = (await client.get("/model/sample")).json()
        assert set(sample["segment_ids"]) == set(names)
