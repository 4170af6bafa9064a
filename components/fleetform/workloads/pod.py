"""The pod of a service: one definition, the same on every cluster and target (DESIGN §4).

Nothing here may depend on the cluster: the consistency test compares the Deployment of a
service across targets and expects it byte-identical.
"""

from __future__ import annotations

from pulumi_kubernetes.apps.v1 import DeploymentSpecArgsDict
from pulumi_kubernetes.core.v1 import (
    AffinityArgsDict,
    ContainerArgsDict,
    NodeSelectorRequirementArgsDict,
    PodSpecArgsDict,
    PreferredSchedulingTermArgsDict,
    ProbeArgsDict,
    TolerationArgsDict,
    TopologySpreadConstraintArgsDict,
)

from ..config import ServiceSpec
from ..config.cluster import SELF_MANAGED_SPOT_LABEL

RUN_AS_UID = 10001
"""Non-root UID/GID the containers run as (>= 10000: clear of host system users)."""
PORT_NAME = "http"

SPOT_NODE_LABELS = (
    # EKS managed node groups label their nodes with the capacity type
    # (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html#managed-node-group-capacity-types).
    ("eks.amazonaws.com/capacityType", "SPOT"),
    # GKE labels Spot VM nodes (https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms#scheduling-workloads).
    ("cloud.google.com/gke-spot", "true"),
    # AKS labels and taints Spot node pools (https://learn.microsoft.com/azure/aks/spot-node-pool).
    ("kubernetes.azure.com/scalesetpriority", "spot"),
    # fleetform labels the spot pools of self-managed cloud clusters itself (config.cluster).
    SELF_MANAGED_SPOT_LABEL,
)
"""The label each managed cloud puts on its spot/preemptible nodes (key, value)."""
SPOT_TAINT = ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
"""The taint AKS puts on every Spot pool's nodes (https://learn.microsoft.com/azure/aks/spot-node-pool); EKS and
GKE do not taint spot nodes unless asked."""


def labels(service: ServiceSpec) -> dict[str, str]:
    """Selector labels of a service's pods (stable: changing them would replace the Deployment)."""
    return {"app.kubernetes.io/name": service.name, "app.kubernetes.io/part-of": "fleetform"}


def _probe(path: str, period: int, failures: int, timeout: int) -> ProbeArgsDict:
    return {
        "http_get": {"path": path, "port": PORT_NAME, "scheme": "HTTP"},
        "period_seconds": period,
        "failure_threshold": failures,
        "timeout_seconds": timeout,
        "success_threshold": 1,
    }


