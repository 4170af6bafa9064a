"""Pins added for mutants that survived `make mutants` (docs/mutation-testing.md): each test
names the behaviour it holds, written from what the code must do, not from its output."""

from __future__ import annotations

from typing import Any

import ipaddress

import pytest

# ------------------------------------------------------------------------------ network/cidr.py


@pytest.mark.parametrize("network", ["10.0.0.0/8", "10.0.0.0/20"])
def test_carve_accepts_the_prefix_bounds_and_keeps_the_network(network):
    from fleetform.network.cidr import carve

    plan = carve(network, 2)
    assert plan.network == ipaddress.IPv4Network(network)
    assert plan.all_subnets()[0].network_address == plan.network.network_address


@pytest.mark.parametrize(("network", "zones", "message"), [
    ("10.0.0.0/7", 3, "network prefix must be /8-/20, got /7"),
    ("10.0.0.0/21", 3, "network prefix must be /8-/20, got /21"),
    ("10.0.0.0/16", 1, "zones must be 2-6, got 1"),
    ("10.0.0.0/16", 7, "zones must be 2-6, got 7"),
])
def test_carve_refuses_out_of_range_with_the_reason(network, zones, message):
    from fleetform.network.cidr import carve

    with pytest.raises(ValueError) as exc:
        carve(network, zones)
    assert str(exc.value) == message


def test_capacity_exactly_full_is_enough():
    """A subnet exactly as large as the need is enough (`>`, not `>=`), for both checks.
    gcp, 10.0.0.0/20, 2 zones (layout in cidr.py's docstring): private subnets 10.0.0.0/22 and
    10.0.4.0/22 (1024 - 4 reserved = 1020 usable); pods range the third eighth-block, 10.0.12.0/23
    (512 addresses = a /24 each for 2 nodes)."""
    from fleetform.network.cidr import capacity_problem

    assert capacity_problem("gcp", "10.0.0.0/20", 2, 2) is None  # pods: 2 x 256 == 512
    assert capacity_problem("gcp", "10.0.0.0/20", 2, 3) == (
        "a CIDR whose pods range (10.0.12.0/23) holds a /24 for each of 3 nodes: use a shorter prefix or fewer nodes"
    )
    # 1020 nodes fill the private subnet exactly: the private check passes, the pods one speaks.
    assert capacity_problem("gcp", "10.0.0.0/20", 2, 1020) == (
        "a CIDR whose pods range (10.0.12.0/23) holds a /24 for each of 1020 nodes: use a shorter prefix or fewer nodes"
    )
    assert capacity_problem("gcp", "10.0.0.0/20", 2, 1021) == (
        "a CIDR whose per-zone private subnet (10.0.0.0/22, 1020 usable addresses) holds 1021 nodes x 1 addresses = 1021: "
        "use a shorter prefix or fewer nodes"
    )


# ------------------------------------------------------------------------------ workloads/pod.py


def _svc(**extra):
    from fleetform import ServiceSpec

    base = {"name": "web", "image": "ghcr.io/acme/web@sha256:" + "ab" * 32, "port": 8080}
    return ServiceSpec.model_validate({**base, **extra})


def _probe(path, period, failures, timeout):
    return {"http_get": {"path": path, "port": "http", "scheme": "HTTP"}, "period_seconds": period,
            "failure_threshold": failures, "timeout_seconds": timeout, "success_threshold": 1}


