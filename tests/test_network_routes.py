"""Routes back to the networks in ``controlPlane.privateAccessCidrs`` (target aws).

A private EKS endpoint answers a peered VPC, a transit gateway or a site-to-site VPN only if the
subnets its network interfaces sit in route the answer back: the cluster endpoint doc's private
access section ("the VPC ... must have routes to the connected network",
https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html#private-access), and a route
table's routes point at a transit gateway (tgw-), a peering connection (pcx-) or a virtual private
gateway (vgw-, as the route's gateway id): https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html.
An ``aws.ec2.RouteTable`` with inline routes owns them all, so a route added by hand would go on the
next up; fleetform therefore takes them as config.
"""

from __future__ import annotations

import copy

import pytest

from fleetform.config import FleetConfigError, load_spec
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.conftest import planned, regs, stack_config

ROUTES = [
    {"cidr": "10.200.0.0/16", "transitGatewayId": "tgw-0123456789abcdef0"},
    {"cidr": "192.168.50.0/24", "vpnGatewayId": "vgw-0a1b2c3d"},
    {"cidr": "172.20.0.0/16", "vpcPeeringConnectionId": "pcx-11112222333344445"},
]
EXPECTED = [
    {"cidrBlock": "10.200.0.0/16", "transitGatewayId": "tgw-0123456789abcdef0"},
    {"cidrBlock": "192.168.50.0/24", "gatewayId": "vgw-0a1b2c3d"},
    {"cidrBlock": "172.20.0.0/16", "vpcPeeringConnectionId": "pcx-11112222333344445"},
]


def _with_routes(stack: str) -> dict:
    cfg = copy.deepcopy(stack_config(stack))
    cfg["fleetform:clusters"][0].setdefault("network", {})["routes"] = ROUTES
    return cfg


@pytest.mark.parametrize("stack", ["prod-aws", "selfmanaged-aws"])
def test_private_route_tables_carry_the_routes_back(stack):
    result = plan(stack, config=_with_routes(stack))
    assert result.exit_code == 0, result.problems()
    tables = {r.name: plain(r.inputs, mask=False) for r in regs(result, "aws:ec2/routeTable:RouteTable")}
    private = {n: t for n, t in tables.items() if "-private-rt-" in n}
    public = {n: t for n, t in tables.items() if n.endswith("-public-rt")}
    zones = stack_config(stack)["fleetform:clusters"][0].get("network", {}).get("zones", 3)
    assert len(private) == zones and len(public) == 1
    for name, table in private.items():
        routes = table["routes"]
        assert routes[0]["cidrBlock"] == "0.0.0.0/0" and "natGatewayId" in routes[0], name
        assert [{k: v for k, v in r.items() if k in ("cidrBlock", "transitGatewayId", "gatewayId",
                                                      "vpcPeeringConnectionId")} for r in routes[1:]] == EXPECTED
    # The public subnets hold only load balancers and NAT: nothing of theirs answers a VPN.
    (pub,) = public.values()
    assert [r["cidrBlock"] for r in pub["routes"]] == ["0.0.0.0/0"]


def test_without_routes_only_nat():
    result = planned("prod-aws")
    for r in regs(result, "aws:ec2/routeTable:RouteTable"):
        assert [x["cidrBlock"] for x in plain(r.inputs, mask=False)["routes"]] == ["0.0.0.0/0"]


def _err(routes, target="aws", region="us-east-1"):
    cluster = {"name": "c", "target": target, "region": region, "network": {"cidr": "10.1.0.0/16", "routes": routes}}
    with pytest.raises(FleetConfigError) as err:
        load_spec({"fleetform:clusters": [cluster]})
    return err.value.problems


def test_bad_routes_are_clear_errors():
    assert _err([{"cidr": "10.200.0.0/16"}]) == [
        "fleetform:clusters[0].network.routes[0].transitGatewayId: got null; allowed: exactly one of "
        "transitGatewayId, vpcPeeringConnectionId, vpnGatewayId"]
    assert _err([{"cidr": "10.1.4.0/24", "transitGatewayId": "tgw-0123456789abcdef0"}]) == [
        'fleetform:clusters[0].network.routes[0].cidr: got "10.1.4.0/24"; allowed: a CIDR outside the VPC\'s 10.1.0.0/16']
    two, shape = _err([{"cidr": "10.9.0.0/16", "transitGatewayId": "tgw-0123", "vpnGatewayId": "vgw-0a1b2c3d"}])
    assert "exactly one of" in two and shape.endswith('transitGatewayId: got "tgw-0123"; allowed: a transit gateway id, tgw-...')
    (line,) = _err([{"cidr": "10.9.0.0/16", "vpcPeeringConnectionId": "vpc-0a1b2c3d"}])
    assert line.endswith("allowed: a VPC peering connection id, pcx-...")
    (line,) = _err([{"cidr": "10.9.0.0/16", "transitGatewayId": "tgw-0123456789abcdef0"}], "gcp", "europe-west4")
    assert line.startswith("fleetform:clusters[0].network.routes: ") and "nothing for target gcp" in line


def test_a_good_route_validates():
    spec = load_spec({"fleetform:clusters": [{"name": "c", "target": "aws", "region": "us-east-1",
                                              "network": {"cidr": "10.1.0.0/16", "routes": ROUTES[:1]}}]})
    assert spec.clusters[0].network.routes[0].target() == {"transit_gateway_id": "tgw-0123456789abcdef0"}
