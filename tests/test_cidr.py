"""Subnet carving: property tests (no overlap, inside the parent, capacity) and the config error."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleetform.config import FleetConfigError, load_spec
from fleetform.network.cidr import ADDRESSES_PER_NODE, RESERVED_PER_SUBNET, capacity_problem, carve
from tests.conftest import cluster, fleet

private_networks = st.builds(
    lambda base, prefix, offset: ipaddress.IPv4Network((int(base.network_address) + (offset << (32 - prefix)) % base.num_addresses, prefix)),
    st.sampled_from([ipaddress.IPv4Network("10.0.0.0/8"), ipaddress.IPv4Network("172.16.0.0/12"), ipaddress.IPv4Network("192.168.0.0/16")]),
    st.integers(16, 20),
    st.integers(0, 2**12),
).filter(lambda n: n.is_private and any(n.subnet_of(b) for b in map(ipaddress.IPv4Network, ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"])))


@given(net=private_networks, zones=st.integers(2, 6))
def test_subnets_inside_parent_and_disjoint(net, zones):
    plan = carve(net, zones)
    subnets = plan.all_subnets()
    assert len(plan.private) == zones and len(plan.public) == zones
    for s in subnets:
        assert s.subnet_of(net)
    for i, a in enumerate(subnets):
        for b in subnets[i + 1:]:
            assert not a.overlaps(b), (a, b)


@given(net=private_networks, zones=st.integers(2, 6))
def test_adding_a_zone_within_the_power_of_two_keeps_existing_subnets(net, zones):
    more = carve(net, zones + 1) if zones < 6 else None
    if more is not None and (zones + 1 - 1).bit_length() == (zones - 1).bit_length():
        plan = carve(net, zones)
        assert more.private[:zones] == plan.private and more.public[:zones] == plan.public


@given(net=private_networks, zones=st.integers(2, 6), max_nodes=st.integers(1, 3000), target=st.sampled_from(["aws", "gcp", "azure"]))
def test_capacity_verdict_matches_arithmetic(net, zones, max_nodes, target):
    plan = carve(net, zones)
    fits = max_nodes * ADDRESSES_PER_NODE[target] <= plan.private[0].num_addresses - RESERVED_PER_SUBNET[target]
    if target in ("gcp", "azure"):  # a /24 of the pods range per node
        fits = fits and max_nodes * 256 <= plan.pods.num_addresses
    assert (capacity_problem(target, net, zones, max_nodes) is None) == fits


def test_known_layout():
    plan = carve("10.10.0.0/16", 3)
    assert [str(s) for s in plan.private] == ["10.10.0.0/19", "10.10.32.0/19", "10.10.64.0/19"]
    assert [str(s) for s in plan.public] == ["10.10.128.0/20", "10.10.144.0/20", "10.10.160.0/20"]
    assert str(plan.pods) == "10.10.192.0/19" and str(plan.services) == "10.10.224.0/19"


def test_too_small_network_is_a_config_error():
    cfg = fleet([cluster("c1", "aws", network={"cidr": "10.0.0.0/20", "zones": 2},
                         nodePools=[{"name": "g", "size": "m6i.large", "min": 1, "max": 100}])], [])
    with pytest.raises(FleetConfigError) as info:
        load_spec(cfg)
    (line,) = info.value.problems
    assert line.startswith('fleetform:clusters[0].network.cidr: got "10.0.0.0/20"; allowed: a CIDR whose per-zone private subnet (10.0.0.0/22, 1019 usable addresses) holds 100 nodes x 30 addresses = 3000')


@pytest.mark.parametrize("bad", [1, 7])
def test_carve_rejects_bad_zone_counts(bad):
    with pytest.raises(ValueError):
        carve("10.0.0.0/16", bad)
