"""The bundles being served: the default one, and the versions callers may pin."""

from __future__ import annotations

from fastapi import APIRouter

from service.http.dependencies import RegistryDep, RequestedModelDep
from service.http.errors import ERROR_RESPONSES, ErrorResponse
from service.http.schemas import ModelInfo, ModelList, ServedModel

router = APIRouter(tags=["model"])


@router.get(
    "/model",
    response_model=ModelInfo,
    summary="Metadata of the model being served (or of a pinned version)",
    responses={
        404: {"model": ErrorResponse, "description": "No such version is served."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def model_info(model: RequestedModelDep) -> ModelInfo:
    return model.metadata


@router.get("/models", response_model=ModelList, summary="Versions this service holds")
async def list_models(registry: RegistryDep) -> ModelList:
    current = registry.model.version if registry.model else None
    return ModelList(
        current=current,
        models=[
            ServedModel(
                version=m.version,
                current=m.version == current,
                k=m.metadata.k,
                features=m.metadata.features,
                created_at=m.metadata.created_at,
            )
            for m in registry.served()
        ],
    )
