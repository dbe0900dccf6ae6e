"""Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.http.dependencies import DriftDep, MetricsDep, RegistryDep

router = APIRouter(tags=["monitoring"])


@router.get(
    "/metrics",
    summary="Prometheus metrics, summed over every worker process",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def metrics_exposition(metrics: MetricsDep, drift: DriftDep, registry: RegistryDep) -> Response:
    body = metrics.exposition(extra=drift.metric_families(registry.model))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
