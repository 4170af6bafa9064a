"""A cluster of the fleet: :class:`ClusterSpec` and its parts, and what each target and cloud allows.

Its parts: the network (:class:`NetworkSpec`), the API and masters (:class:`ControlPlaneSpec`),
worker pools (:class:`NodePoolSpec`, with :class:`~fleetform.config.nodes.Taint`), how to reach an
existing cluster (:class:`ExistingSpec`) and where LoadBalancer Services get addresses
(:class:`LoadBalancerSpec`); the onprem parts are in :mod:`.onprem`. The cross-field rules per
target, and each cloud's naming rules for regions, tags and pool names, are checked here.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .errors import _problem, _raise_all
from .nodes import Taint, _node_labels
from .naming import cloud_naming_problems
from .network import NetworkSpec, RouteSpec, private_access_problems
from .onprem import HostSpec, InstallSpec, SshSpec, _ApiAddress
from .values import (
    CLOUD_TARGETS,
    DEFAULT_NODE_SIZE,
    K3S_NETWORKS,
    _DNS_LABEL,
    _dns_label,
    _Model,
    KubernetesVersion,
)

_REGIONS = {
    # Region name shapes as the clouds spell them (aws: us-east-1, us-gov-west-1; gcp: europe-west4;
    # azure: westeurope, eastus2). Shape, not membership: new regions keep working.
    "aws": (re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"), "an AWS region such as us-east-1"),
    "gcp": (re.compile(r"^[a-z]+-[a-z]+[0-9]$"), "a GCP region such as europe-west4"),
    "azure": (re.compile(r"^[a-z]+[a-z0-9]*$"), "an Azure region such as westeurope"),
}


class ControlPlaneSpec(_Model):
    """The Kubernetes API: masters for self-managed clusters, endpoint access for all."""

    count: int = Field(default=3, description="Masters of a self-managed cluster: 1, or 3 for HA (etcd needs an odd quorum).")
    size: Optional[str] = Field(default=None, description="Master machine size (self-managed), e.g. m6i.large.")
    public_access: bool = Field(
        default=False,
        description="Expose the API endpoint publicly, only to apiAllowedCidrs. Off by default: the API is private.",
    )
    api_allowed_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the API: a public endpoint's only sources; on self-managed clusters "
        "also admitted to the internal API load balancer (e.g. VPN ranges).",
    )

    private_access_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list,
        description="Networks outside the cluster's VPC/VNet that reach the private API endpoint (VPN ranges, "
        "peered networks, a self-hosted runner's network): EKS admits them to the API security group, GKE to the "
        "master authorized networks (with global access), AKS gets a public DNS name resolving to the private "
        "address. The endpoint stays private. Private ranges only (RFC 1918 or 100.64.0.0/10): a runner on a "
        "public address reaches the API through publicAccess and apiAllowedCidrs.",
    )

    @field_validator("api_allowed_cidrs", "private_access_cidrs", mode="after")
    @classmethod
    def _not_everyone(cls, v: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        if any(c.prefixlen == 0 for c in v):
            raise _problem("CIDRs narrower than 0.0.0.0/0 (the API is never open to everyone)")
        return v

    @field_validator("private_access_cidrs", mode="after")
    @classmethod
    def _private_ranges(cls, v: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        # What reaches a private endpoint comes over a peering, a VPN or an interconnect with
        # private addresses; GKE refuses public ranges in a private endpoint's authorized networks.
        shared = ipaddress.IPv4Network("100.64.0.0/10")
        if any(not (c.is_private or c.subnet_of(shared)) for c in v):
            raise _problem("private ranges (RFC 1918 or 100.64.0.0/10); a runner on a public address reaches the "
                           "API through publicAccess and apiAllowedCidrs")
        return v

    @field_validator("count", mode="after")
    @classmethod
    def _odd_quorum(cls, v: int) -> int:
        if v not in (1, 3):
            raise _problem("1 or 3 (embedded etcd needs an odd quorum; 2 masters tolerate no more failures than 1)")
        return v

    @model_validator(mode="after")
    def _public_needs_cidrs(self) -> "ControlPlaneSpec":
        if self.public_access and not self.api_allowed_cidrs:
            raise _problem(
                "at least one CIDR when publicAccess is true (the public endpoint is never open to all by default)",
                key="apiAllowedCidrs",
                got=[],
            )
        return self

class NodePoolSpec(_Model):
    """A group of worker nodes sharing size, labels and taints, autoscaled between min and max."""

    name: str = Field(description="Pool name, a DNS-1123 label unique within the cluster.")
    size: str = Field(min_length=1, description="Instance/machine/VM size, e.g. m6i.large, e2-standard-4, Standard_D4s_v5.")
    min: int = Field(default=2, ge=0, le=1000, description="Fewest nodes the autoscaler keeps.")
    max: int = Field(default=6, ge=1, le=1000, description="Most nodes the autoscaler adds.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes labels put on the pool's nodes.")
    taints: list[Taint] = Field(default_factory=list, description="Taints put on the pool's nodes.")
    spot: bool = Field(default=False, description="Use spot/preemptible capacity.")
    disk_gb: int = Field(default=50, ge=20, le=4096, description="Encrypted root disk size in GiB.")

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, 24)

    @field_validator("labels", mode="after")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return _node_labels(v)

    @model_validator(mode="after")
    def _bounds(self) -> "NodePoolSpec":
        if self.min > self.max:
            raise _problem(f"at most max ({self.max})", key="min", got=self.min)
        return self


class ExistingSpec(_Model):
    """How to reach a cluster fleetform does not provision (target ``existing``)."""

    kubeconfig: Optional[str] = Field(
        default=None,
        description="Path to a kubeconfig file; default: $KUBECONFIG, else ~/.kube/config.",
    )
    context: Optional[str] = Field(default=None, description="Context in the kubeconfig; default: its current context.")

    @field_validator("kubeconfig", mode="after")
    @classmethod
    def _a_path(cls, v: Optional[str]) -> Optional[str]:
        # The Kubernetes provider also takes a kubeconfig's content here; fleetform does not: the
        # content would sit in plain text in the stack file and in the provider's inputs.
        if v is not None and ("\n" in v or v.lstrip().startswith(("apiVersion", "{")) or not v.strip()):
            raise _problem(
                "a path to a kubeconfig file, not its content (point $KUBECONFIG or this key at a file)",
                hide=True,
            )
        return v


class LoadBalancerSpec(_Model):
    """Where LoadBalancer Services get their addresses on clusters without a cloud LB fleetform
    manages (onprem, existing)."""

    provider: Literal["servicelb", "metallb", "cloud", "none"] = Field(
        default="servicelb",
        description="servicelb (k3s' built-in ServiceLB), metallb (an installed MetalLB), cloud (target existing "
        "only: the cluster's own cloud controller serves LoadBalancer Services, e.g. an EKS, GKE or AKS cluster) or "
        "none (target existing only: nothing hands out load-balancer addresses, e.g. kind or minikube without a "
        "tunnel; public services stay ClusterIP, reached with kubectl port-forward, and nothing waits for an address).",
    )
    public_pool: Optional[str] = Field(default=None, description="MetalLB address pool for public services.")
    internal_pool: Optional[str] = Field(default=None, description="MetalLB address pool for internal services.")
    public_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="With provider cloud: annotations of public services' Services (the cloud's own, e.g. the "
        "AWS Load Balancer Controller's scheme and target type).",
    )
    internal_annotations: dict[str, str] = Field(
        default_factory=dict,
        description="With provider cloud: annotations that make the cloud's load balancer internal (required for "
        "expose: internal), e.g. networking.gke.io/load-balancer-type: Internal.",
    )

    @model_validator(mode="after")
    def _pools_need_metallb(self) -> "LoadBalancerSpec":
        found: list[tuple[Any, Any, str]] = []
        for key, pool in (("publicPool", self.public_pool), ("internalPool", self.internal_pool)):
            if pool is not None:
                if self.provider != "metallb":
                    found.append((key, pool, "only with provider: metallb (ServiceLB and cloud load balancers have "
                                             "no MetalLB address pools)"))
                elif not _DNS_LABEL.fullmatch(pool):
                    found.append((key, pool, "a MetalLB IPAddressPool name (DNS-1123 label)"))
        for key, annotations in (("publicAnnotations", self.public_annotations),
                                 ("internalAnnotations", self.internal_annotations)):
            if annotations and self.provider != "cloud":
                found.append((key, "{...}", "only with provider: cloud"))
        _raise_all(found)
        return self

    def internal_problem(self) -> Optional[str]:
        """Why an ``expose: internal`` Service would not be internal with this load balancer, or None.

        k3s's ServiceLB (https://docs.k3s.io/networking/networking-services#service-load-balancer)
        runs a svclb DaemonSet listening with host ports on the nodes and reports the nodes' own
        addresses as the Service's: public or internal, the same node IPs answer (its lbpool node
        labels choose which nodes, not private addresses). MetalLB gives a Service an address from
        the pool its metallb.io/address-pool annotation names (https://metallb.io/usage/), else from
        an auto-assigned pool: without an internalPool, the public ones'. A cloud controller makes
        an internet-facing load balancer unless the cloud's own annotation says internal."""
        if self.provider == "servicelb":
            return "servicelb answers on the nodes' own addresses for public and internal Services alike"
        if self.provider == "metallb" and not self.internal_pool:
            return "metallb has no internalPool, so internal Services get addresses from the public pools"
        if self.provider == "cloud" and not self.internal_annotations:
            return "the cloud's load balancer is internet-facing unless internalAnnotations make it internal"
        if self.provider == "none":
            return "provider none gives services no load-balancer address at all"
        return None


class ClusterSpec(_Model):
    """One Kubernetes cluster of the fleet."""

    name: str = Field(description="Cluster name, a DNS-1123 label unique in the fleet; prefixes its resources' names.")
    target: Literal["aws", "gcp", "azure", "onprem", "existing"] = Field(
        description="Where it runs: aws | gcp | azure | onprem | existing."
    )
    mode: Optional[Literal["managed", "self-managed"]] = Field(
        default=None,
        description="managed (EKS/GKE/AKS) or self-managed (fleetform's own masters and workers). "
        "Default: managed on clouds, self-managed on onprem; none for existing.",
    )
    region: Optional[str] = Field(default=None, description="Cloud region (required on aws, gcp, azure).")
    kubernetes_version: Optional[KubernetesVersion] = Field(
        default=None, description="Kubernetes minor version, e.g. \"1.32\"; default: fleetform:kubernetesVersion."
    )
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="The cluster's network (clouds).")
    control_plane: ControlPlaneSpec = Field(default_factory=ControlPlaneSpec, description="API endpoint and masters.")
    node_pools: Optional[list[NodePoolSpec]] = Field(
        default=None, description="Worker pools (clouds); default: one pool named general."
    )
    existing: Optional[ExistingSpec] = Field(default=None, description="Connection to an existing cluster (target existing).")
    load_balancer: LoadBalancerSpec = Field(
        default_factory=LoadBalancerSpec, description="LoadBalancer address source on onprem/existing clusters."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags/labels put on the cluster's cloud resources.")
    hosts: Optional[list[HostSpec]] = Field(
        default=None, description="The existing machines of an onprem cluster: its masters and workers (target onprem)."
    )
    ssh: SshSpec = Field(default_factory=SshSpec, description="How fleetform reaches the hosts over SSH (target onprem).")
    install: InstallSpec = Field(
        default_factory=InstallSpec, description="Where the hosts get k3s from: internet, mirror or air-gapped files (target onprem)."
    )
    vip: Optional[_ApiAddress] = Field(
        default=None,
        description="Fixed registration address of the API (target onprem): a virtual IP or load balancer forwarding "
        "TCP 6443 to the masters. Required with 3 masters; default with 1 master: its address.",
    )

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, 24)

    @model_validator(mode="after")
    def _rules(self) -> "ClusterSpec":
        # Every independent problem at once: the target's rules, then the onprem ones.
        _raise_all(self._target_problems() + self._onprem_problems())
        return self

    def _target_problems(self) -> list[tuple[Any, Any, str]]:
        found: list[tuple[Any, Any, str]] = []
        t = self.target
        if t == "existing":
            if self.mode is not None:
                found.append(("mode", self.mode, "no mode for target existing (fleetform provisions nothing there)"))
            for key, value in (("region", self.region), ("nodePools", self.node_pools)):
                if value is not None:
                    found.append((key, value if isinstance(value, str) else "[...]",
                                  "nothing for target existing (fleetform provisions nothing there)"))
        else:
            if self.existing is not None:
                found.append(("existing", "{...}", "only for target existing"))
        if t == "onprem" and self.mode == "managed":
            found.append(("mode", "managed", "self-managed for target onprem (there is no managed Kubernetes on your hosts)"))
        if t in CLOUD_TARGETS:
            pattern, what = _REGIONS[t]
            if self.region is None:
                found.append(("region", None, what + " (required for target " + t + ")"))
            elif not pattern.fullmatch(self.region):
                found.append(("region", self.region, what))
        elif self.region is not None and t == "onprem":
            found.append(("region", self.region, "nothing for target onprem"))
        if t in ("onprem", "existing"):
            # Cloud-only settings would be silently ignored on hosts fleetform did not create.
            unused = [("network", self.network != NetworkSpec(), "{...}"), ("tags", bool(self.tags), "{...}")]
            plane = self.control_plane
            if t == "existing":
                unused.append(("controlPlane", plane != ControlPlaneSpec(), "{...}"))
            else:
                unused += [("controlPlane.size", plane.size is not None, plane.size),
                           ("controlPlane.publicAccess", plane.public_access, True),
                           ("controlPlane.apiAllowedCidrs", bool(plane.api_allowed_cidrs), "[...]"),
                           ("controlPlane.privateAccessCidrs", bool(plane.private_access_cidrs), "[...]")]
            why = "fleetform provisions nothing there" if t == "existing" else "a cloud setting: the hosts are yours"
            for key, is_set, shown in unused:
                if is_set:
                    found.append((key, shown, f"nothing for target {t} ({why})"))
        plane = self.control_plane
        if t in CLOUD_TARGETS and self.effective_mode == "managed" and plane.api_allowed_cidrs and not plane.public_access:
            found.append(("controlPlane.apiAllowedCidrs", "[...]", "nothing while publicAccess is false on a managed "
                          "cluster (they are the public endpoint's sources; list private networks in privateAccessCidrs)"))
        if t in CLOUD_TARGETS and self.effective_mode == "managed":
            found += private_access_problems(self.control_plane.private_access_cidrs, self.network, self.target)
        if t in ("gcp", "azure") and self.network.routes:
            found.append(("network.routes", "[...]", f"nothing for target {t} (a peering exchanges routes itself; "
                                                     "routes are for aws, whose route tables need them)"))
        if t in CLOUD_TARGETS and self.effective_mode == "self-managed" and self.control_plane.private_access_cidrs:
            found.append(("controlPlane.privateAccessCidrs", "[...]",
                          "nothing for a self-managed cluster (list VPN and peered ranges in apiAllowedCidrs: they are "
                          "admitted to its internal API load balancer)"))
        if t not in ("onprem", "existing") and self.load_balancer != LoadBalancerSpec():
            found.append(("loadBalancer", "{...}", "only for targets onprem and existing (clouds use their own load balancers)"))
        if t == "onprem" and self.load_balancer.provider in ("cloud", "none"):
            why = ("no cloud controller serves your hosts" if self.load_balancer.provider == "cloud"
                   else "fleetform installs k3s there, whose ServiceLB hands out addresses")
            found.append(("loadBalancer.provider", self.load_balancer.provider,
                          f"servicelb or metallb for target onprem ({why})"))
        if self.node_pools is not None:
            if t in CLOUD_TARGETS and not self.node_pools:
                found.append(("nodePools", [], "at least one node pool"))
            seen: set[str] = set()
            for i, pool in enumerate(self.node_pools):
                if pool.name in seen:
                    found.append((f"nodePools[{i}].name", pool.name, "a name not used by another pool of this cluster"))
                seen.add(pool.name)
        found += cloud_naming_problems(self)
        if t in CLOUD_TARGETS and self.effective_mode == "self-managed" \
                and any(self.network.cidr.overlaps(k3s_net) for k3s_net in K3S_NETWORKS):
            found.append(("network.cidr", str(self.network.cidr),
                          "a CIDR that does not overlap k3s's pod and service networks (10.42.0.0/16, 10.43.0.0/16)"))
        if t in CLOUD_TARGETS:
            from ..network.cidr import capacity_problem

            max_nodes = sum(p.max for p in self.effective_node_pools) + (
                self.control_plane.count if self.effective_mode == "self-managed" else 0
            ) + (AKS_SYSTEM_NODES if t == "azure" and self.effective_mode == "managed" else 0)
            problem = capacity_problem(t, self.network.cidr, self.network.zones, max_nodes)
            if problem and not any(key == "network.cidr" for key, _, _ in found):
                found.append(("network.cidr", str(self.network.cidr), problem))
        return found

    def _onprem_problems(self) -> list[tuple[Any, Any, str]]:
        found: list[tuple[Any, Any, str]] = []
        if self.target != "onprem":
            for key, value, default in (("hosts", self.hosts, None), ("vip", self.vip, None),
                                        ("ssh", self.ssh, SshSpec()), ("install", self.install, InstallSpec())):
                if value != default:
                    shown = str(value) if key == "vip" else "[...]" if key == "hosts" else "{...}"
                    found.append((key, shown, "only for target onprem"))
            return found
        if self.node_pools is not None:
            found.append(("nodePools", "[...]", "nothing for target onprem (list the workers in hosts)"))
        if not self.hosts:
            found.append(("hosts", self.hosts,
                          "the cluster's existing machines, at least one with role master (required for target onprem)"))
            return found
        names: set[str] = set()
        addresses: set[ipaddress.IPv4Address] = set()
        for i, host in enumerate(self.hosts):
            if host.name in names:
                found.append((f"hosts[{i}].name", host.name, "a name not used by another host of this cluster"))
            if host.address in addresses:
                found.append((f"hosts[{i}].address", str(host.address), "an address not used by another host of this cluster"))
            names.add(host.name)
            addresses.add(host.address)
            if self.ssh.verify_host_keys and host.host_key is None:
                found.append((f"hosts[{i}].hostKey", None,
                              "the host's SSH public key (ssh-keyscan -t ed25519 <address>), or ssh.verifyHostKeys: false"))
        masters = [h for h in self.hosts if h.role == "master"]
        quorum_ok = False
        if "count" in self.control_plane.model_fields_set:
            if len(masters) != self.control_plane.count:
                found.append(("controlPlane.count", self.control_plane.count,
                              f"the number of hosts with role master ({len(masters)} listed)"))
            else:
                quorum_ok = True
        elif len(masters) not in (1, 3):
            found.append(("hosts", f"{len(masters)} masters", "1 or 3 hosts with role master (embedded etcd needs an odd quorum)"))
        else:
            quorum_ok = True
        if quorum_ok and len(masters) > 1:  # the vip's rules follow from a quorum of 3
            if self.vip is None:
                found.append(("vip", None,
                              "the API's fixed registration address: a virtual IP or load balancer forwarding TCP 6443 to the "
                              "masters (required with 3 masters)"))
            elif self.vip in addresses:
                found.append(("vip", str(self.vip),
                              "an address of no host (with 3 masters the API address must outlive any one master)"))
        return found

    @property
    def masters(self) -> list[HostSpec]:
        """The onprem hosts with role master, in config order (the first one initialises etcd)."""
        return [h for h in self.hosts or [] if h.role == "master"]

    @property
    def workers(self) -> list[HostSpec]:
        """The onprem hosts with role worker, in config order."""
        return [h for h in self.hosts or [] if h.role == "worker"]

    @property
    def registration_address(self) -> Optional[str]:
        """The onprem API address: the vip, else the only master's address (None off onprem)."""
        if self.vip is not None:
            return str(self.vip)
        masters = self.masters
        return str(masters[0].address) if len(masters) == 1 else None

    @property
    def effective_node_pools(self) -> list[NodePoolSpec]:
        """The node pools after defaults: one pool named general on clouds when none is given.

        A self-managed cluster's spot pools carry :data:`SELF_MANAGED_SPOT_LABEL` besides their own
        labels: the clouds label spot nodes only in their managed Kubernetes, and the pods of
        services without ``spot: true`` keep off nodes with that label (workloads/pod.py)."""
        if self.node_pools is not None:
            if self.effective_mode == "self-managed" and self.target in CLOUD_TARGETS:
                key, value = SELF_MANAGED_SPOT_LABEL
                return [p.model_copy(update={"labels": {**p.labels, key: value}}) if p.spot else p
                        for p in self.node_pools]
            return list(self.node_pools)
        if self.target in CLOUD_TARGETS:
            return [NodePoolSpec(name="general", size=DEFAULT_NODE_SIZE[self.target])]
        return []

    @property
    def version_table(self) -> Optional[str]:
        """The row of the Kubernetes version table this cluster is held to: eks, gke or aks (managed
        clouds), k3s (self-managed and onprem), None (existing: any minor fleetform accepts)."""
        if self.target == "existing":
            return None
        if self.effective_mode == "self-managed":
            return "k3s"
        return {"aws": "eks", "gcp": "gke", "azure": "aks"}[self.target]

    @property
    def effective_mode(self) -> Optional[str]:
        """The mode after defaults: managed on clouds, self-managed on onprem, None for existing."""
        if self.target == "existing":
            return None
        if self.mode is not None:
            return self.mode
        return "self-managed" if self.target == "onprem" else "managed"


MAX_AZURE_ZONES = 3
SELF_MANAGED_SPOT_LABEL = ("fleetform.io/capacity-type", "spot")
"""The node label of a self-managed cloud cluster's spot pools (key, value)."""
AKS_SYSTEM_NODES = 3
"""Nodes of the system pool fleetform adds to every AKS cluster (components/fleetform/cluster/aks.py)."""
