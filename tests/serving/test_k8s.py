"""The Kubernetes manifests (serving/k8s/): valid against the published schemas, offline, and consistent with each
other, with docker-compose.yml and with serving/config/."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "serving" / "k8s"
#: The oldest Kubernetes release the manifests are checked against (HPA autoscaling/v2 and PDB policy/v1 are GA
#: since 1.23 / 1.21); strict: unknown fields are errors too.
KUBERNETES_VERSIONS = ("1.28.0", "1.37.0")


def manifests() -> dict[tuple[str, str], dict]:
    found = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_manifest_is_valid_for_kubernetes(version):
    documents = manifests()
    assert {kind for kind, _ in documents} == {
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for document in documents.values():
        kubernetes_validate.validate(document, version, strict=True)


def test_the_validator_does_fail_on_a_bad_manifest():
    broken = manifests()[("Deployment", "embedder")]
    broken = {**broken, "spec": {**broken["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(
        p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"
    )


def test_the_deployment_serves_what_docker_compose_serves():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["tensorflow-serving"]
    container = manifests()[("Deployment", "embedder")]["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == compose["image"].split(":-", 1)[1].rstrip("}")  # the compose default tag
    assert container["command"] == compose["entrypoint"]
    assert container["args"] == compose["command"]
    compose_check = compose["healthcheck"]["test"][-1]
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["exec"]["command"][-1] == compose_check


def test_the_config_map_is_serving_config():
    config_map = manifests()[("ConfigMap", "embedder-config")]
    files = {name: (ROOT / "serving" / "config" / name).read_text() for name in config_map["data"]}
    assert config_map["data"] == files
    args = manifests()[("Deployment", "embedder")]["spec"]["template"]["spec"]["containers"][0]["args"]
    mounted = {arg.split("=", 1)[1].removeprefix("/config/") for arg in args if "=/config/" in arg}
    assert mounted == set(files)


def test_services_autoscaler_and_budget_point_at_the_deployment():
    documents = manifests()
    deployment = documents[("Deployment", "embedder")]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    for name in ("embedder", "embedder-headless"):
        spec = documents[("Service", name)]["spec"]
        assert spec["selector"].items() <= pod_labels.items()
        assert {port["targetPort"] for port in spec["ports"]} <= port_names
    assert documents[("Service", "embedder-headless")]["spec"]["clusterIP"] == "None"
    target = documents[("HorizontalPodAutoscaler", "embedder")]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "embedder")
    assert (
        documents[("PodDisruptionBudget", "embedder")]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    )
    assert container["livenessProbe"]["tcpSocket"]["port"] in port_names
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == "embedder-models"
    assert volumes["config"]["configMap"]["name"] == "embedder-config"
    assert ("PersistentVolumeClaim", "embedder-models") in documents
