"""Configuration from SEGMENT_* environment variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from segmentation.metadata import API_KEY_ENV
from service.app import create_app
from service.settings import (
    Settings,
    available_cpus,
    client_key_refusal,
    get_settings,
    known_variables,
    unknown_variable_warnings,
)
from tests.conftest import REPO_ROOT


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


# Where the project writes SEGMENT_* variables for people and machines to set: pages, scripts,
# manifests. (Python files name constants such as SEGMENT_PATH too, so they are not scanned.)
SETTING_SOURCES = ("docs", "deploy", "clients", ".ci", "Dockerfile", "compose.yaml", "Makefile")
TYPO_SHOWN = "SEGMENT_MODEL_DIR"  # docs/operations.md shows the warning this typo draws


def test_every_variable_the_project_documents_or_sets_is_known() -> None:
    """None of them may draw segment-serve's warning about a variable nothing reads."""
    written: set[str] = set()
    for source in SETTING_SOURCES:
        path = REPO_ROOT / source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if file.suffix != ".py" and "__pycache__" not in file.parts:
                text = file.read_text("utf-8", errors="replace")  # pictures too: no harm
                written.update(re.findall(r"\bSEGMENT_[A-Z0-9_]*[A-Z0-9]", text))
    assert {"SEGMENT_PORT", "SEGMENT_API_KEY", "SEGMENT_API_KEYS"} <= written
    assert TYPO_SHOWN not in known_variables()
    written.discard(TYPO_SHOWN)
    assert written <= known_variables(), sorted(written - known_variables())
    assert API_KEY_ENV in known_variables()  # segment-promote --reload's key


@pytest.mark.parametrize(
    ("environment", "warnings"),
    [
        ({"SEGMENT_PORT": "1", "SEGMENT_API_KEY": "k", "PATH": "/bin", "MY_SEGMENT_X": "1"}, []),
        (
            {"segment_modles_dir": "models"},
            [
                "SEGMENT_MODLES_DIR is not a setting and is ignored: did you mean "
                "SEGMENT_MODELS_DIR? every setting is listed in docs/operations.md#settings"
            ],
        ),
    ],
)
def test_variables_nothing_reads_are_named(
    environment: dict[str, str], warnings: list[str]
) -> None:
    assert unknown_variable_warnings(environment) == warnings


def test_a_blank_client_key_asks_for_nothing() -> None:
    """compose's ${SEGMENT_API_KEY} with nothing set is an empty variable: no refusal, as
    without it; a real one beside no server key is refused."""
    settings = Settings()
    assert client_key_refusal(settings, {"SEGMENT_API_KEY": ""}) is None
    assert client_key_refusal(settings, {"SEGMENT_API_KEY": "  "}) is None
    refusal = client_key_refusal(settings, {"segment_api_key": "k" * 32})
    assert refusal is not None
    assert refusal.startswith("SEGMENT_API_KEY is set")
