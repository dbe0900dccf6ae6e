"""The container's health probe stays cheap: it must never pay for the ML stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

HEAVY = ("sklearn", "numpy", "pandas", "scipy", "joblib", "pyarrow", "fastapi", "starlette")
# The probe itself does not even need pydantic.
PROBE_ONLY = ("pydantic", "pydantic_settings")


@pytest.mark.parametrize(
    "module", ["service.healthcheck", "service.settings", "segmentation.metadata"]
)
def test_imports_no_ml_library(module: str) -> None:
    probe = (
        f"import json, sys, {module}; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


def test_the_probe_imports_no_pydantic_either() -> None:
    probe = (
        "import json, sys, service.healthcheck; "
        f"print(json.dumps(sorted(m for m in {PROBE_ONLY!r} if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_port_the_server_would_refuse_fails_the_probe_with_the_reason(port: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "service.healthcheck"],
        cwd=REPO_ROOT,
        env={"SEGMENT_PORT": port, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"SEGMENT_PORT={port!r} is not a port" in done.stderr
