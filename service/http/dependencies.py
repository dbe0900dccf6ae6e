"""Typed dependencies that hand routes what the app factory and the lifespan built."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response

from segmentation.metadata import VERSION_PATTERN
from service.model.registry import ModelRegistry
from service.model.reload import Reloader
from service.model.renaming import Renamer
from service.model.segment_model import SegmentModel
from service.operations.drift import DriftMonitor
from service.operations.metrics import Metrics


async def get_registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.model_registry
    return registry


async def get_model(registry: Annotated[ModelRegistry, Depends(get_registry)]) -> SegmentModel:
    return registry.require()


VersionQuery = Annotated[
    str | None,
    Query(
        description="Use this bundle version instead of the current one (GET /models "
        "lists those served); an unknown version is a 404 naming them.",
        pattern=VERSION_PATTERN.pattern,
    ),
]


MODEL_VERSION_HEADER = "X-Model-Version"


async def get_requested_model(
    registry: Annotated[ModelRegistry, Depends(get_registry)],
    response: Response,
    version: VersionQuery = None,
) -> SegmentModel:
    """The current model, or the one ``?version=`` names; the answer names it in a header."""
    model = registry.require(version)
    response.headers[MODEL_VERSION_HEADER] = model.version
    return model


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


async def get_drift(request: Request) -> DriftMonitor:
    drift: DriftMonitor = request.app.state.drift
    return drift


async def get_reloader(request: Request) -> Reloader:
    reloader: Reloader = request.app.state.reloader
    return reloader


async def get_renamer(request: Request) -> Renamer:
    renamer: Renamer = request.app.state.renamer
    return renamer


RegistryDep = Annotated[ModelRegistry, Depends(get_registry)]
ModelDep = Annotated[SegmentModel, Depends(get_model)]
RequestedModelDep = Annotated[SegmentModel, Depends(get_requested_model)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
DriftDep = Annotated[DriftMonitor, Depends(get_drift)]
ReloaderDep = Annotated[Reloader, Depends(get_reloader)]
RenamerDep = Annotated[Renamer, Depends(get_renamer)]
