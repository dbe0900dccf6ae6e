"""Typed dependencies that hand routes what the app factory and the lifespan built."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import TypeAdapter

from segmentation.bundle import VERSION_PATTERN
from service.drift import DriftMonitor
from service.metrics import Metrics
from service.model import ModelSlot, SegmentModel
from service.reload import Reloader


def get_slot(request: Request) -> ModelSlot:
    slot: ModelSlot = request.app.state.model_slot
    return slot


def get_model(slot: Annotated[ModelSlot, Depends(get_slot)]) -> SegmentModel:
    return slot.require()


def get_requested_model(
    slot: Annotated[ModelSlot, Depends(get_slot)],
    version: Annotated[
        str | None,
        Query(
            description="Use this bundle version instead of the current one (GET /models "
            "lists those served); an unknown version is a 404 naming them.",
            pattern=VERSION_PATTERN.pattern,
        ),
    ] = None,
) -> SegmentModel:
    return slot.require(version)


def get_request_adapter(request: Request) -> TypeAdapter[Any]:
    adapter: TypeAdapter[Any] = request.app.state.request_adapter
    return adapter


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_drift(request: Request) -> DriftMonitor:
    drift: DriftMonitor = request.app.state.drift
    return drift


def get_reloader(request: Request) -> Reloader:
    reloader: Reloader = request.app.state.reloader
    return reloader


SlotDep = Annotated[ModelSlot, Depends(get_slot)]
ModelDep = Annotated[SegmentModel, Depends(get_model)]
RequestedModelDep = Annotated[SegmentModel, Depends(get_requested_model)]
RequestAdapterDep = Annotated[TypeAdapter[Any], Depends(get_request_adapter)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DriftDep = Annotated[DriftMonitor, Depends(get_drift)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]
