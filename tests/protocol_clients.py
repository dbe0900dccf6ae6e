"""The clients of the Open Inference Protocol that no one here wrote, for the tests that call the
real server with them: ``tritonclient[http]`` and KServe's Python SDK (``InferenceRESTClient``).

They live in a virtual environment of their own (``.venv/protocol-clients``) because KServe pins
its own FastAPI, pydantic, uvicorn and more, which are not the project's; tests run client code
in that interpreter as a subprocess. ``make protocol-test`` makes it first and runs those tests
(marked ``protocol_clients``; ``make test`` leaves them out to keep its time); a test that finds
it missing makes it (once, under a lock, whichever xdist worker comes first).

    python -m tests.protocol_clients     # make or update the environment
"""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO_ROOT

CLIENTS_VENV = REPO_ROOT / ".venv" / "protocol-clients"
REQUIREMENTS = ("tritonclient[http]==2.73.0", "kserve==0.21.0")


def clients_python() -> Path:
    """The environment's interpreter, made first if it is missing or holds other versions."""
    python = CLIENTS_VENV / "bin" / "python"
    marker = CLIENTS_VENV / ".installed"
    wanted = "\n".join(REQUIREMENTS)
    CLIENTS_VENV.parent.mkdir(parents=True, exist_ok=True)
    with (CLIENTS_VENV.parent / ".protocol-clients.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text() == wanted:
            return python
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CLIENTS_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                *REQUIREMENTS,
            ],
            check=True,
            timeout=1800,
        )
        marker.write_text(wanted)
    return python


def run_client(script: Path, *args: str) -> Any:
    """Run a client script in the clients' environment; it prints one JSON document."""
    printed = run_in_clients([str(script), *args], script.parent)
    return json.loads(printed.strip().splitlines()[-1])


def run_in_clients(arguments: list[str], folder: Path) -> str:
    """``python ARGUMENTS`` in the clients' environment (nothing of the project importable);
    returns what it printed."""
    done = subprocess.run(
        [str(clients_python()), *arguments],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, f"{arguments}:\n{done.stdout}\n{done.stderr[-3000:]}"
    return done.stdout


if __name__ == "__main__":
    print(clients_python())
