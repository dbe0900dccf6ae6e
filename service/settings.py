"""Service configuration, read from ``SEGMENT_*`` environment variables."""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from segmentation.bundle import BundleError, validate_version_name


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SEGMENT_", extra="ignore", frozen=True)

    models_dir: Path = Field(Path("models"), description="Folder holding the model bundles.")
    model_version: str | None = Field(
        None, description="Serve this bundle version instead of the one CURRENT points to."
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    max_batch: int = Field(10_000, ge=1, le=1_000_000, description="Most customers per request.")
    workers: int = Field(
        1, ge=0, le=64, description="Worker processes; 0 means one per CPU this process may use."
    )
    graceful_shutdown_seconds: int = Field(
        20, gt=0, le=600, description="On SIGTERM, how long in-flight requests may take to finish."
    )

    def worker_count(self) -> int:
        return self.workers or available_cpus()

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

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


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
