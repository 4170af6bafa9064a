"""Pins of a cluster entry's cross-field rules (docs/configuration.md: clusters, control plane, load
balancers, on-prem hosts; docs/targets.md): each case is one cluster and the exact problem lines.

Region shapes: AWS names regions like us-east-1, us-gov-west-1, us-isob-east-1
(https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html), GCP like
europe-west4, northamerica-northeast1 (https://cloud.google.com/compute/docs/regions-zones), Azure
like westeurope, eastus2 (https://learn.microsoft.com/azure/reliability/regions-list, the "Name" column).
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetform.config import FleetConfigError, load_spec
from fleetform.config.cluster import LoadBalancerSpec
from tests.conftest import cluster, fleet

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgKCvDeCFjbxSWnegh4QZ9OtMRv5xD8Iy7tzTeyKNib"
P = "fleetform:clusters[0]."


def _host(name: str, address: str, role: str = "master", **kw: Any) -> dict[str, Any]:
    return {"name": name, "address": address, "role": role, **kw}


def onprem(**kw: Any) -> dict[str, Any]:
    base = {"ssh": {"verifyHostKeys": False}, "hosts": [_host("m1", "192.0.2.11")]}
    base.update(kw)
    return cluster("dc", "onprem", **base)


def problems(c: dict[str, Any]) -> list[str]:
    try:
        load_spec(fleet([c], [], sshPrivateKey="k"))
    except FleetConfigError as e:
        return e.problems
    return []


EX_WHY = "(fleetform provisions nothing there)"
OP_WHY = "(a cloud setting: the hosts are yours)"
ONLY_ONPREM = "allowed: only for target onprem"

CASES = [
    # --- valid entries: no problem at all
    ("aws ok", cluster("c1", "aws"), []),
    ("aws gov region", cluster("c1", "aws", region="us-gov-west-1"), []),
    ("aws iso region", cluster("c1", "aws", region="us-isob-east-1"), []),
    ("aws ap region", cluster("c1", "aws", region="ap-southeast-2"), []),
    ("gcp long region", cluster("c1", "gcp", region="northamerica-northeast1"), []),
    ("azure digit region", cluster("c1", "azure", region="eastus2"), []),
    ("existing ok", cluster("x", "existing"), []),
    ("existing cloud lb", cluster("x", "existing", loadBalancer={"provider": "cloud",
                                                              "internalAnnotations": {"a": "b"}}), []),
    ("onprem ok", onprem(), []),
    ("onprem metallb", onprem(loadBalancer={"provider": "metallb", "internalPool": "dc-internal"}), []),
    ("onprem count set and matching", onprem(controlPlane={"count": 1}), []),
    ("onprem 3 masters with vip", onprem(vip="192.0.2.10", hosts=[_host(f"m{i}", f"192.0.2.1{i}") for i in (1, 2, 3)]), []),
    ("onprem host keys given", onprem(ssh={}, hosts=[_host("m1", "192.0.2.11", hostKey=KEY)]), []),
    ("aws public with cidrs", cluster("c1", "aws", controlPlane={"publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24"]}), []),
    ("aws self-managed api cidrs", cluster("c1", "aws", mode="self-managed", controlPlane={"apiAllowedCidrs": ["10.9.0.0/16"]}), []),
    ("aws private access with route", cluster("c1", "aws", network={"routes": [{"cidr": "10.9.0.0/16", "vpnGatewayId": "vgw-0123456789abcdef0"}]},
                                              controlPlane={"privateAccessCidrs": ["10.9.1.0/24"]}), []),
    ("aws private access listed twice", cluster("c1", "aws", network={"routes": [{"cidr": "10.9.0.0/16", "vpnGatewayId": "vgw-0123456789abcdef0"}]},
                                                controlPlane={"privateAccessCidrs": ["10.9.1.0/24", "10.9.1.0/24"]}), [
        P + 'controlPlane.privateAccessCidrs[1]: got "10.9.1.0/24"; allowed: a range not listed before']),
    ("gcp private access", cluster("c1", "gcp", controlPlane={"privateAccessCidrs": ["10.9.0.0/16"]}), []),
    # --- target existing
    ("existing region and pools", cluster("x", "existing", region="us-east-1", nodePools=[]), [
        P + f'region: got "us-east-1"; allowed: nothing for target existing {EX_WHY}',
        P + f'nodePools: got "[...]"; allowed: nothing for target existing {EX_WHY}']),
    ("existing cloud settings", cluster("x", "existing", network={"zones": 2}, tags={"a": "b"},
                                        controlPlane={"count": 1}), [
        P + f'network: got "{{...}}"; allowed: nothing for target existing {EX_WHY}',
        P + f'tags: got "{{...}}"; allowed: nothing for target existing {EX_WHY}',
        P + f'controlPlane: got "{{...}}"; allowed: nothing for target existing {EX_WHY}']),
    ("cloud with existing", cluster("c1", "aws", existing={}), [
        P + 'existing: got "{...}"; allowed: only for target existing']),
    # --- regions
    ("aws region 2 digits", cluster("c1", "aws", region="us-east-10"), [
        P + 'region: got "us-east-10"; allowed: an AWS region such as us-east-1']),
    ("aws region upper", cluster("c1", "aws", region="US-EAST-1"), [
        P + 'region: got "US-EAST-1"; allowed: an AWS region such as us-east-1']),
    ("aws without region", {"name": "c1", "target": "aws"}, [
        P + "region: got null; allowed: an AWS region such as us-east-1 (required for target aws)"]),
    ("azure without region", {"name": "c1", "target": "azure"}, [
        P + "region: got null; allowed: an Azure region such as westeurope (required for target azure)"]),
    ("gcp zone not region", cluster("c1", "gcp", region="europe-west4-a"), [
        P + 'region: got "europe-west4-a"; allowed: a GCP region such as europe-west4']),
    ("azure display name", cluster("c1", "azure", region="West Europe"), [
        P + 'region: got "West Europe"; allowed: an Azure region such as westeurope']),
    ("onprem region", onprem(region="us-east-1"), [P + 'region: got "us-east-1"; allowed: nothing for target onprem']),
    # --- onprem: cloud settings
    ("onprem cloud settings", onprem(network={"zones": 2}, tags={"a": "b"}, controlPlane={
        "size": "m6i.large", "publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24"],
        "privateAccessCidrs": ["10.9.0.0/16"]}), [
        P + f'network: got "{{...}}"; allowed: nothing for target onprem {OP_WHY}',
        P + f'tags: got "{{...}}"; allowed: nothing for target onprem {OP_WHY}',
        P + f'controlPlane.size: got "m6i.large"; allowed: nothing for target onprem {OP_WHY}',
        P + f'controlPlane.publicAccess: got true; allowed: nothing for target onprem {OP_WHY}',
        P + f'controlPlane.apiAllowedCidrs: got "[...]"; allowed: nothing for target onprem {OP_WHY}',
        P + f'controlPlane.privateAccessCidrs: got "[...]"; allowed: nothing for target onprem {OP_WHY}']),
    ("onprem api cidrs only", onprem(controlPlane={"apiAllowedCidrs": ["10.9.0.0/16"]}), [
        P + f'controlPlane.apiAllowedCidrs: got "[...]"; allowed: nothing for target onprem {OP_WHY}']),
    # --- managed clouds: the API endpoint
    ("managed api cidrs private endpoint", cluster("c1", "gcp", controlPlane={"apiAllowedCidrs": ["10.9.0.0/16"]}), [
        P + 'controlPlane.apiAllowedCidrs: got "[...]"; allowed: nothing while publicAccess is false on a managed '
            "cluster (they are the public endpoint's sources; list private networks in privateAccessCidrs)"]),
    ("private access inside vpc", cluster("c1", "azure", controlPlane={"privateAccessCidrs": ["10.0.1.0/24"]}), [
        P + 'controlPlane.privateAccessCidrs[0]: got "10.0.1.0/24"; allowed: a range outside the cluster\'s network '
            "10.0.0.0/16 (which reaches the private endpoint already)"]),
    ("aws private access without route", cluster("c1", "aws", controlPlane={"privateAccessCidrs": ["10.9.0.0/16"]}), [
        P + 'controlPlane.privateAccessCidrs[0]: got "10.9.0.0/16"; allowed: a range inside one of network.routes '
            "(on AWS the private subnets need a route back to it: add a network.routes entry)"]),
    ("self-managed private access", cluster("c1", "gcp", mode="self-managed",
                                            controlPlane={"privateAccessCidrs": ["10.9.0.0/16"]}), [
        P + 'controlPlane.privateAccessCidrs: got "[...]"; allowed: nothing for a self-managed cluster (list VPN and '
            "peered ranges in apiAllowedCidrs: they are admitted to its internal API load balancer)"]),
    # --- routes
    ("gcp routes", cluster("c1", "gcp", network={"routes": [{"cidr": "10.9.0.0/16", "vpnGatewayId": "vgw-0123456789abcdef0"}]}), [
        P + 'network.routes: got "[...]"; allowed: nothing for target gcp (a peering exchanges routes itself; '
            "routes are for aws, whose route tables need them)"]),
    ("azure routes", cluster("c1", "azure", network={"routes": [{"cidr": "10.9.0.0/16", "vpnGatewayId": "vgw-0123456789abcdef0"}]}), [
        P + 'network.routes: got "[...]"; allowed: nothing for target azure (a peering exchanges routes itself; '
            "routes are for aws, whose route tables need them)"]),
    # --- load balancers
    ("cloud with loadBalancer", cluster("c1", "aws", loadBalancer={"provider": "metallb"}), [
        P + 'loadBalancer: got "{...}"; allowed: only for targets onprem and existing (clouds use their own load balancers)']),
    ("onprem lb cloud", onprem(loadBalancer={"provider": "cloud"}), [
        P + 'loadBalancer.provider: got "cloud"; allowed: servicelb or metallb for target onprem (no cloud controller serves your hosts)']),
    ("onprem lb none", onprem(loadBalancer={"provider": "none"}), [
        P + 'loadBalancer.provider: got "none"; allowed: servicelb or metallb for target onprem '
            "(fleetform installs k3s there, whose ServiceLB hands out addresses)"]),
    # --- node pools
    ("no pools", cluster("c1", "aws", nodePools=[]), [P + "nodePools: got []; allowed: at least one node pool"]),
    ("duplicate pool", cluster("c1", "aws", nodePools=[{"name": "a", "size": "s"}, {"name": "a", "size": "s"}]), [
        P + 'nodePools[1].name: got "a"; allowed: a name not used by another pool of this cluster']),
    ("self-managed on k3s nets", cluster("c1", "aws", mode="self-managed", network={"cidr": "10.42.0.0/16"}), [
        P + 'network.cidr: got "10.42.0.0/16"; allowed: a CIDR that does not overlap k3s\'s pod and service '
            "networks (10.42.0.0/16, 10.43.0.0/16)"]),
    # --- onprem entries off onprem
    ("hosts vip ssh install off onprem", cluster("x", "existing", hosts=[_host("m1", "192.0.2.11")], vip="192.0.2.10",
                                                 ssh={"port": 2222}, install={"scriptUrl": "https://mirror.example/k3s.sh"}), [
        P + 'hosts: got "[...]"; ' + ONLY_ONPREM, P + 'vip: got "192.0.2.10"; ' + ONLY_ONPREM,
        P + 'ssh: got "{...}"; ' + ONLY_ONPREM, P + 'install: got "{...}"; ' + ONLY_ONPREM]),
    # --- onprem hosts
    ("onprem pools", onprem(nodePools=[]), [
        P + 'nodePools: got "[...]"; allowed: nothing for target onprem (list the workers in hosts)']),
    ("onprem no hosts", onprem(hosts=[]), [
        P + "hosts: got []; allowed: the cluster's existing machines, at least one with role master (required for target onprem)"]),
    ("duplicate host name and address", onprem(hosts=[_host("m1", "192.0.2.11"), _host("m1", "192.0.2.11", "worker")]), [
        P + 'hosts[1].name: got "m1"; allowed: a name not used by another host of this cluster',
        P + 'hosts[1].address: got "192.0.2.11"; allowed: an address not used by another host of this cluster']),
    ("host key missing", onprem(ssh={}, hosts=[_host("m1", "192.0.2.11", hostKey=KEY), _host("w1", "192.0.2.12", "worker")]), [
        P + "hosts[1].hostKey: got null; allowed: the host's SSH public key (ssh-keyscan -t ed25519 <address>), "
            "or ssh.verifyHostKeys: false"]),
    ("count not matching", onprem(controlPlane={"count": 3}), [
        P + "controlPlane.count: got 3; allowed: the number of hosts with role master (1 listed)"]),
    ("two masters", onprem(hosts=[_host("m1", "192.0.2.11"), _host("m2", "192.0.2.12")]), [
        P + 'hosts: got "2 masters"; allowed: 1 or 3 hosts with role master (embedded etcd needs an odd quorum)']),
    ("three masters no vip", onprem(hosts=[_host(f"m{i}", f"192.0.2.1{i}") for i in (1, 2, 3)]), [
        P + "vip: got null; allowed: the API's fixed registration address: a virtual IP or load balancer forwarding "
            "TCP 6443 to the masters (required with 3 masters)"]),
    ("three masters counted no vip", onprem(controlPlane={"count": 3}, hosts=[_host(f"m{i}", f"192.0.2.1{i}") for i in (1, 2, 3)]), [
        P + "vip: got null; allowed: the API's fixed registration address: a virtual IP or load balancer forwarding "
            "TCP 6443 to the masters (required with 3 masters)"]),
    ("vip is a host", onprem(vip="192.0.2.12", hosts=[_host(f"m{i}", f"192.0.2.1{i}") for i in (1, 2, 3)]), [
        P + 'vip: got "192.0.2.12"; allowed: an address of no host (with 3 masters the API address must outlive any one master)']),
]


@pytest.mark.parametrize("c,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_cluster_entry_problems(c, expected):
    assert problems(c) == expected


# --- network.cidr large enough for the pools (docs/configuration.md: "network.cidr large enough for the
# pools"): the nodes counted are every pool's max, plus the masters of a self-managed cluster, plus the
# system pool fleetform adds to every AKS cluster (3 nodes, components/fleetform/cluster/aks.py).
def _first_too_many(target: str, cidr: str) -> int:
    from fleetform.network.cidr import capacity_problem

    n = 1
    while capacity_problem(target, cidr, 3, n) is None:
        n += 1
    return n


@pytest.mark.parametrize("target,mode,cidr,extra", [
    ("aws", None, "10.0.0.0/20", 0),
    ("gcp", None, "10.0.0.0/18", 0),
    ("azure", None, "10.0.0.0/17", 3),
    ("aws", "self-managed", "10.0.0.0/20", 3),
    ("azure", "self-managed", "10.0.0.0/18", 3),
])
def test_cidr_capacity_counts_pools_masters_and_aks_system_nodes(target, mode, cidr, extra):
    from fleetform.network.cidr import capacity_problem

    n = _first_too_many(target, cidr)
    extra_mode = {"mode": mode} if mode else {}

    def entry(pool_max: int) -> dict[str, Any]:
        return cluster("c1", target, network={"cidr": cidr},
                       nodePools=[{"name": "general", "size": "s", "min": 1, "max": pool_max}], **extra_mode)

    assert problems(entry(n - 1 - extra)) == []
    assert problems(entry(n - extra)) == [P + f'network.cidr: got "{cidr}"; allowed: {capacity_problem(target, cidr, 3, n)}']


def test_a_cidr_on_k3s_networks_is_reported_once_even_when_also_too_small():
    c = cluster("c1", "aws", mode="self-managed", network={"cidr": "10.42.0.0/20"},
                nodePools=[{"name": "general", "size": "s", "min": 1, "max": 1000}])
    assert problems(c) == [P + 'network.cidr: got "10.42.0.0/20"; allowed: a CIDR that does not overlap k3s\'s pod and '
                               "service networks (10.42.0.0/16, 10.43.0.0/16)"]


def test_onprem_managed_gets_no_managed_cloud_checks():
    # mode managed is refused on onprem; the managed clouds' privateAccessCidrs rules do not apply there.
    c = onprem(mode="managed", controlPlane={"privateAccessCidrs": ["10.0.1.0/24"]})
    assert problems(c) == [
        P + 'mode: got "managed"; allowed: self-managed for target onprem (there is no managed Kubernetes on your hosts)',
        P + f'controlPlane.privateAccessCidrs: got "[...]"; allowed: nothing for target onprem {OP_WHY}']


# --- expose: internal on onprem/existing needs a MetalLB internalPool or provider cloud with
# internalAnnotations (docs/configuration.md, load balancers); the reason each other choice fails.
@pytest.mark.parametrize("lb,why", [
    ({}, "servicelb answers on the nodes' own addresses for public and internal Services alike"),
    ({"provider": "metallb"}, "metallb has no internalPool, so internal Services get addresses from the public pools"),
    ({"provider": "metallb", "publicPool": "pub"},
     "metallb has no internalPool, so internal Services get addresses from the public pools"),
    ({"provider": "metallb", "internalPool": "int"}, None),
    ({"provider": "cloud"}, "the cloud's load balancer is internet-facing unless internalAnnotations make it internal"),
    ({"provider": "cloud", "internalAnnotations": {"networking.gke.io/load-balancer-type": "Internal"}}, None),
    ({"provider": "none"}, "provider none gives services no load-balancer address at all"),
])
def test_internal_problem_says_why_internal_would_not_be_internal(lb, why):
    assert LoadBalancerSpec.model_validate(lb).internal_problem() == why
