"""A cluster's own network on GCP: a dedicated VPC, one regional private subnet with the pods
and services secondary ranges, Cloud NAT for egress and, when asked, the proxy-only subnet of
the region's Envoy-based load balancers. Subnets come from
:func:`fleetform.network.cidr.carve`, the one place they are computed.

Used by GKE (:mod:`fleetform.cluster.gke`) and by self-managed k3s
(:mod:`fleetform.cluster.selfmanaged_gcp`); the proxy-only subnet is opt-in, so GKE stacks
register exactly what they did before.

Also here, because both GCP targets need it: :func:`enable_apis`, the project's Google APIs a
stack needs, enabled by the stack itself so a fresh project works.
"""

from __future__ import annotations

from collections.abc import Sequence
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


RESOURCE_MANAGER_API = "cloudresourcemanager.googleapis.com"


def enable_apis(
    prefix: str, services: Sequence[str], opts: pulumi.ResourceOptions, *, project: Optional[str] = None
) -> dict[str, gcp.projects.Service]:
    """Enable ``services`` (``"compute.googleapis.com"``, ...) in the project, one
    ``gcp.projects.Service`` each, named ``f"{prefix}-api-{first label}"``.

    Most Google APIs are off in a new project; only a few (Service Usage, Logging, Monitoring,
    ...) are on by default (https://cloud.google.com/service-usage/docs/enabled-service#default).
    Enabling is idempotent: an API that is already on is only recorded
    (terraform-provider-google ``google/services/resourcemanager/resource_google_project_service.go``:
    create lists the enabled services first). ``disable_on_destroy=False``: destroying a stack
    never turns an API off under other workloads of the project; ``disable_dependent_services=False``
    likewise (https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/google_project_service).
    Enabling needs the Service Usage API (on by default) and ``serviceusage.services.enable``
    (roles/serviceusage.serviceUsageAdmin, https://cloud.google.com/service-usage/docs/enable-disable).

    The provider reads every such resource back through Cloud Resource Manager ``projects.get``
    (same file, Read), so when :data:`RESOURCE_MANAGER_API` is among ``services`` it is enabled
    first and the others wait for it. Activation is eventually consistent
    (https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/google_project_service,
    "Newly activated service errors"): on a project where it was off, a first ``up`` may need a
    second run; enabling it beforehand avoids that (docs/targets.md).

    ``project``: ``gcp:project`` when set; ``None`` lets the provider use its default project.
    """

    def service(name: str, opts: pulumi.ResourceOptions) -> gcp.projects.Service:
        return gcp.projects.Service(
            f"{prefix}-api-{name.split('.')[0]}",
            gcp.projects.ServiceArgs(service=name, project=project, disable_on_destroy=False, disable_dependent_services=False),
            opts=opts,
        )

    enabled: dict[str, gcp.projects.Service] = {}
    if RESOURCE_MANAGER_API in services:
        enabled[RESOURCE_MANAGER_API] = service(RESOURCE_MANAGER_API, opts)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[enabled[RESOURCE_MANAGER_API]]))
    for name in services:
        if name not in enabled:
            enabled[name] = service(name, opts)
    return enabled


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

    ``depends_on``: resources every resource of the network waits for, such as the
    ``compute.googleapis.com`` :func:`enable_apis` entry on a fresh project.
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
        depends_on: Sequence[pulumi.Resource] = (),
    ):
        super().__init__("fleetform:network:GcpNetwork", name, None, opts)
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {spec.name}: a GCP network needs a region")
        plan = carve(spec.network.cidr, spec.network.zones)
        # ``depends_on``: what every resource here waits for (the Compute Engine API being
        # enabled), given to each resource explicitly.
        child = pulumi.ResourceOptions(parent=self, depends_on=list(depends_on))

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
