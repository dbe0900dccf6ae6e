"""The Kubernetes manifests in deploy/k8s: valid against the API schemas, and coherent.

kubernetes-validate ships the schemas of every Kubernetes release it knows, so this runs
offline. Strict mode rejects unknown fields, so a misspelled key fails instead of being ignored.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from service.settings import Settings
from tests.deploy.manifests import (
    APP_LABELS,
    K8S_DIR,
    KUBERNETES_VERSIONS,
    Resource,
    api_container,
    manifest_files,
    read_dockerfile,
    resources,
    the_resource,
)

ALL_RESOURCES = [
    pytest.param(resource, id=f"{path.relative_to(K8S_DIR)}:{resource['kind']}")
    for path in manifest_files()
    for resource in resources(path)
]
DEPLOYMENTS = ["deployment.yaml", "model-volume/deployment.yaml"]


def test_every_kind_the_service_needs_is_there() -> None:
    kinds = {resource["kind"] for path in manifest_files() for resource in resources(path)}
    assert kinds == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("resource", ALL_RESOURCES)
def test_manifest_is_valid(resource: Resource, version: str) -> None:
    kubernetes_validate.validate(resource, version, strict=True)


def test_validation_is_strict_enough_to_catch_a_typo() -> None:
    deployment = copy.deepcopy(the_resource("deployment.yaml", "Deployment"))
    api_container(deployment)["readinessProbe"]["httpget"] = {"path": "/health/ready"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[0], strict=True)


def config_map() -> dict[str, str]:
    data = the_resource("configmap.yaml", "ConfigMap")["data"]
    assert isinstance(data, dict)
    return data


def test_config_map_holds_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    known = {f"SEGMENT_{name.upper()}" for name in Settings.model_fields}
    assert set(config_map()) <= known, "a key the service does not read"
    for name, value in config_map().items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.model_version is None, "an empty version means models/CURRENT"
    assert settings.worker_count() == 1


@pytest.mark.parametrize("path", DEPLOYMENTS)
def test_deployment_runs_the_image_as_built(path: str) -> None:
    deployment = the_resource(path, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = api_container(deployment)
    dockerfile = read_dockerfile()
    user = dockerfile.runtime.all("USER")[-1]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == user
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp must stay writable"

    (port,) = container["ports"]
    assert port["name"] == "http"
    assert str(port["containerPort"]) == config_map()["SEGMENT_PORT"]
    assert dockerfile.runtime.all("EXPOSE") == [config_map()["SEGMENT_PORT"]]
    assert config_map()["SEGMENT_MODELS_DIR"] == dockerfile.runtime.env()["SEGMENT_MODELS_DIR"]


@pytest.mark.parametrize("path", DEPLOYMENTS)
def test_probes_use_the_two_health_routes(path: str) -> None:
    container = api_container(the_resource(path, "Deployment"))
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert probes == {
        "startupProbe": ("/health/live", "http"),
        "livenessProbe": ("/health/live", "http"),
        "readinessProbe": ("/health/ready", "http"),
    }


@pytest.mark.parametrize("path", DEPLOYMENTS)
def test_resources_settings_and_api_key_secret(path: str) -> None:
    container = api_container(the_resource(path, "Deployment"))
    for kind in ("requests", "limits"):
        assert set(container["resources"][kind]) == {"cpu", "memory"}
    assert container["envFrom"] == [{"configMapRef": {"name": "customer-segmentation"}}]
    (api_keys,) = [env for env in container["env"] if env["name"] == "SEGMENT_API_KEYS"]
    reference = api_keys["valueFrom"]["secretKeyRef"]
    assert reference["optional"] is True, "pods must start before the secret exists"


@pytest.mark.parametrize("path", DEPLOYMENTS)
def test_termination_leaves_time_to_drain(path: str) -> None:
    deployment = the_resource(path, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = api_container(deployment)
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = int(config_map()["SEGMENT_GRACEFUL_SHUTDOWN_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > pause + drain
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def selected_labels(resource: Resource) -> dict[str, Any]:
    selector = resource["spec"]["selector"]
    return dict(selector.get("matchLabels", selector))


def test_selectors_all_pick_the_pods() -> None:
    deployment = the_resource("deployment.yaml", "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"] == APP_LABELS
    assert selected_labels(deployment) == APP_LABELS
    assert selected_labels(the_resource("service.yaml", "Service")) == APP_LABELS
    assert selected_labels(the_resource("pdb.yaml", "PodDisruptionBudget")) == APP_LABELS
    service_port = the_resource("service.yaml", "Service")["spec"]["ports"][0]
    assert service_port["targetPort"] == "http"


def test_autoscaler_drives_the_deployment() -> None:
    hpa = the_resource("hpa.yaml", "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "customer-segmentation")
    assert hpa["spec"]["minReplicas"] >= 2, "a single pod cannot be drained without an outage"
    assert "replicas" not in the_resource("deployment.yaml", "Deployment")["spec"]


def without_models_volume(deployment: Resource) -> Resource:
    stripped: dict[str, Any] = copy.deepcopy(deployment)
    pod = stripped["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "models"]
    container = api_container(stripped)
    container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "models"]
    return stripped


def test_model_volume_variant_differs_only_by_the_volume() -> None:
    baked = the_resource("deployment.yaml", "Deployment")
    mounted = the_resource("model-volume/deployment.yaml", "Deployment")
    assert without_models_volume(mounted) == baked
    pod = mounted["spec"]["template"]["spec"]
    (mount,) = [m for m in api_container(mounted)["volumeMounts"] if m["name"] == "models"]
    assert mount == {"name": "models", "mountPath": "/opt/models", "readOnly": True}
    (volume,) = [v for v in pod["volumes"] if v["name"] == "models"]
    claim = the_resource("model-volume/pvc.yaml", "PersistentVolumeClaim")
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]


def test_no_manifest_fixes_a_namespace() -> None:
    for path in manifest_files():
        for resource in resources(path):
            assert "namespace" not in resource["metadata"], f"{path}: the operator picks it"
