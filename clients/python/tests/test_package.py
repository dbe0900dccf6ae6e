"""The client is its own small distribution: importing it never pays for the service's stack."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

SERVICE_STACK = ("sklearn", "numpy", "pandas", "pyarrow", "fastapi", "starlette", "segmentation")


def test_importing_the_client_loads_no_ml_or_service_library() -> None:
    probe = (
        "import json, sys, segment_client; "
        f"print(json.dumps(sorted(m for m in {SERVICE_STACK!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def _name(requirement: str) -> str:
    return requirement.split(";")[0].split(">")[0].split("=")[0].strip()


def test_the_distribution_depends_only_on_httpx_and_pydantic() -> None:
    requires = metadata.requires("segment-client") or []
    always = [r for r in requires if "extra ==" not in r]
    assert sorted(_name(r) for r in always) == ["httpx", "pydantic"]
    # segment_frame's Arrow stream is an opt-in extra: pip install 'segment-client[arrow]'.
    assert [_name(r) for r in requires if 'extra == "arrow"' in r] == ["pyarrow"]
