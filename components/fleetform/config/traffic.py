"""Global traffic: :class:`TrafficSpec`, one hostname in front of a public service on several clusters.

``fleetform:traffic`` lists hostnames; each names a public service, a DNS provider (Route 53,
Cloud DNS or Azure Traffic Manager), a routing policy (weighted, failover, latency) and the
clusters behind it. What each provider can express (weights, priorities, intervals, TTLs, which
addresses it routes to) is the table :data:`LIMITS`, with its sources; the checks against the
stack's clusters and services are :func:`traffic_problems`. The resources are built by
:mod:`fleetform.traffic`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import Field, model_validator

from .errors import _raise_all
from .values import _Model

DNS_PROVIDERS = ("route53", "clouddns", "trafficmanager")
POLICIES = ("weighted", "failover", "latency")


@dataclass(frozen=True)
class DnsLimits:
    """What one DNS provider can express (each bound with its source)."""

    name: str
    weights: tuple[int, int]
    drained: str
    """How weight 0 (drained) is expressed."""
    priorities: tuple[int, int]
    priority_tiers: Optional[int]
    """How many distinct failover priorities the provider orders (None: any number)."""
    intervals: tuple[int, ...]
    """The health check intervals the provider offers, in seconds."""
    failure_thresholds: tuple[int, int]
    ttls: tuple[int, int]
    hostnames: bool
    """Whether an endpoint may be a hostname (else IPv4 addresses only)."""
    region_kind: str
    """Which regions latency routing names (the provider's own cloud's)."""


LIMITS: dict[str, DnsLimits] = {
    # Route 53: weights 0-255 (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html);
    # failover records are PRIMARY or SECONDARY, so more than two priorities chain through alias
    # records (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html);
    # health checks every 10 or 30 s, failure threshold 1-10
    # (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html);
    # TTL 0 to 2147483647 (the API's ResourceRecordSet.TTL, https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html).
    "route53": DnsLimits("Route 53", (0, 255), "weight 0", (1, 1000), None, (10, 30), (1, 10), (0, 2147483647),
                         True, "aws"),
    # Cloud DNS routing policies: WRR weights 0.0-1000.0 (https://cloud.google.com/dns/docs/configure-routing-policies);
    # primary-backup is one primary set and backup geo sets, chosen by the client's location: two
    # tiers, not an order (https://cloud.google.com/dns/docs/routing-policies-overview); external
    # endpoints are IP addresses ("The Internet IP addresses to be health checked", the API's
    # RRSetRoutingPolicyHealthCheckTargets.externalEndpoints), checked by a global health check with
    # exactly 3 source regions, whose checkIntervalSec "must be at least 30" (pulumi-gcp's
    # compute.HealthCheck sourceRegions, as the Compute API documents it; interval at most 300,
    # https://cloud.google.com/load-balancing/docs/health-check-concepts#criteria-check-interval-sec).
    "clouddns": DnsLimits("Cloud DNS", (0, 1000), "weight 0", (1, 2), 2, tuple(range(30, 301)), (1, 10),
                          (0, 2147483647), False, "gcp"),
    # Traffic Manager: weights and priorities 1-1000 (so drained is endpointStatus Disabled),
    # probing every 30 s or 10 s (fast), 0-9 tolerated failures, DNS TTL 0-2147483647
    # (https://learn.microsoft.com/azure/traffic-manager/traffic-manager-routing-methods,
    # https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring).
    "trafficmanager": DnsLimits("Traffic Manager", (0, 1000), "endpointStatus Disabled", (1, 1000), None, (10, 30),
                                (1, 10), (0, 2147483647), True, "azure"),
}

_FQDN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _fqdn_problem(name: str) -> Optional[str]:
    """Why ``name`` is not a lower-case fully qualified domain name (None if it is one)."""
    name = name[:-1] if name.endswith(".") else name
    if not name or len(name) > 253:
        return "a domain name of at most 253 characters"
    labels = name.split(".")
    if len(labels) < 2 or not all(_FQDN_LABEL.fullmatch(label) for label in labels):
        return ("a lower-case domain name such as shop.example.com: labels of letters, digits and '-', "
                "not starting or ending with '-'")
    return None


def _bare(name: str) -> str:
    return name[:-1] if name.endswith(".") else name


class TrafficDnsSpec(_Model):
    """Where the hostname's records live."""

    provider: Literal["route53", "clouddns", "trafficmanager"] = Field(
        description="route53 (AWS Route 53), clouddns (Google Cloud DNS routing policies) or trafficmanager "
        "(Azure Traffic Manager, with a CNAME in an Azure DNS zone when zoneResourceGroup is set)."
    )
    zone: str = Field(description="The DNS zone the hostname is in, e.g. example.com.")
    zone_id: Optional[str] = Field(
        default=None, description="route53: the public hosted zone's ID; default: looked up by the zone's name."
    )
    managed_zone: Optional[str] = Field(
        default=None, description="clouddns: the managed zone's resource name (required for clouddns)."
    )
    project: Optional[str] = Field(
        default=None, description="clouddns: the zone's project; default: the stack's gcp:project."
    )
    resource_group: Optional[str] = Field(
        default=None, description="trafficmanager: the resource group the profile goes in (required for trafficmanager)."
    )
    zone_resource_group: Optional[str] = Field(
        default=None,
        description="trafficmanager: the resource group of the Azure DNS zone named by zone; when set, fleetform "
        "creates the hostname's CNAME to the profile there, else you point it yourself.",
    )


