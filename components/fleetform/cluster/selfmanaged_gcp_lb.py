"""Target ``gcp``, mode ``self-managed``: the load balancers and firewall rules (split from
:mod:`.selfmanaged_gcp`).

- **API load balancer**: an internal passthrough Network Load Balancer on TCP 6443 (regional
  backend service over one unmanaged instance group per zone, TCP health check), with global
  access: the cluster's fixed registration address, in every master's TLS SANs. With
  ``controlPlane.publicAccess`` an external passthrough Network Load Balancer is added for clients
  in ``apiAllowedCidrs`` (passthrough keeps the client address, so the firewall decides who gets
  in) and the kubeconfig points at it; the nodes keep registering through the internal one.
- **Service load balancers**: per service exposed ``public`` / ``internal``, a *regional
  external* / *regional internal proxy Network Load Balancer* (Envoy, target TCP proxy), owned by
  fleetform alone (the cloud-controller-manager's service controller is off). A passthrough load
  balancer cannot change the destination port, and the Kubernetes Service listens on
  ``nodePort`` (30000-32767), not on ``servicePort``; a proxy load balancer's forwarding rule may
  use one port and its backends another ("Port remapping",
  https://cloud.google.com/load-balancing/docs/proxy-network-load-balancer), here the worker
  groups' named port ``svc-<service>`` = the NodePort. The proxies, and the health checks, are the
  only sources that reach the workers: HTTP health checks on the NodePort and the service's
  health path from Google's probe ranges and the proxy-only subnet
  (https://cloud.google.com/load-balancing/docs/firewall-rules).
- **Firewall**: the VPC denies all ingress by default; fleetform opens only the API (6443 from
  the VPC and ``apiAllowedCidrs``), the health checks, and k3s's own ports between the cluster's
  nodes, matched by service account (https://docs.k3s.io/installation/requirements#networking):
  etcd 2379-2380 between masters, kubelet 10250 and flannel VXLAN UDP 8472 between all nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import pulumi
import pulumi_gcp as gcp

from ..bootstrap.script import API_PORT
from .base import FrontedService
from .selfmanaged_gcp_boot import gcp_name
from .selfmanaged_gcp_workers import port_name

if TYPE_CHECKING:
    from .selfmanaged_gcp import SelfManagedGcpCluster

INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "130.211.0.0/22")
"""Probe sources of internal passthrough NLB and regional proxy LB health checks
(https://cloud.google.com/load-balancing/docs/firewall-rules)."""
EXTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22")
"""Probe sources of backend-service-based external passthrough NLB health checks
(https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges)."""
PROXY_HEALTH_CHECK_RANGES = INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES
"""Regional proxy Network Load Balancers: Google's probe ranges, plus the proxy-only subnet."""

ETCD_PORTS = "2379-2380"
KUBELET_PORT = "10250"
FLANNEL_VXLAN_PORT = "8472"


def api_load_balancer(
    c: SelfManagedGcpCluster, name: str, *, internal: bool, groups: list[gcp.compute.InstanceGroup]
) -> gcp.compute.ForwardingRule:
    """A passthrough Network Load Balancer on TCP 6443 in front of the masters.

    Internal: https://cloud.google.com/load-balancing/docs/internal (scheme INTERNAL).
    External: https://cloud.google.com/load-balancing/docs/network/networklb-backend-service
    (scheme EXTERNAL, backend-service based, regional health check).

    The internal rule allows global access: "clients can access ILB from all regions", otherwise
    "only ... from clients in the same region as the internal load balancer" (the provider's
    ``allowGlobalAccess``, gcp.compute.ForwardingRule; Google's "Client access",
    https://cloud.google.com/load-balancing/docs/internal#client_access). A runner, VPN or
    Interconnect attachment in another region of a connected network then reaches the API; the
    firewall still admits only the VPC's range and ``apiAllowedCidrs`` (:func:`firewalls`)."""
    role = "api" if internal else "api-public"
    child = pulumi.ResourceOptions(parent=c)
    # The health check references no network: it waits for the Compute Engine API itself.
    compute_api = pulumi.ResourceOptions(parent=c, depends_on=c.compute_api)
    # The API server refuses anonymous requests (/readyz included), so the check is TCP.
    health_check = gcp.compute.RegionHealthCheck(
        f"{name}-{role}-hc",
        gcp.compute.RegionHealthCheckArgs(
            region=c._region,
            tcp_health_check=gcp.compute.RegionHealthCheckTcpHealthCheckArgs(port=API_PORT),
            check_interval_sec=5,
            timeout_sec=5,
            healthy_threshold=2,
            unhealthy_threshold=3,
            description=f"fleetform: Kubernetes API of cluster {name}",
        ),
        opts=compute_api,
    )
    backend = gcp.compute.RegionBackendService(
        f"{name}-{role}-backend",
        gcp.compute.RegionBackendServiceArgs(
            region=c._region,
            load_balancing_scheme="INTERNAL" if internal else "EXTERNAL",
            protocol="TCP",
            health_checks=health_check.id,
            backends=[
                gcp.compute.RegionBackendServiceBackendArgs(group=g.self_link, balancing_mode="CONNECTION")
                for g in groups
            ],
            connection_draining_timeout_sec=30,
            description=f"fleetform: k3s masters of cluster {name}",
        ),
        opts=child,
    )
    address = c.api_address if internal else c.public_api_address
    return gcp.compute.ForwardingRule(
        f"{name}-{role}-rule",
        gcp.compute.ForwardingRuleArgs(
            region=c._region,
            load_balancing_scheme="INTERNAL" if internal else "EXTERNAL",
            backend_service=backend.id,
            ip_protocol="TCP",
            ip_address=address,
            # Internal passthrough rules list ports; external ones take a range.
            ports=[str(API_PORT)] if internal else None,
            port_range=None if internal else str(API_PORT),
            network=c.network.network_self_link if internal else None,
            subnetwork=c.network.subnetwork_self_link if internal else None,
            network_tier=None if internal else "PREMIUM",
            allow_global_access=True if internal else None,
            labels=c._labels,
            description=f"fleetform: Kubernetes API of cluster {name}",
        ),
        opts=child,
    )


def service_load_balancer(
    c: SelfManagedGcpCluster, name: str, svc: FrontedService, groups: list[gcp.compute.InstanceGroupManager]
) -> pulumi.Output[str]:
    """A regional external (public) or internal proxy Network Load Balancer: listener on
    ``service_port``, backends on the workers' named port = NodePort, HTTP health check on
    the NodePort and the health path.

    https://cloud.google.com/load-balancing/docs/tcp (regional external proxy NLB) and
    https://cloud.google.com/load-balancing/docs/tcp/internal-proxy (regional internal).
    Names are explicit and kept within 63 characters (service names may be long), so these
    resources are deleted before they are replaced."""
    public = svc.expose == "public"
    scheme = "EXTERNAL_MANAGED" if public else "INTERNAL_MANAGED"
    opts = pulumi.ResourceOptions(parent=c, delete_before_replace=True)
    what = f"fleetform: {svc.expose} load balancer of service {svc.name} on cluster {name}"
    address = c._address(
        f"{name}-{svc.name}-lb-ip", internal=not public, description=what,
        name=gcp_name(name, svc.name, "lb"), opts=pulumi.ResourceOptions(delete_before_replace=True),
    )
    health_check = gcp.compute.RegionHealthCheck(
        f"{name}-{svc.name}-lb-hc",
        gcp.compute.RegionHealthCheckArgs(
            name=gcp_name(name, svc.name, "hc"),
            region=c._region,
            http_health_check=gcp.compute.RegionHealthCheckHttpHealthCheckArgs(
                port=svc.node_port, request_path=svc.health_path
            ),
            check_interval_sec=5,
            timeout_sec=5,
            healthy_threshold=2,
            unhealthy_threshold=3,
            description=what,
        ),
        # It references no network: it waits for the Compute Engine API itself.
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=c.compute_api)),
    )
    backend = gcp.compute.RegionBackendService(
        f"{name}-{svc.name}-lb-backend",
        gcp.compute.RegionBackendServiceArgs(
            name=gcp_name(name, svc.name, "backend"),
            region=c._region,
            load_balancing_scheme=scheme,
            protocol="TCP",
            # The proxies connect to the instance groups' named port: the NodePort.
            port_name=port_name(svc),
            health_checks=health_check.id,
            backends=[
                gcp.compute.RegionBackendServiceBackendArgs(
                    group=g.instance_group, balancing_mode="UTILIZATION", capacity_scaler=1.0
                )
                for g in groups
            ],
            log_config=gcp.compute.RegionBackendServiceLogConfigArgs(enable=True, sample_rate=1.0),
            description=what,
        ),
        opts=opts,
    )
    proxy = gcp.compute.RegionTargetTcpProxy(
        f"{name}-{svc.name}-lb-proxy",
        gcp.compute.RegionTargetTcpProxyArgs(
            name=gcp_name(name, svc.name, "proxy"),
            region=c._region,
            load_balancing_scheme=scheme,
            backend_service=backend.id,
            description=what,
        ),
        opts=opts,
    )
    gcp.compute.ForwardingRule(
        f"{name}-{svc.name}-lb-rule",
        gcp.compute.ForwardingRuleArgs(
            name=gcp_name(name, svc.name, "rule"),
            region=c._region,
            load_balancing_scheme=scheme,
            ip_protocol="TCP",
            ip_address=address,
            port_range=str(svc.service_port),
            target=proxy.id,
            network=c.network.network_self_link,
            subnetwork=None if public else c.network.subnetwork_self_link,
            network_tier="PREMIUM" if public else None,
            labels=c._labels,
            description=what,
        ),
        # The proxy-only subnet must exist before an Envoy-based forwarding rule.
        opts=pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=[c.network.proxy_subnetwork] if c.network.proxy_subnetwork else [])
        ),
    )
    return address


