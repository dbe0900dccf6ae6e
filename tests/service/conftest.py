"""Clients that drive the app through its real lifespan, in process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from service.app import create_app
from service.settings import Settings

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def make_client() -> ClientFactory:
    """``async with make_client(models_dir=..., max_batch=...) as client``."""

    def factory(**settings: object) -> AbstractAsyncContextManager[httpx.AsyncClient]:
        return app_client(Settings(**settings))  # type: ignore[arg-type]

    return factory


@pytest.fixture
async def client(trained_models: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(Settings(models_dir=trained_models)) as client:
        yield client


# Two well-formed keys for the auth tests; neither is a placeholder.
API_KEY = "test-key-6c1f0e2a9b7d4e3f"
OTHER_API_KEY = "ops-key-1a2b3c4d5e6f7a8b9c"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
