"""Liveness (the process answers) and readiness (a verified model is loaded).

Ready is about this worker serving a model; a bundle the service refused while it kept serving
(CURRENT names a version that failed verification) does not make it unready, so the reason says
so on a ready answer too, for the operator who looks.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.http.dependencies import RegistryDep
from service.http.schemas import Liveness, Readiness

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=Liveness, summary="The process is up")
async def live() -> Liveness:
    return Liveness(status="alive")


@router.get(
    "/ready",
    response_model=Readiness,
    summary="A verified model is loaded",
    responses={503: {"model": Readiness, "description": "No valid model is loaded."}},
)
async def ready(registry: RegistryDep) -> Readiness | JSONResponse:
    if registry.model is None:
        body = Readiness(status="not_ready", reason=registry.reason)
        return JSONResponse(body.model_dump(), status_code=503)
    return Readiness(
        status="ready", model_version=registry.model.version, reason=registry.refused()
    )
