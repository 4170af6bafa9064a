"""The network of a cloud cluster: :class:`NetworkSpec` (its VPC/VNet's CIDR and zones) and
:class:`RouteSpec` (AWS routes back to peered and VPN networks), and the checks of the private
endpoint's outside networks against them (:func:`private_access_problems`)."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .errors import _problem, _raise_all
from .values import _Model


_ROUTE_TARGETS = {
    # key: (id shape, what it is). IDs as EC2 prints them: a prefix and 8 or 17 hex digits.
    "transit_gateway_id": (re.compile(r"^tgw-[0-9a-f]{8}([0-9a-f]{9})?$"), "a transit gateway id, tgw-..."),
    "vpc_peering_connection_id": (re.compile(r"^pcx-[0-9a-f]{8}([0-9a-f]{9})?$"), "a VPC peering connection id, pcx-..."),
    "vpn_gateway_id": (re.compile(r"^vgw-[0-9a-f]{8}([0-9a-f]{9})?$"), "a virtual private gateway id, vgw-..."),
}


class RouteSpec(_Model):
    """A route of the private subnets to a network outside the VPC (target aws): the way back to a
    peered VPC, a transit gateway or a site-to-site VPN. Exactly one target."""

    cidr: ipaddress.IPv4Network = Field(description="Destination CIDR, e.g. a VPN or peered VPC range.")
    transit_gateway_id: Optional[str] = Field(default=None, description="Transit gateway (tgw-...) to route through.")
    vpc_peering_connection_id: Optional[str] = Field(default=None, description="VPC peering connection (pcx-...).")
    vpn_gateway_id: Optional[str] = Field(default=None, description="Virtual private gateway (vgw-...) of a VPN.")

    @model_validator(mode="after")
    def _one_target(self) -> "RouteSpec":
        given = [k for k in _ROUTE_TARGETS if getattr(self, k) is not None]
        found: list[tuple[Any, Any, str]] = []
        if len(given) != 1:
            found.append(("transitGatewayId", "{...}" if given else None,
                          "exactly one of transitGatewayId, vpcPeeringConnectionId, vpnGatewayId"))
        for k in given:
            pattern, what = _ROUTE_TARGETS[k]
            if not pattern.fullmatch(getattr(self, k)):
                found.append((to_camel(k), getattr(self, k), what))
        if self.cidr.prefixlen == 0:
            found.append(("cidr", str(self.cidr), "a CIDR narrower than 0.0.0.0/0 (the default route is NAT's)"))
        _raise_all(found)
        return self

    def target(self) -> dict[str, str]:
        """The route's target as ``aws.ec2.RouteTableRouteArgs`` names it (a VPN's virtual private
        gateway is its ``gateway_id``: https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html)."""
        names = {"vpn_gateway_id": "gateway_id"}
        return {names.get(k, k): v for k in _ROUTE_TARGETS if (v := getattr(self, k)) is not None}


class NetworkSpec(_Model):
    """The cluster's own network (clouds only): a dedicated VPC/VNet."""

    cidr: ipaddress.IPv4Network = Field(
        default=ipaddress.IPv4Network("10.0.0.0/16"),
        description="IPv4 CIDR of the cluster's VPC/VNet; private subnets are carved from it.",
    )
    zones: int = Field(default=3, ge=2, le=6, description="Availability zones to spread subnets and nodes over (2-6).")
    routes: list[RouteSpec] = Field(
        default_factory=list,
        description="Target aws: routes of the private subnets to networks outside the VPC (a peered VPC, a transit "
        "gateway, a VPN), so that the ranges in controlPlane.privateAccessCidrs get answers. GCP and Azure peerings "
        "exchange routes themselves.",
    )

    @model_validator(mode="after")
    def _routes_outside_the_vpc(self) -> "NetworkSpec":
        _raise_all([(f"routes[{i}].cidr", str(r.cidr), f"a CIDR outside the VPC's {self.cidr}")
                    for i, r in enumerate(self.routes) if r.cidr.overlaps(self.cidr)])
        return self

    @field_validator("cidr", mode="after")
    @classmethod
    def _private_and_big_enough(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not v.is_private or v.prefixlen > 20 or v.prefixlen < 8:
            raise _problem("a private IPv4 CIDR (RFC 1918) with a prefix from /8 to /20, e.g. 10.10.0.0/16")
        return v


def private_access_problems(cidrs: list[ipaddress.IPv4Network], network: NetworkSpec, target: str) -> list[tuple[Any, Any, str]]:
    """controlPlane.privateAccessCidrs of a managed cluster: outside its VPC/VNet (which reaches the
    endpoint already), each once, and on AWS each with a route back (a private subnet's reply to any
    other range takes NAT's default route, https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html)."""
    found: list[tuple[Any, Any, str]] = []
    seen: set[ipaddress.IPv4Network] = set()
    for i, cidr in enumerate(cidrs):
        key = f"controlPlane.privateAccessCidrs[{i}]"
        if cidr.overlaps(network.cidr):
            found.append((key, str(cidr), f"a range outside the cluster's network {network.cidr} "
                                          "(which reaches the private endpoint already)"))
        elif cidr in seen:
            found.append((key, str(cidr), "a range not listed before"))
        elif target == "aws" and not any(cidr.subnet_of(r.cidr) for r in network.routes):
            found.append((key, str(cidr), "a range inside one of network.routes (on AWS the private subnets "
                                          "need a route back to it: add a network.routes entry)"))
        seen.add(cidr)
    return found