def firewalls(c: SelfManagedGcpCluster, name: str, public: bool, services: list[FrontedService]) -> gcp.compute.Firewall:
    """Every ingress the cluster needs, and nothing else (the VPC denies the rest). Returns
    the API rule (the readiness gate waits for it)."""
    masters_sa = [c.master_account.email]
    all_sa = [c.master_account.email, c.worker_account.email]
    allowed = [str(cidr) for cidr in c._spec.control_plane.api_allowed_cidrs]
    api = _firewall(
        c,
        f"{name}-allow-api",
        "the Kubernetes API from the cluster's VPC" + (" and apiAllowedCidrs" if allowed else ""),
        allows=[("tcp", [str(API_PORT)])],
        source_ranges=[str(c._spec.network.cidr), *allowed],
        targets=masters_sa,
        log=True,
    )
    hc_ranges: list[str] = list(INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES)
    if public:
        hc_ranges += [r for r in EXTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES if r not in hc_ranges]
    _firewall(
        c,
        f"{name}-allow-api-health-checks",
        "Google's health checks of the API load balancer" + ("s" if public else ""),
        allows=[("tcp", [str(API_PORT)])],
        source_ranges=hc_ranges,
        targets=masters_sa,
    )
    _firewall(
        c,
        f"{name}-allow-etcd",
        "embedded etcd between masters",
        allows=[("tcp", [ETCD_PORTS])],
        source_accounts=masters_sa,
        targets=masters_sa,
    )
    _firewall(
        c,
        f"{name}-allow-nodes",
        "kubelet and flannel VXLAN between the cluster's nodes",
        allows=[("tcp", [KUBELET_PORT]), ("udp", [FLANNEL_VXLAN_PORT])],
        source_accounts=all_sa,
        targets=all_sa,
    )
    if services:
        ports = sorted({s.node_port for s in services})
        proxy_range = c.network.proxy_only_range
        assert proxy_range is not None  # created whenever services are fronted
        _firewall(
            c,
            f"{name}-allow-lb-nodeports",
            "the service load balancers' proxies and health checks to the workers' NodePorts",
            allows=[("tcp", [str(p) for p in ports])],
            source_ranges=[*PROXY_HEALTH_CHECK_RANGES, proxy_range],
            targets=[c.worker_account.email],
            log=True,
        )
    return api


def _firewall(
    c: SelfManagedGcpCluster,
    resource_name: str,
    what: str,
    *,
    allows: list[tuple[str, list[str]]],
    targets: list[pulumi.Output[str]],
    source_ranges: Optional[list[str]] = None,
    source_accounts: Optional[list[pulumi.Output[str]]] = None,
    log: bool = False,
) -> gcp.compute.Firewall:
    # Service accounts, not network tags, select the VMs: anyone who may edit an instance
    # can change its tags while it runs; its service account changes only while it is
    # stopped (https://cloud.google.com/firewall/docs/firewalls#service-accounts-vs-tags).
    return gcp.compute.Firewall(
        resource_name,
        gcp.compute.FirewallArgs(
            network=c.network.network_self_link,
            direction="INGRESS",
            priority=1000,
            allows=[gcp.compute.FirewallAllowArgs(protocol=p, ports=ports) for p, ports in allows],
            source_ranges=source_ranges,
            source_service_accounts=source_accounts,
            target_service_accounts=targets,
            log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA") if log else None,
            description=f"fleetform: {what}",
        ),
        opts=pulumi.ResourceOptions(parent=c),
    )
