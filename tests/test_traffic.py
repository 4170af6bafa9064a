"""Global traffic (``fleetform:traffic``, docs/traffic.md): config checks with their exact
messages, and what each DNS provider module builds, pinned where it is built.

The provider limits asserted here come from the providers' documentation (cited in
``fleetform/config/traffic.py`` and docs/traffic.md): Route 53 weights 0-255, health checks every
10 or 30 s, failover PRIMARY/SECONDARY only (so more clusters chain through aliases); Cloud DNS
external endpoints are IPs, a health check with exactly 3 source regions and an interval of at
least 30 s; Traffic Manager weights and priorities 1-1000 (so drained is Disabled), probe timeout
at most 10 s (9 s at a 10 s interval), tolerated failures 0-9.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fleetform import testing
from fleetform.config import FleetConfigError, ServiceSpec, load_spec
from fleetform.config.traffic import Routed, TrafficSpec, routed
from fleetform.plan.mocks import plain
from fleetform.traffic import Endpoint, GlobalHostname
from tests.conftest import cluster, fleet, planned, regs, service, stack_config

WEB = ServiceSpec.model_validate(service("web", servicePort=8443, health={"path": "/ready"}))


def _spec(provider: str = "route53", **kw: Any) -> TrafficSpec:
    dns: dict[str, Any] = {"provider": provider, "zone": "example.com"}
    dns.update({"clouddns": {"managedZone": "example-com"}, "trafficmanager": {"resourceGroup": "rg-dns"}}.get(provider, {}))
    dns.update(kw.pop("dns", {}))
    return TrafficSpec.model_validate({"service": "web", "hostname": "shop.example.com", "dns": dns, **kw})


def ep(cluster_name: str, address: str, kind: str = "ip", *, weight: int = 1, priority: int = 1,
       region: Any = None, lb_region: Any = None, target: str = "gcp") -> Endpoint:
    return Endpoint(Routed(cluster_name, target, weight, priority, None, region), address, kind,  # type: ignore[arg-type]
                    lb_region)


def build(spec: TrafficSpec, endpoints: list[Endpoint]) -> Any:
    return testing.plan(lambda: GlobalHostname(spec.hostname, spec, WEB, endpoints))


def inputs(result: Any, type_: str) -> dict[str, dict]:
    return {r.name: plain(r.inputs, mask=False) for r in regs(result, type_)}


R53_CHECK, R53_RECORD = "aws:route53/healthCheck:HealthCheck", "aws:route53/record:Record"


# ----------------------------------------------------------------------------------- Route 53


def test_route53_weighted_health_checks_and_records():
    spec = _spec(healthCheck={"intervalSeconds": 10, "failureThreshold": 2})
    result = build(spec, [
        ep("hy-aws", "web-123.elb.eu-west-1.amazonaws.com", "aws-lb", weight=3, lb_region="eu-west-1", target="aws"),
        ep("hy-gcp", "198.51.100.7"),
        ep("hy-dc", "203.0.113.80", weight=0, target="existing"),
    ])
    checks = inputs(result, R53_CHECK)
    assert set(checks) == {f"shop.example.com-{c}-health" for c in ("hy-aws", "hy-gcp", "hy-dc")}
    for name, check in checks.items():
        # The service's health path at its load-balancer port, the interval and threshold given.
        assert (check["type"], check["port"], check["resourcePath"], check["requestInterval"],
                check["failureThreshold"]) == ("HTTP", 8443, "/ready", 10, 2), name
    assert checks["shop.example.com-hy-aws-health"]["fqdn"] == "web-123.elb.eu-west-1.amazonaws.com"
    assert "ipAddress" not in checks["shop.example.com-hy-aws-health"]
    assert checks["shop.example.com-hy-gcp-health"]["ipAddress"] == "198.51.100.7"
    assert "fqdn" not in checks["shop.example.com-hy-gcp-health"]

    records = inputs(result, R53_RECORD)
    assert {n: (r["name"], r["type"], r["setIdentifier"], r["weightedRoutingPolicies"], r["healthCheckId"])
            for n, r in records.items()} == {
        "shop.example.com-hy-aws": ("shop.example.com", "A", "hy-aws", [{"weight": 3}], "shop.example.com-hy-aws-health-id"),
        "shop.example.com-hy-gcp": ("shop.example.com", "A", "hy-gcp", [{"weight": 1}], "shop.example.com-hy-gcp-health-id"),
        # weight 0: drained, answered only when every other record is unhealthy
        "shop.example.com-hy-dc": ("shop.example.com", "A", "hy-dc", [{"weight": 0}], "shop.example.com-hy-dc-health-id"),
    }
    aws_record = records["shop.example.com-hy-aws"]
    (alias,) = aws_record["aliases"]
    # An alias to the NLB (no TTL, no records of its own), evaluating the NLB's health too.
    assert alias["name"] == "web-123.elb.eu-west-1.amazonaws.com" and alias["evaluateTargetHealth"] is True
    assert alias["zoneId"] != aws_record["zoneId"]  # the load balancer's zone, not ours
    assert "ttl" not in aws_record and "records" not in aws_record
    assert (records["shop.example.com-hy-gcp"]["records"], records["shop.example.com-hy-gcp"]["ttl"]) == (["198.51.100.7"], 60)
    assert len({r["zoneId"] for r in records.values()}) == 1


def test_route53_zone_id_given_is_used():
    result = build(_spec(dns={"zoneId": "Z0123456789ABC"}), [ep("hy-gcp", "198.51.100.7")])
    assert {r["zoneId"] for r in inputs(result, R53_RECORD).values()} == {"Z0123456789ABC"}


def test_route53_hostnames_are_cnames_checked_by_name():
    result = build(_spec(), [ep("dc1", "dc1.example.net", "hostname", target="existing"),
                             ep("dc2", "dc2.example.net", "hostname", target="existing")])
    for name, r in inputs(result, R53_RECORD).items():
        assert r["type"] == "CNAME" and r["records"] == [name.rsplit("-", 1)[1] + ".example.net"]
    for check in inputs(result, R53_CHECK).values():
        assert check["fqdn"].endswith(".example.net") and "ipAddress" not in check


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_route53_failover_chains_clusters_in_priority_order(count):
    names = ["c1", "c2", "c3", "c4"][:count]
    # Listed out of order: the priorities decide.
    endpoints = [ep(n, f"198.51.100.{i + 10}", priority=i + 1) for i, n in enumerate(names)][::-1]
    result = build(_spec(policy="failover"), endpoints)
    records = list(inputs(result, R53_RECORD).values())
    by_name: dict[str, dict[str, dict]] = {}
    for r in records:
        (policy,) = r["failoverRoutingPolicies"]
        assert policy["type"] not in by_name.setdefault(r["name"], {}), r
        by_name[r["name"]][policy["type"]] = r
    # Walk the chain as a resolver would when every cluster before the k-th is unhealthy.
    order: list[str] = []
    here = "shop.example.com"
    while True:
        level = by_name.pop(here)
        order.append(level["PRIMARY"]["records"][0])
        assert level["PRIMARY"]["healthCheckId"]
        secondary = level.get("SECONDARY")
        if secondary is None:
            break
        if "aliases" in secondary:
            (alias,) = secondary["aliases"]
            assert alias["evaluateTargetHealth"] is True and alias["zoneId"] == secondary["zoneId"]
            assert "healthCheckId" not in secondary
            here = alias["name"]
            continue
        order.append(secondary["records"][0])
        assert secondary["healthCheckId"]
        break
    assert not by_name, f"records outside the chain: {by_name}"
    assert order == [f"198.51.100.{i + 10}" for i in range(count)]
    # Set identifiers and names say the position, not the cluster: a new order updates in place.
    regs_ = regs(result, R53_RECORD)
    assert {plain(r.inputs, mask=False)["setIdentifier"] for r in regs_} == ({"primary", "secondary"} if count > 1
                                                                             else {"primary"})
    assert all(r.name.startswith("shop.example.com-failover") for r in regs_)
    # Each SECONDARY alias waits for the records of the name it points at (Route 53 refuses an
    # alias to a name that does not exist yet).
    by_urn = {r.urn: plain(r.inputs, mask=False) for r in regs_}
    for r in regs_:
        aliases = by_urn[r.urn].get("aliases") or []
        if aliases:
            target = aliases[0]["name"]
            pointed = {u for u, i in by_urn.items() if i["name"] == target}
            assert pointed and pointed <= set(r.dependencies), r.name


def test_route53_latency_records_name_their_regions():
    result = build(_spec(policy="latency"), [
        ep("hy-aws", "web.elb.eu-west-1.amazonaws.com", "aws-lb", region="eu-west-1", lb_region="eu-west-1", target="aws"),
        ep("hy-gcp", "198.51.100.7", region="eu-central-1"),
    ])
    records = inputs(result, R53_RECORD)
    assert {n: (r["setIdentifier"], r["latencyRoutingPolicies"]) for n, r in records.items()} == {
        "shop.example.com-hy-aws": ("hy-aws", [{"region": "eu-west-1"}]),
        "shop.example.com-hy-gcp": ("hy-gcp", [{"region": "eu-central-1"}]),
    }


# ---------------------------------------------------------------------------------- Cloud DNS

GCP_CHECK, GCP_RECORD = "gcp:compute/healthCheck:HealthCheck", "gcp:dns/recordSet:RecordSet"


def _cloud_dns(result: Any) -> tuple[dict, dict]:
    (check,) = inputs(result, GCP_CHECK).values()
    (record,) = inputs(result, GCP_RECORD).values()
    return check, record


def test_clouddns_weighted_round_robin_with_a_global_health_check():
    spec = _spec("clouddns", ttl=30, healthCheck={"intervalSeconds": 60, "failureThreshold": 4})
    result = build(spec, [ep("hy-gcp", "198.51.100.7", weight=3), ep("hy-dc", "203.0.113.80", weight=0)])
    check, record = _cloud_dns(result)
    assert len(check["sourceRegions"]) == 3 and len(set(check["sourceRegions"])) == 3
    assert (check["checkIntervalSec"], check["unhealthyThreshold"]) == (60, 4)
    assert check["timeoutSec"] <= check["checkIntervalSec"]
    assert check["httpHealthCheck"]["port"] == 8443 and check["httpHealthCheck"]["requestPath"] == "/ready"
    assert "httpsHealthCheck" not in check
    assert (record["name"], record["type"], record["ttl"], record["managedZone"]) == (
        "shop.example.com.", "A", 30, "example-com")
    policy = record["routingPolicy"]
    assert policy["healthCheck"] == "shop.example.com-health-id"
    assert policy["wrrs"] == [
        {"weight": 3, "healthCheckedTargets": {"externalEndpoints": ["198.51.100.7"]}},
        {"weight": 0, "healthCheckedTargets": {"externalEndpoints": ["203.0.113.80"]}},
    ]
    assert "rrdatas" not in record


def test_clouddns_failover_is_primary_then_backup():
    result = build(_spec("clouddns", policy="failover", healthCheck={"protocol": "HTTPS"}), [
        ep("a", "198.51.100.1", priority=2), ep("b", "198.51.100.2", priority=1), ep("c", "198.51.100.3", priority=2),
    ])
    check, record = _cloud_dns(result)
    assert check["httpsHealthCheck"]["requestPath"] == "/ready" and "httpHealthCheck" not in check
    backup = record["routingPolicy"]["primaryBackup"]
    assert backup["primary"] == {"externalEndpoints": ["198.51.100.2"]}
    (geo,) = backup["backupGeos"]
    assert geo["healthCheckedTargets"] == {"externalEndpoints": ["198.51.100.1", "198.51.100.3"]}
    assert backup["trickleRatio"] == 0


def test_clouddns_latency_groups_clusters_by_region():
    result = build(_spec("clouddns", policy="latency"), [
        ep("a", "198.51.100.1", region="europe-west4"), ep("b", "198.51.100.2", region="us-east4"),
        ep("c", "198.51.100.3", region="europe-west4"),
    ])
    _, record = _cloud_dns(result)
    assert record["routingPolicy"]["geos"] == [
        {"location": "europe-west4", "healthCheckedTargets": {"externalEndpoints": ["198.51.100.1", "198.51.100.3"]}},
        {"location": "us-east4", "healthCheckedTargets": {"externalEndpoints": ["198.51.100.2"]}},
    ]


# ---------------------------------------------------------------------------- Traffic Manager

TM_PROFILE, TM_ENDPOINT = "azure-native:trafficmanager:Profile", "azure-native:trafficmanager:Endpoint"


@pytest.mark.parametrize("interval, timeout", [(30, 10), (10, 9)])
def test_trafficmanager_profile_monitors_the_health_path(interval, timeout):
    spec = _spec("trafficmanager", ttl=30, healthCheck={"intervalSeconds": interval, "failureThreshold": 3})
    result = build(spec, [ep("hy-azure", "198.51.100.7")])
    (profile,) = inputs(result, TM_PROFILE).values()
    assert profile["trafficRoutingMethod"] == "Weighted" and profile["location"] == "global"
    assert profile["resourceGroupName"] == "rg-dns"
    # Any 2xx is healthy (Traffic Manager's default is 200 only).
    assert profile["monitorConfig"] == {"protocol": "HTTP", "port": 8443, "path": "/ready", "intervalInSeconds": interval,
                                        "timeoutInSeconds": timeout, "toleratedNumberOfFailures": 2,
                                        "expectedStatusCodeRanges": [{"min": 200, "max": 299}]}
    assert profile["dnsConfig"]["ttl"] == 30
    label = profile["dnsConfig"]["relativeName"]
    assert label == profile["profileName"] and label.startswith("shop-") and len(label) <= 63


def test_trafficmanager_weighted_endpoints_and_drain():
    result = build(_spec("trafficmanager"), [ep("hy-azure", "198.51.100.7", weight=5),
                                            ep("hy-gcp", "198.51.100.8", weight=0)])
    endpoints = inputs(result, TM_ENDPOINT)
    assert {n: (e["endpointType"], e["target"], e["weight"], e["endpointStatus"], e["endpointName"])
            for n, e in endpoints.items()} == {
        "shop.example.com-hy-azure": ("ExternalEndpoints", "198.51.100.7", 5, "Enabled", "hy-azure"),
        # Traffic Manager weights are 1-1000: drained is a Disabled endpoint.
        "shop.example.com-hy-gcp": ("ExternalEndpoints", "198.51.100.8", 1, "Disabled", "hy-gcp"),
    }
    assert all("priority" not in e and "endpointLocation" not in e for e in endpoints.values())


def test_trafficmanager_failover_and_latency():
    failover = build(_spec("trafficmanager", policy="failover"),
                     [ep("a", "198.51.100.1", priority=2), ep("b", "198.51.100.2", priority=1)])
    (profile,) = inputs(failover, TM_PROFILE).values()
    assert profile["trafficRoutingMethod"] == "Priority"
    assert {e["endpointName"]: e["priority"] for e in inputs(failover, TM_ENDPOINT).values()} == {"a": 2, "b": 1}
    latency = build(_spec("trafficmanager", policy="latency"),
                    [ep("a", "198.51.100.1", region="westeurope"), ep("b", "198.51.100.2", region="eastus2")])
    (profile,) = inputs(latency, TM_PROFILE).values()
    assert profile["trafficRoutingMethod"] == "Performance"
    assert {e["endpointName"]: e["endpointLocation"] for e in inputs(latency, TM_ENDPOINT).values()} == {
        "a": "westeurope", "b": "eastus2"}


def test_trafficmanager_cname_in_the_azure_dns_zone():
    result = build(_spec("trafficmanager", dns={"zoneResourceGroup": "rg-zones"}), [ep("a", "198.51.100.1")])
    (profile,) = inputs(result, TM_PROFILE).values()
    (cname,) = inputs(result, "azure-native:dns:RecordSet").values()
    assert (cname["resourceGroupName"], cname["zoneName"], cname["relativeRecordSetName"], cname["recordType"]) == (
        "rg-zones", "example.com", "shop", "CNAME")
    assert cname["cnameRecord"] == {"cname": profile["dnsConfig"]["relativeName"] + ".trafficmanager.net"}
    no_zone = build(_spec("trafficmanager"), [ep("a", "198.51.100.1")])
    assert regs(no_zone, "azure-native:dns:RecordSet") == []


# ------------------------------------------------------------------------------------- config


BASE_CLUSTERS = [
    cluster("hy-aws", "aws"), cluster("hy-gcp", "gcp"), cluster("hy-azure", "azure"),
    cluster("hy-dc", "existing", existing={"context": "dc"}, loadBalancer={"provider": "metallb", "publicPool": "p"}),
]
BASE_SERVICES = [service("web"), service("api", expose="cluster"), service("only-gcp", clusters=["hy-gcp"])]


def _problems(*entries: dict) -> list[str]:
    with pytest.raises(FleetConfigError) as exc:
        load_spec(fleet(BASE_CLUSTERS, BASE_SERVICES, traffic=list(entries)))
    return exc.value.problems


def _entry(**kw: Any) -> dict:
    base: dict[str, Any] = {"service": "web", "hostname": "shop.example.com",
                            "dns": {"provider": "route53", "zone": "example.com"},
                            "clusters": [{"name": "hy-gcp"}, {"name": "hy-azure"}]}
    base.update(kw)
    return base


T = "fleetform:traffic[0]"
BAD = [
    (_entry(service="api"), [f"{T}.service: got \"api\"; allowed: a service with expose: public: only-gcp, web"]),
    (_entry(service="nope"), [f"{T}.service: got \"nope\"; allowed: a service with expose: public: only-gcp, web"]),
    (_entry(hostname="shop.example.org"),
     [f"{T}.hostname: got \"shop.example.org\"; allowed: a name below the zone's apex, ending in .example.com "
      "(the apex cannot hold a CNAME)"]),
    (_entry(hostname="example.com"),
     [f"{T}.hostname: got \"example.com\"; allowed: a name below the zone's apex, ending in .example.com "
      "(the apex cannot hold a CNAME)"]),
    (_entry(hostname="Shop.example.com"),
     [f"{T}.hostname: got \"Shop.example.com\"; allowed: a lower-case domain name such as shop.example.com: labels "
      "of letters, digits and '-', not starting or ending with '-'"]),
    (_entry(clusters=[{"name": "hy-gcp", "weight": 256}]),
     [f"{T}.clusters[0].weight: got 256; allowed: 0-255 on Route 53 (0 drains the cluster)"]),
    (_entry(dns={"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "rg"},
            clusters=[{"name": "hy-gcp", "weight": 1001}]),
     [f"{T}.clusters[0].weight: got 1001; allowed: a whole number <= 1000"]),
    (_entry(policy="failover", clusters=[{"name": "hy-gcp", "weight": 2}]),
     [f"{T}.clusters[0].weight: got 2; allowed: only with policy weighted (this entry's policy is failover)"]),
    (_entry(clusters=[{"name": "hy-gcp", "priority": 1}]),
     [f"{T}.clusters[0].priority: got 1; allowed: only with policy failover"]),
    (_entry(policy="failover", clusters=[{"name": "hy-gcp", "priority": 1}, {"name": "hy-azure", "priority": 1}]),
     [f"{T}.clusters[1].priority: got 1; allowed: a priority no other cluster has (cluster hy-gcp has it)"]),
    (_entry(policy="failover", dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"},
            clusters=[{"name": "hy-gcp", "priority": 3}]),
     [f"{T}.clusters[0].priority: got 3; allowed: 1-2 on Cloud DNS (1 primary, 2 backup)"]),
    (_entry(healthCheck={"intervalSeconds": 20}),
     [f"{T}.healthCheck.intervalSeconds: got 20; allowed: one of 10, 30 on Route 53"]),
    (_entry(dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"}, healthCheck={"intervalSeconds": 10}),
     [f"{T}.healthCheck.intervalSeconds: got 10; allowed: 30-300 on Cloud DNS"]),
    (_entry(healthCheck={"failureThreshold": 11}),
     [f"{T}.healthCheck.failureThreshold: got 11; allowed: 1-10 on Route 53"]),
    (_entry(ttl=-1), [f"{T}.ttl: got -1; allowed: 0-2147483647 seconds on Route 53"]),
    (_entry(dns={"provider": "clouddns", "zone": "example.com"}),
     [f"{T}.dns.managedZone: got null; allowed: required for provider clouddns"]),
    (_entry(dns={"provider": "trafficmanager", "zone": "example.com"}),
     [f"{T}.dns.resourceGroup: got null; allowed: required for provider trafficmanager"]),
    (_entry(dns={"provider": "route53", "zone": "example.com", "managedZone": "z"}),
     [f"{T}.dns.managedZone: got \"z\"; allowed: only with provider clouddns"]),
    (_entry(clusters=[{"name": "nope"}]),
     [f"{T}.clusters[0].name: got \"nope\"; allowed: a cluster of this stack: hy-aws, hy-azure, hy-dc, hy-gcp"]),
    (_entry(service="only-gcp", clusters=[{"name": "hy-azure"}]),
     [f"{T}.clusters[0].name: got \"hy-azure\"; allowed: a cluster service only-gcp runs on: hy-gcp"]),
    (_entry(clusters=[{"name": "hy-gcp"}, {"name": "hy-gcp"}]),
     [f"{T}.clusters[1].name: got \"hy-gcp\"; allowed: a cluster not listed before (clusters[0])"]),
    (_entry(clusters=[{"name": "hy-dc"}]),
     [f"{T}.clusters[0].address: got null; allowed: the service's public address on this existing cluster "
      "(fleetform does not provision its load balancer, so it cannot know the address)"]),
    (_entry(clusters=None),
     [f"{T}.clusters: got null; allowed: list the clusters and give cluster hy-dc the service's public address on "
      "this existing cluster (fleetform does not provision its load balancer, so it cannot know the address)"]),
    (_entry(clusters=[{"name": "hy-dc", "address": "10.1.2.3"}]),
     [f"{T}.clusters[0].address: got \"10.1.2.3\"; allowed: a public IPv4 address: the provider's health checkers "
      "probe it from the internet"]),
    (_entry(dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"},
            clusters=[{"name": "hy-dc", "address": "dc.example.net"}]),
     [f"{T}.clusters[0].address: got \"dc.example.net\"; allowed: an IPv4 address: Cloud DNS routes to IP addresses "
      "only (for a load balancer that answers with a hostname, give it static addresses, e.g. an NLB with Elastic IPs, "
      "and list one here)"]),
    (_entry(dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"}, clusters=[{"name": "hy-aws"}]),
     [f"{T}.clusters[0].address: got null; allowed: an IPv4 address: an AWS network load balancer answers with a "
      "hostname and Cloud DNS routes to IP addresses only (give the NLB Elastic IPs and list one, or use dns.provider "
      "route53 or trafficmanager)"]),
    (_entry(dns={"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "rg"},
            clusters=[{"name": "hy-aws"}, {"name": "hy-gcp"}]),
     [f"{T}.clusters: got \"hy-aws, hy-gcp\"; allowed: clusters of one address kind: Traffic Manager does not mix "
      "hostnames (hy-aws) and IP addresses (hy-gcp) behind one name; give hy-aws an address (an NLB with Elastic IPs)"]),
    (_entry(clusters=[{"name": "hy-gcp"}, {"name": "hy-dc", "address": "dc.example.net"}]),
     [f"{T}.clusters: got \"hy-dc, hy-gcp\"; allowed: clusters of one address kind: Route 53 does not mix hostnames "
      "(hy-dc) and IP addresses (hy-gcp) behind one name"]),
    (_entry(policy="latency", clusters=[{"name": "hy-gcp"}]),
     [f"{T}.clusters[0].region: got null; allowed: the Route 53 region nearest this gcp cluster for latency routing: "
      "an AWS region such as us-east-1"]),
    (_entry(policy="latency", clusters=[{"name": "hy-aws", "region": "westeurope"}]),
     [f"{T}.clusters[0].region: got \"westeurope\"; allowed: an AWS region such as us-east-1"]),
    (_entry(clusters=[{"name": "hy-gcp", "region": "eu-west-1"}]),
     [f"{T}.clusters[0].region: got \"eu-west-1\"; allowed: only with policy latency"]),
    (_entry(clusters=[{"name": "hy-dc", "address": "198.18.0.1"}]),
     [f"{T}.clusters[0].address: got \"198.18.0.1\"; allowed: a public IPv4 address: the provider's health checkers "
      "probe it from the internet"]),
    (_entry(policy="failover", dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"},
            clusters=[{"name": "hy-gcp", "priority": 1}, {"name": "hy-azure", "priority": 1}]),
     [f"{T}.clusters: got \"hy-gcp, hy-azure\"; allowed: on Cloud DNS failover, at least one cluster at priority 1 "
      "(primary) and one at priority 2 (backup)"]),
    (_entry(policy="latency", clusters=[{"name": "hy-gcp", "region": "eu-west-1"}, {"name": "hy-azure", "region": "eu-west-1"}]),
     [f"{T}.clusters: got \"hy-gcp, hy-azure\"; allowed: one cluster per AWS region on Route 53 latency routing "
      "(hy-gcp and hy-azure both answer for eu-west-1)"]),
    (_entry(dns={"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "rg"},
            clusters=[{"name": "hy-gcp", "weight": 0}, {"name": "hy-azure", "weight": 0}]),
     [f"{T}.clusters: got \"hy-gcp, hy-azure\"; allowed: at least one cluster not drained on Traffic Manager (weight 0 "
      "disables an endpoint; with all of them disabled the hostname answers nothing)"]),
]


@pytest.mark.parametrize("entry, expected", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_traffic_entries_get_one_line_each(entry, expected):
    assert _problems(entry) == expected


def test_a_rollout_may_not_drain_every_traffic_manager_endpoint():
    entry = _entry(dns={"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "rg"})
    release = {"images": {}, "clusters": [], "drained": ["hy-gcp", "hy-azure"]}
    with pytest.raises(FleetConfigError) as exc:
        load_spec(fleet(BASE_CLUSTERS, BASE_SERVICES, traffic=[entry], release=release))
    assert exc.value.problems == [f"{T}.clusters: got \"hy-gcp, hy-azure\"; allowed: at least one cluster not drained on "
                                  "Traffic Manager (weight 0 disables an endpoint; with all of them disabled the hostname "
                                  "answers nothing)"]
    release["drained"] = ["hy-gcp"]
    assert load_spec(fleet(BASE_CLUSTERS, BASE_SERVICES, traffic=[entry], release=release)).drained() == {"hy-gcp"}


def test_self_managed_gcp_endpoints_are_bare_addresses():
    """Its clusters' output shows ip:port; records and health checks need the bare address."""
    from fleetform.plan.engine import plan

    cfg = copy.deepcopy(stack_config("selfmanaged-gcp"))
    public = next(s for s in cfg["fleetform:services"] if s.get("expose") == "public")
    cfg["fleetform:traffic"] = [{"service": public["name"], "hostname": "shop.example.com",
                                 "dns": {"provider": "route53", "zone": "example.com"}}]
    result = plan("selfmanaged-gcp", config=cfg)
    assert result.exit_code == 0, result.problems()
    out = result.capture.outputs
    (cluster_name,) = out["clusters"]
    shown = out["clusters"][cluster_name]["services"][public["name"]]
    endpoint = out["traffic"]["shop.example.com"]["clusters"][cluster_name]["address"]
    assert shown == f"{endpoint}:{public.get('servicePort', 80)}" and ":" not in endpoint
    (check,) = [plain(r.inputs, mask=False) for r in regs(result, R53_CHECK)]
    assert check["ipAddress"] == endpoint


