"""CSV text of scored tables: every value reads back as it was, whatever its type."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from segmentation.tables import CsvWriter, as_text, csv_bytes, shortest_text


@given(arrays(np.float64, st.integers(0, 50), elements=st.floats(allow_infinity=False)))
def test_every_finite_double_reads_back_as_the_same_double(values: np.ndarray) -> None:
    values = values[np.isfinite(values)]
    text = shortest_text(values)
    assert len(text) == len(values)
    assert [float(t) for t in text.to_pylist()] == values.tolist()


def test_doubles_integers_and_booleans_read_back_with_their_nulls_and_unusual_values() -> None:
    table = pa.table(
        {
            "distance": pa.chunked_array([[1.0, None, 2.5e-7], [float("nan"), float("inf"), 3.25]]),
            "atypical": pa.chunked_array([[True, None, False], [False, True, False]]),
            "segment_id": pa.chunked_array([[0, None, 12], [3, -4, 5]]),
            "name": ["a, b", 'say "hi"', None, "", "x", "y"],
            "ratio": pa.array([0.5] * 6, pa.float32()),
        }
    )
    text = csv_bytes(table)
    read = pd.read_csv(io.BytesIO(text))
    assert read.columns.tolist() == table.column_names
    np.testing.assert_array_equal(
        read["distance"].to_numpy(), [1.0, np.nan, 2.5e-7, np.nan, np.inf, 3.25]
    )
    assert read["atypical"].tolist()[2:] == [False, False, True, False]
    assert pd.isna(read["atypical"][1])
    assert read["segment_id"].tolist()[2:] == [12, 3, -4, 5]
    assert pd.isna(read["segment_id"][1])
    assert read["name"].tolist()[:2] == ["a, b", 'say "hi"']
    assert read["ratio"].tolist() == [0.5] * 6
    # Arrow's own words for what JSON cannot say, and an empty cell for a null.
    lines = text.decode().splitlines()
    assert lines[2].startswith(",,")
    assert '"nan"' in lines[4]
    assert '"inf"' in lines[5]


def test_the_writer_writes_chunk_after_chunk_under_one_text_header() -> None:
    schema = pa.schema([("customer_id", pa.int64()), ("distance", pa.float64())])
    sink = io.BytesIO()
    with CsvWriter(sink, schema) as writer:
        writer.write_table(pa.table({"customer_id": [1, 2], "distance": [0.1, 0.2]}, schema))
        writer.write_table(pa.table({"customer_id": [3], "distance": [1e300]}, schema))
    read = pd.read_csv(io.BytesIO(sink.getvalue()))
    assert read.to_dict("list") == {"customer_id": [1, 2, 3], "distance": [0.1, 0.2, 1e300]}


def test_a_table_with_no_rows_keeps_its_header() -> None:
    table = pa.table({"distance": pa.array([], pa.float64()), "n": pa.array([], pa.int64())})
    assert as_text(table).schema.types == [pa.string(), pa.string()]
    assert csv_bytes(table) == b'"distance","n"\n'
