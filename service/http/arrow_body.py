"""Apache Arrow IPC stream bodies of POST /segment (``application/vnd.apache.arrow.stream``).

The columns arrive typed, so the happy path is a few vectorised checks on the feature columns;
anything else (a null, a string column, a value out of range) goes through the same table check
as a CSV body, so a refusal names the row and column (``row 8.age: missing value``). Columns the
model does not use are allowed, as in a CSV; the answer carries ``customer_id`` when the stream
has one, and the assignment columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from segmentation.assigner import Assigner
from segmentation.features import CLASSIC_TO_SNAKE, CUSTOMER_ID, GENDER, NUMERIC_FEATURES
from service.http.batches import Batch
from service.http.csv_body import (
    check_size,
    checked_frame_batch,
    gender_codes,
    optional_genders_valid,
)
from service.http.errors import MalformedRequest

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def decode_arrow(body: bytes, assigner: Assigner, max_batch: int) -> Batch:
    if not body:
        raise MalformedRequest("the request body is empty: send an Arrow IPC stream")
    try:
        table = pyarrow.ipc.open_stream(body).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedRequest(f"malformed Arrow IPC stream: {exc}") from None
    if table.num_rows == 0:
        raise MalformedRequest("the Arrow stream has no rows")
    check_size(table.num_rows, max_batch)
    names = [str(n) for n in table.column_names]
    if len(set(names)) != len(names):
        raise MalformedRequest(f"the Arrow stream repeats a column name: {', '.join(names)}")
    snake = {CLASSIC_TO_SNAKE.get(name.strip(), name.strip()): name for name in names}
    rows = _feature_rows(table, snake, assigner.features)
    if rows is None:
        return checked_frame_batch(table.to_pandas(), assigner, layout="arrow")
    ids = table[snake[CUSTOMER_ID]] if CUSTOMER_ID in snake else None
    return Batch(
        rows=rows,
        customer_ids=ids.to_pylist() if ids is not None else None,
        layout="arrow",
        echo=lambda: table,
    )


def _feature_rows(
    table: pa.Table, snake: dict[str, str], features: Sequence[str]
) -> np.ndarray | None:
    if any(name not in snake for name in features):
        return None
    matrix = np.empty((table.num_rows, len(features)), dtype=np.float64)
    for position, name in enumerate(features):
        column = table[snake[name]]
        if column.null_count:
            return None
        if name == GENDER:
            if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                return None
            codes = gender_codes(pc.utf8_trim_whitespace(column))
            if codes is None:
                return None
            matrix[:, position] = codes
            continue
        kind = column.type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
            return None
        numbers = column.to_numpy().astype(np.float64, copy=False)
        feature = NUMERIC_FEATURES[name]
        if not ((numbers >= feature.minimum) & (numbers <= feature.maximum)).all():
            return None
        matrix[:, position] = numbers
    if GENDER not in features and GENDER in snake:
        column = table[snake[GENDER]]
        if not pa.types.is_string(column.type) or not optional_genders_valid(column):
            return None
    return matrix