def test_two_entries_for_one_hostname():
    assert _problems(_entry(), _entry(hostname="shop.example.com.")) == [
        "fleetform:traffic[1].hostname: got \"shop.example.com.\"; allowed: a hostname no other entry routes "
        "(traffic[0] has it)"]


def test_traffic_problems_come_with_other_entries_problems_at_once():
    cfg = fleet(BASE_CLUSTERS, BASE_SERVICES + [service("bad", port=80)], traffic=[_entry(service="api")])
    with pytest.raises(FleetConfigError) as exc:
        load_spec(cfg)
    assert exc.value.problems[-1].startswith("fleetform:traffic[0].service: got \"api\"")
    assert any(p.startswith("fleetform:services[3].port") for p in exc.value.problems)


def test_good_entries_and_their_defaults():
    ok = [
        _entry(clusters=[{"name": "hy-aws", "weight": 0}, {"name": "hy-gcp", "weight": 255}]),
        # Documentation addresses (RFC 5737) pass: examples use them.
        _entry(hostname="a.example.com", policy="failover",
               clusters=[{"name": "hy-dc", "address": "203.0.113.80", "priority": 2}, {"name": "hy-gcp"}]),
        _entry(hostname="b.example.com", dns={"provider": "clouddns", "zone": "example.com", "managedZone": "z"},
               policy="latency", healthCheck={"intervalSeconds": 300},
               clusters=[{"name": "hy-gcp"}, {"name": "hy-azure", "region": "europe-west1"}]),
        _entry(hostname="c.example.com", dns={"provider": "trafficmanager", "zone": "example.com", "resourceGroup": "r"},
               clusters=[{"name": "hy-azure", "weight": 0}, {"name": "hy-gcp", "weight": 1000}]),
        _entry(hostname="d.example.com", clusters=None, service="only-gcp"),
    ]
    spec = load_spec(fleet(BASE_CLUSTERS, BASE_SERVICES, traffic=ok))
    clusters, services = spec.clusters, {s.name: s for s in spec.services}
    first = spec.traffic[0]
    assert (first.policy, first.ttl, first.health_check.interval_seconds, first.health_check.failure_threshold,
            first.health_check.protocol) == ("weighted", 60, 30, 3, "HTTP")
    assert [(r.cluster, r.weight, r.drained) for r in routed(first, clusters, services["web"])] == [
        ("hy-aws", 0, True), ("hy-gcp", 255, False)]
    # failover: a given priority, else the position in the list
    assert [(r.cluster, r.priority) for r in routed(spec.traffic[1], clusters, services["web"])] == [
        ("hy-dc", 2), ("hy-gcp", 2)]
    # latency: a GCP cluster's own region on Cloud DNS, the one given for the others
    assert [(r.cluster, r.region) for r in routed(spec.traffic[2], clusters, services["web"])] == [
        ("hy-gcp", "europe-west4"), ("hy-azure", "europe-west1")]
    # clusters omitted: every cluster the service runs on, weight 1
    assert [(r.cluster, r.weight) for r in routed(spec.traffic[4], clusters, services["only-gcp"])] == [("hy-gcp", 1)]


