"""Request bodies for POST /segment, the segments the bundle's pipeline gives them, and checks.

Every body is written to a file for wrk; the expected segment ids come from
``Pipeline.predict`` on the same customers, so a server is only measured after it gave the
pipeline's answer. The batch customers are the project's seeded generator, so every run sends
the same bytes.

Encodings a batch may be sent in are listed in ``BATCH_ENCODINGS``: JSON records always; CSV
and the columnar ones only count when the service accepts them (anything but a 200 with one
result per customer marks the row "not available"). Add an encoding here when the service
gains one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq
from sklearn.pipeline import Pipeline

from segmentation.schema import ID_COLUMN as CUSTOMER_ID
from segmentation.schema import MALL_PRESET, preset
from training.sample_data import generate_customers

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CSV = ROOT / "data" / "sample_customers.csv"
BATCH_SEED = 2026
JSON = "application/json"


@dataclass(frozen=True)
class Payload:
    name: str
    content_type: str
    body: bytes
    customers: int
    expected_segments: list[int]

    def write(self, directory: Path) -> Path:
        path = directory / f"{self.name.replace(' ', '-')}.body"
        path.write_bytes(self.body)
        return path


def snake_case(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns=preset(MALL_PRESET).name_of())


def expected_segments(pipeline: Pipeline, features: list[str], frame: pd.DataFrame) -> list[int]:
    return [int(s) for s in pipeline.predict(snake_case(frame)[features])]


def single_customer(pipeline: Pipeline, features: list[str]) -> Payload:
    """The first customer of the committed sample, snake_case fields, without gender."""
    frame = snake_case(pd.read_csv(SAMPLE_CSV, nrows=1))
    record = {CUSTOMER_ID: int(frame[CUSTOMER_ID].iloc[0])}
    record |= {name: int(frame[name].iloc[0]) for name in features}
    body = json.dumps(record).encode()
    return Payload("single", JSON, body, 1, expected_segments(pipeline, features, frame))


def batch_frame(size: int) -> pd.DataFrame:
    """``size`` generated customers with the classic five columns, as a CRM export has them."""
    return generate_customers(size, seed=BATCH_SEED).frame


def _json_records(frame: pd.DataFrame, features: list[str]) -> bytes:
    records = snake_case(frame)[[CUSTOMER_ID, *features]].to_dict(orient="records")
    return json.dumps({"customers": records}, separators=(",", ":")).encode()


def _json_split(frame: pd.DataFrame, features: list[str]) -> bytes:
    """The pandas split layout, as MLflow's ``dataframe_split`` carries it."""
    columns = snake_case(frame)[[CUSTOMER_ID, *features]]
    return columns.to_json(orient="split", index=False).encode()


def _csv(frame: pd.DataFrame, features: list[str]) -> bytes:
    return frame.to_csv(index=False).encode()


def _arrow_stream(frame: pd.DataFrame, features: list[str]) -> bytes:
    table = pa.Table.from_pandas(snake_case(frame)[[CUSTOMER_ID, *features]], preserve_index=False)
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def _parquet(frame: pd.DataFrame, features: list[str]) -> bytes:
    table = pa.Table.from_pandas(snake_case(frame)[[CUSTOMER_ID, *features]], preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


Encoder = Callable[[pd.DataFrame, list[str]], bytes]
# (label, content type, encoder, counts as columnar for the targets)
BATCH_ENCODINGS: tuple[tuple[str, str, Encoder, bool], ...] = (
    ("JSON", JSON, _json_records, False),
    ("JSON split", JSON, _json_split, True),
    ("CSV", "text/csv", _csv, True),
    ("Arrow", "application/vnd.apache.arrow.stream", _arrow_stream, True),
    ("Parquet", "application/vnd.apache.parquet", _parquet, True),
)


def batch(
    label: str,
    content_type: str,
    encoder: Encoder,
    frame: pd.DataFrame,
    pipeline: Pipeline,
    features: list[str],
) -> Payload:
    return Payload(
        name=f"{label} {len(frame)}",
        content_type=content_type,
        body=encoder(frame, features),
        customers=len(frame),
        expected_segments=expected_segments(pipeline, features, frame),
    )


def segment_ids_in(content_type: str, body: bytes) -> list[int] | None:
    """The segment ids a response holds, in order; None when its format is not one we read."""
    kind = content_type.split(";")[0].strip().lower()
    column: Any
    if kind == JSON or kind.endswith("+json"):
        document = json.loads(body)
        if isinstance(document, dict) and isinstance(document.get("data"), list):
            position = document["columns"].index("segment_id")
            return [int(row[position]) for row in document["data"]]
        if isinstance(document, dict) and isinstance(document.get("results"), list):
            return [int(result["segment_id"]) for result in document["results"]]
        if isinstance(document, dict) and "segment_id" in document:
            return [int(document["segment_id"])]
        return None
    if kind == "text/csv":
        column = pd.read_csv(io.BytesIO(body)).get("segment_id")
    elif kind == "application/vnd.apache.arrow.stream":
        column = pyarrow.ipc.open_stream(body).read_all().to_pandas().get("segment_id")
    elif kind == "application/vnd.apache.parquet":
        column = pq.read_table(io.BytesIO(body)).to_pandas().get("segment_id")
    else:
        return None
    return None if column is None else [int(s) for s in np.asarray(column)]
