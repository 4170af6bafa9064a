"""Rules that need the whole stack: relations between resources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .base import WORKLOAD_TYPES, Rule, StackResource, dig, items, pod_metadata


def _selects(selector: Any, pod_labels: Mapping[str, Any]) -> bool:
    """Whether a LabelSelector selects ``pod_labels`` (matchLabels and matchExpressions)."""
    for key, value in (dig(selector, "matchLabels", default={}) or {}).items():
        if pod_labels.get(key) != value:
            return False
    for expr in items(dig(selector, "matchExpressions")):
        key, op = dig(expr, "key"), dig(expr, "operator")
        values = [str(v) for v in items(dig(expr, "values"))]
        present = key in pod_labels
        if op == "In" and not (present and str(pod_labels[key]) in values):
            return False
        if op == "NotIn" and present and str(pod_labels[key]) in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _what(r: StackResource) -> str:
    return f"{r.type.rsplit(':', 1)[-1]} {dig(r.props, 'metadata', 'name', default=r.name)}"


def _namespace(props: Mapping[str, Any]) -> str:
    return str(dig(props, "metadata", "namespace", default="default"))


def _selectors(resources: Sequence[StackResource], type_: str, *path: str) -> dict[str, list[Any]]:
    """Namespace -> the selectors (at ``path`` of the spec) of every ``type_`` resource in it."""
    by_namespace: dict[str, list[Any]] = {}
    for r in resources:
        if r.type == type_:
            by_namespace.setdefault(_namespace(r.props), []).append(dig(r.props, "spec", *path, default={}))
    return by_namespace


def _workload_netpol(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    selectors = {
        ns: [s for s in found if dig(s, "matchLabels") or dig(s, "matchExpressions")]
        # A namespace-wide default-deny alone does not describe the workload's traffic.
        for ns, found in _selectors(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "podSelector").items()
    }
    for r in resources:
        if r.type not in WORKLOAD_TYPES:
            continue
        pod_labels = dig(pod_metadata(r.type, r.props), "labels", default={}) or {}
        ns = _namespace(r.props)
        if not any(_selects(s, pod_labels) for s in selectors.get(ns, ())):
            yield r.urn, f"no NetworkPolicy selects the pods of {_what(r)} in namespace {ns}"


def _pdb_per_deployment(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    selectors = _selectors(resources, "kubernetes:policy/v1:PodDisruptionBudget", "selector")
    for r in resources:
        if r.type not in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            continue
        pod_labels = dig(pod_metadata(r.type, r.props), "labels", default={}) or {}
        if not any(_selects(s, pod_labels) for s in selectors.get(_namespace(r.props), ())):
            yield r.urn, f"no PodDisruptionBudget covers {_what(r)}"


RULES = [
    Rule("k8s-workload-network-policy", "Every workload is selected by a NetworkPolicy of its own (not only a "
         "namespace-wide default deny).", "medium", "kube-score pod-networkpolicy", "mandatory",
         stack_check=_workload_netpol, types=WORKLOAD_TYPES),
    Rule("k8s-pdb-per-workload", "Every Deployment/StatefulSet is covered by a PodDisruptionBudget.", "low",
         "kube-score deployment-has-poddisruptionbudget", "advisory", stack_check=_pdb_per_deployment,
         types=("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")),
]