def test_failover_priority_defaults_to_list_order():
    spec = load_spec(fleet(BASE_CLUSTERS, BASE_SERVICES, traffic=[
        _entry(policy="failover", clusters=[{"name": "hy-azure"}, {"name": "hy-gcp"}, {"name": "hy-aws"}]),
        _entry(hostname="x.example.com", policy="failover", dns={"provider": "clouddns", "zone": "example.com",
                                                                 "managedZone": "z"},
               clusters=[{"name": "hy-gcp"}, {"name": "hy-azure"}, {"name": "hy-dc", "address": "203.0.113.9"}]),
    ]))
    web = spec.services[0]
    assert [(r.cluster, r.priority) for r in routed(spec.traffic[0], spec.clusters, web)] == [
        ("hy-azure", 1), ("hy-gcp", 2), ("hy-aws", 3)]
    # Cloud DNS has two tiers: the first listed is primary, the rest backup.
    assert [r.priority for r in routed(spec.traffic[1], spec.clusters, web)] == [1, 2, 2]


def test_traffic_as_the_engine_hands_it_over():
    """The engine hands structured config to programs as JSON strings."""
    cfg = fleet(BASE_CLUSTERS, BASE_SERVICES)
    cfg = {k: json.dumps(v) for k, v in cfg.items()}
    cfg["fleetform:traffic"] = json.dumps([_entry()])
    assert load_spec(cfg).traffic[0].hostname == "shop.example.com"


