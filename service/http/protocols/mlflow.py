"""MLflow's scoring protocol on this service's port: ``POST /invocations`` answered as
``mlflow models serve`` answers it for the same fitted pipeline, so that an MLflow caller
switches by changing one URL.

MLflow 3 takes, for a tabular model, JSON with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (other keys, ``params`` among them, are
ignored, as MLflow ignores them for a scikit-learn model), a CSV body or a Parquet file, and
answers ``{"predictions": [...]}``: here the segment ids, in request order. Rows given as arrays
without column names (``instances``, ``inputs``, ``dataframe_split`` without ``columns``) are
read in the model's feature order, as the pipeline reads them. A number sent as JSON text
(``"39"``) is read as MLflow's pandas reads it, as the number; every value is then checked as
on ``/segment`` (MLflow itself scores an age of 150).

Our extras come only when asked for, as keys beside ``predictions`` (where MLflow itself puts
metadata, and which an MLflow client ignores): ``?extras=true`` adds ``segment_names``,
``distances``, ``atypical`` and ``model_version``; ``?explain=true`` adds ``explanations``.

Errors have MLflow's body, ``{"error_code": ..., "message": ...}`` (plus ``details`` listing
every bad field); a bad body is a 400 ``BAD_REQUEST``, as MLflow answers it, with the field and
row named (``dataframe_split.data[3].age: value 150 is outside the valid range 0 to 120``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.responses import JSONResponse

from segmentation.assigner import Scored
from segmentation.schema import FeatureSchema
from service.http.asgi import Scope, header
from service.http.batches import Batch, Decoded, check_size, matched_columns, table_columns
from service.http.csv_body import decode_csv
from service.http.errors import (
    ApiError,
    FieldProblem,
    MalformedRequest,
    UnsupportedMediaType,
)
from service.http.json_body import (
    SPLIT_KEYS,
    bad_ids,
    invalid,
    listed,
    object_columns,
    parse_json,
    row_columns,
    split_columns,
)
from service.http.query import FLAG, VERSION, read_query
from service.http.request_body import as_utf8, charset, is_json_content_type, media_type
from service.http.segment_call import Encoded
from service.model.segment_model import SegmentModel

INVOCATIONS_PATH = "/invocations"
# MLflow's own paths: every error on them is worded in MLflow's shape.
MLFLOW_PATHS = frozenset({INVOCATIONS_PATH, "/ping", "/health", "/version"})
HEALTH_PATHS = frozenset({"/ping", "/health"})
INPUT_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"
# MLflow's error codes (mlflow.protos.databricks_pb2) for our statuses. MLflow answers every bad
# input with BAD_REQUEST and 400, so a 422 here is answered so too.
ERROR_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "BAD_REQUEST",
    409: "RESOURCE_CONFLICT",
    413: "RESOURCE_EXHAUSTED",
    415: "BAD_REQUEST",
    422: "BAD_REQUEST",
    503: "TEMPORARILY_UNAVAILABLE",
}

_ENCODER = msgspec.json.Encoder()
_FORMATS_TEXT = ", ".join(f'"{name}"' for name in INPUT_FORMATS)


@dataclass(frozen=True)
class InvocationsCall:
    content_type: str | None
    extras: bool = False
    explain: bool = False
    version: str | None = None
    protocol: ClassVar[str] = "mlflow"
    marks_invalid_rows: ClassVar[bool] = False

    def decode(self, body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
        kind = media_type(self.content_type)
        if kind == "text/csv":
            return decode_csv(as_utf8(body, charset(self.content_type)), schema, max_batch)
        if kind == PARQUET:
            return _decode_parquet(body, schema, max_batch)
        if is_json_content_type(self.content_type):
            return decode_document(body, schema, max_batch)
        raise UnsupportedMediaType(
            f"content type {self.content_type!r} is not supported: send {JSON}, text/csv or "
            f"{PARQUET}"
        )

    def encode(self, model: SegmentModel, batch: Batch, scored: Scored) -> Encoded:
        ids = scored.assignments.segment_ids
        answer: dict[str, Any] = {"predictions": ids.tolist()}
        if self.extras:
            # Names are per centroid row; ids may have gaps once a segment is retired.
            names = np.asarray(model.assigner.segment_names, dtype=object)
            answer["segment_names"] = names[scored.assignments.positions].tolist()
            answer["distances"] = scored.assignments.distances.tolist()
            answer["atypical"] = scored.atypical.tolist()
            answer["model_version"] = model.version
        if self.explain:
            answer["explanations"] = model.explanations(scored)
        return Encoded(_ENCODER.encode(answer), JSON)


def start_invocations(scope: Scope, _: dict[str, str]) -> InvocationsCall:
    query = read_query(scope, {"extras": FLAG, "explain": FLAG, "version": VERSION})
    content_type = header(scope, b"content-type")
    return InvocationsCall(
        None if content_type is None else content_type.decode("latin-1"),
        extras=query.get("extras", False),
        explain=query.get("explain", False),
        version=query.get("version"),
    )


def mlflow_refusal(error: ApiError) -> JSONResponse:
    """An error as MLflow's scoring server words one: ``{"error_code", "message"}``."""
    body: dict[str, Any] = {
        "error_code": ERROR_CODES.get(error.status_code, "INTERNAL_ERROR"),
        "message": error.message,
    }
    if error.details:
        body["details"] = [problem.model_dump(exclude_none=True) for problem in error.details]
    status = 400 if error.status_code == 422 else error.status_code
    return JSONResponse(body, status_code=status, headers=error.headers)


