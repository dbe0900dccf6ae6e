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


def test_operations_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SEGMENT_API_KEYS", " key-one-0123456789abcdef , key-two-fedcba9876543210 ")
    monkeypatch.setenv("SEGMENT_MAX_BODY_BYTES", "65536")
    monkeypatch.setenv("SEGMENT_METRICS_PUBLIC", "true")
    monkeypatch.setenv("SEGMENT_DOCS_PUBLIC", "1")
    monkeypatch.setenv("SEGMENT_METRICS_DIR", str(tmp_path))
    monkeypatch.setenv("SEGMENT_LOG_FORMAT", "TEXT")
    monkeypatch.setenv("SEGMENT_DRIFT_PSI_THRESHOLD", "0.25")
    monkeypatch.setenv("SEGMENT_DRIFT_SHARE_THRESHOLD", "0.05")
    monkeypatch.setenv("SEGMENT_DRIFT_MIN_OBSERVATIONS", "1000")
    settings = get_settings()
    assert settings.configured_api_keys() == (
        "key-one-0123456789abcdef",
        "key-two-fedcba9876543210",
    )
    assert "key-one" not in repr(settings)
    assert (settings.max_body_bytes, settings.metrics_public, settings.docs_public) == (
        65536,
        True,
        True,
    )
    assert (settings.metrics_dir, settings.log_format) == (tmp_path, "text")
    assert (
        settings.drift_psi_threshold,
        settings.drift_share_threshold,
        settings.drift_min_observations,
    ) == (0.25, 0.05, 1000)


def test_operations_defaults() -> None:
    settings = Settings()
    assert settings.configured_api_keys() == ()
    assert (settings.metrics_public, settings.docs_public, settings.log_format) == (
        False,
        False,
        "json",
    )
    assert (settings.drift_psi_threshold, settings.drift_share_threshold) == (0.2, 0.1)
    assert settings.drift_min_observations == 500


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SEGMENT_MAX_BODY_BYTES", "10", "max_body_bytes"),
        ("SEGMENT_LOG_FORMAT", "xml", "log_format"),
        ("SEGMENT_DRIFT_PSI_THRESHOLD", "0", "drift_psi_threshold"),
        ("SEGMENT_DRIFT_SHARE_THRESHOLD", "1.5", "drift_share_threshold"),
        ("SEGMENT_DRIFT_MIN_OBSERVATIONS", "0", "drift_min_observations"),
    ],
)
def test_bad_operations_values_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        get_settings()
