"""A global hostname on Azure Traffic Manager: a profile, an external endpoint per cluster, a CNAME.

The profile's routing method follows the policy (Weighted, Priority, Performance) and its monitor
probes every endpoint on the service's health path and load-balancer port
(https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring). Each cluster is
an ``ExternalEndpoints`` endpoint: all IP addresses or all hostnames, as a profile takes no mix
(config checks it; https://learn.microsoft.com/azure/traffic-manager/traffic-manager-faqs). Public
addresses only: Traffic Manager refuses private ones. Traffic Manager weights are
1-1000, so a drained cluster (weight 0) is an endpoint with ``endpointStatus: Disabled``, which
Traffic Manager never answers with
(https://learn.microsoft.com/azure/traffic-manager/traffic-manager-manage-endpoints).

Clients reach the profile through a CNAME from the hostname to ``<profile>.trafficmanager.net``:
fleetform creates it when the zone is an Azure DNS zone (``dns.zoneResourceGroup``), else the
``record`` output names what to point the hostname at.
"""

from __future__ import annotations

import hashlib

import pulumi
import pulumi_azure_native as azure_native

from ..config.service import ServiceSpec
from ..config.traffic import TrafficSpec
from . import Built, Endpoint, GlobalHostname

ROUTING_METHODS = {"weighted": "Weighted", "failover": "Priority", "latency": "Performance"}
"""fleetform's policy -> the profile's trafficRoutingMethod."""


def relative_name(hostname: str, stack: str) -> str:
    """The profile's name under trafficmanager.net, unique across Azure: the hostname's first
    label and a digest of the stack and hostname (at most 63 characters, a DNS label)."""
    digest = hashlib.sha256(f"{stack}/{hostname.rstrip('.')}".encode()).hexdigest()[:10]
    return f"{hostname.split('.')[0][:40]}-{digest}"


def timeout_for(interval: int) -> int:
    """The probe timeout: at most 10 s for 30 s probing, at most 9 s for 10 s probing (the monitor's
    limits, traffic-manager-monitoring)."""
    return 10 if interval == 30 else 9


def build(parent: GlobalHostname, name: str, spec: TrafficSpec, service: ServiceSpec,
          endpoints: list[Endpoint]) -> Built:
    opts = pulumi.ResourceOptions(parent=parent)
    hc = spec.health_check
    group = spec.dns.resource_group
    label = relative_name(spec.hostname, pulumi.get_stack())
    profile = azure_native.trafficmanager.Profile(
        f"{name}-profile",
        resource_group_name=group,
        profile_name=label,
        location="global",
        profile_status="Enabled",
        traffic_routing_method=ROUTING_METHODS[spec.policy],
        dns_config=azure_native.trafficmanager.DnsConfigArgs(relative_name=label, ttl=spec.ttl),
        monitor_config=azure_native.trafficmanager.MonitorConfigArgs(
            protocol=hc.protocol,
            port=service.service_port,
            path=service.health.path,
            interval_in_seconds=hc.interval_seconds,
            timeout_in_seconds=timeout_for(hc.interval_seconds),
            tolerated_number_of_failures=hc.failure_threshold - 1,
            # Any 2xx is healthy, as on Route 53 (the default is 200 only: a 204 health path would
            # never be healthy, and an all-unhealthy profile answers with every endpoint).
            expected_status_code_ranges=[azure_native.trafficmanager.MonitorConfigExpectedStatusCodeRangesItemArgs(min=200, max=299)],
        ),
        traffic_view_enrollment_status="Disabled",
        tags={"fleetform:hostname": spec.hostname, "fleetform:service": service.name},
        opts=opts,
    )
    for e in endpoints:
        r = e.routed
        azure_native.trafficmanager.Endpoint(
            f"{name}-{r.cluster}",
            resource_group_name=group,
            profile_name=profile.name,
            endpoint_name=r.cluster,
            endpoint_type="ExternalEndpoints",
            # The pair the API's own example uses (azure-rest-api-specs, trafficmanager 2022-04-01,
            # Endpoint-PUT-External-WithLocation.json).
            type="Microsoft.network/TrafficManagerProfiles/ExternalEndpoints",
            target=e.address,
            endpoint_status="Disabled" if spec.policy == "weighted" and r.drained else "Enabled",
            weight=max(r.weight, 1) if spec.policy == "weighted" else None,
            priority=r.priority if spec.policy == "failover" else None,
            endpoint_location=r.region if spec.policy == "latency" else None,
            opts=opts,
        )
    # The profile's own FQDN (trafficmanager.net, or a sovereign cloud's domain), and a dependency on it.
    fqdn = profile.dns_config.apply(lambda c: (c.fqdn if c is not None else None) or f"{label}.trafficmanager.net")
    if spec.dns.zone_resource_group:
        zone = spec.dns.zone.rstrip(".")
        azure_native.dns.RecordSet(
            f"{name}-cname",
            resource_group_name=spec.dns.zone_resource_group,
            zone_name=zone,
            relative_record_set_name=spec.hostname.rstrip(".")[: -len(zone) - 1],
            record_type="CNAME",
            ttl=spec.ttl,
            cname_record=azure_native.dns.CnameRecordArgs(cname=fqdn),
            opts=opts,
        )
    # The profile's monitor checks every endpoint: the health check of each is the profile's.
    return Built(record=fqdn, health_checks={e.routed.cluster: profile.id for e in endpoints})