# ---------------------------------------------------------------------------------------------
# JSON bodies


def decode_document(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
    if not body.strip():
        raise MalformedRequest(
            f"the request body is empty: send a JSON object with one of {_FORMATS_TEXT}"
        )
    document = parse_json(body)
    if type(document) is not dict:
        raise invalid("body", f"must be a JSON object with exactly one of {_FORMATS_TEXT}")
    present = [name for name in INPUT_FORMATS if name in document]
    if len(present) != 1:
        found = ", ".join(f'"{name}"' for name in present) or "none of them"
        problem = f"must hold exactly one of {_FORMATS_TEXT}; it holds {found}"
        # MLflow's code for it: BAD_REQUEST rather than an invalid value.
        raise MalformedRequest(f"body: {problem}", [FieldProblem(field="body", message=problem)])
    (key,) = present
    value = document[key]
    if key == "dataframe_split":
        decoded = _split(value, schema, max_batch)
    elif key == "inputs" and type(value) is dict:
        decoded = _named_columns(value, schema, max_batch, key)
    else:
        decoded = _records(value, schema, max_batch, key)
    # Numbers sent as text are read as numbers, as MLflow's pandas reads them.
    return replace(decoded, json_types=False)


def _split(value: Any, schema: FeatureSchema, max_batch: int) -> Decoded:
    path = "dataframe_split"
    if type(value) is not dict:
        raise invalid(path, 'must be an object with "data" and optionally "columns" and "index"')
    if "data" not in value:
        raise invalid(f"{path}.data", "missing field: the rows, each an array of values")
    if "columns" in value:
        return split_columns(value, schema, max_batch, path=path)
    unknown = [key for key in value if key not in SPLIT_KEYS]
    if unknown:
        raise listed(
            [FieldProblem(field=f"{path}.{key}", message="unknown field") for key in unknown]
        )
    return row_columns(
        list(schema.names),
        value["data"],
        schema,
        max_batch,
        data_path=f"{path}.data",
        index=value.get("index"),
        index_path=f"{path}.index",
        width_hint=_in_feature_order(schema, "columns"),
    )


def _records(value: Any, schema: FeatureSchema, max_batch: int, path: str) -> Decoded:
    """A list of records (objects under column names) or of rows (arrays of feature values)."""
    if type(value) is not list:
        raise invalid(path, "must be an array of records (objects) or rows (arrays)")
    if not value:
        raise invalid(path, "must hold at least one record")
    check_size(len(value), max_batch, field=path)
    if type(value[0]) is list:
        return row_columns(
            list(schema.names),
            value,
            schema,
            max_batch,
            data_path=path,
            width_hint=_in_feature_order(schema, "names"),
        )
    return object_columns(value, schema, path)


def _named_columns(
    value: dict[str, Any], schema: FeatureSchema, max_batch: int, path: str
) -> Decoded:
    """``{"age": [...], "annual_income": [...]}``: one array per column."""
    keys = [str(key) for key in value]
    found = matched_columns(
        schema,
        keys,
        lambda at: path if at is None else f"{path}.{keys[at]}",
        unknown=lambda _at: "unknown column",
    )
    columns = {name: value[keys[at]] for name, at in found.items()}
    not_arrays = [name for name, values in columns.items() if type(values) is not list]
    if not_arrays:
        raise listed(
            [
                FieldProblem(field=f"{path}.{name}", message="must be an array")
                for name in not_arrays
            ]
        )
    lengths = {len(values) for values in columns.values()}
    count = max(lengths)
    if len(lengths) != 1 or not count:
        raise listed(
            [
                FieldProblem(
                    field=f"{path}.{name}",
                    message=f"holds {len(values)} values; every column must hold the same "
                    f"number, at least one ({count} in the longest)",
                )
                for name, values in columns.items()
                if len(values) != count or not count
            ]
        )
    check_size(count, max_batch, field=path)
    ids = columns.get(schema.id_column)
    return Decoded(
        columns,
        count,
        "split",
        lambda problem: f"{path}.{problem.column}[{problem.row}]",
        customer_ids=ids,
        found=bad_ids(ids, lambda row: f"{path}.{schema.id_column}[{row}]"),
        json_types=True,
    )


def _in_feature_order(schema: FeatureSchema, missing: str) -> str:
    return (
        f"; without {missing}, each row holds the model's {len(schema.names)} features in "
        f"order: {', '.join(schema.names)}"
    )


def _decode_parquet(body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
    """A Parquet file, as ``DataFrame.to_parquet`` writes it and MLflow reads it."""
    if not body:
        raise MalformedRequest("the request body is empty: send a Parquet file")
    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise MalformedRequest(f"malformed Parquet file: {exc}") from None
    if table.num_rows == 0:
        raise MalformedRequest("the Parquet file has no rows")
    check_size(table.num_rows, max_batch)
    return table_columns(table, schema, layout="arrow")
