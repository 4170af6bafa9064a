"""Rules that need the whole stack: relations between resources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from .base import POD_OWNERS, Rule, StackResource, dig, items, pod_metadata


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


def _by_namespace(resources: Sequence[StackResource], type_: str) -> dict[str, list[StackResource]]:
    """Namespace -> the ``type_`` resources in it (so each workload is matched against its own
    namespace's, not the whole stack's)."""
    found: dict[str, list[StackResource]] = {}
    for r in resources:
        if r.type == type_:
            found.setdefault(_namespace(r.props), []).append(r)
    return found


def _workload_netpol(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    policies: Optional[dict[str, list[StackResource]]] = None  # read only once a workload needs them
    for r in resources:
        if r.type not in POD_OWNERS:  # a *Patch or PodTemplate runs no pods of its own
            continue
        if policies is None:
            policies = _by_namespace(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy")
        pod_labels = dig(pod_metadata(r.type, r.props), "labels", default={}) or {}
        ns = _namespace(r.props)
        covered = any(
            _selects(dig(p.props, "spec", "podSelector", default={}), pod_labels)
            # A namespace-wide default-deny alone does not describe the workload's traffic.
            and (dig(p.props, "spec", "podSelector", "matchLabels") or dig(p.props, "spec", "podSelector", "matchExpressions"))
            for p in policies.get(ns, ())
        )
        if not covered:
            yield r.urn, f"no NetworkPolicy selects the pods of {_what(r)} in namespace {ns}"


def _pdb_per_deployment(resources: Sequence[StackResource], _c: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    pdbs: Optional[dict[str, list[StackResource]]] = None  # read only once a workload needs them
    for r in resources:
        if r.type not in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet"):
            continue
        if pdbs is None:
            pdbs = _by_namespace(resources, "kubernetes:policy/v1:PodDisruptionBudget")
        pod_labels = dig(pod_metadata(r.type, r.props), "labels", default={}) or {}
        # "A null selector will match no pods, while an empty ({}) selector will select all pods
        # within the namespace" (policy/v1 PodDisruptionBudgetSpec.selector, the API reference).
        if not any(dig(p.props, "spec", "selector") is not None
                   and _selects(dig(p.props, "spec", "selector", default={}), pod_labels)
                   for p in pdbs.get(_namespace(r.props), ())):
            yield r.urn, f"no PodDisruptionBudget covers {_what(r)}"


RULES = [
    Rule("k8s-workload-network-policy", "Every workload is selected by a NetworkPolicy of its own (not only a "
         "namespace-wide default deny).", "medium", "kube-score pod-networkpolicy", "mandatory",
         stack_check=_workload_netpol, types=POD_OWNERS),
    Rule("k8s-pdb-per-workload", "Every Deployment/StatefulSet is covered by a PodDisruptionBudget.", "low",
         "kube-score deployment-has-poddisruptionbudget", "advisory", stack_check=_pdb_per_deployment,
         types=("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet")),
]
