"""A global hostname on AWS Route 53: a health check and a record per cluster.

Each cluster's record carries the hostname, a ``set_identifier`` (the cluster's name) and the
routing policy, and is tied to the cluster's health check: Route 53 answers only with healthy
records, and when every record is unhealthy it answers as if all were healthy
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html).

- weighted: ``weighted_routing_policies`` with the cluster's weight (0 drains it: a weight-0
  record is answered only when every other record is unhealthy or weighted 0,
  https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html);
- latency: ``latency_routing_policies`` with the AWS region nearest the cluster;
- failover: Route 53 knows PRIMARY and SECONDARY only, so clusters in priority order chain: the
  hostname's PRIMARY is the first cluster and its SECONDARY an alias (evaluating target health)
  to ``failover-2.<hostname>``, whose PRIMARY is the second cluster, and so on; the last two
  clusters are the last link's PRIMARY and SECONDARY
  (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-complex-configs.html).
  When both records of a link are unhealthy Route 53 answers with the PRIMARY.

An AWS load balancer is the target of an alias record (type A, its canonical hosted zone from
``aws.lb.get_hosted_zone_id`` for network load balancers, no TTL:
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html,
https://docs.aws.amazon.com/general/latest/gr/elb.html);
an IP address an A record; a hostname a CNAME. One name holds one record type, so the endpoints
of a hostname are either all addresses and AWS load balancers (A) or all hostnames (CNAME):
config checks that.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from ..config.service import ServiceSpec
from ..config.traffic import TrafficSpec
from . import Built, Endpoint, GlobalHostname


def record_type(endpoints: list[Endpoint]) -> str:
    """A for addresses and AWS load balancers, CNAME for hostnames (config allows no mix)."""
    return "CNAME" if endpoints and all(e.kind == "hostname" for e in endpoints) else "A"


def build(parent: GlobalHostname, name: str, spec: TrafficSpec, service: ServiceSpec,
          endpoints: list[Endpoint]) -> Built:
    opts = pulumi.ResourceOptions(parent=parent)
    zone_id: pulumi.Input[str] = spec.dns.zone_id or aws.route53.get_zone_output(
        name=spec.dns.zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=parent)
    ).zone_id
    checks = {e.routed.cluster: _health_check(name, spec, service, e, opts) for e in endpoints}
    if not endpoints:  # every cluster skipped (the offline plan of unbuilt targets): nothing to route
        return Built(record=spec.hostname, health_checks={})
    rtype = record_type(endpoints)
    if spec.policy == "failover":
        _failover_chain(name, spec, endpoints, checks, zone_id, rtype, parent, opts)
    else:
        for e in endpoints:
            if spec.policy == "latency" and e.routed.region is None:  # config requires one per cluster
                raise ValueError(f"latency routing needs a region for cluster {e.routed.cluster}")
            policy: dict[str, Any] = (
                {"weighted_routing_policies": [aws.route53.RecordWeightedRoutingPolicyArgs(weight=e.routed.weight)]}
                if spec.policy == "weighted"
                else {"latency_routing_policies": [aws.route53.RecordLatencyRoutingPolicyArgs(region=str(e.routed.region))]}
            )
            _record(f"{name}-{e.routed.cluster}", spec.hostname, e, checks[e.routed.cluster], zone_id, rtype, spec.ttl,
                    parent, opts, set_identifier=e.routed.cluster, **policy)
    return Built(record=spec.hostname, health_checks={c: hc.id for c, hc in checks.items()})


def _health_check(name: str, spec: TrafficSpec, service: ServiceSpec, e: Endpoint,
                  opts: pulumi.ResourceOptions) -> aws.route53.HealthCheck:
    """HTTP(S) on the service's health path and load-balancer port, from Route 53's checkers
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html):
    an IP endpoint by ``ip_address``, a hostname or load balancer by ``fqdn`` (Route 53 resolves
    it and checks the address it gets)."""
    hc = spec.health_check
    by_ip = e.kind == "ip"
    return aws.route53.HealthCheck(
        f"{name}-{e.routed.cluster}-health",
        aws.route53.HealthCheckArgs(
            type=hc.protocol,
            ip_address=e.address if by_ip else None,
            fqdn=None if by_ip else e.address,
            port=service.service_port,
            resource_path=service.health.path,
            request_interval=hc.interval_seconds,
            failure_threshold=hc.failure_threshold,
            enable_sni=True if hc.protocol == "HTTPS" and not by_ip else None,
            tags={"Name": f"{spec.hostname} on {e.routed.cluster}", "fleetform:hostname": spec.hostname,
                  "fleetform:cluster": e.routed.cluster},
        ),
        opts=opts,
    )


def _record(resource_name: str, record_name: str, e: Endpoint, check: aws.route53.HealthCheck,
            zone_id: pulumi.Input[str], rtype: str, ttl: int, parent: GlobalHostname, opts: pulumi.ResourceOptions,
            **routing: Any) -> aws.route53.Record:
    """One cluster's record: an alias to its AWS load balancer, or an A/CNAME with the TTL."""
    alias = None
    if e.kind == "aws-lb":
        lb_zone = aws.lb.get_hosted_zone_id_output(
            load_balancer_type="network", region=e.lb_region, opts=pulumi.InvokeOutputOptions(parent=parent)
        ).id
        # Evaluating the load balancer's own health too: an NLB with no healthy target is down
        # even if the health check's last probe passed; failover aliases must evaluate it
        # (botocore ResourceRecordSet.Failover, AliasTarget.EvaluateTargetHealth).
        alias = [aws.route53.RecordAliasArgs(name=e.address, zone_id=lb_zone, evaluate_target_health=True)]
    return aws.route53.Record(
        resource_name,
        aws.route53.RecordArgs(
            zone_id=zone_id,
            name=record_name,
            type=rtype,
            ttl=None if alias else ttl,
            records=None if alias else [e.address],
            aliases=alias,
            health_check_id=check.id,
            **routing,
        ),
        opts=opts,
    )


