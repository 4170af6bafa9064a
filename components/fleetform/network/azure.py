"""An Azure cluster's own network: a resource group, a dedicated VNet with one regional node subnet,
a NAT gateway for egress and an NSG that lets nothing from the internet reach the nodes.
Subnets come from :func:`fleetform.network.cidr.carve`, the one place they are computed.

Both Azure targets use it: AKS (managed) with the rule set below, and fleetform's self-managed
k3s VMs (:mod:`fleetform.cluster.selfmanaged_azure`), which pass rules of their own.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

import pulumi
from pulumi_azure_native import network, resources

from ..config import ClusterSpec
from .cidr import NetworkPlan, carve

MAX_AZURE_ZONES = 3
"""Azure regions with availability zones have three of them (zones "1", "2", "3")."""

ADMIN_PORTS = (22, 3389)
"""SSH and RDP: never reachable from the internet, not even through a load balancer frontend."""


def ports_except(excluded: tuple[int, ...]) -> list[str]:
    """NSG port ranges covering 1-65535 except ``excluded``, e.g. ["1-21", "23-3388", "3390-65535"]."""
    ranges, start = [], 1
    for port in sorted(set(excluded)):
        if port > start:
            ranges.append(f"{start}-{port - 1}" if port - 1 > start else str(start))
        start = port + 1
    if start <= 65535:
        ranges.append(f"{start}-65535" if start < 65535 else "65535")
    return ranges


def vnet_address_space(plan: NetworkPlan) -> list[ipaddress.IPv4Network]:
    """The VNet's address space: the cluster CIDR *without* the quarter that holds the pods and
    services ranges. AKS requires the service CIDR to lie outside the VNet ("must not be within the
    virtual network IP address range of your cluster", https://learn.microsoft.com/azure/aks/configure-kubenet
    and the networkProfile.serviceCidr reference), and Azure CNI Overlay pods take addresses from a
    CIDR "logically different from the virtual network hosting the nodes"
    (https://learn.microsoft.com/azure/aks/concepts-network-cni-overview).
    """
    pods_and_services = plan.pods.supernet()
    assert plan.services.subnet_of(pods_and_services)
    return sorted(plan.network.address_exclude(pods_and_services))


LB_PROBE_PRIORITY = 100
"""The AzureLoadBalancer allow: the lowest priority number an NSG rule may have (100-4096,
https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules),
so it is evaluated before the internet deny below."""
INTERNET_DENY_PRIORITY = 110


def aks_security_rules(nodes: ipaddress.IPv4Network) -> list[network.SecurityRuleArgs]:
    """The node subnet NSG rules of an AKS cluster (see :class:`AzureNetwork`)."""
    return [
        # Load balancer health probes come from 168.63.129.16, the service tag AzureLoadBalancer
        # ("translates to the virtual IP address of the host (168.63.129.16) where Azure health
        # probes originate", https://learn.microsoft.com/azure/virtual-network/service-tags-overview).
        # That is a Microsoft-owned public address, and "if you block this IP address, your probes
        # fail" (https://learn.microsoft.com/azure/virtual-network/what-is-ip-address-168-63-129-16).
        # Azure's own AllowAzureLoadBalancerInBound sits at 65001
        # (https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#default-security-rules),
        # after the internet deny, so the allow is explicit and comes first. The tag "only includes
        # probe traffic, not real traffic to your backend resource" (service tags page).
        network.SecurityRuleArgs(
            name="allow-azure-load-balancer-probes",
            description="Azure Load Balancer health probes (168.63.129.16) to the nodes, ahead of the internet deny.",
            priority=LB_PROBE_PRIORITY,
            direction="Inbound",
            access="Allow",
            protocol="*",
            source_address_prefix="AzureLoadBalancer",
            source_port_range="*",
            destination_address_prefix=str(nodes),
            destination_port_range="*",
        ),
        network.SecurityRuleArgs(
            name="deny-internet-to-nodes",
            description="Nothing from the internet reaches a node's own address.",
            priority=INTERNET_DENY_PRIORITY,
            direction="Inbound",
            access="Deny",
            protocol="*",
            source_address_prefix="Internet",
            source_port_range="*",
            destination_address_prefix=str(nodes),
            destination_port_range="*",
        ),
        network.SecurityRuleArgs(
            name="allow-internet-to-public-lb-frontends",
            description=(
                "Public LoadBalancer Services: packets keep the frontend's public IP as "
                "destination (floating IP); the AKS-managed NIC NSG narrows it to each "
                "Service's frontend and port. Never SSH or RDP."
            ),
            priority=200,
            direction="Inbound",
            access="Allow",
            protocol="Tcp",
            source_address_prefix="Internet",
            source_port_range="*",
            destination_address_prefix="Internet",
            destination_port_ranges=ports_except(ADMIN_PORTS),
        ),
    ]


def network_plan(spec: ClusterSpec) -> NetworkPlan:
    """The carve of the cluster's CIDR the network is built from."""
    return carve(spec.network.cidr, spec.network.zones)


def node_range(plan: NetworkPlan) -> ipaddress.IPv4Network:
    """The address range of the one regional node subnet (``private[0]`` of the carve)."""
    return plan.private[0]


@dataclass(frozen=True)
class AzureNetworkArgs:
    """What the network needs besides its name."""

    spec: ClusterSpec
    """The cluster it is for (name, region, network.cidr, network.zones)."""
    tags: Mapping[str, str]
    """Tags put on every taggable resource (the cluster's tags plus fleetform's own)."""
    security_rules: Optional[Sequence[network.SecurityRuleArgs]] = None
    """The node subnet NSG's rules. None (AKS): the rule set described on :class:`AzureNetwork`;
    a self-managed cluster passes its own (it knows its masters, ports and services)."""


class AzureNetwork(pulumi.ComponentResource):
    """A dedicated network for one Azure cluster (AKS or self-managed), in a resource group of its own.

    Builds:

    - a resource group ``<cluster>-rg`` holding everything fleetform creates for the cluster;
    - a VNet whose address space is the cluster CIDR minus the quarter reserved for the pods
      (Azure CNI Overlay) and services ranges, so neither overlaps the VNet;
    - one *regional* node subnet (``private[0]`` of the carve: Azure subnets span every zone of a
      region; zones are chosen per node pool) with default outbound access off;
    - a Standard NAT gateway with one static public IP, associated with the node subnet: the
      nodes' only way out (the cluster uses outbound type ``userAssignedNATGateway``, since an
      AKS-managed NAT gateway "is incompatible with custom virtual networks",
      https://learn.microsoft.com/azure/aks/nat-gateway);
    - an NSG on the node subnet: the AKS rules described below, or ``args.security_rules``
      (self-managed clusters, see :func:`fleetform.cluster.selfmanaged_azure.security_rules`).

    Secure defaults: the nodes get no public IPs (set on the node pools) and the NSG denies every
    packet from the internet addressed to a node, ahead of every other rule but one: the Azure Load
    Balancer's health probes (service tag ``AzureLoadBalancer``, 168.63.129.16), allowed first so
    that a public-address match cannot drop them. Its only internet allow
    rule targets *public* destination addresses (service tag ``Internet``), i.e. the frontends of
    public LoadBalancer Services, on TCP ports other than SSH and RDP: Azure's load balancer keeps the frontend IP as the packet's
    destination (floating IP, which cloud-provider-azure enables by default,
    https://cloud-provider-azure.sigs.k8s.io/topics/loadbalancer/), and a subnet NSG without such a
    rule silently drops public Service traffic (https://github.com/Azure/AKS/issues/674). The
    AKS-managed NSG on the node NICs is evaluated after this one and opens only each Service's own
    frontend IP and port.
    """

    resource_group: resources.ResourceGroup
    vnet: network.VirtualNetwork
    nsg: network.NetworkSecurityGroup
    nat_public_ip: network.PublicIPAddress
    nat_gateway: network.NatGateway
    node_subnet: network.Subnet
    plan: NetworkPlan
    resource_group_name: str
    """The resource group's Azure name (known before deployment)."""
    node_subnet_id: pulumi.Output[str]
    nat_public_ip_address: pulumi.Output[str]

    def __init__(self, name: str, args: AzureNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:network:AzureNetwork", name, None, opts)
        spec = args.spec
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {spec.name}: an Azure network needs a region")
        tags = dict(args.tags)
        location = spec.region
        self.plan = plan = network_plan(spec)
        nodes = node_range(plan)
        child = pulumi.ResourceOptions(parent=self)

        # Explicit Azure names: the cluster's credentials are read by (resource group, cluster
        # name), and names known before deployment keep that read stable across updates.
        self.resource_group_name = f"{spec.name}-rg"
        self.resource_group = resources.ResourceGroup(
            f"{name}-rg",
            resources.ResourceGroupArgs(resource_group_name=self.resource_group_name, location=location, tags=tags),
            opts=child,
        )
        rg = self.resource_group.name

        self.vnet = network.VirtualNetwork(
            f"{name}-vnet",
            network.VirtualNetworkInitArgs(
                resource_group_name=rg,
                virtual_network_name=f"{spec.name}-vnet",
                location=location,
                address_space=network.AddressSpaceArgs(
                    address_prefixes=[str(block) for block in vnet_address_space(plan)]
                ),
                tags=tags,
            ),
            opts=child,
        )

        # NSG rules: https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview
        # (lower priority number wins; the default rules at 65000+ allow VNet and Azure load
        # balancer probes and deny the rest). The explicit deny comes right after the load balancer
        # probe allow, so no later rule, and no rule added by hand, can open a node's own address
        # to the internet.
        self.nsg = network.NetworkSecurityGroup(
            f"{name}-nsg",
            network.NetworkSecurityGroupInitArgs(
                resource_group_name=rg,
                network_security_group_name=f"{spec.name}-nodes-nsg",
                location=location,
                security_rules=(
                    list(args.security_rules) if args.security_rules is not None else aks_security_rules(nodes)
                ),
                tags=tags,
            ),
            opts=child,
        )

        # Standard SKU NAT gateway and public IP, no zone pinning ("no zone": Azure picks one).
        # A zonal NAT gateway would tie all egress to one zone anyway; see
        # https://learn.microsoft.com/azure/nat-gateway/nat-availability-zones.
        self.nat_public_ip = network.PublicIPAddress(
            f"{name}-nat-ip",
            network.PublicIPAddressInitArgs(
                resource_group_name=rg,
                public_ip_address_name=f"{spec.name}-nat-ip",
                location=location,
                sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                tags=tags,
            ),
            opts=child,
        )
        self.nat_gateway = network.NatGateway(
            f"{name}-nat",
            network.NatGatewayInitArgs(
                resource_group_name=rg,
                nat_gateway_name=f"{spec.name}-nat",
                location=location,
                sku=network.NatGatewaySkuArgs(name="Standard"),
                idle_timeout_in_minutes=4,
                public_ip_addresses=[network.SubResourceArgs(id=self.nat_public_ip.id)],
                tags=tags,
            ),
            opts=child,
        )

        # One regional subnet for every node pool: AKS node pools pick zones themselves
        # (https://learn.microsoft.com/azure/aks/availability-zones). The NAT gateway must be on
        # the subnet before the cluster is created (outbound type userAssignedNATGateway).
        # default_outbound_access=False: no implicit Azure outbound IP, egress is the NAT only
        # (https://learn.microsoft.com/azure/virtual-network/ip-services/default-outbound-access).
        self.node_subnet = network.Subnet(
            f"{name}-nodes",
            network.SubnetInitArgs(
                resource_group_name=rg,
                virtual_network_name=self.vnet.name,
                subnet_name="nodes",
                address_prefix=str(nodes),
                network_security_group=network.NetworkSecurityGroupArgs(id=self.nsg.id),
                nat_gateway=network.SubResourceArgs(id=self.nat_gateway.id),
                default_outbound_access=False,
            ),
            opts=child,
        )
        self.node_subnet_id = self.node_subnet.id
        self.nat_public_ip_address = self.nat_public_ip.ip_address.apply(lambda ip: ip or "")
        self.register_outputs(
            {
                "resourceGroup": self.resource_group_name,
                "vnet": self.vnet.id,
                "nodeSubnet": self.node_subnet_id,
                "nodesRange": str(nodes),
                "podsRange": str(plan.pods),
                "servicesRange": str(plan.services),
                "natGateway": self.nat_gateway.id,
                "nsg": self.nsg.id,
            }
        )