class TrafficHealthSpec(_Model):
    """The DNS provider's health check of each cluster's endpoint: HTTP(S) on the service's health
    path and load-balancer port (its ``servicePort``)."""

    interval_seconds: int = Field(default=30, description="Seconds between checks: route53 and trafficmanager 10 or "
                                  "30; clouddns 30-300.")
    failure_threshold: int = Field(default=3, description="Consecutive failures before an endpoint is unhealthy, 1-10.")
    protocol: Literal["HTTP", "HTTPS"] = Field(default="HTTP", description="HTTP or HTTPS.")


class TrafficClusterSpec(_Model):
    """One cluster behind the hostname."""

    name: str = Field(description="A cluster of this stack that runs the service.")
    weight: Optional[int] = Field(
        default=None, ge=0, le=1000,
        description="policy weighted: the share of answers (default 1); 0 drains the cluster (no traffic unless all "
        "others fail; on trafficmanager the endpoint is Disabled). route53 0-255, clouddns 0-1000, trafficmanager 0-1000.",
    )
    priority: Optional[int] = Field(
        default=None, ge=1, le=1000,
        description="policy failover: 1 is served first, then 2, ...; default: the order of this list.",
    )
    address: Optional[str] = Field(
        default=None,
        description="The service's public address on this cluster (IPv4, or a hostname where the provider takes "
        "one). Required for onprem and existing clusters; on cloud clusters the default is the service's load balancer.",
    )
    region: Optional[str] = Field(
        default=None,
        description="policy latency: the DNS provider's cloud region nearest this cluster (an AWS region for route53, "
        "a GCP region for clouddns, an Azure region for trafficmanager); default: the cluster's own on that cloud.",
    )


class TrafficSpec(_Model):
    """One global hostname over the same public service on several clusters."""

    service: str = Field(description="A service with expose: public.")
    hostname: str = Field(description="The fully qualified name clients use, inside dns.zone (below its apex).")
    dns: TrafficDnsSpec = Field(description="Where the records live: provider and zone.")
    policy: Literal["weighted", "failover", "latency"] = Field(
        default="weighted", description="weighted (by weight), failover (by priority) or latency (nearest region)."
    )
    ttl: int = Field(default=60, description="Seconds resolvers may cache an answer: how long a drain or failover "
                     "takes to reach clients, at least.")
    health_check: TrafficHealthSpec = Field(default_factory=TrafficHealthSpec,
                                            description="The health check of each cluster's endpoint.")
    clusters: Optional[list[TrafficClusterSpec]] = Field(
        default=None, min_length=1,
        description="The clusters behind the hostname; default: every cluster the service runs on, weight 1.",
    )

    @model_validator(mode="after")
    def _expressible(self) -> "TrafficSpec":
        _raise_all(entry_problems(self))
        return self


