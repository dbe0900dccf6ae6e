"""Assign customers to segments, and describe the segments."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Request, Response

from segmentation.metadata import SegmentProfile
from service.http.arrow_body import ARROW_STREAM
from service.http.dependencies import RequestedModelDep, SegmentCallDep
from service.http.errors import ERROR_RESPONSES, ErrorResponse
from service.http.openapi import (
    SEGMENT_REQUEST_BODY,
)
from service.http.protocols.segment import SegmentCall
from service.http.request_body import read_body
from service.http.request_log import note_scoring
from service.http.schemas import SegmentList, SegmentResponse, SplitResponse
from service.http.segment_call import answer_request

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
    request: Request,
    call: SegmentCallDep,
    explain: Annotated[
        bool,
        Query(
            description="Add the runner-up segment, margin, confidence and per-feature "
            "contributions to each result (CSV: extra columns). Off by default: they triple "
            "the cost of scoring and encoding a batch (measured; see docs/benchmarks.md)."
        ),
    ] = False,
) -> Response:
    model = call.model
    wire = SegmentCall(request.headers.get("content-type"), request.headers.get("accept"), explain)
    answered = await answer_request(
        call.limiter, wire, model, call.max_batch, await read_body(request)
    )
    assigned = answered.scored.assignments.segment_ids
    call.metrics.record_assignments(
        model.version, assigned, int(np.count_nonzero(answered.scored.atypical))
    )
    call.drift.observe(model, answered.scored.rows)
    note_scoring(request, batch_size=len(assigned), model_version=model.version)
    return Response(answered.encoded.body, media_type=answered.encoded.media_type)


@router.get(
    "/segments",
    response_model=SegmentList,
    summary="Profiles of every segment of the model",
    responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422], 503: ERROR_RESPONSES[503]},
)
async def list_segments(model: RequestedModelDep) -> SegmentList:
    return SegmentList(model_version=model.version, segments=list(model.profiles))


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentProfile,
    summary="Profile of one segment",
    responses={
        404: {"model": ErrorResponse, "description": "No such segment or model version."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def get_segment(
    model: RequestedModelDep, segment_id: int = Path(description="Segment id, from 0 to k-1.")
) -> SegmentProfile:
    return model.profile(segment_id)
