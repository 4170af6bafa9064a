"""Subnet carving: the one place that turns a cluster's CIDR into subnets (no cloud SDK here).

Layout of the cluster's network ``N`` (prefix p):

- first half of ``N``: private subnets, one per zone (nodes, and pods where the CNI gives pods
  VPC addresses);
- third quarter: public subnets, one per zone (NAT gateways and public load balancers only);
- last quarter: two halves, ``pods`` and ``services``, for clouds that need secondary ranges
  (GKE alias IPs) or a service CIDR that must not overlap the VNet (AKS).

Each group is split into the next power of two >= zones blocks, so adding a zone later (up to
that power) never moves an existing subnet.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

ADDRESSES_PER_NODE = {
    # Addresses a node consumes in its *private subnet* at the pool's max size.
    # aws: VPC CNI gives every pod a VPC address; with prefix delegation off, an m6i.large takes up
    # to 3 ENIs x 10 addresses (https://docs.aws.amazon.com/eks/latest/userguide/cni-increase-ip-addresses.html),
    # so 30 per node is the planning figure.
    "aws": 30,
    # gcp: pods and services use secondary ranges; a node takes one primary address.
    "gcp": 1,
    # azure: Azure CNI Overlay gives pods addresses outside the VNet; a node takes one.
    "azure": 1,
}
RESERVED_PER_SUBNET = {"aws": 5, "gcp": 4, "azure": 5}
"""Addresses each cloud keeps in every subnet (network, router, DNS, future, broadcast)."""
POD_BLOCK_PER_NODE = 256
"""GKE, and AKS with Azure CNI Overlay, give each node a /24 from the pods range
(https://learn.microsoft.com/azure/aks/azure-cni-overlay: "Each node is assigned a /24 address
space carved out from the same CIDR")."""
PODS_RANGE_TARGETS = ("gcp", "azure")


@dataclass(frozen=True)
class NetworkPlan:
    network: ipaddress.IPv4Network
    private: tuple[ipaddress.IPv4Network, ...]
    public: tuple[ipaddress.IPv4Network, ...]
    pods: ipaddress.IPv4Network
    services: ipaddress.IPv4Network

    def all_subnets(self) -> list[ipaddress.IPv4Network]:
        return [*self.private, *self.public, self.pods, self.services]


def _split(block: ipaddress.IPv4Network, count: int) -> list[ipaddress.IPv4Network]:
    bits = math.ceil(math.log2(count)) if count > 1 else 0
    return list(block.subnets(prefixlen_diff=bits))[:count]


def carve(network: ipaddress.IPv4Network | str, zones: int) -> NetworkPlan:
    """Carve ``network`` for ``zones`` zones (2-6; prefix /8-/20, so every subnet is >= /26)."""
    net = ipaddress.IPv4Network(network)
    if not 2 <= zones <= 6:
        raise ValueError(f"zones must be 2-6, got {zones}")
    if not 8 <= net.prefixlen <= 20:
        raise ValueError(f"network prefix must be /8-/20, got /{net.prefixlen}")
    half_a, half_b = net.subnets(prefixlen_diff=1)
    public_q, last_q = half_b.subnets(prefixlen_diff=1)
    pods, services = last_q.subnets(prefixlen_diff=1)
    return NetworkPlan(
        network=net,
        private=tuple(_split(half_a, zones)),
        public=tuple(_split(public_q, zones)),
        pods=pods,
        services=services,
    )


def capacity_problem(target: str, network: ipaddress.IPv4Network | str, zones: int, max_nodes: int) -> str | None:
    """Why ``network`` cannot hold ``max_nodes`` nodes on ``target``, or None if it can.

    Worst case: the autoscaler may put every node in one zone, so each zone's private subnet
    must hold all of them.
    """
    if target not in ADDRESSES_PER_NODE:
        return None
    plan = carve(network, zones)
    usable = plan.private[0].num_addresses - RESERVED_PER_SUBNET[target]
    need = max_nodes * ADDRESSES_PER_NODE[target]
    if need > usable:
        return (
            f"a CIDR whose per-zone private subnet ({plan.private[0].with_prefixlen}, {usable} usable addresses) "
            f"holds {max_nodes} nodes x {ADDRESSES_PER_NODE[target]} addresses = {need}: use a shorter prefix or fewer nodes"
        )
    if target in PODS_RANGE_TARGETS and max_nodes * POD_BLOCK_PER_NODE > plan.pods.num_addresses:
        return (
            f"a CIDR whose pods range ({plan.pods.with_prefixlen}) holds a /24 for each of {max_nodes} nodes: "
            "use a shorter prefix or fewer nodes"
        )
    return None
