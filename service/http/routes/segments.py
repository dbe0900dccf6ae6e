"""Assign customers to segments, and describe the segments."""

from __future__ import annotations

import sqlite3
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Header, Path, Query, Request, Response

from service.http.arrow_body import ARROW_STREAM
from service.http.dependencies import (
    MODEL_VERSION_HEADER,
    RegistryDep,
    RequestedModelDep,
    VersionQuery,
)
from service.http.errors import ERROR_RESPONSES, ErrorResponse, HistoryUnavailable
from service.http.openapi import (
    SEGMENT_REQUEST_BODY,
)
from service.http.schemas import (
    HistoryDay,
    SegmentCard,
    SegmentCountOfDay,
    SegmentHistoryReport,
    SegmentList,
    SegmentResponse,
    SplitResponse,
)
from service.http.traffic import PAGE_SOURCE, SOURCE_HEADER
from service.operations.history import SegmentHistory

router = APIRouter(tags=["segments"])


@router.post(
    "/segment",
    summary="Assign one customer or a batch to segments",
    description='Send one customer object, or `{"customers": [...]}` with up to '
    "SEGMENT_MAX_BATCH customers, or the same customers in the pandas split layout "
    '(`{"columns": [...], "data": [[...], ...]}`, as MLflow\'s `dataframe_split` is written: '
    "the cheapest JSON to read), or a CSV (`Content-Type: text/csv`, any charset it declares), "
    "or an Arrow IPC stream (`Content-Type: application/vnd.apache.arrow.stream`, the "
    "cheapest of all). Results come back in "
    "request order, each with the segment, its distance to the segment centre (scaled units), "
    "`atypical` (farther than 99% of the segment's training customers), an explanation with "
    "`?explain=true`, and the model version; the profiles of the assigned segments are "
    "included once each.\n\n"
    "Explanation: the runner-up segment is the nearest other centroid; margin = runner-up "
    "distance - distance; confidence = 1 - distance / runner-up distance (1 on the centroid, 0 "
    "halfway between two); contributions are each feature's share of the squared distance to "
    "the assigned centroid. A CSV body gets a CSV answer: the rows as sent with segment_id, "
    "segment_name, distance, atypical (and the explanation columns) appended; so does a JSON "
    "body sent with `Accept: text/csv`.",
    response_model=None,
    responses={
        200: {
            "model": SegmentResponse | SplitResponse,
            "description": "The assignments: SegmentResponse for customer objects, "
            "SplitResponse for the split layout, CSV for a CSV body (or Accept: text/csv), an "
            "Arrow stream for an Arrow body (or Accept: application/vnd.apache.arrow.stream).",
            "content": {
                # The served model's own answers are added as examples when the document is
                # built (service.http.openapi): no other model's fields.
                "application/json": {},
                "text/csv": {"schema": {"type": "string"}},
                ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **ERROR_RESPONSES,
    },
    openapi_extra={"requestBody": SEGMENT_REQUEST_BODY},
)
async def segment(
    explain: Annotated[
        bool,
        Query(
            description="Add the runner-up segment, margin, confidence and per-feature "
            "contributions to each result (CSV: extra columns). Off by default: they triple "
            "the cost of scoring and encoding a batch (measured; see docs/benchmarks.md)."
        ),
    ] = False,
    invalid_rows: Annotated[
        Literal["mark"] | None,
        Query(
            description="`mark`, with a CSV body: every row of the file comes back in order; a "
            "row that fails has empty segment cells and its reason in a last column `error` "
            "(empty for valid rows), and `X-Rows-Rejected` counts them. A file whose header is "
            "wrong is still refused whole (422). Any other body: 422."
        ),
    ] = None,
    version: VersionQuery = None,
    source: Annotated[
        str | None,
        Header(
            alias=SOURCE_HEADER,
            description=f"`{PAGE_SOURCE}` marks the service's own web page: the request is "
            "answered as usual but not counted by drift or the segment history (request "
            "metrics still count it).",
        ),
    ] = None,
) -> Response:
    """Declared for the OpenAPI document only. The gateway in front of FastAPI's stack
    (``service.http.gateway``) answers every POST /segment, with or without OpenTelemetry, by
    the one path every scoring protocol shares; this handler is never called."""
    raise RuntimeError("POST /segment is answered by the gateway, in front of FastAPI's routes")


@router.get(
    "/segments",
    response_model=SegmentList,
    summary="Profiles of every segment of the model",
    responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422], 503: ERROR_RESPONSES[503]},
)
async def list_segments(model: RequestedModelDep) -> SegmentList:
    return SegmentList(model_version=model.version, segments=list(model.cards))


@router.get(
    "/segments/history",
    response_model=SegmentHistoryReport,
    summary="Customers scored per segment per day, for the last days",
    description="Counted from POST /segment answers of every version served (the current one "
    "and pinned ones), not from requests marked X-Segment-Source: ui; kept across restarts in "
    "SEGMENT_STATE_DIR for 400 days. With several workers, each adds its counts to the file "
    "every few seconds, so the last seconds of other workers may be missing.",
    responses={
        404: ERROR_RESPONSES[404],
        422: ERROR_RESPONSES[422],
        503: {
            "model": ErrorResponse,
            "description": "No valid model is loaded, or the history's file cannot be read.",
        },
    },
)
async def segment_history(
    request: Request,
    response: Response,
    registry: RegistryDep,
    version: VersionQuery = None,
    days: Annotated[
        int, Query(ge=1, le=366, description="How many UTC days, today included.")
    ] = 30,
) -> SegmentHistoryReport:
    model = registry.require(version)
    response.headers[MODEL_VERSION_HEADER] = model.version
    history: SegmentHistory = request.app.state.history
    try:
        entries, since = await anyio.to_thread.run_sync(history.days, days, version)
    except (OSError, sqlite3.Error) as exc:
        raise HistoryUnavailable(
            f"the segment history cannot be read ({type(exc).__name__}); see the server log "
            "and SEGMENT_STATE_DIR"
        ) from None
    return SegmentHistoryReport(
        model_version=model.version,
        days=[
            HistoryDay(
                date=entry.day,
                model_version=entry.model_version,
                total=entry.total,
                segments=[
                    SegmentCountOfDay(
                        id=s.id, name=s.name, count=s.count, share=s.count / entry.total
                    )
                    for s in entry.segments
                ],
            )
            for entry in entries
        ],
        since=since,
    )


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentCard,
    summary="Profile of one segment",
    responses={
        404: {"model": ErrorResponse, "description": "No such segment or model version."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def get_segment(
    model: RequestedModelDep, segment_id: int = Path(description="Segment id, from 0 to k-1.")
) -> SegmentCard:
    return model.card(segment_id)