def _failover_chain(name: str, spec: TrafficSpec, endpoints: list[Endpoint],
                    checks: dict[str, aws.route53.HealthCheck], zone_id: pulumi.Input[str], rtype: str,
                    parent: GlobalHostname, opts: pulumi.ResourceOptions) -> None:
    """Links from the last to the first, so each SECONDARY alias is created after the records it
    points at (Route 53 refuses an alias to a name that does not exist yet) and deleted before
    them. Resources and set identifiers name the position (``primary``/``secondary`` of link k),
    not the cluster: reordering priorities updates records in place, never two PRIMARYs at once."""
    ordered = sorted(endpoints, key=lambda e: e.routed.priority)
    if not ordered:
        return
    links = max(len(ordered) - 1, 1)
    below: list[aws.route53.Record] = []  # the records of the link after this one
    for k in reversed(range(links)):
        here = spec.hostname if k == 0 else link_name(spec.hostname, k + 1)
        prefix = f"{name}-failover" if k == 0 else f"{name}-failover-{k + 1}"
        primary = ordered[k]
        records = [_record(f"{prefix}-primary", here, primary, checks[primary.routed.cluster], zone_id, rtype, spec.ttl,
                           parent, opts, set_identifier="primary",
                           failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type="PRIMARY")])]
        secondary = [aws.route53.RecordFailoverRoutingPolicyArgs(type="SECONDARY")]
        if len(ordered) == 1:
            pass
        elif k == links - 1:
            last = ordered[k + 1]
            records.append(_record(f"{prefix}-secondary", here, last, checks[last.routed.cluster], zone_id, rtype,
                                   spec.ttl, parent, opts, set_identifier="secondary", failover_routing_policies=secondary))
        else:
            # The rest of the order, behind an alias that is healthy while any record it
            # resolves to is (evaluate_target_health, which failover aliases must set).
            records.append(aws.route53.Record(
                f"{prefix}-secondary",
                aws.route53.RecordArgs(
                    zone_id=zone_id,
                    name=here,
                    type=rtype,
                    set_identifier="secondary",
                    failover_routing_policies=secondary,
                    aliases=[aws.route53.RecordAliasArgs(name=link_name(spec.hostname, k + 2), zone_id=zone_id,
                                                         evaluate_target_health=True)],
                ),
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=below)),
            ))
        below = records


def link_name(hostname: str, position: int) -> str:
    """The name of the failover chain's link whose PRIMARY is the cluster at ``position`` (2, 3, ...)."""
    return f"failover-{position}.{hostname}"
