"""The bundles being served: the default one, and the versions callers may pin."""

from __future__ import annotations

from fastapi import APIRouter

from segmentation.metadata import SEGMENT_SAMPLE_COLUMN
from segmentation.schema import NumericFeature
from service.http.dependencies import RegistryDep, RequestedModelDep
from service.http.errors import ERROR_RESPONSES, ErrorResponse, NotFound
from service.http.schemas import ModelInfo, ModelList, ServedModel, TrainingSample

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


@router.get(
    "/model/sample",
    response_model=TrainingSample,
    summary="A seeded sample of the training customers with their segments (for the map)",
    responses={
        404: {"model": ErrorResponse, "description": "No such version, or it stores no sample."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def training_sample(model: RequestedModelDep) -> TrainingSample:
    if model.sample is None:
        raise NotFound(f"model {model.version} stores no training sample")
    features = [f.name for f in model.schema.features if isinstance(f, NumericFeature)]
    return TrainingSample(
        model_version=model.version,
        features=features,
        rows=model.sample[features].to_numpy(dtype=float).tolist(),
        segment_ids=model.sample[SEGMENT_SAMPLE_COLUMN].astype(int).tolist(),
    )


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