def entry_problems(spec: TrafficSpec) -> list[tuple[str, Any, str]]:
    """What one entry asks that its provider cannot express, as (key, value given, allowed)."""
    found: list[tuple[str, Any, str]] = []
    limits = LIMITS[spec.dns.provider]
    dns = spec.dns
    for key, why in ((k, _fqdn_problem(v)) for k, v in (("hostname", spec.hostname), ("dns.zone", dns.zone))):
        if why is not None:
            found.append((key, spec.hostname if key == "hostname" else dns.zone, why))
    if not found and not _bare(spec.hostname).endswith("." + _bare(dns.zone)):
        found.append(("hostname", spec.hostname, f"a name below the zone's apex, ending in .{_bare(dns.zone)} "
                      "(the apex cannot hold a CNAME)"))
    own = {"route53": ("zoneId",), "clouddns": ("managedZone", "project"),
           "trafficmanager": ("resourceGroup", "zoneResourceGroup")}
    values = {"zoneId": dns.zone_id, "managedZone": dns.managed_zone, "project": dns.project,
              "resourceGroup": dns.resource_group, "zoneResourceGroup": dns.zone_resource_group}
    for provider, keys in own.items():
        for key in keys:
            if provider != dns.provider and values[key] is not None:
                found.append((f"dns.{key}", values[key], f"only with provider {provider}"))
    required = {"clouddns": "managedZone", "trafficmanager": "resourceGroup"}.get(dns.provider)
    if required is not None and values[required] is None:
        found.append((f"dns.{required}", None, f"required for provider {dns.provider}"))
    lo, hi = limits.ttls
    if not lo <= spec.ttl <= hi:
        found.append(("ttl", spec.ttl, f"{lo}-{hi} seconds on {limits.name}"))
    hc = spec.health_check
    if hc.interval_seconds not in limits.intervals:
        found.append(("healthCheck.intervalSeconds", hc.interval_seconds, f"{_listed(limits.intervals)} on {limits.name}"))
    lo, hi = limits.failure_thresholds
    if not lo <= hc.failure_threshold <= hi:
        found.append(("healthCheck.failureThreshold", hc.failure_threshold, f"{lo}-{hi} on {limits.name}"))
    found += _cluster_entry_problems(spec, limits)
    return found


def _cluster_entry_problems(spec: TrafficSpec, limits: DnsLimits) -> list[tuple[str, Any, str]]:
    found: list[tuple[str, Any, str]] = []
    seen: dict[str, int] = {}
    priorities: dict[int, str] = {}
    for j, entry in enumerate(spec.clusters or []):
        key = f"clusters[{j}]"
        if entry.name in seen:
            found.append((f"{key}.name", entry.name, f"a cluster not listed before (clusters[{seen[entry.name]}])"))
        seen.setdefault(entry.name, j)
        if entry.weight is not None:
            lo, hi = limits.weights
            if spec.policy != "weighted":
                found.append((f"{key}.weight", entry.weight, f"only with policy weighted (this entry's policy is {spec.policy})"))
            elif not lo <= entry.weight <= hi:
                found.append((f"{key}.weight", entry.weight, f"{lo}-{hi} on {limits.name} ({lo} drains the cluster)"))
        if entry.priority is not None:
            if spec.policy != "failover":
                found.append((f"{key}.priority", entry.priority, "only with policy failover"))
            elif not limits.priorities[0] <= entry.priority <= limits.priorities[1]:
                lo, hi = limits.priorities
                found.append((f"{key}.priority", entry.priority,
                              f"{lo}-{hi} on {limits.name}" + (f" ({lo} primary, {hi} backup)" if hi - lo == 1 else "")))
            elif entry.priority in priorities and limits.priority_tiers is None:
                # An order, not tiers: two clusters at one priority would be no order at all.
                found.append((f"{key}.priority", entry.priority,
                              f"a priority no other cluster has (cluster {priorities[entry.priority]} has it)"))
            priorities.setdefault(entry.priority, entry.name)
        if entry.region is not None and spec.policy != "latency":
            found.append((f"{key}.region", entry.region, "only with policy latency"))
        if entry.address is not None:
            why = address_problem(entry.address, limits)
            if why is not None:
                found.append((f"{key}.address", entry.address, why))
    return found


