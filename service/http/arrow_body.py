"""Apache Arrow IPC stream bodies of POST /segment (``application/vnd.apache.arrow.stream``).

The columns arrive typed (or as text) and go through the same table check as a CSV body: a few
Arrow kernels when every cell is plainly valid, else the full check, whose refusal names the row
and column (``row 8.age: missing value``). Columns the
model does not use are allowed, as in a CSV; the answer carries ``customer_id`` when the stream
has one, and the assignment columns.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc

from segmentation.excerpts import quoted
from segmentation.schema import FeatureSchema
from segmentation.validation import MAX_REPORTED_PROBLEMS
from service.http.batches import Decoded, check_size, table_columns
from service.http.errors import FieldProblem, InvalidRequest, MalformedRequest

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
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise MalformedRequest(
            f"the Arrow stream repeats a column name: {', '.join(quoted(n) for n in repeated)}"
        )
    return table_columns(_binary_as_text(table, schema), schema, layout="arrow")


_BINARY_TYPE_IDS = frozenset({pa.binary().id, pa.large_binary().id})


def _binary_as_text(table: pa.Table, schema: FeatureSchema) -> pa.Table:
    """The schema's columns sent as bytes (``binary``), read as the UTF-8 text they must be; a
    cell that is not UTF-8 is refused by its row and column, as any bad cell is."""
    if not any(t.id in _BINARY_TYPE_IDS for t in table.schema.types):
        return table  # the usual stream, at the cost of one look at its types
    known = schema.name_of()
    for at, field in enumerate(table.schema):
        name = known.get(field.name.strip())
        if name is None or field.type.id not in _BINARY_TYPE_IDS:
            continue
        try:
            text = pc.cast(table.column(at), pa.large_string())
        except pa.ArrowInvalid:
            bad = [
                row
                for row, cell in enumerate(table.column(at).to_pylist())
                if cell is not None and not _is_utf8(cell)
            ]
            problems = [
                FieldProblem(field=f"row {row + 1}.{name}", message="value is not UTF-8 text")
                for row in bad[:MAX_REPORTED_PROBLEMS]
            ]
            raise InvalidRequest.from_problems(
                problems, total=len(bad), rows=len(bad), customers=table.num_rows
            ) from None
        table = table.set_column(at, field.name, text)
    return table


def _is_utf8(cell: bytes) -> bool:
    try:
        cell.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
