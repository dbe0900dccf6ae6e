"""segment_frame: whole tables through the Arrow IPC stream, against the real server."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from client_support import Server, customers
from segment_client import (
    AsyncSegmentationClient,
    InvalidInputError,
    InvalidRequestError,
    SegmentationClient,
)

pytestmark = pytest.mark.e2e


def test_a_pandas_frame_comes_back_as_a_frame_in_order_from_one_version(server: Server) -> None:
    rows = customers(12)  # the server takes 5 per request: three slices
    with SegmentationClient(server.url, max_batch=5) as client:
        expected = client.segment(rows)
        answer = client.segment_frame(pd.DataFrame(rows).assign(region="N"))
    assert isinstance(answer, pd.DataFrame)
    assert list(answer.columns) == [
        "customer_id",
        "segment_id",
        "segment_name",
        "distance",
        "atypical",
    ]
    assert answer["customer_id"].tolist() == [r["customer_id"] for r in rows]
    assert answer["segment_id"].tolist() == [r.segment_id for r in expected.results]
    assert answer["segment_name"].tolist() == [r.segment_name for r in expected.results]
    assert answer.attrs["model_version"] == expected.model_version


def test_a_pyarrow_table_comes_back_as_a_table_with_explanations(server: Server) -> None:
    table = pa.Table.from_pylist(customers(3)).drop_columns(["customer_id"])
    with SegmentationClient(server.url, max_batch=5) as client:
        answer = client.segment_frame(table, explain=True)
    assert isinstance(answer, pa.Table)
    assert answer.num_rows == 3
    assert "customer_id" not in answer.column_names
    assert "confidence" in answer.column_names
    assert answer.schema.metadata[b"model_version"]


def test_a_frame_without_a_needed_column_is_refused_naming_it(server: Server) -> None:
    frame = pd.DataFrame(customers(2)).drop(columns=["age"])
    with SegmentationClient(server.url) as client, pytest.raises(InvalidRequestError) as raised:
        client.segment_frame(frame)
    assert "missing column 'age'" in raised.value.message


def test_other_inputs_are_refused_naming_the_argument(server: Server) -> None:
    with SegmentationClient(server.url) as client:
        with pytest.raises(InvalidInputError, match="DataFrame") as raised:
            client.segment_frame(customers(2))
        assert raised.value.field == "frame"
        assert isinstance(raised.value, TypeError)
        with pytest.raises(InvalidInputError, match="no rows") as raised:
            client.segment_frame(pd.DataFrame(columns=["age"]))
        assert raised.value.field == "frame"


@pytest.mark.anyio
async def test_the_async_client_scores_frames_too(server: Server) -> None:
    rows = customers(7)
    async with AsyncSegmentationClient(server.url, max_batch=5) as client:
        answer = await client.segment_frame(pd.DataFrame(rows))
        expected = await client.segment(rows)
    assert answer["segment_id"].tolist() == [r.segment_id for r in expected.results]