def _listed(values: tuple[int, ...]) -> str:
    """``one of 10, 30``, or ``30-300`` for a run of whole numbers."""
    if len(values) > 3 and values == tuple(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return "one of " + ", ".join(map(str, values))


def address_problem(address: str, limits: DnsLimits) -> Optional[str]:
    """Why ``address`` cannot be a health-checked endpoint on ``limits``'s provider (None if it can).

    The provider's health checkers probe from the internet, so the address must be a public one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        if not limits.hostnames:
            return (f"an IPv4 address: {limits.name} routes to IP addresses only (for a load balancer that answers "
                    "with a hostname, give it static addresses, e.g. an NLB with Elastic IPs, and list one here)")
        why = _fqdn_problem(address)
        return None if why is None else "a public IPv4 address or " + why
    if ip.version != 4:
        return "an IPv4 address (IPv6 endpoints are not supported yet)"
    if any(ip in net for net in _NOT_PUBLIC):
        return "a public IPv4 address: the provider's health checkers probe it from the internet"
    return None


_NOT_PUBLIC = tuple(ipaddress.IPv4Network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
))
"""Addresses no internet health checker reaches (RFC 1918, shared CGN space, loopback, link-local,
IETF protocol assignments, 6to4 relay, benchmarking, multicast, reserved;
https://www.iana.org/assignments/iana-ipv4-special-registry). The documentation ranges (RFC 5737,
e.g. 203.0.113.0/24) pass so that examples plan, although Route 53 and Traffic Manager refuse them
at deploy: an example's address is one to replace."""


@dataclass(frozen=True)
class Routed:
    """One cluster behind a hostname, after defaults: what :mod:`fleetform.traffic` builds from."""

    cluster: str
    target: str
    weight: int
    priority: int
    address: Optional[str]
    """The configured address, or None: the service's load balancer on that cluster."""
    region: Optional[str]
    """The provider's region for latency routing (None unless policy latency)."""

    @property
    def drained(self) -> bool:
        return self.weight == 0


def routed(spec: TrafficSpec, clusters: list[Any], service: Any, drained: frozenset[str] = frozenset()) -> list[Routed]:
    """The clusters behind ``spec`` after defaults: those listed, else every cluster of
    ``clusters`` the ``service`` runs on, in the stack's order. Weight defaults to 1; priority to
    the position in that list (on a two-tier provider: the first is primary, the rest backup).
    Under policy weighted, a cluster in ``drained`` (a rollout's, ``fleetform:release.drained``)
    gets weight 0."""
    by_name = {c.name: c for c in clusters}
    if spec.clusters is not None:
        entries = [(e, by_name.get(e.name)) for e in spec.clusters]
    else:
        entries = [(TrafficClusterSpec(name=c.name), c) for c in clusters
                   if service.clusters is None or c.name in service.clusters]
    tiers = LIMITS[spec.dns.provider].priority_tiers
    out: list[Routed] = []
    for position, (entry, cluster) in enumerate(entries, start=1):
        priority = entry.priority if entry.priority is not None else (min(position, tiers) if tiers else position)
        region = None
        if spec.policy == "latency":
            region = entry.region
            if region is None and cluster is not None and cluster.target == LIMITS[spec.dns.provider].region_kind:
                region = cluster.region
        weight = 1 if entry.weight is None else entry.weight
        if spec.policy == "weighted" and entry.name in drained:
            weight = 0
        out.append(Routed(entry.name, cluster.target if cluster is not None else "", weight, priority, entry.address,
                          region))
    return out


def _is_hostname(address: Optional[str]) -> bool:
    if address is None:
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return True
    return False


def address_kind(provider: str, target: str, address: Optional[str]) -> str:
    """How ``provider`` sees a cluster's endpoint: ``hostname`` or ``ip``. A configured address is
    what it is; a cloud cluster's load balancer answers with an IP on GCP and Azure and with a
    hostname on AWS, which Route 53 turns into an alias A record (so an ``ip`` there)."""
    if address is not None:
        return "hostname" if _is_hostname(address) else "ip"
    return "hostname" if target == "aws" and provider != "route53" else "ip"


def _one_address_kind(spec: TrafficSpec, behind: list[Routed]) -> Optional[tuple[Any, str]]:
    """Route 53 holds one record type per name, all A (addresses, AWS load balancers by alias) or
    all CNAME (hostnames): a CNAME shares its name with no other record
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html#CNAMEFormat).
    A Traffic Manager profile takes FQDN or IPv4 endpoints, not both ("Can I use different endpoint
    addressing types within a single profile? No", https://learn.microsoft.com/azure/traffic-manager/traffic-manager-faqs).
    Returns (value, allowed) for the entry's ``clusters`` key when the kinds mix."""
    if spec.dns.provider == "clouddns":
        return None
    kinds = {r.cluster: address_kind(spec.dns.provider, r.target, r.address) for r in behind if r.target}
    if len(set(kinds.values())) < 2:
        return None
    names = [n for n, k in kinds.items() if k == "hostname"]
    ips = [n for n, k in kinds.items() if k == "ip"]
    aws = [n for n in names if next(r for r in behind if r.cluster == n).address is None]
    hint = (f"; give {', '.join(aws)} {'an address' if len(aws) == 1 else 'addresses'} (an NLB with Elastic IPs)"
            if aws else "")
    return (", ".join(sorted(kinds)),
            f"clusters of one address kind: {LIMITS[spec.dns.provider].name} does not mix hostnames "
            f"({', '.join(names)}) and IP addresses ({', '.join(ips)}) behind one name{hint}")


def _routing_problems(spec: TrafficSpec, behind: list[Routed], drained: frozenset[str]) -> list[tuple[str, Any, str]]:
    """What the provider refuses at deploy for the set of clusters as a whole."""
    found: list[tuple[str, Any, str]] = []
    provider, names = spec.dns.provider, [r.cluster for r in behind]
    if provider == "clouddns" and spec.policy == "failover":
        # primaryBackup needs a primary set and at least one backup geo (terraform-provider-google
        # resource_dns_record_set.go: backup_geo Required; an empty primary is refused).
        tiers = {r.priority for r in behind}
        if tiers != {1, 2}:
            found.append(("clusters", ", ".join(names), "on Cloud DNS failover, at least one cluster at priority 1 "
                          "(primary) and one at priority 2 (backup)"))
    if provider == "route53" and spec.policy == "latency":
        # "You can only create one latency resource record set for each Amazon EC2 Region"
        # (Route 53 API, ResourceRecordSet.Region).
        seen: dict[str, str] = {}
        for r in behind:
            if r.region is not None and r.region in seen:
                found.append(("clusters", ", ".join(names), f"one cluster per AWS region on Route 53 latency routing "
                              f"({seen[r.region]} and {r.cluster} both answer for {r.region})"))
                break
            if r.region is not None:
                seen[r.region] = r.cluster
    if provider == "trafficmanager" and spec.policy == "weighted" and behind and all(
            r.weight == 0 or r.cluster in drained for r in behind):
        # Every endpoint Disabled: the profile answers nothing, the hostname stops resolving.
        found.append(("clusters", ", ".join(names), "at least one cluster not drained on Traffic Manager (weight 0 "
                      "disables an endpoint; with all of them disabled the hostname answers nothing)"))
    return found


def traffic_problems(clusters: list[Any], services: list[Any], traffic: list[tuple[Any, Optional[TrafficSpec]]],
                     drained: frozenset[str] = frozenset()) -> list[tuple[str, Any, str]]:
    """The traffic entries checked against the stack's clusters and services, as (key, value, allowed),
    and against the clusters a rollout drained (``fleetform:release.drained``).

    Entries that did not validate on their own (None) are skipped: their own lines say why."""
    from .cluster import _REGIONS

    found: list[tuple[str, Any, str]] = []
    by_service = {s.name: s for s in services if s is not None}
    by_cluster = {c.name: c for c in clusters if c is not None}
    public = sorted(n for n, s in by_service.items() if s.expose == "public")
    hostnames: dict[str, int] = {}
    for i, (_, spec) in enumerate(traffic):
        if spec is None:
            continue
        key = f"traffic[{i}]"
        host = _bare(spec.hostname)
        if host in hostnames:
            found.append((f"{key}.hostname", spec.hostname, f"a hostname no other entry routes (traffic[{hostnames[host]}] "
                          "has it)"))
        hostnames.setdefault(host, i)
        service = by_service.get(spec.service)
        if service is None or service.expose != "public":
            what = "a service with expose: public: " + (", ".join(public) if public else "(this stack has none)")
            found.append((f"{key}.service", spec.service, what))
            continue
        runs_on = [c.name for c in clusters if c is not None and (service.clusters is None or c.name in service.clusters)]
        limits = LIMITS[spec.dns.provider]
        behind = routed(spec, [c for c in clusters if c is not None], service)
        mixed = _one_address_kind(spec, behind)
        if mixed is not None:
            found.append((f"{key}.clusters", *mixed))
        found += [(f"{key}.{k}", v, a) for k, v, a in _routing_problems(spec, behind, drained)]
        for j, r in enumerate(behind):
            where = f"{key}.clusters[{j}]" if spec.clusters is not None else f"{key}.clusters"
            if r.cluster not in by_cluster:
                found.append((f"{where}.name", r.cluster, "a cluster of this stack: " + ", ".join(sorted(by_cluster))))
                continue
            if r.cluster not in runs_on:
                found.append((f"{where}.name", r.cluster, f"a cluster service {service.name} runs on: " + ", ".join(runs_on)))
                continue
            listed = f"list the clusters and give cluster {r.cluster} " if spec.clusters is None else ""
            target = by_cluster[r.cluster].target
            if r.address is None and target in ("onprem", "existing"):
                found.append((f"{where}.address" if spec.clusters is not None else where, None,
                              f"{listed}the service's public address on this {target} cluster (fleetform does not "
                              "provision its load balancer, so it cannot know the address)"))
            elif r.address is None and target == "aws" and not limits.hostnames:
                found.append((f"{where}.address" if spec.clusters is not None else where, None,
                              f"{listed}an IPv4 address: an AWS network load balancer answers with a hostname and "
                              f"{limits.name} routes to IP addresses only (give the NLB Elastic IPs and list one, or "
                              "use dns.provider route53 or trafficmanager)"))
            if spec.policy == "latency":
                pattern, what = _REGIONS[limits.region_kind]
                if r.region is None:
                    found.append((f"{where}.region" if spec.clusters is not None else where, None,
                                  f"{listed}the {limits.name} region nearest this {target} cluster for latency "
                                  f"routing: {what}"))
                elif not pattern.fullmatch(r.region):
                    found.append((f"{where}.region", r.region, what))
    return found
