"""Operator and editor actions: reload the model without a restart, and rename segments.

Renaming needs the admin role: a key from SEGMENT_ADMIN_KEYS. Once any admin key is set,
reloading needs one too; without admin keys, reload behaves as it always did (any valid key).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError

from segmentation.names import error_location
from service.http.auth import holds_key
from service.http.dependencies import ReloaderDep, RenamerDep
from service.http.errors import (
    ERROR_RESPONSES,
    ErrorResponse,
    Forbidden,
    ReloadFailed,
    invalid_request,
)
from service.http.openapi import NAMES_REQUEST_BODY
from service.http.request_body import read_body
from service.http.schemas import AdminAccess, NamesEdit, ReloadResult, RenameResult

router = APIRouter(prefix="/admin", tags=["admin"])

NO_ADMIN_KEYS = "renaming needs an admin key: the service has none configured (SEGMENT_ADMIN_KEYS)"
READ_ONLY_KEY = "this key may read but not rename"


def _not_admin(request: Request) -> str | None:
    """Why the request's key does not have the admin role, or None when it has."""
    admin_keys = request.app.state.admin_keys
    if not admin_keys:
        return NO_ADMIN_KEYS
    if not holds_key(admin_keys, request.scope):
        return READ_ONLY_KEY
    return None


@router.get(
    "/access",
    response_model=AdminAccess,
    summary="Whether the key sent may rename segments, and if not, why",
)
async def access(request: Request, renamer: RenamerDep) -> AdminAccess:
    reason = _not_admin(request) or renamer.unavailable()
    return AdminAccess(can_rename=reason is None, reason=reason)


@router.put(
    "/names",
    response_model=RenameResult,
    summary="Rename and describe segments: a new bundle version, served at once",
    description="Writes a new bundle version exactly as `segment-names apply` does (the model "
    "file is copied, the report rendered with the new words; blank or duplicate names are "
    "refused with 422 naming the field, and nothing is written on any failure), makes it "
    "current and reloads it without dropping a request (every worker). Needs an admin key "
    "(SEGMENT_ADMIN_KEYS). With `version`, the edit is refused with 409 when another version "
    "is served by now. Names that change nothing write no version (changed: false).",
    responses={
        403: {
            "model": ErrorResponse,
            "description": "The key sent does not have the admin role, or no admin key is set.",
        },
        409: {
            "model": ErrorResponse,
            "description": "The names were edited on a version no longer served "
            "(version_conflict), or this server cannot write a version (rename_unavailable).",
        },
        422: ERROR_RESPONSES[422],
        503: ERROR_RESPONSES[503],
    },
    openapi_extra={"requestBody": NAMES_REQUEST_BODY},
)
async def rename_segments(request: Request, renamer: RenamerDep) -> RenameResult:
    refused = _not_admin(request)
    if refused == READ_ONLY_KEY:
        raise Forbidden(
            f"{READ_ONLY_KEY}: renaming needs the admin role (a key from SEGMENT_ADMIN_KEYS)"
        )
    if refused is not None:
        raise Forbidden(refused)
    try:
        edit = NamesEdit.model_validate_json(await read_body(request) or b"{}")
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            error["loc"] = error_location(error["loc"])
        raise invalid_request(errors) from None
    renamed = await renamer.rename(edit, edit.version)
    return RenameResult(
        model_version=renamed.version,
        previous_version=renamed.previous_version,
        changed=renamed.changed,
        other_workers_signalled=renamed.other_workers_signalled,
        segments=list(renamed.segments),
    )


@router.post(
    "/reload",
    response_model=ReloadResult,
    summary="Load the current bundle again, without dropping a request",
    description="Loads and verifies the bundle CURRENT points to (or the pinned "
    "SEGMENT_MODEL_VERSION) while the old model keeps serving, then swaps it in. A bundle that "
    "fails verification is refused with 409 and the reason; the old model keeps serving. With "
    "several workers, the others are asked to reload too. SIGHUP does the same. When "
    "SEGMENT_ADMIN_KEYS is set, only an admin key may reload; otherwise any valid key.",
    responses={
        403: {
            "model": ErrorResponse,
            "description": "SEGMENT_ADMIN_KEYS is set and the key sent is not one of them.",
        },
        409: ERROR_RESPONSES[409],
    },
)
async def reload_model(request: Request, reloader: ReloaderDep) -> ReloadResult:
    if request.app.state.admin_keys and _not_admin(request) is not None:
        raise Forbidden(
            "this key may read but not reload: reloading needs the admin role (a key from "
            "SEGMENT_ADMIN_KEYS) when admin keys are set"
        )
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
