"""POST /segment's own wire format: customer objects, the split layout, CSV or Arrow in, and the
answer in the same family (JSON, CSV or Arrow, or what ``Accept`` asks for)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import TypeAdapter

from segmentation.assigner import Scored
from segmentation.schema import FeatureSchema
from service.http.arrow_body import ARROW_STREAM
from service.http.asgi import Scope, header
from service.http.batches import Batch, Decoded
from service.http.errors import FieldProblem, InvalidRequest, UnsupportedMediaType
from service.http.query import FLAG, VERSION, read_query
from service.http.request_body import accepts, decode_body, is_csv_content_type
from service.http.segment_call import Encoded
from service.model.segment_model import SegmentModel

SEGMENT_PATH = "/segment"
CSV = "text/csv; charset=utf-8"
JSON = "application/json"


INVALID_ROWS: TypeAdapter[Literal["mark"]] = TypeAdapter(Literal["mark"])
REJECTED_HEADER = b"x-rows-rejected"


@dataclass(frozen=True)
class SegmentCall:
    content_type: str | None
    accept: str | None
    explain: bool = False
    content_encoding: str | None = None
    version: str | None = None
    # ?invalid_rows=mark: a CSV body's failing rows come back with their reason, not a 422.
    invalid_rows: Literal["mark"] | None = None
    protocol: ClassVar[str] = "segment"

    @property
    def marks_invalid_rows(self) -> bool:
        return self.invalid_rows == "mark"

    def decode(self, body: bytes, schema: FeatureSchema, max_batch: int) -> Decoded:
        if self.content_encoding not in (None, "identity"):
            raise UnsupportedMediaType(
                f"content-encoding {self.content_encoding!r} is not supported: send the body "
                "uncompressed"
            )
        if self.invalid_rows is not None and not is_csv_content_type(self.content_type):
            raise InvalidRequest.from_problems(
                [
                    FieldProblem(
                        field="query.invalid_rows",
                        message="invalid_rows=mark is for a CSV body (Content-Type: text/csv); "
                        "other bodies are refused whole when a customer is invalid",
                    )
                ]
            )
        return decode_body(body, self.content_type, schema, max_batch)

    def encode(self, model: SegmentModel, batch: Batch, scored: Scored) -> Encoded:
        explain, accept, marks = self.explain, self.accept, batch.marks
        if marks is not None:
            return Encoded(
                model.csv_answer_marked(
                    batch.echo(), scored, marks.valid, marks.errors, explain=explain
                ),
                CSV,
                ((REJECTED_HEADER, str(marks.rejected).encode("ascii")),),
            )
        # The table format Accept names when it names one and not the other; else a table
        # body's own, and for a JSON body Arrow when Accept names both.
        arrow, csv = accepts(accept, ARROW_STREAM), accepts(accept, "text/csv")
        if arrow != csv:
            table: str | None = "arrow" if arrow else "csv"
        else:
            table = batch.layout if batch.layout in ("arrow", "csv") else "arrow" if arrow else None
        if table == "arrow":
            return Encoded(model.arrow_answer(batch.echo(), scored, explain=explain), ARROW_STREAM)
        if table == "csv":
            return Encoded(model.csv_answer(batch.echo(), scored, explain=explain), CSV)
        if batch.layout == "split":
            return Encoded(
                model.respond_split(batch.customer_ids, batch.index, scored, explain=explain), JSON
            )
        customer_ids = batch.customer_ids or [None] * len(batch)
        return Encoded(model.respond(customer_ids, scored, explain=explain), JSON)


def start_segment(scope: Scope) -> SegmentCall:
    """``explain`` and ``version`` from the query (a 422 names a bad one), and the headers."""
    query = read_query(scope, {"explain": FLAG, "version": VERSION, "invalid_rows": INVALID_ROWS})
    return SegmentCall(
        _text(header(scope, b"content-type")),
        _text(header(scope, b"accept")),
        explain=query.get("explain", False),
        content_encoding=_encoding(header(scope, b"content-encoding")),
        version=query.get("version"),
        invalid_rows=query.get("invalid_rows"),
    )


def _encoding(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1").strip().lower() or None


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
