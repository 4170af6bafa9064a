"""fleetform: Kubernetes fleets on Pulumi — clusters on AWS, GCP, Azure, on-prem or existing, and
the same microservices, load balanced and health checked, on every one.

The public API (everything else is internal, and may change between releases):

- :class:`Fleet`, :func:`program`: the whole program of a stack (what ``stacks/__main__.py`` runs);
- :class:`FleetSpec`, :class:`ClusterSpec`, :class:`ServiceSpec`, :func:`load_spec`: the validated
  configuration (``fleetform:*`` stack config), usable from Python too;
- :class:`Microservice`, :class:`AppNamespace`: the workload components, usable on their own on any
  ``pulumi_kubernetes.Provider``;
- :func:`build_cluster` and the cluster classes in :mod:`fleetform.cluster` (``ExistingCluster``,
  ``EksCluster``, ``GkeCluster``, ``AksCluster``, ``SelfManagedAwsCluster``, ...);
- :mod:`fleetform.testing`: the offline plan engine for a user's own program (pytest).

Names are imported on first use, not with the package: ``import fleetform`` costs nothing and a
stack for one cloud never imports another cloud's SDK. The policy rules are the package
:mod:`fleetform_policies` (source: ``policies/fleetform_policies``, beside the CrossGuard pack
that runs them), installed with fleetform.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import Cluster, ClusterContext, FrontedService, build_cluster
    from .config import ClusterSpec, FleetConfigError, FleetSpec, ServiceSpec, load_spec
    from .fleet import Fleet, program
    from .workloads import AppNamespace, Microservice

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    "Fleet": "fleetform.fleet",
    "program": "fleetform.fleet",
    "FleetSpec": "fleetform.config",
    "ClusterSpec": "fleetform.config",
    "ServiceSpec": "fleetform.config",
    "FleetConfigError": "fleetform.config",
    "load_spec": "fleetform.config",
    "Microservice": "fleetform.workloads",
    "AppNamespace": "fleetform.workloads",
    "build_cluster": "fleetform.cluster",
    "Cluster": "fleetform.cluster",
    "ClusterContext": "fleetform.cluster",
    "FrontedService": "fleetform.cluster",
}

__all__ = [
    "AppNamespace", "Cluster", "ClusterContext", "ClusterSpec", "Fleet", "FleetConfigError", "FleetSpec",
    "FrontedService", "Microservice", "ServiceSpec", "build_cluster", "load_spec", "program",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'fleetform' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