def test_container_probes_ports_resources_and_pull_policy():
    """DESIGN §4: probes on the health path (readiness fast, liveness slower and more tolerant,
    startup long enough for slow boots), requests and limits, a pinned image, the named port."""
    from fleetform.workloads.pod import container

    spec = _svc(health={"path": "/ready", "livenessPath": "/alive"},
                resources={"cpu": "250m", "memory": "256Mi", "cpuLimit": "2", "memoryLimit": "512Mi"},
                env={"B": "2", "A": "1"})
    c: Any = container(spec)
    assert c["name"] == "web" and c["image"] == spec.image
    assert c["image_pull_policy"] == "IfNotPresent"  # a digest cannot move
    assert c["ports"] == [{"name": "http", "container_port": 8080, "protocol": "TCP"}]
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "512Mi"}}
    assert c["readiness_probe"] == _probe("/ready", 5, 3, 2)
    assert c["liveness_probe"] == _probe("/alive", 10, 6, 5)
    assert c["startup_probe"] == _probe("/ready", 5, 60, 2)
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]  # sorted: a stable diff
    assert c["volume_mounts"] == [{"name": "tmp", "mount_path": "/tmp"}]

    tagged: Any = container(_svc(image="ghcr.io/acme/web:1.2.3", health={"path": "/healthz"}))
    assert tagged["image_pull_policy"] == "Always"  # a tag can be re-pushed
    # Without livenessPath, liveness is a TCP check on the named port, not the readiness request
    # again (kube-score pod-probes-identical: https://github.com/zegl/kube-score/blob/master/README_PROBES.md).
    assert tagged["liveness_probe"] == {"tcp_socket": {"port": "http"}, "period_seconds": 10, "failure_threshold": 6,
                                        "timeout_seconds": 5, "success_threshold": 1}
    assert tagged["resources"]["limits"]["memory"] == tagged["resources"]["requests"]["memory"]
    assert "env" not in tagged


def test_deployment_spec_rollout_spread_and_pod():
    """Rolling updates never take a pod down before its replacement is ready; pods spread over
    zones (preferred) and nodes (required); no service-account token, no service links."""
    from fleetform.workloads.pod import deployment_spec

    spec = _svc(replicas=4)
    d: Any = deployment_spec(spec)
    sel = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "fleetform"}
    assert d["replicas"] == 4
    assert d["revision_history_limit"] == 5
    assert d["selector"] == {"match_labels": sel}
    assert d["strategy"] == {"type": "RollingUpdate", "rolling_update": {"max_unavailable": 0, "max_surge": "25%"}}
    t = d["template"]
    # The scratch volume does not pin the node (Cluster Autoscaler FAQ, "What types of pods can
    # prevent CA from removing a node?": pods with local storage, unless this annotation names it).
    assert t["metadata"] == {"labels": sel,
                             "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes": "tmp"}}
    assert [v["name"] for v in t["spec"]["volumes"]] == ["tmp"]
    pod = t["spec"]
    assert pod["service_account_name"] == "web"
    assert pod["automount_service_account_token"] is False
    assert pod["enable_service_links"] is False
    assert pod["termination_grace_period_seconds"] == 30
    assert pod["security_context"] == {"run_as_non_root": True, "run_as_user": 10001, "run_as_group": 10001,
                                       "fs_group": 10001, "seccomp_profile": {"type": "RuntimeDefault"}}
    assert pod["volumes"] == [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}]
    assert [c["name"] for c in pod["containers"]] == ["web"]
    # Only nodes the pod may run on, only pods of its own revision (issue 13 item 4; the
    # PodTopologySpread fields: https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/).
    honest = {"match_label_keys": ["pod-template-hash"], "node_taints_policy": "Honor"}
    assert pod["topology_spread_constraints"] == [
        {"max_skew": 1, "topology_key": "topology.kubernetes.io/zone", "when_unsatisfiable": "ScheduleAnyway",
         "label_selector": {"match_labels": sel}, **honest},
        {"max_skew": 1, "topology_key": "kubernetes.io/hostname", "when_unsatisfiable": "DoNotSchedule",
         "label_selector": {"match_labels": sel}, **honest},
    ]
    # spot: false (the default) keeps the pods off every cloud's spot nodes, and tolerates nothing.
    assert "tolerations" not in pod
    assert pod["affinity"] == {"node_affinity": {"required_during_scheduling_ignored_during_execution": {
        "node_selector_terms": [{"match_expressions": [
            {"key": "eks.amazonaws.com/capacityType", "operator": "NotIn", "values": ["SPOT"]},
            {"key": "cloud.google.com/gke-spot", "operator": "NotIn", "values": ["true"]},
            {"key": "kubernetes.azure.com/scalesetpriority", "operator": "NotIn", "values": ["spot"]},
            # fleetform's own label on self-managed cloud clusters' spot pools (no cloud labels them).
            {"key": "fleetform.io/capacity-type", "operator": "NotIn", "values": ["spot"]},
        ]}]}}}


