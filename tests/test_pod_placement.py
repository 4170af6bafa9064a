"""Pods land where they may, and as many as the service asks for (issue 13, items 4 and 5).

A small model of the two scheduler filters that decide it, written from the Kubernetes docs, not
from fleetform's code:

- TaintToleration and NodeAffinity (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/,
  https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#node-affinity);
- PodTopologySpread (https://kubernetes.io/docs/concepts/scheduling-eviction/topology-spread-constraints/):
  with ``whenUnsatisfiable: DoNotSchedule`` a node is feasible when
  ``matching pods in its domain + 1 - global minimum <= maxSkew``, the global minimum taken over the
  *eligible* domains: ``nodeAffinityPolicy`` (default Honor) drops nodes the pod's node affinity
  excludes, ``nodeTaintsPolicy`` (default Ignore) drops nodes whose taints it does not tolerate only
  when Honor; pods are counted when they match ``labelSelector`` and carry the incoming pod's values
  of the ``matchLabelKeys``.

The nodes are the example stacks' pools at their minimum size, with the labels and taints each
cloud documents for them (AKS: the system pool's ``CriticalAddonsOnly=true:NoSchedule`` taint set by
aks.py, https://learn.microsoft.com/azure/aks/use-system-pools; spot pools' label and taint,
https://learn.microsoft.com/azure/aks/spot-node-pool; EKS's ``eks.amazonaws.com/capacityType``,
https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html; GKE's
``cloud.google.com/gke-spot``, https://cloud.google.com/kubernetes-engine/docs/concepts/spot-vms).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from fleetform.config import AKS_SYSTEM_NODES, load_spec
from tests.conftest import planned, stack_config

SPOT_LABEL = {
    "aws": ("eks.amazonaws.com/capacityType", "SPOT"),
    "gcp": ("cloud.google.com/gke-spot", "true"),
    "azure": ("kubernetes.azure.com/scalesetpriority", "spot"),
}
AKS_SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}


@dataclass
class Node:
    name: str
    labels: dict[str, str]
    taints: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Pod:
    labels: dict[str, str]
    node: str


def nodes_of(spec, cluster_name: str) -> list[Node]:
    """The cluster's nodes with every pool at its minimum size (at least one node per pool, as the
    cluster autoscaler adds one for a pending pod that fits the pool)."""
    cluster = next(c for c in spec.clusters if c.name == cluster_name)
    nodes: list[Node] = []
    if cluster.target == "azure" and cluster.effective_mode == "managed":
        nodes += [Node(f"system-{i}", {"kubernetes.azure.com/mode": "system"},
                       [{"key": "CriticalAddonsOnly", "value": "true", "effect": "NoSchedule"}])
                  for i in range(AKS_SYSTEM_NODES)]
    for pool in cluster.effective_node_pools:
        labels = dict(pool.labels)
        taints = [{"key": t.key, "value": t.value or "", "effect": t.effect} for t in pool.taints]
        if pool.spot:
            key, value = SPOT_LABEL[cluster.target]
            labels[key] = value
            if cluster.target == "azure":
                taints.append(dict(AKS_SPOT_TAINT))
        for i in range(max(pool.min, 1)):
            name = f"{pool.name}-{i}"
            nodes.append(Node(name, {**labels, "kubernetes.io/hostname": name}, taints))
    for node in nodes:
        node.labels.setdefault("kubernetes.io/hostname", node.name)
    return nodes


def tolerates(pod_spec: dict[str, Any], taint: dict[str, str]) -> bool:
    if taint["effect"] == "PreferNoSchedule":
        return True  # a preference, never a filter
    for t in pod_spec.get("tolerations") or []:
        if t.get("effect") not in (None, "", taint["effect"]):
            continue
        if t.get("operator") == "Exists" and t.get("key") in (None, "", taint["key"]):
            return True
        if t.get("key") == taint["key"] and t.get("value", "") == taint["value"]:
            return True
    return False


def _expression(node: Node, e: dict[str, Any]) -> bool:
    has, value = e["key"] in node.labels, node.labels.get(e["key"])
    return {
        "In": has and value in e.get("values", []),
        "NotIn": not has or value not in e.get("values", []),
        "Exists": has,
        "DoesNotExist": not has,
    }[e["operator"]]


def affinity_allows(pod_spec: dict[str, Any], node: Node) -> bool:
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(all(_expression(node, e) for e in term.get("matchExpressions", []))
               for term in required["nodeSelectorTerms"])


def feasible(pod_spec: dict[str, Any], pod_labels: dict[str, str], node: Node, nodes: list[Node], pods: list[Pod]) -> bool:
    if not all(tolerates(pod_spec, t) for t in node.taints) or not affinity_allows(pod_spec, node):
        return False
    for c in pod_spec.get("topologySpreadConstraints") or []:
        if c["whenUnsatisfiable"] != "DoNotSchedule":
            continue
        key = c["topologyKey"]
        eligible = [n for n in nodes if key in n.labels
                    and (c.get("nodeAffinityPolicy", "Honor") == "Ignore" or affinity_allows(pod_spec, n))
                    and (c.get("nodeTaintsPolicy", "Ignore") == "Ignore" or all(tolerates(pod_spec, t) for t in n.taints))]
        selector = dict(c["labelSelector"]["matchLabels"])
        selector.update({k: pod_labels[k] for k in c.get("matchLabelKeys", []) if k in pod_labels})
        by_node = {n.name: n for n in nodes}

        def count(domain: str) -> int:
            return sum(1 for p in pods if by_node[p.node].labels.get(key) == domain
                       and all(p.labels.get(k) == v for k, v in selector.items()))

        domains = {n.labels[key] for n in eligible}
        if node.labels.get(key) not in domains:
            return False
        global_min = min(count(d) for d in domains)
        if count(node.labels[key]) + 1 - global_min > c["maxSkew"]:
            return False
    return True


def schedule(pod_spec: dict[str, Any], pod_labels: dict[str, str], nodes: list[Node], pods: list[Pod]) -> Optional[str]:
    """Place one pod on the feasible node with the fewest of its kind (or None: Pending)."""
    options = [n for n in nodes if feasible(pod_spec, pod_labels, n, nodes, pods)]
    if not options:
        return None
    best = min(options, key=lambda n: (sum(1 for p in pods if p.node == n.name), n.name))
    pods.append(Pod(dict(pod_labels), best.name))
    return best.name


def roll_out(deployment: dict[str, Any], nodes: list[Node], replicas: int) -> tuple[int, int]:
    """Schedule ``replicas`` pods of revision 1, then the surge pods of revision 2 (maxSurge of
    the Deployment, maxUnavailable 0: the old pods are still running). Returns (placed, surge placed)."""
    template = deployment["spec"]["template"]
    pod_spec, labels = template["spec"], template["metadata"]["labels"]
    pods: list[Pod] = []
    placed = sum(schedule(pod_spec, {**labels, "pod-template-hash": "rev1"}, nodes, pods) is not None
                 for _ in range(replicas))
    surge_setting = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
    surge = math.ceil(replicas * int(str(surge_setting).rstrip("%")) / 100) if str(surge_setting).endswith("%") \
        else int(surge_setting)
    surged = sum(schedule(pod_spec, {**labels, "pod-template-hash": "rev2"}, nodes, pods) is not None
                 for _ in range(surge))
    return placed - replicas + surged - surge, surge


# ------------------------------------------------------------------------------ fixtures

_PLANS: dict[str, Any] = {}


def _plan(stack: str):
    if stack not in _PLANS:
        _PLANS[stack] = planned(stack)
    return _PLANS[stack]


def _deployments(stack: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m.cluster, m.name): m.object_raw for m in _plan(stack).manifests if m.kind == "Deployment"}


CASES = [("prod-azure", "prod-azure"), ("prod-aws", "prod-aws"), ("prod-gcp", "prod-gcp")]


@pytest.mark.parametrize("stack,cluster", CASES)
def test_max_replicas_and_surge_fit_on_the_example_pools(stack, cluster):
    spec = load_spec(stack_config(stack))
    nodes = nodes_of(spec, cluster)
    checked = 0
    for service in spec.services:
        deployment = _deployments(stack)[(cluster, service.name)]
        most = service.autoscale.max or 3 * service.replicas
        missing, surge = roll_out(deployment, nodes, most)
        assert surge >= 1
        assert missing == 0, f"{service.name}: {-missing} of {most} replicas + {surge} surge pods stay Pending on {cluster}"
        checked += 1
    assert checked == len(spec.services) > 0


def test_the_model_sees_the_defect_the_fix_removes():
    """Without nodeTaintsPolicy Honor and matchLabelKeys (Kubernetes' defaults), the AKS system
    pool's empty tainted nodes hold the global minimum at 0: one pod per user node, then Pending."""
    spec = load_spec(stack_config("prod-azure"))
    nodes = nodes_of(spec, "prod-azure")
    deployment = copy.deepcopy(_deployments("prod-azure")[("prod-azure", "api")])
    for c in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        c.pop("nodeTaintsPolicy", None)
        c.pop("matchLabelKeys", None)
    missing, _ = roll_out(deployment, nodes, 12)
    assert missing < 0


def test_surge_pods_spread_among_their_own_revision():
    """matchLabelKeys [pod-template-hash]: with every node holding one old pod and the nodes as
    many as the replicas, the new revision's pods still fit (they are counted on their own)."""
    deployment = _deployments("prod-aws")[("prod-aws", "web")]
    nodes = [Node(f"n{i}", {"kubernetes.io/hostname": f"n{i}"}) for i in range(3)]
    assert roll_out(deployment, nodes, 3)[0] == 0
    without = copy.deepcopy(deployment)
    for c in without["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        c.pop("matchLabelKeys", None)
    # Counted with the old pods, the surge pod still fits here (3 nodes, skew 1): the key matters
    # once old pods are unevenly placed, which the test below builds.
    pods = [Pod({**deployment["spec"]["template"]["metadata"]["labels"], "pod-template-hash": "rev1"}, n)
            for n in ("n0", "n0", "n1")]
    spec_with = deployment["spec"]["template"]["spec"]
    labels_new = {**deployment["spec"]["template"]["metadata"]["labels"], "pod-template-hash": "rev2"}
    assert feasible(spec_with, labels_new, nodes[0], nodes, pods)
    assert not feasible(without["spec"]["template"]["spec"], labels_new, nodes[0], nodes, pods)


@pytest.mark.parametrize("target", ["aws", "gcp", "azure"])
def test_spot_false_stays_off_spot_nodes_and_spot_true_may_use_them(target):
    """Per-service choice (issue 13 item 5): a spot node is never chosen for ``spot: false``;
    ``spot: true`` tolerates AKS's spot taint and can run on spot-only capacity."""
    from fleetform.config import ServiceSpec
    from fleetform.workloads.pod import deployment_spec
    from fleetform.plan.mocks import plain

    key, value = SPOT_LABEL[target]
    taints = [dict(AKS_SPOT_TAINT)] if target == "azure" else []
    spot_nodes = [Node(f"spot-{i}", {key: value, "kubernetes.io/hostname": f"spot-{i}"}, taints) for i in range(2)]
    regular = [Node("od-0", {"kubernetes.io/hostname": "od-0"})]

    def rendered(spot: bool) -> dict[str, Any]:
        svc = ServiceSpec.model_validate({"name": "web", "image": "ghcr.io/acme/web:1.0", "port": 8080, "spot": spot})
        return {"spec": _camel(plain(deployment_spec(svc), mask=False))}

    off = rendered(False)
    assert roll_out(off, spot_nodes, 2)[0] < 0  # nothing fits on spot-only capacity
    pods: list[Pod] = []
    labels = off["spec"]["template"]["metadata"]["labels"]
    assert schedule(off["spec"]["template"]["spec"], labels, spot_nodes + regular, pods) == "od-0"
    on = rendered(True)
    assert roll_out(on, spot_nodes, 2)[0] == 0


def _camel(value: Any) -> Any:
    """snake_case ArgsDict keys as the API spells them (the provider does the same on the wire)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            head, *rest = k.split("_")
            out[head + "".join(w[:1].upper() + w[1:] for w in rest)] = _camel(v)
        return out
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value
