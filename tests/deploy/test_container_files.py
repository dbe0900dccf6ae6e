"""The Dockerfile, .dockerignore and compose.yaml agree with each other and with the code.

`make container-test` proves the image by building and running it; these checks are the cheap,
offline half: they catch a new package that is not copied into the image, a port, user or
models folder changed in one file and not the others, and a compose file the spec refuses.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import tomllib
from pathlib import Path

import jsonschema
import pytest

from service.settings import Settings
from tests.conftest import REPO_ROOT
from tests.deploy.manifests import (
    compose,
    dockerignore_patterns,
    read_dockerfile,
)

# The Compose Specification's JSON schema, as shipped by docker-compose 1.29.2 (Debian package,
# compose/config/compose_spec.json, Apache-2.0), kept here so the check runs offline.
COMPOSE_SCHEMA = Path(__file__).with_name("compose_spec.json")
UID = "10001"


def pyproject() -> dict[str, object]:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return int(match.group(1))


def test_base_image_is_an_argument_defaulting_to_official_slim_python() -> None:
    dockerfile = read_dockerfile()
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", dockerfile.args["BASE_IMAGE"])
    assert [stage.base for stage in dockerfile.stages] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert [stage.name for stage in dockerfile.stages] == ["build", "runtime"]


def test_runtime_stage_runs_as_fixed_non_root_user() -> None:
    runtime = read_dockerfile().runtime
    assert runtime.all("USER") == [f"{UID}:{UID}"]
    assert not runtime.all("RUN"), "the runtime stage only copies what the build stage made"
    assert {args.split()[0] for args in runtime.all("COPY")} == {"--from=build"}


def test_command_health_check_and_port_match_the_code() -> None:
    runtime = read_dockerfile().runtime
    scripts = pyproject()["project"]["scripts"]  # type: ignore[index]
    (command,) = runtime.all("CMD")
    assert json.loads(command)[0] in scripts, "exec form, naming a console script"
    (healthcheck,) = runtime.all("HEALTHCHECK")
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert probe[:2] == ["python3", "-m"]
    assert importlib.util.find_spec(probe[2]) is not None
    env = runtime.env()
    assert runtime.all("EXPOSE") == [env["SEGMENT_PORT"]]
    assert env["SEGMENT_HOST"] == "0.0.0.0"
    assert env["SEGMENT_WORKERS"] == "0", "one worker per CPU the container is given"
    assert set(env) - {"PATH", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"} <= {
        f"SEGMENT_{name.upper()}" for name in Settings.model_fields
    }


def test_every_package_is_copied_into_the_build() -> None:
    packages = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]  # type: ignore[index]
    copied = {args.split()[0] for args in read_dockerfile().stages[0].all("COPY")}
    for pattern in packages:
        assert pattern.rstrip("*") in copied


def test_build_context_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    patterns = dockerignore_patterns()

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p + "/") for p in patterns)

    copied = {args.split()[0] for args in read_dockerfile().stages[0].all("COPY")}
    for source in copied - {"./"} | {"pyproject.toml", "constraints.txt"}:
        assert (REPO_ROOT / source).exists(), source
        assert not ignored(source), f"{source} is copied but .dockerignore drops it"
    for kept_out in (".git", ".venv", "models", "tests", ".mypy_cache", ".pytest_cache"):
        assert ignored(kept_out), f"{kept_out} would go into the build context"


def service() -> dict[str, object]:
    services = compose()["services"]
    assert list(services) == ["segmentation"]
    return services["segmentation"]  # type: ignore[no-any-return]


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose())


def test_compose_runs_the_image_as_the_dockerfile_intends() -> None:
    runtime = read_dockerfile().runtime
    env = runtime.env()
    segmentation = service()
    assert segmentation["user"] == runtime.all("USER")[0]
    assert segmentation["ports"] == [f"127.0.0.1:8000:{env['SEGMENT_PORT']}"]
    assert segmentation["volumes"] == [
        f"./models:{env['SEGMENT_MODELS_DIR']}:ro",
        f"segment-state:{env['SEGMENT_STATE_DIR']}",
    ]
    assert runtime.all("VOLUME") == [f'["{env["SEGMENT_STATE_DIR"]}"]']
    assert segmentation["read_only"] is True
    assert segmentation["tmpfs"] == ["/tmp"]
    environment = segmentation["environment"]
    assert isinstance(environment, dict)
    assert set(environment) <= {f"SEGMENT_{name.upper()}" for name in Settings.model_fields}
    grace = int(environment["SEGMENT_GRACEFUL_SHUTDOWN_SECONDS"])
    assert seconds(str(segmentation["stop_grace_period"])) > grace


@pytest.mark.parametrize(
    "script", ["deploy/container-test.sh", "deploy/base-image.sh"], ids=lambda s: s
)
def test_container_scripts_are_strict_bash(script: str) -> None:
    text = (REPO_ROOT / script).read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
