"""Typed dependencies that hand routes what the app factory and the lifespan built."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import TypeAdapter

from segmentation.bundle import VERSION_PATTERN
from service.drift import DriftMonitor
from service.metrics import Metrics
from service.model import ModelSlot, SegmentModel
from service.reload import Reloader


async def get_slot(request: Request) -> ModelSlot:
    slot: ModelSlot = request.app.state.model_slot
    return slot


async def get_model(slot: Annotated[ModelSlot, Depends(get_slot)]) -> SegmentModel:
    return slot.require()


VersionQuery = Annotated[
    str | None,
    Query(
        description="Use this bundle version instead of the current one (GET /models "
        "lists those served); an unknown version is a 404 naming them.",
        pattern=VERSION_PATTERN.pattern,
    ),
]


async def get_requested_model(
    slot: Annotated[ModelSlot, Depends(get_slot)], version: VersionQuery = None
) -> SegmentModel:
    return slot.require(version)


@dataclass(frozen=True)
class Scoring:
    """Everything POST /segment needs, gathered by one dependency: FastAPI solves each
    dependency separately, and on a sub-millisecond route that overhead is measurable."""

    model: SegmentModel
    adapter: TypeAdapter[Any]
    metrics: Metrics
    drift: DriftMonitor
    max_batch: int


async def get_scoring(request: Request, version: VersionQuery = None) -> Scoring:
    state = request.app.state
    slot: ModelSlot = state.model_slot
    return Scoring(
        slot.require(version),
        state.request_adapter,
        state.metrics,
        state.drift,
        state.settings.max_batch,
    )


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_drift(request: Request) -> DriftMonitor:
    drift: DriftMonitor = request.app.state.drift
    return drift


async def get_reloader(request: Request) -> Reloader:
    reloader: Reloader = request.app.state.reloader
    return reloader


SlotDep = Annotated[ModelSlot, Depends(get_slot)]
ModelDep = Annotated[SegmentModel, Depends(get_model)]
RequestedModelDep = Annotated[SegmentModel, Depends(get_requested_model)]
ScoringDep = Annotated[Scoring, Depends(get_scoring)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DriftDep = Annotated[DriftMonitor, Depends(get_drift)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]