# ------------------------------------------------------------------------------- whole fleet


@pytest.fixture(scope="module")
def hybrid():
    result = planned("hybrid")
    assert result.exit_code == 0, result.problems()
    return result


def test_hybrid_routes_web_over_every_cluster_with_its_own_health_check(hybrid):
    out = hybrid.capture.outputs["traffic"]["shop.example.com"]
    assert (out["provider"], out["policy"], out["ttl"], out["record"]) == ("route53", "weighted", 60, "shop.example.com")
    assert {c: (v["weight"], v["drained"]) for c, v in out["clusters"].items()} == {
        "hy-aws": (3, False), "hy-gcp": (1, False), "hy-azure": (1, False), "hy-dc": (1, False)}
    clusters = hybrid.capture.outputs["clusters"]
    checks = {r.name: plain(r.inputs, mask=False) for r in regs(hybrid, R53_CHECK)}
    for name, entry in out["clusters"].items():
        # Each cluster's endpoint is its own web load balancer (hy-dc: the configured address).
        expected = "203.0.113.80" if name == "hy-dc" else clusters[name]["services"]["web"]
        assert entry["address"] == expected
        assert entry["healthCheck"] == f"shop.example.com-{name}-health-id"
        check = checks[f"shop.example.com-{name}-health"]
        assert check.get("ipAddress", check.get("fqdn")) == expected
    records = {r.name: plain(r.inputs, mask=False) for r in regs(hybrid, R53_RECORD)}
    # EKS's web Service is an NLB (a hostname): an alias; the others answer with addresses.
    assert "aliases" in records["shop.example.com-hy-aws"]
    assert records["shop.example.com-hy-gcp"]["records"] == [clusters["hy-gcp"]["services"]["web"]]
    # The policy pack looked at every record and found a health check on each.
    assert not [v for v in hybrid.violations if v.policy == "dns-endpoints-health-checked"]


