"""What docs/deployment.md says `make container-test` runs and checks is what
deploy/container-test.sh does (the script itself needs root and podman: it runs apart)."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT
from tests.docs.conftest import page_section

PAGE = REPO_ROOT / "docs" / "deployment.md"
SCRIPT = (REPO_ROOT / "deploy" / "container-test.sh").read_text()


def test_the_page_lists_every_check_the_script_passes_in_its_order() -> None:
    section = page_section(PAGE, "Proof: `make container-test`")
    checks = re.findall(r"^  \d+\. ", section, re.M)
    passes = re.findall(r'^\s*pass "([^"$ ]+[^"$]*)', SCRIPT, re.M)
    # tools and base image are set-up, not checks; the SIGTERM check runs twice
    assert len(passes) == 11
    assert passes[:2] == ["tools: ", "base image "]
    assert len(checks) == len(passes) - 2 + 1
    order = ["build ", "serving only", "ready on", "HEALTHCHECK", "scoring", "web page"]
    assert passes[2:8] == [next(p for p in passes if p.startswith(word)) for word in order]


def test_the_run_options_the_page_names_are_the_scripts() -> None:
    section = page_section(PAGE, "Proof: `make container-test`")
    assert "podman run --detach --network=host --read-only" in section
    assert re.search(r"podman run --detach --name \"\$name\" --network=host --read-only", SCRIPT)
    for option in (
        "--env SEGMENT_HOST=127.0.0.1",
        '--env SEGMENT_PORT="$port"',
        "--env SEGMENT_API_KEYS=",
        '--volume "$work/models:/opt/models:ro"',
        "--env SEGMENT_WORKERS=1",
        "podman build --format docker",
        '--build-arg BASE_IMAGE="$base"',
        "podman healthcheck run",
        '"matplotlib", "sqlalchemy", "training"',
        "Content-Security-Policy",
    ):
        assert option in SCRIPT, option
    assert "--tmpfs" not in SCRIPT
    assert "-p 127.0.0.1" not in SCRIPT
    assert "--publish" not in SCRIPT
