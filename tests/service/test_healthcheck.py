"""The container's health probe stays cheap: it must never pay for the ML stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

HEAVY = ("sklearn", "numpy", "pandas", "scipy", "joblib", "pyarrow", "fastapi", "starlette")


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
