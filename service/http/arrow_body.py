"""Apache Arrow IPC stream bodies of POST /segment (``application/vnd.apache.arrow.stream``).

The columns arrive typed, so the happy path is a few vectorised checks on the feature columns;
anything else (a null, a string column, a value out of range) goes through the same table check
as a CSV body, so a refusal names the row and column (``row 8.age: missing value``). Columns the
model does not use are allowed, as in a CSV; the answer carries ``customer_id`` when the stream
has one, and the assignment columns.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc

from segmentation.assigner import Assigner
from segmentation.validation import arrow_model_input
from service.http.batches import Batch
from service.http.csv_body import by_schema_name, check_size, checked_frame_batch
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
    schema = assigner.schema
    columns = by_schema_name(names, schema)
    rows = arrow_model_input({name: table[raw] for name, raw in columns.items()}, schema)
    if rows is None:
        return checked_frame_batch(table.to_pandas(), assigner, layout="arrow")
    ids = table[columns[schema.id_column]] if schema.id_column in columns else None
    return Batch(
        rows=rows,
        customer_ids=ids.to_pylist() if ids is not None else None,
        layout="arrow",
        echo=lambda: table,
    )
