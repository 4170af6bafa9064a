"""Clusters: one module per target, all with the face of :class:`fleetform.cluster.base.Cluster`.

The target → module map is resolved lazily, so a stack for one cloud never imports another
cloud's SDK (DESIGN §3). A target whose module is not built yet raises
:class:`TargetNotImplemented` naming the cluster's config key.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any, Optional

import pulumi

from .base import Cluster, ClusterContext, FrontedService

if TYPE_CHECKING:
    from ..config import ClusterSpec
    from .aks import AksCluster
    from .eks import EksCluster
    from .existing import ExistingCluster
    from .gke import GkeCluster
    from .onprem import OnPremCluster
    from .selfmanaged_aws import SelfManagedAwsCluster
    from .selfmanaged_azure import SelfManagedAzureCluster
    from .selfmanaged_gcp import SelfManagedGcpCluster

__all__ = [
    "IMPLEMENTED", "AksCluster", "Cluster", "ClusterContext", "EksCluster", "ExistingCluster", "FrontedService",
    "GkeCluster", "OnPremCluster", "SelfManagedAwsCluster", "SelfManagedAzureCluster", "SelfManagedGcpCluster",
    "TargetNotImplemented", "build_cluster", "cluster_module",
]

# (target, mode) -> "module:Class". mode is None for `existing`. A module that does not exist
# yet means "not implemented yet" (see cluster_module).
IMPLEMENTED: dict[tuple[str, Optional[str]], str] = {
    ("existing", None): "fleetform.cluster.existing:ExistingCluster",
    ("aws", "managed"): "fleetform.cluster.eks:EksCluster",
    ("gcp", "managed"): "fleetform.cluster.gke:GkeCluster",
    ("azure", "managed"): "fleetform.cluster.aks:AksCluster",
    ("aws", "self-managed"): "fleetform.cluster.selfmanaged_aws:SelfManagedAwsCluster",
    ("gcp", "self-managed"): "fleetform.cluster.selfmanaged_gcp:SelfManagedGcpCluster",
    ("azure", "self-managed"): "fleetform.cluster.selfmanaged_azure:SelfManagedAzureCluster",
    ("onprem", "self-managed"): "fleetform.cluster.onprem:OnPremCluster",
}


_CLASSES = {ref.split(":")[1]: ref for ref in IMPLEMENTED.values()}


def __getattr__(name: str) -> Any:
    """The cluster classes (``from fleetform.cluster import EksCluster``), each imported on first
    use with its cloud's SDK and nothing else."""
    ref = _CLASSES.get(name)
    if ref is None:
        raise AttributeError(f"module 'fleetform.cluster' has no attribute {name!r}")
    module_name, class_name = ref.split(":")
    return getattr(importlib.import_module(module_name), class_name)


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
    """Build the cluster component for ``spec`` (its position ``index`` in ``fleetform:clusters``
    names it in errors), importing only its target's module. Every cluster class takes
    ``(name, spec, ctx, opts=...)`` and shows the face of :class:`Cluster`."""
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
