"""Global traffic across clusters and clouds (DESIGN §8): one hostname per public service.

:class:`GlobalHostname` puts a hostname (``fleetform:traffic``, :class:`~fleetform.config.traffic.TrafficSpec`)
in front of the same public service on several clusters: a health check per cluster endpoint
(HTTP(S) on the service's health path and load-balancer port) and weighted, failover or latency
routing. One module per DNS provider builds it behind this one face, imported only when a stack
uses that provider (so a Route 53 stack never imports the Google or Azure SDK):

- :mod:`.route53`: a ``HealthCheck`` and a record per cluster (``set_identifier``, routing policy;
  an alias for AWS load balancers), failover chained through alias records beyond two clusters;
- :mod:`.clouddns`: one record set with a routing policy over external endpoints, and a global
  health check with source regions;
- :mod:`.trafficmanager`: a Traffic Manager profile (routing method, monitor on the health
  path), an external endpoint per cluster, and the CNAME in an Azure DNS zone.
"""

from __future__ import annotations

import importlib
import ipaddress
from dataclasses import dataclass
from typing import Any, Literal, Optional

import pulumi

from ..config.service import ServiceSpec
from ..config.traffic import Routed, TrafficSpec


@dataclass(frozen=True)
class Endpoint:
    """One cluster's address behind a hostname."""

    routed: Routed
    address: pulumi.Input[str]
    kind: Literal["ip", "hostname", "aws-lb"]
    """ip: an IPv4 address; hostname: a DNS name; aws-lb: an AWS load balancer's DNS name (an alias target)."""
    lb_region: Optional[str] = None
    """aws-lb: the region the load balancer is in (its canonical hosted zone depends on it)."""


def endpoint_kind(address: str) -> Literal["ip", "hostname"]:
    """Whether a configured address is an IP address or a hostname."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return "hostname"
    return "ip"


@dataclass(frozen=True)
class Built:
    """What a provider module returns: what the hostname points at, and per cluster its health check."""

    record: pulumi.Input[str]
    health_checks: dict[str, pulumi.Input[str]]


class GlobalHostname(pulumi.ComponentResource):
    """One hostname over ``service`` on the clusters of ``endpoints``, health-checked.

    Outputs: ``provider``, ``hostname``, ``policy``, ``record`` (what the name resolves through:
    the hostname itself, or the Traffic Manager profile's name), and per cluster its ``address``,
    ``weight`` or ``priority``, whether it is ``drained``, and its ``healthCheck`` id.
    """

    outputs: dict[str, Any]

    def __init__(self, name: str, spec: TrafficSpec, service: ServiceSpec, endpoints: list[Endpoint],
                 opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:traffic:GlobalHostname", name, None, opts)
        module = importlib.import_module(f"{__name__}.{spec.dns.provider}")
        built: Built = module.build(self, name, spec, service, endpoints)
        self.outputs = {
            "provider": spec.dns.provider,
            "hostname": spec.hostname,
            "policy": spec.policy,
            "ttl": spec.ttl,
            "record": built.record,
            "clusters": {
                e.routed.cluster: {
                    "address": e.address,
                    **({"weight": e.routed.weight, "drained": e.routed.drained} if spec.policy == "weighted" else {}),
                    **({"priority": e.routed.priority} if spec.policy == "failover" else {}),
                    **({"region": e.routed.region} if spec.policy == "latency" else {}),
                    "healthCheck": built.health_checks[e.routed.cluster],
                }
                for e in endpoints
            },
        }
        self.register_outputs(self.outputs)
