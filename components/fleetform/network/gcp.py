"""A cluster's own network on GCP: a dedicated VPC, one regional private subnet with the pods
and services secondary ranges, Cloud NAT for egress and, when asked, the proxy-only subnet of
the region's Envoy-based load balancers. Subnets come from
:func:`fleetform.network.cidr.carve`, the one place they are computed.

Used by GKE (:mod:`fleetform.cluster.gke`) and by self-managed k3s
(:mod:`fleetform.cluster.selfmanaged_gcp`); the proxy-only subnet is opt-in, so GKE stacks
register exactly what they did before.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_gcp as gcp

from ..config import ClusterSpec
from .cidr import carve

PODS_RANGE = "pods"
"""Name of the subnet's secondary range for Pod IPs (GKE alias IPs)."""
SERVICES_RANGE = "services"
"""Name of the subnet's secondary range for ClusterIP Services."""
PROXY_ONLY_PURPOSE = "REGIONAL_MANAGED_PROXY"
"""Subnet purpose reserved for the Envoy proxies of regional proxy load balancers
(https://cloud.google.com/load-balancing/docs/proxy-only-subnets)."""


class GcpNetwork(pulumi.ComponentResource):
    """A dedicated custom-mode VPC for one cluster.

    Builds:

    - a VPC with ``autoCreateSubnetworks: false`` (no default subnets in every region, no default
      firewall rules: a custom-mode VPC only has the implied deny-all-ingress rule);
    - one *regional* subnet (GCP subnets span every zone of a region) with the cluster's private
      range for nodes, and the ``pods`` and ``services`` secondary ranges for a VPC-native cluster;
      Private Google Access on, so nodes without public IPs reach Google APIs; VPC flow logs on;
    - a Cloud Router and Cloud NAT, the nodes' only way out to the internet (image pulls from
      registries outside Google), with NAT error logging.

    Secure defaults: nothing here lets the internet in. No firewall rule is created at all; GKE
    adds its own narrow rules (control plane to nodes, and per LoadBalancer Service the health
    checks and the Service's clients).
    """

    network: gcp.compute.Network
    subnetwork: gcp.compute.Subnetwork
    router: gcp.compute.Router
    nat: gcp.compute.RouterNat
    network_self_link: pulumi.Output[str]
    subnetwork_self_link: pulumi.Output[str]
    pods_range_name: str
    services_range_name: str
    nodes_range: str
    proxy_subnetwork: Optional[gcp.compute.Subnetwork]
    proxy_only_range: Optional[str]

    def __init__(
        self,
        name: str,
        spec: ClusterSpec,
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        proxy_only_subnet: bool = False,
    ):
        super().__init__("fleetform:network:GcpNetwork", name, None, opts)
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {spec.name}: a GCP network needs a region")
        plan = carve(spec.network.cidr, spec.network.zones)
        child = pulumi.ResourceOptions(parent=self)

        # Custom mode: https://cloud.google.com/vpc/docs/vpc#subnet-ranges ("custom mode VPC
        # networks start with no subnets"). REGIONAL routing: the cluster lives in one region.
        self.network = gcp.compute.Network(
            f"{name}-vpc",
            gcp.compute.NetworkArgs(
                auto_create_subnetworks=False,
                routing_mode="REGIONAL",
                description=f"fleetform: network of cluster {spec.name}",
            ),
            opts=child,
        )
        # GKE subnets are regional: one subnet serves nodes in every zone. Nodes take the first
        # private range; pods and services get secondary ranges (VPC-native cluster,
        # https://cloud.google.com/kubernetes-engine/docs/concepts/alias-ips).
        # Private Google Access lets nodes without external IPs reach Google APIs
        # (https://cloud.google.com/vpc/docs/private-google-access).
        self.subnetwork = gcp.compute.Subnetwork(
            f"{name}-nodes",
            gcp.compute.SubnetworkArgs(
                network=self.network.self_link,
                region=spec.region,
                ip_cidr_range=str(plan.private[0]),
                secondary_ip_ranges=[
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=PODS_RANGE, ip_cidr_range=str(plan.pods)),
                    gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=SERVICES_RANGE, ip_cidr_range=str(plan.services)),
                ],
                private_ip_google_access=True,
                # VPC flow logs (https://cloud.google.com/vpc/docs/flow-logs): the documented
                # defaults, set explicitly so the block (which turns logging on) is never empty.
                log_config=gcp.compute.SubnetworkLogConfigArgs(
                    aggregation_interval="INTERVAL_5_SEC",
                    flow_sampling=0.5,
                    metadata="INCLUDE_ALL_METADATA",
                ),
                description=f"fleetform: nodes, pods and services of cluster {spec.name}",
            ),
            opts=child,
        )
        self.router = gcp.compute.Router(
            f"{name}-router",
            gcp.compute.RouterArgs(network=self.network.self_link, region=spec.region),
            opts=child,
        )
        # Cloud NAT for the nodes' subnet only, every range (primary = nodes, secondary = pods):
        # https://cloud.google.com/nat/docs/gke-example. Auto-allocated NAT IPs.
        self.nat = gcp.compute.RouterNat(
            f"{name}-nat",
            gcp.compute.RouterNatArgs(
                router=self.router.name,
                region=spec.region,
                nat_ip_allocate_option="AUTO_ONLY",
                source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                subnetworks=[
                    gcp.compute.RouterNatSubnetworkArgs(
                        name=self.subnetwork.self_link, source_ip_ranges_to_nats=["ALL_IP_RANGES"]
                    )
                ],
                log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
            ),
            opts=child,
        )
        self.proxy_subnetwork = None
        self.proxy_only_range = None
        if proxy_only_subnet:
            # One ACTIVE proxy-only subnet per region and VPC serves every regional Envoy-based
            # load balancer, external and internal alike; backends see connections from it.
            # Google recommends /23 or larger and requires at least /26; carve's public blocks
            # are /25 at the smallest (a /20 network over 6 zones), /20 for a /16 over 3 zones.
            self.proxy_only_range = str(plan.public[0])
            self.proxy_subnetwork = gcp.compute.Subnetwork(
                f"{name}-proxy-only",
                gcp.compute.SubnetworkArgs(
                    network=self.network.self_link,
                    region=spec.region,
                    ip_cidr_range=self.proxy_only_range,
                    purpose=PROXY_ONLY_PURPOSE,
                    role="ACTIVE",
                    description=f"fleetform: Envoy proxies of the regional load balancers of cluster {spec.name}",
                ),
                opts=child,
            )
        self.network_self_link = self.network.self_link
        self.subnetwork_self_link = self.subnetwork.self_link
        self.pods_range_name = PODS_RANGE
        self.services_range_name = SERVICES_RANGE
        self.nodes_range = str(plan.private[0])
        outputs: dict = {
            "network": self.network_self_link,
            "subnetwork": self.subnetwork_self_link,
            "nodesRange": self.nodes_range,
            "podsRange": str(plan.pods),
            "servicesRange": str(plan.services),
            "router": self.router.name,
            "nat": self.nat.name,
        }
        if self.proxy_only_range is not None:
            outputs["proxyOnlyRange"] = self.proxy_only_range
        self.register_outputs(outputs)
