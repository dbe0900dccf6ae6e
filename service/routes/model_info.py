"""The metadata of the bundle being served."""

from __future__ import annotations

from fastapi import APIRouter

from service.dependencies import ModelDep
from service.errors import ERROR_RESPONSES
from service.schemas import ModelInfo

router = APIRouter(tags=["model"])


@router.get(
    "/model",
    response_model=ModelInfo,
    summary="Metadata of the model being served",
    responses={503: ERROR_RESPONSES[503]},
)
async def model_info(model: ModelDep) -> ModelInfo:
    return model.metadata
