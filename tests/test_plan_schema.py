"""Every Kubernetes object fleetform plans passes strict upstream schema validation."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from fleetform.plan.engine import plan
from fleetform.plan.schema import available_versions, schema_errors
from fleetform.config import SUPPORTED_KUBERNETES_VERSIONS
from tests.conftest import cluster, fleet, planned, service, stack_config

VERSIONS = list(SUPPORTED_KUBERNETES_VERSIONS)


def synthetic_config():
    """One cluster of each target implemented so far, and every exposure."""
    return fleet(
        [
            cluster("plain", "existing"),
            cluster("metal", "existing", loadBalancer={"provider": "metallb", "publicPool": "pub", "internalPool": "priv"}),
        ],
        [
            service("web", expose="public", egress=[{"service": "api"}, {"cidr": "10.9.0.0/16", "ports": [443, 5432]}],
                    env={"MODE": "prod"}),
            service("api", expose="internal", image="ghcr.io/acme/api:2.0.1", autoscale={"min": 2, "max": 8, "cpuPercent": 60},
                    clusters=["metal"]),  # internal needs an internal pool (ServiceLB has none)
            service("worker", expose="cluster", health={"path": "/ready", "livenessPath": "/live"},
                    resources={"cpu": "1", "memory": "1Gi", "cpuLimit": "2", "memoryLimit": "2Gi"}),
        ],
    )


@pytest.fixture(scope="module")
def local_plan():
    return planned("local")


@pytest.fixture(scope="module")
def synthetic_plan():
    return plan("synthetic", config=synthetic_config())


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("which", ["local_plan", "synthetic_plan"])
def test_every_object_passes_strict_schema(which, version, request):
    result = request.getfixturevalue(which)
    assert result.manifests, "the plan produced no Kubernetes objects"
    kinds = {m.kind for m in result.manifests}
    assert {"Namespace", "ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler",
            "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    for m in result.manifests:
        assert schema_errors(m.object_raw, version) == [], (m.kind, m.name)
        # And the package's own (uncached) entry point agrees.
        kubernetes_validate.validate(m.object_raw, version, strict=True)


def test_plans_are_clean(local_plan, synthetic_plan):
    for result in (local_plan, synthetic_plan):
        assert result.schema_errors == []
        assert result.errors == []
        assert result.exit_code == 0


def test_strict_validation_rejects_unknown_and_mistyped_fields(local_plan):
    deployment = next(m.object_raw for m in local_plan.manifests if m.kind == "Deployment")
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    assert any("imagePullPolicyy" in e for e in schema_errors(unknown, "1.32"))
    mistyped = copy.deepcopy(deployment)
    mistyped["spec"]["replicas"] = "two"
    assert any(e.startswith("spec.replicas:") for e in schema_errors(mistyped, "1.32"))
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(unknown, "1.32", strict=True)


def test_kind_missing_at_a_version_is_reported():
    hpa_v2beta2 = {"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "x"},
                   "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 2}}
    assert schema_errors(hpa_v2beta2, "1.29") == ["HorizontalPodAutoscaler autoscaling/v2beta2 does not exist in Kubernetes 1.29"]


def test_schema_versions_cover_the_supported_range():
    from fleetform.config import SUPPORTED_KUBERNETES_VERSIONS

    assert set(SUPPORTED_KUBERNETES_VERSIONS) <= set(available_versions())


def test_k8s_version_override_applies_to_every_cluster():
    result = plan("local", kubernetes_version="1.29")
    assert {m.kubernetes_version for m in result.manifests} == {"1.29"}


def test_cluster_version_defaults_to_fleet_version():
    cfg = stack_config("local")
    cfg["fleetform:kubernetesVersion"] = "1.36"
    result = plan("local", config=cfg)
    assert {m.kubernetes_version for m in result.manifests} == {"1.36"}
