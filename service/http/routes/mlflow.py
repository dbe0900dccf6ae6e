"""MLflow's scoring server's health and version routes, as ``mlflow models serve`` has them
(POST /invocations is answered by the gateway: ``service.http.protocols.mlflow``)."""

from __future__ import annotations

from importlib import metadata

from fastapi import APIRouter, Response

from service.http.dependencies import RegistryDep

# Another protocol's routes, documented by it (and docs/clients.md), not in /openapi.json.
router = APIRouter(tags=["mlflow"], include_in_schema=False)
# MLflow answers its probes with a newline, typed as JSON.
_PING_BODY = "\n"


@router.get(
    "/ping",
    summary="MLflow's health check: 200 once a model is loaded",
    responses={404: {"description": "No model is loaded (MLflow's status for it)."}},
)
async def ping(registry: RegistryDep) -> Response:
    status = 200 if registry.model is not None else 404
    return Response(_PING_BODY, status_code=status, media_type="application/json")


router.get("/health", summary="MLflow's health check (the same as /ping)")(ping)


@router.get("/version", summary="The serving software's version, as MLflow answers its own")
async def version() -> Response:
    return Response(
        metadata.version("customer-segmentation"), status_code=200, media_type="application/json"
    )
