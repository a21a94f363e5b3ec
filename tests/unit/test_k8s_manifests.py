"""The Kubernetes manifests, checked offline: every object against the Kubernetes OpenAPI
schemas (strict: an unknown field is an error), the kustomizations against the files they
name, and the wiring a working deployment needs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

K8S = Path(__file__).parents[2] / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "example"
KUBERNETES_VERSION = "1.30.0"


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _kustomization(folder: Path) -> dict[str, Any]:
    loaded = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _objects() -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) → object, for every object the base deploys."""
    found = {}
    for resource in _kustomization(BASE)["resources"]:
        for doc in _documents(BASE / resource):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


MANIFESTS = sorted(
    [p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml"]
    + [OVERLAY / "namespace.yaml"]
)


@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda p: p.name)
def test_every_object_is_valid_kubernetes(manifest: Path) -> None:
    for doc in _documents(manifest):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validation_would_catch_a_misspelt_field() -> None:
    gateway = copy.deepcopy(_objects()[("Deployment", "gateway")])
    gateway["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(gateway, KUBERNETES_VERSION, strict=True)


def test_the_kustomizations_name_files_that_exist() -> None:
    base = _kustomization(BASE)
    assert sorted(base["resources"]) == sorted(p.name for p in MANIFESTS if p.parent == BASE)
    overlay = _kustomization(OVERLAY)
    for resource in overlay["resources"]:
        assert (OVERLAY / resource).exists(), resource
    for patch in overlay["patches"]:
        target = _documents(OVERLAY / patch["path"])[0]
        assert (target["kind"], target["metadata"]["name"]) in _objects()
    images = {
        c["image"].split(":")[0]
        for (kind, _), obj in _objects().items()
        if kind in ("Deployment", "StatefulSet")
        for c in obj["spec"]["template"]["spec"]["containers"]
    }
    assert {i["name"] for i in overlay["images"]} <= images


def test_the_gateway_is_probed_limited_non_root_and_scaled() -> None:
    objects = _objects()
    pod = objects[("Deployment", "gateway")]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert {"requests", "limits"} <= set(container["resources"])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    hpa = objects[("HorizontalPodAutoscaler", "gateway")]["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "gateway",
    }
    labels = objects[("Deployment", "gateway")]["spec"]["template"]["metadata"]["labels"]
    pdb = objects[("PodDisruptionBudget", "gateway")]["spec"]["selector"]["matchLabels"]
    assert pdb.items() <= labels.items()


def test_every_service_selects_pods_that_exist() -> None:
    objects = _objects()
    pod_labels = [
        obj["spec"]["template"]["metadata"]["labels"]
        for (kind, _), obj in objects.items()
        if kind in ("Deployment", "StatefulSet")
    ]
    for (kind, name), obj in objects.items():
        if kind == "Service":
            selector = obj["spec"]["selector"]
            assert any(selector.items() <= labels.items() for labels in pod_labels), name


def test_the_ingress_keeps_streams_open_and_vllm_gets_a_gpu() -> None:
    objects = _objects()
    annotations = objects[("Ingress", "thinkingthoughts")]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "3600"
    vllm = objects[("Deployment", "vllm")]["spec"]["template"]["spec"]
    assert vllm["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert any(v.get("persistentVolumeClaim") for v in vllm["volumes"])
    assert ("PersistentVolumeClaim", "vllm-model-cache") in objects
