"""Service configuration, read from ``SEGMENT_*`` environment variables.

Dangerous values are refused here, at start-up, rather than discovered in production: a
placeholder or empty API key would otherwise leave the service open to anyone who guesses it.
So is the clients' ``SEGMENT_API_KEY`` set beside no server key (someone meant to require a key
and the service would be open); any other ``SEGMENT_*`` variable nothing reads is named in a
warning, since a mistyped setting is otherwise silently ignored.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from segmentation.excerpts import validation_message
from segmentation.metadata import (
    API_KEY_ENV,
    DEFAULT_MODELS_DIR,
    BundleError,
    validate_version_name,
)
from service.defaults import DEFAULT_PORT, ENV_PREFIX
from service.http.api_keys import api_key_problem

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
# The docs page that lists every setting (the table is generated from ``Settings``).
SETTINGS_PAGE: Final = "docs/operations.md#settings"
CLIENT_API_KEY: Final = API_KEY_ENV
# SEGMENT_* variables other parts of the project read and the service does not (with whom),
# so that setting them beside the service draws no warning. The settings are the fields below.
OTHER_VARIABLES: Final = {
    CLIENT_API_KEY: "the key segment-promote --reload and the clients (docs/client.md) send",
}


class Settings(BaseSettings):
    # hide_input_in_errors: a refused API key must not be echoed into the start-up error.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    models_dir: Path = Field(
        DEFAULT_MODELS_DIR, description="Folder holding the model bundles and CURRENT."
    )
    model_version: str | None = Field(
        None, description="Serve this bundle version instead of the one CURRENT points to."
    )
    extra_versions: Annotated[tuple[str, ...], NoDecode] = Field(
        (),
        description="Comma-separated bundle versions also held, for callers that pin one with "
        "?version=; the current (or pinned) model is always served. One that cannot be loaded "
        "stops the start.",
    )
    model_name: str = Field(
        "segments",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$",
        description="The model's name in the Open Inference Protocol's paths "
        "(/v2/models/{name}/infer); a KServe InferenceService's name, for instance.",
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(DEFAULT_PORT, ge=1, le=65535, description="Port to listen on.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        "info", description="Request lines are logged at info; warning silences them."
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line (for log shippers); text: for people."
    )
    max_batch: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Most customers per request (413 above it); the OpenAPI schema shows it.",
    )
    max_body_bytes: int = Field(
        DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        le=1024**3,
        description="Largest request body in bytes (4 MiB); a larger one is refused with 413 "
        "before it is read. A full batch of 10,000 customers with the classic column names is "
        "about 1.2 MB.",
    )
    workers: int = Field(
        1, ge=0, le=64, description="Worker processes; 0 means one per CPU this process may use."
    )
    graceful_shutdown_seconds: int = Field(
        20, gt=0, le=600, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Comma-separated API keys; when any key is configured, every endpoint but "
        "the health checks needs one.",
    )
    api_keys_file: Path | None = Field(
        None,
        description="File with one API key per line ('#' comments and blank lines ignored); "
        "adds to SEGMENT_API_KEYS.",
    )
    admin_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        (),
        description="Comma-separated API keys with the admin role: they may also rename "
        "segments (PUT /admin/names, the web page) and, when any is set, reload the model. "
        "They are valid keys for everything else too.",
    )
    admin_keys_file: Path | None = Field(
        None,
        description="File with one admin key per line ('#' comments and blank lines ignored); "
        "adds to SEGMENT_ADMIN_KEYS.",
    )
    metrics_public: bool = Field(
        False, description="Serve /metrics without an API key even when keys are configured."
    )
    docs_public: bool = Field(
        False, description="Serve /docs, /redoc and /openapi.json without an API key."
    )
    metrics_dir: Path | None = Field(
        None,
        description="With several workers, the folder for prometheus-client's multiprocess "
        "files; a temporary folder is created (and removed at exit) when unset.",
    )
    drift_psi_threshold: float = Field(
        0.2, gt=0, le=10, description="A feature's PSI above this marks drift."
    )
    drift_share_threshold: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="A segment share moving by more than this (absolute, 0.1 = 10 points) marks "
        "drift.",
    )
    drift_min_observations: int = Field(
        500,
        ge=1,
        description="Customers needed since the last reset before drift is judged (and any PSI "
        "or share shift is given): on fewer, chance alone can push a PSI past its threshold.",
    )
    state_dir: Path | None = Field(
        None,
        description="Writable folder for what the service keeps across restarts (the segment "
        "history, a small SQLite file shared by the workers); default: segment-state beside "
        "the models folder.",
    )

    ui: bool = Field(
        True,
        description="Serve the web page at /ui (its page and two static files need no key, the "
        "API calls it makes do); false turns it off.",
    )

    opentelemetry: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry spans, metrics and logs, for a process "
        "where an OpenTelemetry SDK is configured. Off by default: the service has its own "
        "Prometheus metrics and request log, and looking up the providers cost every request "
        "about 2% of a single-customer call.",
    )

    _keys: tuple[str, ...] = PrivateAttr(default=())
    _admin_keys: tuple[str, ...] = PrivateAttr(default=())

    def worker_count(self) -> int:
        return self.workers or available_cpus()

    def state_folder(self) -> Path:
        return self.state_dir or self.models_dir.absolute().parent / "segment-state"

    def configured_api_keys(self) -> tuple[str, ...]:
        """Every accepted key: SEGMENT_API_KEYS, SEGMENT_ADMIN_KEYS and their files together."""
        return tuple(dict.fromkeys((*self._keys, *self._admin_keys)))

    def configured_admin_keys(self) -> tuple[str, ...]:
        """The keys with the admin role, from SEGMENT_ADMIN_KEYS and SEGMENT_ADMIN_KEYS_FILE."""
        return self._admin_keys

    @field_validator("model_version", mode="before")
    @classmethod
    def _blank_means_current(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_version")
    @classmethod
    def _safe_version(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_version_name(value.strip())
        except BundleError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("extra_versions", mode="before")
    @classmethod
    def _split_versions(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("extra_versions")
    @classmethod
    def _safe_versions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        try:
            return tuple(dict.fromkeys(validate_version_name(v) for v in value))
        except BundleError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        # An explicitly empty SEGMENT_API_KEYS is refused below (one empty key), not read as
        # "no auth": an unfilled template variable must not silently open the service.
        return tuple(part.strip() for part in value.split(",")) if isinstance(value, str) else value

    @field_validator("api_keys_file", "admin_keys_file", "state_dir", mode="before")
    @classmethod
    def _blank_means_no_file(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _check_keys(self) -> Settings:
        self._keys = _keys_of("API_KEYS", self.api_keys, self.api_keys_file)
        self._admin_keys = _keys_of("ADMIN_KEYS", self.admin_keys, self.admin_keys_file)
        return self


def _keys_of(variable: str, secrets: tuple[SecretStr, ...], path: Path | None) -> tuple[str, ...]:
    """The keys of SEGMENT_<variable> and SEGMENT_<variable>_FILE, each checked."""
    keys = []
    for number, secret in enumerate(secrets, start=1):
        keys.append(_checked(secret.get_secret_value(), f"{ENV_PREFIX}{variable} key {number}"))
    if path is not None:
        keys.extend(_keys_from_file(path, variable))
    return tuple(dict.fromkeys(keys))


def _checked(key: str, where: str) -> str:
    problem = api_key_problem(key)
    if problem:
        raise ValueError(f"{where} {problem}")
    return key


def _keys_from_file(path: Path, variable: str = "API_KEYS") -> list[str]:
    where = f"{ENV_PREFIX}{variable}_FILE {path}"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}: cannot read it ({exc.__class__.__name__})") from None
    keys = [
        _checked(line.strip(), f"{where} line {number}")
        for number, line in enumerate(lines, start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not keys:
        raise ValueError(f"{where} holds no key: remove the setting to run without auth")
    return keys


def describe_settings_error(exc: ValidationError) -> str:
    """One line per problem, naming the variable and never the value (it may be a key)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        message = validation_message(error)
        if error["loc"]:
            variable = ENV_PREFIX + "_".join(str(part) for part in error["loc"]).upper()
            lines.append(f"{variable}: {message}")
        else:
            lines.append(message)
    return "\n".join(lines)


