"""A global hostname on Google Cloud DNS: one record set with a routing policy, health-checked.

Cloud DNS routing policies answer with the healthy targets of the policy's items
(https://cloud.google.com/dns/docs/routing-policies-overview). Targets outside Google Cloud
are *external endpoints* (IP addresses), checked by a global health check that runs from source
regions (https://cloud.google.com/dns/docs/configure-routing-policies):

- weighted: weighted round robin (``wrrs``), one item per cluster with its weight (0 drains it);
- failover: primary-backup: the clusters at priority 1 are the primary set; the others are one
  backup set, served only while no primary is healthy (``trickle_ratio`` 0);
- latency: geolocation (``geos``): an item per GCP region, with the clusters nearest it.
"""

from __future__ import annotations

from collections import defaultdict

import pulumi
import pulumi_gcp as gcp

from ..config.service import ServiceSpec
from ..config.traffic import TrafficSpec
from . import Built, Endpoint, GlobalHostname

SOURCE_REGIONS = ("us-east4", "europe-west4", "asia-southeast1")
"""Where the health check probes from: "exactly 3" regions, which only a global health check takes,
with a checkIntervalSec of at least 30 (pulumi-gcp compute.HealthCheck sourceRegions, from the
Compute API); on three continents, so one region's trouble does not mark every endpoint down (an
endpoint is unhealthy when most regions see it fail). Health checks of public IPs in Cloud DNS are
GA since 2025-02-21 (https://cloud.google.com/blog/products/networking/public-ip-health-checks-in-cloud-dns-now-ga);
a public zone needs the org policy constraints/compute.disableInternetNetworkEndpointGroup off
(https://cloud.google.com/dns/docs/configure-routing-policies)."""

BACKUP_LOCATION = "us-east4"
"""The location of the one backup geo item (every query is answered from it while no primary is healthy)."""


def build(parent: GlobalHostname, name: str, spec: TrafficSpec, service: ServiceSpec,
          endpoints: list[Endpoint]) -> Built:
    opts = pulumi.ResourceOptions(parent=parent)
    if spec.dns.managed_zone is None:  # config requires it for clouddns
        raise ValueError("traffic on clouddns needs dns.managedZone")
    hc = spec.health_check
    probe = {"port": service.service_port, "port_specification": "USE_FIXED_PORT", "request_path": service.health.path}
    check = gcp.compute.HealthCheck(
        f"{name}-health",
        gcp.compute.HealthCheckArgs(
            project=spec.dns.project,
            description=f"fleetform: {spec.hostname} ({service.name}) on its clusters, for Cloud DNS",
            check_interval_sec=hc.interval_seconds,
            timeout_sec=min(10, hc.interval_seconds),
            unhealthy_threshold=hc.failure_threshold,
            healthy_threshold=2,
            source_regions=list(SOURCE_REGIONS),
            http_health_check=gcp.compute.HealthCheckHttpHealthCheckArgs(**probe) if hc.protocol == "HTTP" else None,
            https_health_check=gcp.compute.HealthCheckHttpsHealthCheckArgs(**probe) if hc.protocol == "HTTPS" else None,
        ),
        opts=opts,
    )

    def targets(group: list[Endpoint]) -> dict:
        return {"external_endpoints": [e.address for e in group]}

    policy: dict = {"health_check": check.id}
    if spec.policy == "weighted":
        policy["wrrs"] = [
            gcp.dns.RecordSetRoutingPolicyWrrArgs(
                weight=e.routed.weight,
                health_checked_targets=gcp.dns.RecordSetRoutingPolicyWrrHealthCheckedTargetsArgs(**targets([e])),
            )
            for e in endpoints
        ]
    elif spec.policy == "failover":
        primary = [e for e in endpoints if e.routed.priority == 1]
        backup = [e for e in endpoints if e.routed.priority != 1]
        policy["primary_backup"] = gcp.dns.RecordSetRoutingPolicyPrimaryBackupArgs(
            primary=gcp.dns.RecordSetRoutingPolicyPrimaryBackupPrimaryArgs(**targets(primary)),
            backup_geos=[
                gcp.dns.RecordSetRoutingPolicyPrimaryBackupBackupGeoArgs(
                    location=BACKUP_LOCATION,
                    health_checked_targets=gcp.dns.RecordSetRoutingPolicyPrimaryBackupBackupGeoHealthCheckedTargetsArgs(
                        **targets(backup)
                    ),
                )
            ] if backup else [],
            trickle_ratio=0,
        )
    else:
        by_region: dict[str, list[Endpoint]] = defaultdict(list)
        for e in endpoints:
            by_region[str(e.routed.region)].append(e)
        policy["geos"] = [
            gcp.dns.RecordSetRoutingPolicyGeoArgs(
                location=region,
                health_checked_targets=gcp.dns.RecordSetRoutingPolicyGeoHealthCheckedTargetsArgs(**targets(group)),
            )
            for region, group in sorted(by_region.items())
        ]
    gcp.dns.RecordSet(
        f"{name}-record",
        gcp.dns.RecordSetArgs(
            project=spec.dns.project,
            managed_zone=spec.dns.managed_zone,
            name=spec.hostname.rstrip(".") + ".",
            type="A",
            ttl=spec.ttl,
            routing_policy=gcp.dns.RecordSetRoutingPolicyArgs(**policy),
        ),
        opts=opts,
    )
    return Built(record=spec.hostname, health_checks={e.routed.cluster: check.id for e in endpoints})