def container(service: ServiceSpec) -> ContainerArgsDict:
    """The service's container: pinned image, requests and limits, probes, locked-down security."""
    health = service.health
    res = service.resources
    spec: ContainerArgsDict = {
        "name": service.name,
        "image": service.image,
        # A digest cannot move, so the node cache is safe; a tag can be re-pushed, so always pull.
        "image_pull_policy": "IfNotPresent" if service.pinned_by_digest else "Always",
        "ports": [{"name": PORT_NAME, "container_port": service.port, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": res.cpu, "memory": res.memory},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit or res.memory},
        },
        # Readiness gates traffic (and the load balancers' health checks follow it); liveness is
        # slower and more tolerant so a busy pod is taken out of rotation long before it is killed;
        # startup covers slow boots without weakening the other two.
        "readiness_probe": _probe(health.path, period=5, failures=3, timeout=2),
        # Without a livenessPath, liveness asks only whether the process still accepts connections
        # (a TCP check on the port), not the readiness question again: a liveness probe identical
        # to readiness restarts pods that are merely busy or waiting on a dependency (kube-score
        # pod-probes-identical, https://github.com/zegl/kube-score/blob/master/README_PROBES.md).
        "liveness_probe": (
            _probe(health.liveness_path, period=10, failures=6, timeout=5) if health.liveness_path
            else {"tcp_socket": {"port": PORT_NAME}, "period_seconds": 10, "failure_threshold": 6,
                  "timeout_seconds": 5, "success_threshold": 1}
        ),
        "startup_probe": _probe(health.path, period=5, failures=60, timeout=2),
        "security_context": {
            "allow_privilege_escalation": False,
            "privileged": False,
            "read_only_root_filesystem": True,
            "run_as_non_root": True,
            "run_as_user": RUN_AS_UID,
            "run_as_group": RUN_AS_UID,
            "capabilities": {"drop": ["ALL"]},
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        # Read-only root: give the process a private scratch directory.
        "volume_mounts": [{"name": "tmp", "mount_path": "/tmp"}],
    }
    if service.env:
        spec["env"] = [{"name": k, "value": v} for k, v in sorted(service.env.items())]
    return spec


def spot_placement(service: ServiceSpec) -> tuple[AffinityArgsDict, list[TolerationArgsDict]]:
    """Where a service's pods may go with respect to spot nodes: (affinity, tolerations).

    ``spot: false``: required node affinity keeps the pods off every cloud's spot nodes (NotIn also
    matches nodes without the label: on-demand nodes, onprem hosts). ``spot: true``: the pods
    tolerate AKS's spot taint and prefer spot nodes, so spot pools take them (and the cluster
    autoscaler grows a spot pool for them: it simulates the scheduler, taints and all).
    Node affinity semantics: https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity
    """
    if not service.spot:
        avoid: list[NodeSelectorRequirementArgsDict] = [
            {"key": key, "operator": "NotIn", "values": [value]} for key, value in SPOT_NODE_LABELS
        ]
        away: AffinityArgsDict = {"node_affinity": {"required_during_scheduling_ignored_during_execution": {
            "node_selector_terms": [{"match_expressions": avoid}]}}}
        return away, []
    key, value, effect = SPOT_TAINT
    prefer: list[PreferredSchedulingTermArgsDict] = [
        {"weight": 100, "preference": {"match_expressions": [{"key": k, "operator": "In", "values": [v]}]}}
        for k, v in SPOT_NODE_LABELS
    ]
    toward: AffinityArgsDict = {"node_affinity": {"preferred_during_scheduling_ignored_during_execution": prefer}}
    return toward, [{"key": key, "operator": "Equal", "value": value, "effect": effect}]


def deployment_spec(service: ServiceSpec) -> DeploymentSpecArgsDict:
    """The Deployment spec of a service (identical on every cluster)."""
    selector = labels(service)
    spread: list[TopologySpreadConstraintArgsDict] = [
        {
            "max_skew": 1,
            "topology_key": key,
            "when_unsatisfiable": mode,
            "label_selector": {"match_labels": selector},
            # Count only the pods of the same ReplicaSet: during a rolling update the new revision's
            # surge pods spread among themselves instead of having to fit beside the old ones.
            "match_label_keys": ["pod-template-hash"],
            # Only nodes the pod may run on are domains: tainted nodes it does not tolerate (AKS's
            # CriticalAddonsOnly system pool, self-managed masters, spot pools) and nodes its affinity
            # excludes would otherwise count as empty domains, holding the global minimum at 0 and
            # capping the service at one pod per node. nodeAffinityPolicy defaults to Honor; the taints
            # policy defaults to Ignore (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/#spread-constraint-definition).
            "node_taints_policy": "Honor",
        }
        # Zones are preferred (some clusters have one zone, or none labelled); nodes are required.
        for key, mode in (("topology.kubernetes.io/zone", "ScheduleAnyway"), ("kubernetes.io/hostname", "DoNotSchedule"))
    ]
    affinity, tolerations = spot_placement(service)
    pod: PodSpecArgsDict = {
        "service_account_name": service.name,
        "automount_service_account_token": False,
        "enable_service_links": False,
        "termination_grace_period_seconds": 30,
        "security_context": {
            "run_as_non_root": True,
            "run_as_user": RUN_AS_UID,
            "run_as_group": RUN_AS_UID,
            "fs_group": RUN_AS_UID,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
        "containers": [container(service)],
        "volumes": [{"name": "tmp", "empty_dir": {"size_limit": "64Mi"}}],
        "topology_spread_constraints": spread,
        "affinity": affinity,
    }
    if tolerations:
        pod["tolerations"] = tolerations
    return {
        "replicas": service.replicas,
        "revision_history_limit": 5,
        "selector": {"match_labels": selector},
        "strategy": {
            "type": "RollingUpdate",
            "rolling_update": {"max_unavailable": 0, "max_surge": "25%"},
        },
        "template": {
            "metadata": {
                "labels": selector,
                # The only local volume is the /tmp scratch emptyDir: without this the Cluster
                # Autoscaler never removes a node running one of these pods
                # (--skip-nodes-with-local-storage defaults to true; the annotation names the volumes
                # it may evict anyway: https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/FAQ.md#what-types-of-pods-can-prevent-ca-from-removing-a-node).
                "annotations": {"cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes": "tmp"},
            },
            "spec": pod,
        },
    }


__all__ = ["labels", "container", "deployment_spec", "spot_placement", "RUN_AS_UID", "PORT_NAME", "SPOT_NODE_LABELS", "SPOT_TAINT"]