def known_variables() -> frozenset[str]:
    """Every SEGMENT_* variable some part of the project reads: the settings and the others."""
    settings = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    return frozenset(settings | OTHER_VARIABLES.keys())


def _variables(environ: Mapping[str, str]) -> list[str]:
    # pydantic-settings reads the variables whatever their letter case; so are they judged.
    return sorted(name.upper() for name in environ if name.upper().startswith(ENV_PREFIX))


def client_key_refusal(settings: Settings, environ: Mapping[str, str]) -> str | None:
    """Why the service must not start with the clients' SEGMENT_API_KEY set and no server key:
    whoever set it meant to require a key, and the service would answer everyone."""
    client_keys = [value for name, value in environ.items() if name.upper() == CLIENT_API_KEY]
    # A blank one (compose's ${SEGMENT_API_KEY} with nothing set) asks for nothing.
    if not any(value.strip() for value in client_keys) or settings.configured_api_keys():
        return None
    return (
        f"{CLIENT_API_KEY} is set, but it is the key the clients send: the service reads its "
        f"keys from {ENV_PREFIX}API_KEYS (or {ENV_PREFIX}API_KEYS_FILE, {ENV_PREFIX}ADMIN_KEYS), "
        "and none is set, so it would start with no authentication. Rename it to "
        f"{ENV_PREFIX}API_KEYS to require that key, or unset {CLIENT_API_KEY} to run open"
    )