def test_a_cluster_without_a_health_check_would_be_caught_by_the_pack(hybrid):
    """The second net: the rule over the plan's own records fails when a health check goes."""
    from fleetform_policies.rules import RULES

    rule = next(r for r in RULES if r.name == "dns-endpoints-health-checked")
    record = dict(plain(next(r for r in regs(hybrid, R53_RECORD) if r.name.endswith("-hy-gcp")).inputs, mask=False))
    assert rule.check is not None and list(rule.check(R53_RECORD, record, {})) == []
    del record["healthCheckId"]
    assert len(list(rule.check(R53_RECORD, record, {}))) == 1


@pytest.fixture(scope="module")
def probe():
    from tests.import_probe import ImportProbe

    server = ImportProbe()
    yield server
    server.close()


@pytest.mark.parametrize("provider, sdk, extra", [
    ("route53", "pulumi_aws", {}),
    ("clouddns", "pulumi_gcp", {"managedZone": "example-com"}),
    ("trafficmanager", "pulumi_azure_native", {"resourceGroup": "rg"}),
])
def test_a_stack_imports_only_its_dns_providers_sdk(probe, provider, sdk, extra):
    cfg = copy.deepcopy(stack_config("local"))
    cfg["fleetform:traffic"] = [{"service": "web", "hostname": "shop.example.com",
                                 "dns": {"provider": provider, "zone": "example.com", **extra},
                                 "clusters": [{"name": "local", "address": "203.0.113.80"}]}]
    report = probe.plan("probe", config=cfg)
    assert report["exit"] == 0 and "fleetform:traffic:GlobalHostname" in report["types"]
    assert report["loaded"] == [sdk]


def test_the_plan_report_shows_each_hostname(hybrid):
    from fleetform.plan.render import traffic_lines

    (line,) = traffic_lines(hybrid)
    clusters = hybrid.capture.outputs["clusters"]
    assert line == ("shop.example.com (route53, weighted): "
                    f"hy-aws {clusters['hy-aws']['services']['web']} weight 3; "
                    f"hy-gcp {clusters['hy-gcp']['services']['web']} weight 1; "
                    f"hy-azure {clusters['hy-azure']['services']['web']} weight 1; hy-dc 203.0.113.80 weight 1")