def test_carve_six_zones_and_the_secondary_ranges():
    """6 zones is allowed; the last quarter is pods then services (cidr.py's layout), by hand for
    10.0.0.0/16: six of eight /20 private, six of eight /21 public, pods 10.0.192.0/19, services 10.0.224.0/19."""
    from fleetform.network.cidr import carve

    plan = carve("10.0.0.0/16", 6)
    assert [str(s) for s in plan.private] == [f"10.0.{i * 16}.0/20" for i in range(6)]
    assert [str(s) for s in plan.public] == [f"10.0.{128 + i * 8}.0/21" for i in range(6)]
    assert str(plan.pods) == "10.0.192.0/19" and str(plan.services) == "10.0.224.0/19"


# ------------------------------------------------------------------------------ bootstrap/script.py


def test_masters_admission_config_is_cluster_wide_restricted_pod_security():
    """The file the API server reads (--admission-control-config-file), by the Kubernetes docs
    (https://kubernetes.io/docs/tasks/configure-pod-container/enforce-standards-admission-controller/):
    AdmissionConfiguration apiserver.config.k8s.io/v1 with the PodSecurity plugin's
    PodSecurityConfiguration (pod-security.admission.config.k8s.io/v1); every mode `restricted` at
    `latest`; only the named namespaces exempt."""
    import yaml
    from fleetform.bootstrap.script import PSA_CONFIG_FILE, NodeBootstrap, render_script
    from fleetform.bootstrap.script import CUSTOM_CA_FILES
    from tests.bootstrap_parsing import files_of

    node = NodeBootstrap(role="init", version="v1.32.5+k3s1", node_name="m1", node_ip="192.0.2.11",
                         token="t", agent_token="a", tls_files=tuple((p, "pem") for p in CUSTOM_CA_FILES),
                         pod_security_exempt_namespaces=("kube-system", "metallb-system"))
    doc = yaml.safe_load(files_of(render_script(node))[PSA_CONFIG_FILE])
    assert doc == {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [{
            "name": "PodSecurity",
            "configuration": {
                "apiVersion": "pod-security.admission.config.k8s.io/v1",
                "kind": "PodSecurityConfiguration",
                "defaults": {"enforce": "restricted", "enforce-version": "latest", "audit": "restricted",
                             "audit-version": "latest", "warn": "restricted", "warn-version": "latest"},
                "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": ["kube-system", "metallb-system"]},
            },
        }],
    }


# The spot labels and taint each platform puts on its spot nodes, from the platforms' docs:
# EKS managed node groups label eks.amazonaws.com/capacityType=SPOT
# (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types);
# GKE labels cloud.google.com/gke-spot=true
# (https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms#scheduling-workloads);
# AKS labels and taints kubernetes.azure.com/scalesetpriority=spot:NoSchedule
# (https://learn.microsoft.com/azure/aks/spot-node-pool); fleetform's self-managed spot pools carry
# fleetform.io/capacity-type=spot (docs/configuration.md, node pools).
SPOT_LABELS = [("eks.amazonaws.com/capacityType", "SPOT"), ("cloud.google.com/gke-spot", "true"),
               ("kubernetes.azure.com/scalesetpriority", "spot"), ("fleetform.io/capacity-type", "spot")]


def test_spot_placement_exactly():
    """spot: false keeps off every spot label (required NotIn, which nodes without the label pass);
    spot: true prefers each spot label (weight 100) and tolerates AKS's spot taint exactly."""
    from fleetform.workloads.pod import spot_placement

    away, tolerations = spot_placement(_svc())
    assert tolerations == []
    assert away == {"node_affinity": {"required_during_scheduling_ignored_during_execution": {"node_selector_terms": [
        {"match_expressions": [{"key": k, "operator": "NotIn", "values": [v]} for k, v in SPOT_LABELS]}]}}}
    toward, tolerations = spot_placement(_svc(spot=True))
    assert toward == {"node_affinity": {"preferred_during_scheduling_ignored_during_execution": [
        {"weight": 100, "preference": {"match_expressions": [{"key": k, "operator": "In", "values": [v]}]}}
        for k, v in SPOT_LABELS]}}
    assert tolerations == [{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot",
                            "effect": "NoSchedule"}]
