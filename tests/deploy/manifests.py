"""Readers for the deployment files the tests check: k8s manifests, compose file, Dockerfile."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from tests.conftest import REPO_ROOT

K8S_DIR = REPO_ROOT / "deploy" / "k8s"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
COMPOSE_FILE = REPO_ROOT / "compose.yaml"
APP_LABELS = {
    "app.kubernetes.io/name": "customer-segmentation",
    "app.kubernetes.io/component": "api",
}

Resource = dict[str, Any]
# The oldest release the manifests promise to work on, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def manifest_files() -> list[Path]:
    return sorted(K8S_DIR.rglob("*.yaml"))


def resources(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def the_resource(relative: str, kind: str) -> Resource:
    (found,) = [r for r in resources(K8S_DIR / relative) if r["kind"] == kind]
    return found


def api_container(deployment: Resource) -> Resource:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


@dataclass
class Stage:
    base: str
    name: str | None
    #: (instruction, arguments) in order, continuation lines joined.
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                values[key] = value
        return values


@dataclass
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    @property
    def runtime(self) -> Stage:
        return self.stages[-1]


def read_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text())
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "FROM":
            words = rest.split()
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif not stages and instruction == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
        else:
            stages[-1].instructions.append((instruction, rest))
    return Dockerfile(args, stages)


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(loaded, dict)
    return loaded
