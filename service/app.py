"""The application factory: settings in, a FastAPI app whose lifespan loads the model once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.errors import install_error_handlers
from service.model import ModelSlot
from service.openapi import install_openapi
from service.routes import health, model_info, segments
from service.schemas import request_adapter
from service.settings import Settings, get_settings

API_VERSION = "1.0.0"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        slot = ModelSlot()
        slot.load(settings.models_dir, settings.model_version)
        app.state.model_slot = slot
        yield
        slot.model = None
        slot.reason = "the service is shutting down"

    app = FastAPI(
        title="Customer segmentation",
        version=API_VERSION,
        description="Assigns customers to the segments of a K-Means model trained offline.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.model_slot = ModelSlot()
    app.state.request_adapter = request_adapter(settings.max_batch)
    install_error_handlers(app)
    install_openapi(app)
    for router in (segments.router, model_info.router, health.router):
        app.include_router(router)
    return app
