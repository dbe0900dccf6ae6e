"""Drift of the incoming customers against the training distribution, and its reset."""

from __future__ import annotations

from fastapi import APIRouter

from service.http.dependencies import DriftDep, ModelDep, RequestedModelDep
from service.http.errors import ERROR_RESPONSES
from service.http.schemas import DriftReport

router = APIRouter(prefix="/drift", tags=["monitoring"])


@router.get(
    "",
    response_model=DriftReport,
    summary="Feature and segment-share drift since the last reset",
    description="Population stability index (PSI) of each feature on the bundle's training "
    "histogram bins, and each segment's share against its training share, counted since `since` "
    "(the last reset, else the start of counting). Below thresholds.min_observations customers "
    "(SEGMENT_DRIFT_MIN_OBSERVATIONS) status is insufficient_data and no verdict number is "
    "given: every psi, shift and segment_psi is null and nothing is drifted. From then on, "
    "status is drift when a PSI or a share shift passes its threshold, else ok. Requests "
    "marked X-Segment-Source: ui are not counted.",
    responses={404: ERROR_RESPONSES[404], 422: ERROR_RESPONSES[422], 503: ERROR_RESPONSES[503]},
)
def drift_report(model: RequestedModelDep, drift: DriftDep) -> DriftReport:
    return drift.report(model)


@router.post(
    "/reset",
    response_model=DriftReport,
    summary="Forget the customers seen so far and start the drift statistics again",
    responses={503: ERROR_RESPONSES[503]},
)
def reset_drift(model: ModelDep, drift: DriftDep) -> DriftReport:
    drift.reset()
    return drift.report(model)
