"""controlPlane.privateAccessCidrs and apiAllowedCidrs mean one thing each, on every managed cloud.

privateAccessCidrs: private networks (peerings, VPNs) that reach the private endpoint. GKE refuses
public ranges in a private endpoint's authorized networks ("is not a reserved network, which is
required for private endpoints": terraform-google-kubernetes-engine docs/private_clusters.md,
https://github.com/terraform-google-modules/terraform-google-kubernetes-engine/blob/main/docs/private_clusters.md),
and a public address reaches a private endpoint over no peering or VPN.
apiAllowedCidrs: the sources of a public endpoint (EKS publicAccessCidrs,
https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html; GKE authorized networks,
https://cloud.google.com/kubernetes-engine/docs/how-to/authorized-networks).
"""

from __future__ import annotations

import pytest

from fleetform.config import FleetConfigError, load_spec

REGIONS = {"aws": "us-east-1", "gcp": "europe-west4", "azure": "westeurope"}


def _problems(target: str, plane: dict) -> list[str]:
    cluster = {"name": "c", "target": target, "region": REGIONS[target], "controlPlane": plane}
    try:
        load_spec({"fleetform:clusters": [cluster]})
    except FleetConfigError as err:
        return err.problems
    return []


@pytest.mark.parametrize("target", sorted(REGIONS))
def test_private_access_takes_private_ranges_only(target):
    ok = ["10.200.0.0/16", "192.168.8.0/24", "100.64.0.0/16"]
    routes = {"routes": [{"cidr": c, "transitGatewayId": "tgw-0123456789abcdef0"} for c in ok]} if target == "aws" else {}
    cluster = {"name": "c", "target": target, "region": REGIONS[target], "controlPlane": {"privateAccessCidrs": ok},
               "network": routes}
    assert load_spec({"fleetform:clusters": [cluster]}).clusters[0].control_plane.private_access_cidrs
    (line,) = [p for p in _problems(target, {"privateAccessCidrs": ["10.200.0.0/16", "52.94.0.0/16"]})
               if "network.routes" not in p]
    assert line.startswith("fleetform:clusters[0].controlPlane.privateAccessCidrs: ")
    assert "private ranges (RFC 1918 or 100.64.0.0/10)" in line and "apiAllowedCidrs" in line


@pytest.mark.parametrize("target", sorted(REGIONS))
def test_api_allowed_cidrs_only_with_a_public_endpoint_on_managed_clusters(target):
    (line,) = _problems(target, {"apiAllowedCidrs": ["203.0.113.0/24"]})
    assert line.startswith("fleetform:clusters[0].controlPlane.apiAllowedCidrs: ")
    assert "nothing while publicAccess is false" in line
    assert _problems(target, {"publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24"]}) == []


def test_self_managed_keeps_api_allowed_cidrs_for_its_internal_load_balancer():
    cluster = {"name": "c", "target": "aws", "mode": "self-managed", "region": "us-east-1",
               "network": {"cidr": "10.20.0.0/16"}, "controlPlane": {"apiAllowedCidrs": ["10.200.0.0/16"]}}
    assert load_spec({"fleetform:clusters": [cluster]}).clusters[0].control_plane.api_allowed_cidrs


def test_gke_private_endpoint_gets_no_public_range():
    from fleetform.cluster.gke import authorized_networks

    spec = load_spec({"fleetform:clusters": [{"name": "c", "target": "gcp", "region": "europe-west4",
                                              "controlPlane": {"privateAccessCidrs": ["10.200.0.0/16"]}}]}).clusters[0]
    assert authorized_networks(spec) == [("network.cidr", "10.0.0.0/16"), ("privateAccessCidrs[0]", "10.200.0.0/16")]
    public = load_spec({"fleetform:clusters": [{"name": "c", "target": "gcp", "region": "europe-west4",
                                                "controlPlane": {"publicAccess": True,
                                                                 "apiAllowedCidrs": ["203.0.113.0/24"]}}]}).clusters[0]
    assert authorized_networks(public)[-1] == ("apiAllowedCidrs[0]", "203.0.113.0/24")


def test_private_access_ranges_are_outside_the_network_listed_once_and_routed_back_on_aws():
    (inside,) = _problems("gcp", {"privateAccessCidrs": ["10.0.5.0/24"]})  # the default network.cidr is 10.0.0.0/16
    assert inside.startswith('fleetform:clusters[0].controlPlane.privateAccessCidrs[0]: got "10.0.5.0/24"; allowed: a range outside')
    (twice,) = _problems("azure", {"privateAccessCidrs": ["10.200.0.0/16", "10.200.0.0/16"]})
    assert twice.startswith("fleetform:clusters[0].controlPlane.privateAccessCidrs[1]: ")
    (unrouted,) = _problems("aws", {"privateAccessCidrs": ["10.200.0.0/16"]})
    assert "network.routes" in unrouted
    routed = {"name": "c", "target": "aws", "region": "us-east-1", "controlPlane": {"privateAccessCidrs": ["10.200.4.0/24"]},
              "network": {"routes": [{"cidr": "10.200.0.0/16", "transitGatewayId": "tgw-0123456789abcdef0"}]}}
    assert load_spec({"fleetform:clusters": [routed]}).clusters[0].control_plane.private_access_cidrs
