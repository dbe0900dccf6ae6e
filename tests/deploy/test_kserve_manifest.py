"""deploy/kserve/inferenceservice.yaml: a KServe InferenceService whose predictor runs this
service's image speaking the Open Inference Protocol.

KServe's resource is not one kubernetes-validate knows, so its predictor is checked the way KServe
reads it: the pod fields as a Kubernetes pod (strict, against the same releases as the other
manifests, so a misspelled key fails), and the rest among KServe's component fields. Then the
pod must run the image as the service needs: the container KServe names, the port KServe sends
to, settings the service reads and accepts, the model name equal to the InferenceService's (the
name KServe's clients call), and the v2 health routes as probes.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from service.settings import Settings
from tests.conftest import REPO_ROOT
from tests.deploy.manifests import (
    KUBERNETES_VERSIONS,
    Resource,
    api_container,
    read_dockerfile,
    the_resource,
)

MANIFEST = REPO_ROOT / "deploy" / "kserve" / "inferenceservice.yaml"
# KServe's v1beta1 ComponentExtensionSpec: what a predictor adds to a pod's spec.
COMPONENT_FIELDS = frozenset(
    {
        "minReplicas",
        "maxReplicas",
        "scaleTarget",
        "scaleMetric",
        "scaleMetricType",
        "containerConcurrency",
        "timeout",
        "canaryTrafficPercent",
        "logger",
        "batcher",
        "labels",
        "annotations",
        "deploymentStrategy",
        "autoScaling",
    }
)


def inference_service() -> Resource:
    (resource,) = [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]
    assert isinstance(resource, dict)
    return resource


def predictor_pod(resource: Resource) -> Resource:
    predictor = resource["spec"]["predictor"]
    spec = {k: v for k, v in predictor.items() if k not in COMPONENT_FIELDS}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": spec}


def container() -> dict[str, Any]:
    (found,) = inference_service()["spec"]["predictor"]["containers"]
    assert isinstance(found, dict)
    return found


def test_it_is_a_kserve_inference_service() -> None:
    resource = inference_service()
    assert (resource["apiVersion"], resource["kind"]) == (
        "serving.kserve.io/v1beta1",
        "InferenceService",
    )
    assert set(resource["spec"]) == {"predictor"}
    assert "namespace" not in resource["metadata"], "the operator picks it"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_predictors_pod_is_valid(version: str) -> None:
    kubernetes_validate.validate(predictor_pod(inference_service()), version, strict=True)


def test_the_check_catches_a_typo() -> None:
    resource = copy.deepcopy(inference_service())
    resource["spec"]["predictor"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(predictor_pod(resource), KUBERNETES_VERSIONS[0], strict=True)


def test_it_runs_the_image_as_kserve_calls_it(monkeypatch: pytest.MonkeyPatch) -> None:
    resource = inference_service()
    served = container()
    assert served["name"] == "kserve-container", "the name KServe gives the predictor's container"
    env = {item["name"]: item.get("value") for item in served["env"]}
    known = {f"SEGMENT_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= known, "a variable the service does not read"
    for name, value in env.items():
        if value is not None:
            monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.host == "0.0.0.0"
    assert settings.model_name == resource["metadata"]["name"], "KServe's clients call it so"
    (port,) = served["ports"]
    assert port["containerPort"] == settings.port == 8080, "KServe's predictor port"
    probes = {
        kind: (served[kind]["httpGet"]["path"], served[kind]["httpGet"]["port"])
        for kind in ("readinessProbe", "livenessProbe")
    }
    assert probes == {
        "readinessProbe": ("/v2/health/ready", 8080),
        "livenessProbe": ("/v2/health/live", 8080),
    }
    deployment = api_container(the_resource("deployment.yaml", "Deployment"))
    assert served["image"] == deployment["image"]
    assert served["securityContext"] == deployment["securityContext"]
    pod = resource["spec"]["predictor"]["securityContext"]
    assert f"{pod['runAsUser']}:{pod['runAsGroup']}" == read_dockerfile().runtime.all("USER")[-1]
    (api_keys,) = [item for item in served["env"] if item["name"] == "SEGMENT_API_KEYS"]
    assert api_keys["valueFrom"]["secretKeyRef"]["optional"] is True
