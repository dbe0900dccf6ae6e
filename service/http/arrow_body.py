"""Apache Arrow IPC stream bodies of POST /segment (``application/vnd.apache.arrow.stream``).

The columns arrive typed (or as text) and go through the same table check as a CSV body: a few
Arrow kernels when every cell is plainly valid, else the full check, whose refusal names the row
and column (``row 8.age: missing value``). Columns the
model does not use are allowed, as in a CSV; the answer carries ``customer_id`` when the stream
has one, and the assignment columns.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc

from segmentation.schema import FeatureSchema
from service.http.batches import Decoded, check_size, table_columns
from service.http.errors import MalformedRequest

ARROW_STREAM = "application/vnd.apache.arrow.stream"


def decode_arrow(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
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
    return table_columns(table, schema, layout="arrow")
