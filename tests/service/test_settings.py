"""Configuration from SEGMENT_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from service.app import create_app
from service.settings import Settings, available_cpus, get_settings


def test_defaults() -> None:
    settings = Settings()
    assert settings.models_dir == Path("models")
    assert settings.model_version is None
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.log_level == "info"
    assert settings.max_batch == 10_000


def test_reads_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SEGMENT_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMENT_MODEL_VERSION", "20260101T000000Z-abc")
    monkeypatch.setenv("SEGMENT_HOST", "0.0.0.0")
    monkeypatch.setenv("SEGMENT_PORT", "9000")
    monkeypatch.setenv("SEGMENT_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("SEGMENT_MAX_BATCH", "50")
    settings = get_settings()
    assert settings.models_dir == tmp_path
    assert settings.model_version == "20260101T000000Z-abc"
    assert (settings.host, settings.port, settings.log_level, settings.max_batch) == (
        "0.0.0.0",
        9000,
        "warning",
        50,
    )
    assert create_app().state.settings == settings


def test_blank_version_means_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_MODEL_VERSION", "  ")
    assert get_settings().model_version is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SEGMENT_PORT", "0", "port"),
        ("SEGMENT_PORT", "http", "port"),
        ("SEGMENT_MAX_BATCH", "0", "max_batch"),
        ("SEGMENT_LOG_LEVEL", "loud", "log_level"),
        ("SEGMENT_MODEL_VERSION", "../../etc", "invalid model version"),
    ],
)
def test_bad_values_are_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        get_settings()


def test_workers_zero_means_one_per_available_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGMENT_WORKERS", "0")
    assert get_settings().worker_count() == available_cpus() >= 1
    get_settings.cache_clear()
    monkeypatch.setenv("SEGMENT_WORKERS", "3")
    assert get_settings().worker_count() == 3
