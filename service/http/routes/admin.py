"""Operator actions: reload the model without a restart."""

from __future__ import annotations

from fastapi import APIRouter

from service.http.dependencies import ReloaderDep
from service.http.errors import ERROR_RESPONSES, ReloadFailed
from service.http.schemas import ReloadResult

router = APIRouter(prefix="/admin", tags=["admin"])


@router.post(
    "/reload",
    response_model=ReloadResult,
    summary="Load the current bundle again, without dropping a request",
    description="Loads and verifies the bundle CURRENT points to (or the pinned "
    "SEGMENT_MODEL_VERSION) while the old model keeps serving, then swaps it in. A bundle that "
    "fails verification is refused with 409 and the reason; the old model keeps serving. With "
    "several workers, the others are asked to reload too. SIGHUP does the same.",
    responses={409: ERROR_RESPONSES[409]},
)
async def reload_model(reloader: ReloaderDep) -> ReloadResult:
    outcome = await reloader.reload("api")
    if not outcome.ok or outcome.version is None:
        serving = outcome.version or "no model"
        raise ReloadFailed(f"the bundle was refused, still serving {serving}: {outcome.reason}")
    return ReloadResult(
        status="reloaded",
        model_version=outcome.version,
        previous_version=outcome.previous_version,
        changed=outcome.version != outcome.previous_version,
        other_workers_signalled=reloader.ask_other_workers(),
    )
