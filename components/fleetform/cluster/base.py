"""The face every cluster component shows the rest of fleetform (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s


@dataclass(frozen=True)
class FrontedService:
    """A service a self-managed cloud cluster fronts with a load balancer of its own."""

    name: str
    expose: str
    """public or internal."""
    service_port: int
    """The load balancer's listener port."""
    node_port: int
    """The workers' NodePort the listener forwards to."""
    health_path: str
    """HTTP path of the load balancer's health check (against the NodePort)."""


@dataclass(frozen=True)
class ClusterContext:
    """Fleet-wide facts a cluster needs besides its own spec."""

    kubernetes_version: str
    """The cluster's Kubernetes minor version after defaults (e.g. "1.32")."""
    stack: str
    """The Pulumi stack name (for tags)."""
    services: tuple[FrontedService, ...] = ()
    """The services on this cluster exposed public or internal (self-managed clouds front them)."""


class Cluster(pulumi.ComponentResource):
    """Base of all cluster components.

    Subclasses set, before calling :meth:`_publish`:

    - ``provider``: a ``pulumi_kubernetes.Provider`` for this cluster, built from inputs that change
      only when the cluster really is a different cluster (its ``cluster_identifier`` is the cluster
      name), so node-pool or tag changes never replace it or the workloads on it;
    - ``kubeconfig``: ``Output[str]``, always secret;
    - ``endpoint``: ``Output[str]``, the API server URL;
    - ``target``: aws | gcp | azure | onprem | existing, which picks the load-balancer flavour;
    - ``self_managed``: whether fleetform runs the control plane (then, on a cloud, fleetform
      provisions service load balancers itself);
    - optionally ``details``: more per-cluster stack outputs (OIDC issuer, node pool names, ...),
      never secrets;
    - optionally ``service_addresses``: service name -> address of the load balancer the cluster
      provisioned for it (self-managed clouds), exported instead of the Service's own status;
    - optionally ``service_hosts``: service name -> that load balancer's bare host (IP or DNS name,
      no port) where ``service_addresses`` shows more (self-managed GCP: ``ip:port``); what DNS
      records and health checks point at (``fleetform.traffic``).
    """

    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    endpoint: pulumi.Output[str]
    target: str
    self_managed: bool
    kubernetes_version: str

    def __init__(self, type_token: str, name: str, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__(type_token, name, None, opts)
        self.cluster_name = name
        self.details: dict[str, pulumi.Input[Any]] = {}
        self.service_addresses: dict[str, pulumi.Input[str]] = {}
        self.service_hosts: dict[str, pulumi.Input[str]] = {}

    def _make_provider(self, *, depends_on: Sequence[pulumi.Resource] = (), **kwargs) -> k8s.Provider:
        """The cluster's Kubernetes provider, child of this component, replaced only if the cluster is.

        ``depends_on``: resources the API must wait for (a readiness gate, access grants); only
        their URNs enter the dependency graph, never their values.
        """
        return k8s.Provider(
            f"{self.cluster_name}-k8s",
            cluster_identifier=self.cluster_name,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(depends_on)),
            **kwargs,
        )

    def _publish(self) -> None:
        self.kubeconfig = pulumi.Output.secret(self.kubeconfig)
        self.register_outputs(
            {"endpoint": self.endpoint, "kubeconfig": self.kubeconfig, "target": self.target, **self.details}
        )
