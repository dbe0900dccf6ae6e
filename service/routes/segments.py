"""Assign customers to segments, and describe the segments."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from segmentation.bundle import SegmentProfile
from service.dependencies import DriftDep, MetricsDep, ModelDep, RequestAdapterDep
from service.errors import ERROR_RESPONSES, ErrorResponse
from service.openapi import SEGMENT_REQUEST_BODY, SEGMENT_RESPONSE_EXAMPLE
from service.request_body import read_customers
from service.request_log import note_scoring
from service.schemas import SegmentList, SegmentResponse

router = APIRouter(tags=["segments"])


@router.post(
    "/segment",
    summary="Assign one customer or a batch to segments",
    description='Send one customer object, or `{"customers": [...]}` with up to '
    "SEGMENT_MAX_BATCH customers. Results come back in request order, each with the segment, "
    "its distance to the segment centre and the model version; the profiles of the assigned "
    "segments are included once each.",
    response_model=None,
    responses={
        200: {
            "model": SegmentResponse,
            "description": "The assignments.",
            "content": {"application/json": {"example": SEGMENT_RESPONSE_EXAMPLE}},
        },
        **ERROR_RESPONSES,
    },
    openapi_extra={"requestBody": SEGMENT_REQUEST_BODY},
)
async def segment(
    request: Request,
    model: ModelDep,
    adapter: RequestAdapterDep,
    metrics: MetricsDep,
    drift: DriftDep,
) -> Response:
    customers, path_prefix = await read_customers(request, adapter)
    scored = model.score(customers, path_prefix=path_prefix)
    metrics.record_assignments(model.version, scored.assignments.segment_ids)
    drift.observe(model, scored.rows)
    note_scoring(request, batch_size=len(customers), model_version=model.version)
    result = model.respond(customers, scored)
    return Response(result.model_dump_json(), media_type="application/json")


@router.get(
    "/segments",
    response_model=SegmentList,
    summary="Profiles of every segment of the model",
    responses={503: ERROR_RESPONSES[503]},
)
async def list_segments(model: ModelDep) -> SegmentList:
    return SegmentList(model_version=model.version, segments=list(model.profiles))


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentProfile,
    summary="Profile of one segment",
    responses={
        404: {"model": ErrorResponse, "description": "No such segment."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def get_segment(
    model: ModelDep, segment_id: int = Path(description="Segment id, from 0 to k-1.")
) -> SegmentProfile:
    return model.profile(segment_id)
