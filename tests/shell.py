"""Running the docs' shell blocks as a reader pastes them, for the tests that keep the docs true."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_block(block: str, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a block in bash (``-euo pipefail``) in ``folder``, with the project's commands on the
    PATH, no SEGMENT_* setting but those given, and ``env``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENT_")}
    environment["PATH"] = f"{Path(sys.executable).parent}:{environment['PATH']}"
    environment.update(env)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def paste(block: str, folder: Path, **env: str) -> str:
    """:func:`run_block`, which must succeed; returns what it printed."""
    done = run_block(block, folder, **env)
    assert done.returncode == 0, f"{block}\n{done.stdout}\n{done.stderr}"
    return done.stdout
