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


def bad_rows(count: int = 23) -> pd.DataFrame:
    """``count`` customers whose 16th and 23rd rows (counted from 1) are out of range."""
    rows = customers(count)
    rows[15]["age"] = 500
    rows[22]["spending_score"] = 0
    return pd.DataFrame(rows)


def test_a_refused_slice_names_rows_by_their_place_in_the_whole_frame(server: Server) -> None:
    before = (server.requests("/segment", 422), server.requests("/segment", 200))
    with (
        SegmentationClient(server.url, max_batch=5) as client,
        pytest.raises(InvalidRequestError) as raised,
    ):
        client.segment_frame(bad_rows())
    after = (server.requests("/segment", 422), server.requests("/segment", 200))
    assert (after[0] - before[0], after[1] - before[1]) == (2, 3)
    error = raised.value
    assert [d.field for d in error.details] == ["row 16.age", "row 23.spending_score"]
    assert (error.total, error.truncated) == (2, False)
    assert error.message == (
        "row 16.age: value 500 is outside the valid range 0 to 120 (and 1 more problem); "
        "2 of 23 customers are invalid"
    )


def test_a_column_missing_from_a_sliced_frame_stops_at_the_first_slice(server: Server) -> None:
    # Every slice lacks the column: the first one's refusal says it all.
    frame = pd.DataFrame(customers(12)).drop(columns=["age"])
    before = server.requests("/segment", 422)
    with (
        SegmentationClient(server.url, max_batch=5) as client,
        pytest.raises(InvalidRequestError) as raised,
    ):
        client.segment_frame(frame)
    assert server.requests("/segment", 422) - before == 1
    error = raised.value
    assert [d.field for d in error.details] == ["columns"]
    assert error.total == 1
    assert error.message.startswith("columns: missing column 'age'")
    assert error.message.endswith("; rows 6 to 12 were not checked")


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


@pytest.mark.anyio
async def test_the_async_client_names_refused_rows_over_the_whole_frame(server: Server) -> None:
    async with AsyncSegmentationClient(server.url, max_batch=5) as client:
        with pytest.raises(InvalidRequestError) as raised:
            await client.segment_frame(bad_rows())
    error = raised.value
    assert [d.field for d in error.details] == ["row 16.age", "row 23.spending_score"]
    assert (error.total, error.truncated) == (2, False)
    with (
        SegmentationClient(server.url, max_batch=5) as client,
        pytest.raises(InvalidRequestError) as blocking,
    ):
        client.segment_frame(bad_rows())
    assert (error.details, error.total, error.message) == (
        blocking.value.details,
        blocking.value.total,
        blocking.value.message,
    )
