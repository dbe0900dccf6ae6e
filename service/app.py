"""The application factory: settings in, a FastAPI app whose lifespan loads the model once."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from threadpoolctl import threadpool_limits

from service.http.asgi import ASGIApp, Receive, Scope, Send
from service.http.auth import KeyChecker, open_paths
from service.http.errors import install_error_handlers
from service.http.gateway import Gateway
from service.http.openapi import install_openapi
from service.http.protocols.endpoints import refusal_for
from service.http.routes import (
    admin,
    drift,
    health,
    metrics,
    mlflow,
    model_info,
    open_inference,
    segments,
    ui,
)
from service.http.schemas import DriftThresholds
from service.http.segment_call import BATCH_THREADS
from service.model.registry import ModelRegistry
from service.model.reload import Reloader
from service.model.renaming import Renamer
from service.operations.drift import DriftMonitor
from service.operations.history import SegmentHistory
from service.operations.metrics import Metrics
from service.settings import Settings, get_settings

API_VERSION = "1.0.0"
GC_THRESHOLDS = (100_000, 50, 100)
SWITCH_INTERVAL_SECONDS = 0.001
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


class SegmentationApp(FastAPI):
    """FastAPI with the gateway (``service/http/gateway.py``) in front of its whole stack.

    The gateway answers scoring requests itself, so in front they skip the three wrappers FastAPI
    puts around every request (error pages, its telemetry hook, the body size): 8 us of a
    one-customer request's 300 in process. Every other request goes on to FastAPI's stack as
    before. With FastAPI's OpenTelemetry on, its spans must wrap every request, so the gateway is
    one middleware inside the stack instead (``front`` stays None).
    """

    front: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.front is not None and scope["type"] == "http":
            scope["app"] = self  # as Starlette would: the gateway and the routes read app.state
            await self.front(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def behind_front(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack, where the gateway sends what it does not answer."""
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    registry = ModelRegistry()
    recorder = Metrics()
    reloader = Reloader(registry, settings, recorder)
    drift_monitor = DriftMonitor(
        recorder,
        DriftThresholds(
            psi=settings.drift_psi_threshold,
            share_shift=settings.drift_share_threshold,
            min_observations=settings.drift_min_observations,
        ),
        baseline_dir=recorder.multiprocess_dir,
    )
    history = SegmentHistory(
        settings.state_folder(), drift_monitor.segments_seen_here, registry.names_of
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        registry.load(settings.models_dir, settings.model_version)
        registry.load_pinned(settings.models_dir, settings.extra_versions)
        recorder.serving(registry.model.version if registry.model else None)
        app.state.batch_limiter = CapacityLimiter(BATCH_THREADS)
        # What start-up allocated lives as long as the worker: out of the collector's sight,
        # a full collection (set off by a large batch's allocations) no longer walks it all.
        gc.freeze()
        # A 10,000-customer body is some 60,000 objects that die with its request; at the
        # default threshold of 700 allocations they set off ~85 collections per request, each
        # walking the batch still being built (split layout, 10,000 customers in process:
        # 9.5 -> 7.3 ms). Reference counting frees them either way; only cycles wait longer.
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        # A batch thread holding the GIL makes the event loop wait up to the switch interval
        # (5 ms by default) before it can answer anyone: one customer's p99 beside 10,000-row
        # batches was 6.7 ms against a p50 of 0.9 ms; 4.1 ms with 1 ms here (bench-quick).
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        # Scoring multiplies (n, features) by (features, k): tiny for BLAS, whose threads only
        # contend with the batch thread and the event loop (100,000 rows: 4x slower with 2).
        blas = threadpool_limits(1)
        reloader.install_signal_handler()
        # Segment counts go to their file off the request path, every few seconds and at exit.
        flusher = asyncio.create_task(history.flush_periodically())
        try:
            yield
        finally:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            await anyio.to_thread.run_sync(history.flush)
            blas.restore_original_limits()
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(switch_interval)
            gc.unfreeze()
            reloader.remove_signal_handler()
            recorder.close()
            registry.model = None
            registry.reason = "the service is shutting down"

    app = SegmentationApp(
        title="Customer segmentation",
        version=API_VERSION,
        description="Assigns customers to the segments of a K-Means model trained offline.",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
    )
    app.state.settings = settings
    app.state.model_registry = registry
    app.state.metrics = recorder
    app.state.reloader = reloader
    app.state.history = history
    app.state.drift = drift_monitor
    install_error_handlers(app, refusal_for)

    keys = KeyChecker(settings.configured_api_keys())
    app.state.admin_keys = KeyChecker(settings.configured_admin_keys())
    app.state.renamer = Renamer(registry, reloader, settings)
    public = open_paths(metrics_public=settings.metrics_public, docs_public=settings.docs_public)
    if settings.ui:
        public |= ui.UI_PATHS
    install_openapi(app, settings.max_batch, open_paths=public if keys else None)
    gateway = partial(
        Gateway,
        metrics=recorder,
        keys=keys,
        open_paths=public,
        max_body_bytes=settings.max_body_bytes,
    )
    if settings.opentelemetry:
        app.add_middleware(gateway)
    else:
        app.front = gateway(app.behind_front)
    for router in (
        segments.router,
        model_info.router,
        drift.router,
        admin.router,
        metrics.router,
        health.router,
        mlflow.router,
        open_inference.router,
    ):
        app.include_router(router)
    if settings.ui:
        app.include_router(ui.router)
    return app
