"""Rules over global DNS routing (fleetform's ``traffic/``, or any program's own): every endpoint a
routing policy answers with is health-checked, so the name stops sending clients to a cluster
that is down."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .base import Rule, dig, items

ROUTE53_RECORD = "aws:route53/record:Record"
CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet"
TM_PROFILE = "azure-native:trafficmanager:Profile"
TM_ENDPOINT = "azure-native:trafficmanager:Endpoint"

_ROUTE53_POLICIES = ("weightedRoutingPolicies", "failoverRoutingPolicies", "latencyRoutingPolicies",
                     "geolocationRoutingPolicies", "geoproximityRoutingPolicy", "cidrRoutingPolicy")


def _route53(p: Mapping[str, Any]) -> Iterable[str]:
    # A routed record (one of several answers for a name) is taken out of the answers only by a
    # health check, or, for an alias, by evaluating its target's health
    # (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html).
    routed = [k for k in _ROUTE53_POLICIES if items(dig(p, k))]
    if not routed or dig(p, "healthCheckId"):
        return
    aliases = items(dig(p, "aliases"))
    if aliases and all(dig(a, "evaluateTargetHealth") is True for a in aliases):
        return
    yield (f"Route 53 record {dig(p, 'name', default='?')} ({dig(p, 'setIdentifier', default='no set identifier')}) "
           f"is routed ({routed[0]}) without a health check: set healthCheckId, or evaluateTargetHealth on its alias")


def _cloud_dns(p: Mapping[str, Any]) -> Iterable[str]:
    # Items answer health-checked targets (healthCheckedTargets) or fixed rrdatas; external
    # endpoints need the policy's healthCheck (https://cloud.google.com/dns/docs/routing-policies-overview).
    policy = dig(p, "routingPolicy")
    if not isinstance(policy, Mapping):
        return
    groups: list[tuple[str, Any]] = [("wrrs", i) for i in items(dig(policy, "wrrs"))]
    groups += [("geos", i) for i in items(dig(policy, "geos"))]
    backup = dig(policy, "primaryBackup")
    if isinstance(backup, Mapping):
        groups.append(("primaryBackup.primary", {"healthCheckedTargets": dig(backup, "primary")}))
        groups += [("primaryBackup.backupGeos", i) for i in items(dig(backup, "backupGeos"))]
    name = dig(p, "name", default="?")
    external = False
    for where, item in groups:
        targets = dig(item, "healthCheckedTargets")
        if not isinstance(targets, Mapping) or not (items(dig(targets, "externalEndpoints"))
                                                    or items(dig(targets, "internalLoadBalancers"))):
            yield f"Cloud DNS record set {name}: a {where} item answers without health-checked targets"
            continue
        external = external or bool(items(dig(targets, "externalEndpoints")))
    if external and not dig(policy, "healthCheck"):
        yield f"Cloud DNS record set {name}: external endpoints without routingPolicy.healthCheck"


def _traffic_manager(t: str, p: Mapping[str, Any]) -> Iterable[str]:
    # The profile's monitor checks every endpoint; alwaysServe turns that off for one
    # (https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring).
    if t == TM_ENDPOINT:
        if str(dig(p, "alwaysServe", default="")).lower() == "enabled":
            yield f"Traffic Manager endpoint {dig(p, 'endpointName', default='?')} has alwaysServe Enabled: it is never health-checked"
        return
    monitor = dig(p, "monitorConfig")
    protocol = str(dig(monitor, "protocol", default="")).upper()
    if protocol not in ("HTTP", "HTTPS", "TCP") or not dig(monitor, "port"):
        yield f"Traffic Manager profile {dig(p, 'profileName', default='?')} has no endpoint monitor (monitorConfig protocol and port)"
    elif protocol != "TCP" and not dig(monitor, "path"):
        yield f"Traffic Manager profile {dig(p, 'profileName', default='?')} monitors {protocol} without a path"


def _health_checked(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if t == ROUTE53_RECORD:
        yield from _route53(p)
    elif t == CLOUD_DNS_RECORD:
        yield from _cloud_dns(p)
    else:
        yield from _traffic_manager(t, p)


RULES: list[Rule] = [
    Rule("dns-endpoints-health-checked", "Every endpoint a DNS routing policy answers with is health-checked: routed "
         "Route 53 records carry a health check (or evaluate an alias target's health), Cloud DNS routing policy "
         "items answer health-checked targets with the policy's health check, Traffic Manager profiles monitor their "
         "endpoints and no endpoint is always served.", "high",
         "AWS Route 53, Cloud DNS and Traffic Manager documentation (health-checked DNS failover)", "mandatory",
         _health_checked, types=(ROUTE53_RECORD, CLOUD_DNS_RECORD, TM_PROFILE, TM_ENDPOINT),
         refs=("https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html",
               "https://cloud.google.com/dns/docs/routing-policies-overview",
               "https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring")),
]
