"""Clusters: one module per target, all with the face of :class:`components.cluster.base.Cluster`.

The target → module map is resolved lazily, so a stack for one cloud never imports another
cloud's SDK (DESIGN §3). A target whose module is not built yet raises
:class:`TargetNotImplemented` naming the cluster's config key.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Optional

import pulumi

from .base import Cluster, ClusterContext, FrontedService

if TYPE_CHECKING:
    from ..config import ClusterSpec

__all__ = ["Cluster", "ClusterContext", "FrontedService", "TargetNotImplemented", "build_cluster", "cluster_module", "IMPLEMENTED"]

# (target, mode) -> "module:Class". mode is None for `existing`. A module that does not exist
# yet means "not implemented yet" (see cluster_module).
IMPLEMENTED: dict[tuple[str, Optional[str]], str] = {
    ("existing", None): "components.cluster.existing:ExistingCluster",
    ("aws", "managed"): "components.cluster.eks:EksCluster",
    ("gcp", "managed"): "components.cluster.gke:GkeCluster",
    ("azure", "managed"): "components.cluster.aks:AksCluster",
    ("aws", "self-managed"): "components.cluster.selfmanaged_aws:SelfManagedAwsCluster",
    ("gcp", "self-managed"): "components.cluster.selfmanaged_gcp:SelfManagedGcpCluster",
    ("azure", "self-managed"): "components.cluster.selfmanaged_azure:SelfManagedAzureCluster",
    ("onprem", "self-managed"): "components.cluster.onprem:OnPremCluster",
}


class TargetNotImplemented(Exception):
    """The cluster's target/mode has no module yet (a later issue builds it)."""


def cluster_module(target: str, mode: Optional[str]) -> Optional[str]:
    """The ``module:Class`` that builds clusters of ``target``/``mode``, or None if not built yet.

    Only looks the module up (``find_spec``): nothing of a target is imported before it is used.
    """
    ref = IMPLEMENTED.get((target, mode))
    if ref is None:
        return None
    try:
        found = importlib.util.find_spec(ref.split(":")[0])
    except ModuleNotFoundError:
        found = None
    return ref if found is not None else None


def build_cluster(
    spec: "ClusterSpec", ctx: ClusterContext, index: int, opts: Optional[pulumi.ResourceOptions] = None
) -> Cluster:
    """Build the cluster component for ``spec``, importing only its target's module."""
    mode = spec.effective_mode
    ref = cluster_module(spec.target, mode)
    if ref is None:
        raise TargetNotImplemented(
            f"fleetform:clusters[{index}].target: target {spec.target!r} (mode {mode}) is not implemented yet; "
            f"implemented: {', '.join(sorted(t if m is None else f'{t}/{m}' for t, m in IMPLEMENTED if cluster_module(t, m)))}"
        )
    module_name, class_name = ref.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(spec.name, spec, ctx, opts=opts)
