"""What docs/deployment.md says `make container-test` runs and checks is what
deploy/container-test.sh does (the script itself needs root and podman: it runs apart), and its
kubectl lines, run with a real kubectl as far as they go without a cluster."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import kubernetes_validate

from tests.conftest import REPO_ROOT
from tests.deploy.manifests import K8S_DIR, api_container, the_resource
from tests.deploy.test_manifests import KUBERNETES_VERSIONS
from tests.docs.conftest import blocks, page_section
from tests.real_server import free_port

PAGE = REPO_ROOT / "docs" / "deployment.md"
SCRIPT = (REPO_ROOT / "deploy" / "container-test.sh").read_text()


def test_the_page_lists_every_check_the_script_passes_in_its_order() -> None:
    section = page_section(PAGE, "Proof: `make container-test`")
    checks = re.findall(r"^  \d+\. ", section, re.M)
    passes = re.findall(r'^\s*pass "([^"$ ]+[^"$]*)', SCRIPT, re.M)
    # tools and base image are set-up, not checks; the SIGTERM check runs twice
    assert len(passes) == 12
    assert passes[:2] == ["tools: ", "base image "]
    assert len(checks) == len(passes) - 2 + 1
    order = ["build ", "serving only", "ready on", "HEALTHCHECK", "scoring", "web page"]
    assert passes[2:8] == [next(p for p in passes if p.startswith(word)) for word in order]
    assert passes[-1].startswith("compose.yaml as podman-compose runs it")


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


def kubectl(*args: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """kubectl (`make ops-deps`) with a configuration whose only cluster is a closed loopback
    port: nothing here can reach a real one, and whatever needs a cluster fails to connect."""
    config = folder / "kubeconfig"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: none\n"
        f"clusters: [{{name: none, cluster: {{server: 'http://127.0.0.1:{free_port()}'}}}}]\n"
        "contexts: [{name: none, context: {cluster: none}}]\n"
    )
    return subprocess.run(
        ["kubectl", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "KUBECONFIG": str(config)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_kubectl_lines_parse_and_name_what_the_manifests_define(tmp_path: Path) -> None:
    """The block's two lines with a real kubectl and no cluster. `apply` (client dry run) must
    get as far as reading and decoding every manifest it names, stopping only where a cluster
    is needed; `create secret` needs none and makes the Secret the Deployment reads. The names
    the page's prose gives kubectl are the manifests' (`set image --local` needs no cluster)."""
    [block] = blocks(page_section(PAGE, "Kubernetes"), "sh")
    apply, secret = (
        shlex.split(line.split("#")[0]) for line in block.replace("\\\n", " ").splitlines()
    )
    assert apply == ["kubectl", "apply", "-n", "NAMESPACE", "-f", "deploy/k8s/"]
    done = kubectl(*apply[1:], "--dry-run=client", folder=tmp_path)
    assert done.returncode != 0  # no cluster
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    applied = sorted(re.findall(r'error validating "([^"]+)"', done.stderr))
    assert applied == sorted(p.relative_to(REPO_ROOT).as_posix() for p in K8S_DIR.glob("*.yaml"))
    assert all("connection refused" in line for line in errors), errors  # nothing else wrong

    assert secret[:4] == ["kubectl", "create", "secret", "generic"]
    made = kubectl(*secret[1:], "--dry-run=client", "-o", "json", folder=tmp_path)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    kubernetes_validate.validate(created, KUBERNETES_VERSIONS[0], strict=True)
    deployment = the_resource("deployment.yaml", "Deployment")
    (reference,) = [
        env["valueFrom"]["secretKeyRef"]
        for env in api_container(deployment)["env"]
        if env["name"] == "SEGMENT_API_KEYS"
    ]
    assert created["metadata"]["name"] == reference["name"]
    assert list(created["data"]) == [reference["key"]]

    prose = page_section(PAGE, "Kubernetes").replace("\n", " ")
    named = set(re.findall(r"`kubectl [^`]+`", prose))
    assert "`kubectl edit configmap customer-segmentation`" in named
    assert (
        the_resource("configmap.yaml", "ConfigMap")["metadata"]["name"] == "customer-segmentation"
    )
    for command in named:
        if "deployment/" in command:
            assert "deployment/customer-segmentation" in command, command
    assert deployment["metadata"]["name"] == "customer-segmentation"
    [set_image] = [c.strip("`") for c in named if c.startswith("`kubectl set image deployment/")]
    words = set_image.split()
    assert words[3] == "deployment/customer-segmentation"
    changed = kubectl(
        "set",
        "image",
        "--local",
        "-f",
        "deploy/k8s/deployment.yaml",
        *words[4:],
        "-o",
        "json",
        folder=tmp_path,
    )
    assert changed.returncode == 0, changed.stderr  # the container the page names exists
    container, image = words[4].split("=")
    assert api_container(json.loads(changed.stdout))["image"] == image
    assert api_container(deployment)["name"] == container