def unknown_variable_warnings(environ: Mapping[str, str]) -> list[str]:
    """One line per SEGMENT_* variable nothing reads, suggesting the closest known one."""
    known = known_variables()
    suffixes = {name.removeprefix(ENV_PREFIX): name for name in known}
    warnings = []
    for name in _variables(environ):
        if name in known:
            continue
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), suffixes, n=1)
        hint = f"did you mean {suffixes[close[0]]}? " if close else ""
        warnings.append(
            f"{name} is not a setting and is ignored: {hint}every setting is listed in "
            f"{SETTINGS_PAGE}"
        )
    return warnings


def authentication_summary(settings: Settings) -> str:
    """Whether requests need a key, for the start-up log: an open service is said out loud."""
    keys = settings.configured_api_keys()
    if not keys:
        return (
            "authentication off: no API keys: every endpoint is open (set "
            f"{ENV_PREFIX}API_KEYS or {ENV_PREFIX}API_KEYS_FILE to require one)"
        )
    admins = len(settings.configured_admin_keys())
    roles = (
        f"{admins} of them with the admin role (renames, reload)"
        if admins
        else "none with the admin role (no renames; any key may reload)"
    )
    open_too = {"/metrics": settings.metrics_public, "the docs": settings.docs_public}
    needed = "every endpoint but the health checks" + "".join(
        f" and {path}" for path, is_open in open_too.items() if is_open
    )
    noun = "API key" if len(keys) == 1 else "API keys"
    return f"authentication on: {len(keys)} {noun}, {roles}; {needed} needs one"


def available_cpus() -> int:
    """CPUs this process may use: its affinity, capped by a cgroup v2 quota (containers)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return count
    if quota == "max":
        return count
    return max(1, min(count, math.ceil(int(quota) / int(period))))


@lru_cache
def get_settings() -> Settings:
    return Settings()
