"""The bundles being served: the default one, and the versions callers may pin."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query

from segmentation.comparison import ComparedModel, compare
from segmentation.metadata import SEGMENT_SAMPLE_COLUMN, VERSION_PATTERN, Comparison
from segmentation.schema import ColumnsError, NumericFeature
from service.http.dependencies import RegistryDep, RequestedModelDep
from service.http.errors import ERROR_RESPONSES, ErrorResponse, NotComparable, NotFound
from service.http.schemas import ModelInfo, ModelList, ServedModel, TrainingSample
from service.model.segment_model import SegmentModel

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
    return model.info


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


AgainstQuery = Annotated[
    str | None,
    Query(
        description="Compare against this served version (GET /models lists them), on the "
        "model's stored training sample; without it, the comparison training recorded against "
        "the model it was aligned to.",
        pattern=VERSION_PATTERN.pattern,
    ),
]


@router.get(
    "/model/comparison",
    response_model=Comparison,
    summary="What changes for customers from an earlier version to this one",
    description="The transition matrix (customers per old and new segment), the share that "
    "keep their segment id, and each segment's centre shift in original units.",
    responses={
        404: {
            "model": ErrorResponse,
            "description": "No such version is served, or there is nothing to compare.",
        },
        409: {"model": ErrorResponse, "description": "The versions read other columns."},
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
)
async def model_comparison(
    model: RequestedModelDep, registry: RegistryDep, against: AgainstQuery = None
) -> Comparison:
    if against is None:
        if model.metadata.comparison is None:
            raise NotFound(
                f"model {model.version} was not compared with an earlier model when it was "
                "trained; ask for ?against=VERSION"
            )
        return model.metadata.comparison
    old = registry.require(against, field="query.against")
    if model.sample is None:
        raise NotFound(f"model {model.version} stores no training sample to compare on")
    return await anyio.to_thread.run_sync(_compare_on_sample, old, model)


def _compare_on_sample(old: SegmentModel, new: SegmentModel) -> Comparison:
    assert new.sample is not None
    try:
        return compare(
            ComparedModel(old.metadata, old.assigner, old.version),
            ComparedModel(new.metadata, new.assigner, new.version),
            new.sample,
            f"the stored training sample of {new.version}",
        )
    except ColumnsError as exc:
        raise NotComparable(
            f"version {old.version} cannot score the training sample of {new.version}: {exc}"
        ) from None
