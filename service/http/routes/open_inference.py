"""The Open Inference Protocol's (v2) server and model metadata and health routes; the infer
call itself is answered by the gateway (``service.http.protocols.open_inference``). Errors are
``{"error": "..."}``, as the protocol words them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.http.dependencies import RegistryDep
from service.http.errors import ApiError
from service.http.protocols.open_inference import (
    check_model_name,
    check_version,
    model_metadata,
    server_metadata,
    v2_refusal,
)
from service.model.segment_model import SegmentModel

# Another protocol's routes, documented by it (and docs/clients.md), not in /openapi.json.
router = APIRouter(prefix="/v2", tags=["open inference protocol"], include_in_schema=False)


@router.get("", summary="Server metadata: name, version, extensions")
async def server() -> dict[str, Any]:
    return server_metadata()


@router.get("/health/live", summary="The server is live")
async def live() -> dict[str, Any]:
    return {"live": True}


@router.get(
    "/health/ready",
    summary="The server is ready: a verified model is loaded",
    responses={503: {"description": "No model is loaded."}},
)
async def ready(registry: RegistryDep) -> JSONResponse:
    is_ready = registry.model is not None
    return JSONResponse({"ready": is_ready}, status_code=200 if is_ready else 503)


@router.get("/models/{model_name}", summary="The model's metadata: versions, inputs, outputs")
async def model(request: Request, registry: RegistryDep, model_name: str) -> JSONResponse:
    return _answer(request, registry, model_name, None, ready=False)


@router.get(
    "/models/{model_name}/versions/{model_version}",
    summary="One version's metadata: its inputs and outputs",
)
async def model_version(
    request: Request, registry: RegistryDep, model_name: str, model_version: str
) -> JSONResponse:
    return _answer(request, registry, model_name, model_version, ready=False)


@router.get("/models/{model_name}/ready", summary="The model is ready")
async def model_ready(request: Request, registry: RegistryDep, model_name: str) -> JSONResponse:
    return _answer(request, registry, model_name, None, ready=True)


@router.get("/models/{model_name}/versions/{model_version}/ready", summary="The version is ready")
async def model_version_ready(
    request: Request, registry: RegistryDep, model_name: str, model_version: str
) -> JSONResponse:
    return _answer(request, registry, model_name, model_version, ready=True)


def _answer(
    request: Request, registry: Any, name: str, version: str | None, *, ready: bool
) -> JSONResponse:
    try:
        check_model_name(name, request.app.state.settings.model_name)
        if version is not None:
            check_version(version)
        model: SegmentModel = registry.require(version)
    except ApiError as error:
        return v2_refusal(error)
    if ready:
        return JSONResponse({"name": name, "ready": True})
    models = [model] if version is not None else registry.served()
    return JSONResponse(model_metadata(name, models))
