"""Typed dependencies that hand routes what the lifespan loaded."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import TypeAdapter

from service.model import ModelSlot, SegmentModel


def get_slot(request: Request) -> ModelSlot:
    slot: ModelSlot = request.app.state.model_slot
    return slot


def get_model(slot: Annotated[ModelSlot, Depends(get_slot)]) -> SegmentModel:
    return slot.require()


def get_request_adapter(request: Request) -> TypeAdapter[Any]:
    adapter: TypeAdapter[Any] = request.app.state.request_adapter
    return adapter


SlotDep = Annotated[ModelSlot, Depends(get_slot)]
ModelDep = Annotated[SegmentModel, Depends(get_model)]
RequestAdapterDep = Annotated[TypeAdapter[Any], Depends(get_request_adapter)]
