"""The AWS network of one cluster: a dedicated VPC, private and public subnets over several zones,
NAT egress, and flow logs. Subnets come from :func:`fleetform.network.cidr.carve` only."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import pulumi
import pulumi_aws as aws

from .cidr import carve

# Availability zone IDs where EKS does not place control planes (the EKS API answers
# UnsupportedAvailabilityZoneException, https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html;
# the zone IDs are listed in https://docs.aws.amazon.com/eks/latest/userguide/network-reqs.html).
# Zone IDs, not names: names are shuffled per account, IDs are not.
EKS_UNSUPPORTED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")

FLOW_LOG_RETENTION_DAYS = 90
"""Days VPC flow logs are kept (terraform-aws-vpc's and terraform-aws-eks' default for log groups)."""

# AWS Load Balancer Controller subnet discovery: internet-facing load balancers go to subnets
# tagged kubernetes.io/role/elb, internal ones to kubernetes.io/role/internal-elb (value 1 or "").
# https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/deploy/subnet_discovery/
# (the kubernetes.io/cluster/<name> tag is not required since LBC v2.1.2).
PUBLIC_ELB_TAG = {"kubernetes.io/role/elb": "1"}
INTERNAL_ELB_TAG = {"kubernetes.io/role/internal-elb": "1"}


@dataclass(frozen=True)
class AwsNetworkArgs:
    """What the network is built from."""

    cidr: ipaddress.IPv4Network
    """The VPC's CIDR (carved by fleetform.network.cidr.carve)."""
    zones: int
    """Availability zones to spread subnets over (one private and one public subnet each)."""
    region: str
    """AWS region (set on every resource: pulumi-aws v7 per-resource region)."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags for every taggable resource."""
    exclude_zone_ids: Sequence[str] = EKS_UNSUPPORTED_ZONE_IDS
    """Zone IDs never picked."""
    routes: Sequence[tuple[str, Mapping[str, str]]] = ()
    """Routes of the private subnets besides NAT's default: (destination CIDR, target), the target
    as ``aws.ec2.RouteTableRouteArgs`` names it (transit_gateway_id, vpc_peering_connection_id,
    gateway_id for a VPN's virtual private gateway)."""


def _assume_role_policy(service: str, condition: Optional[Mapping[str, object]] = None) -> str:
    statement: dict[str, object] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = dict(condition)
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def flow_logs_trust_policy(log_group_arn: str, region: str) -> str:
    """Who may assume the flow-log role: the VPC Flow Logs service, and only for flow logs of this
    account (``aws:SourceAccount``, ``aws:SourceArn``), against the confused-deputy problem, as
    https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html recommends. The flow
    log's ID is not known before the role exists, so its ARN is matched with a wildcard (the page
    allows that). Partition and account come from the log group's ARN."""
    partition, account = log_group_arn.split(":")[1], log_group_arn.split(":")[4]
    return _assume_role_policy(
        "vpc-flow-logs.amazonaws.com",
        {
            "StringEquals": {"aws:SourceAccount": account},
            "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"},
        },
    )


def flow_logs_policy(log_group_arn: str) -> str:
    """What the flow-log role may do: publish to its own log group only.

    The actions are those of https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html
    without logs:CreateLogGroup (the group exists already). ``logs:DescribeLogGroups`` supports no
    resource-level permissions: the Service Authorization Reference lists no resource type for it,
    so it takes ``"*"`` (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html;
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-CWL.html also
    warns not to scope it to one log group). The other three accept the log group's streams
    (``<group ARN>:*``, https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html).
    """
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    "Resource": [log_group_arn, f"{log_group_arn}:*"],
                },
            ],
        }
    )


class AwsNetwork(pulumi.ComponentResource):
    """A dedicated VPC for one cluster (``fleetform:network:AwsNetwork``).

    Builds: the VPC (DNS support and hostnames on, which a private EKS endpoint needs); per zone,
    a private subnet (nodes, pods, internal load balancers) and a public subnet (only NAT gateways
    and internet-facing load balancers), both without public IPs on launch; an internet gateway;
    one NAT gateway per zone, each private subnet routing to the NAT of its own zone (the HA choice:
    losing a zone does not cut the other zones' egress, at the cost of one NAT per zone); the VPC's
    default security group stripped of all rules (CIS AWS 5.4); VPC flow logs of all traffic to a
    CloudWatch log group kept 90 days.

    Nothing routes from the internet to the private subnets: their only default route is the NAT.
    Zones come from the ``aws:index/getAvailabilityZones`` invoke (available, non-opt-in zones,
    skipping zone IDs EKS does not support).
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    public_subnet_ids: list[pulumi.Output[str]]
    nat_public_ips: list[pulumi.Output[str]]
    """The NAT gateways' Elastic IPs, one per zone: the source address of the private subnets'
    traffic to the internet (what an internet-facing load balancer sees from the cluster's nodes)."""
    availability_zones: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:network:AwsNetwork", name, None, opts)
        plan = carve(args.cidr, args.zones)
        region = args.region
        tags = dict(args.tags)
        child = pulumi.ResourceOptions(parent=self)

        zones = aws.get_availability_zones_output(
            state="available",
            region=region,
            exclude_zone_ids=list(args.exclude_zone_ids),
            # Only regular zones: Local Zones and Wavelength Zones are opt-in.
            filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
            opts=pulumi.InvokeOutputOptions(parent=self),
        )

        def pick(names: list[str]) -> list[str]:
            if len(names) < args.zones:
                # A config problem only the cloud can reveal: say which, without a traceback.
                raise pulumi.RunError(
                    f"{name}: region {region} has {len(names)} usable availability zones ({', '.join(names)}); "
                    f"network.zones asks for {args.zones}"
                )
            return list(names[: args.zones])

        self.availability_zones = zones.names.apply(pick)

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(plan.network),
            enable_dns_support=True,
            enable_dns_hostnames=True,
            region=region,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        self.vpc_id = vpc.id
        # The default security group allows all traffic between its members; nothing should use it.
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            region=region,
            tags={**tags, "Name": f"{name}-default-deny"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, region=region, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public-rt",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            region=region,
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )

        self.private_subnet_ids = []
        self.public_subnet_ids = []
        self.nat_public_ips = []
        for i in range(args.zones):
            n = i + 1
            zone = self.availability_zones.apply(lambda z, i=i: z[i])
            public = aws.ec2.Subnet(
                f"{name}-public-{n}",
                vpc_id=vpc.id,
                cidr_block=str(plan.public[i]),
                availability_zone=zone,
                # Public subnets hold NAT gateways (Elastic IPs) and load balancers, which get their
                # own addresses; nothing launched here gets a public IP by default.
                map_public_ip_on_launch=False,
                region=region,
                tags={**tags, **PUBLIC_ELB_TAG, "Name": f"{name}-public-{n}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-rta-{n}", subnet_id=public.id, route_table_id=public_rt.id, region=region, opts=child
            )
            eip = aws.ec2.Eip(
                f"{name}-nat-eip-{n}", domain="vpc", region=region, tags={**tags, "Name": f"{name}-nat-{n}"}, opts=child
            )
            nat = aws.ec2.NatGateway(
                f"{name}-nat-{n}",
                allocation_id=eip.id,
                subnet_id=public.id,
                connectivity_type="public",
                region=region,
                tags={**tags, "Name": f"{name}-nat-{n}"},
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{n}",
                vpc_id=vpc.id,
                cidr_block=str(plan.private[i]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                region=region,
                tags={**tags, **INTERNAL_ELB_TAG, "Name": f"{name}-private-{n}"},
                opts=child,
            )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-rt-{n}",
                vpc_id=vpc.id,
                # NAT's default route, then the configured ones back to peered/VPN networks (the route
                # table's routes are authoritative: a route added by hand would be removed on the next up,
                # https://www.pulumi.com/registry/packages/aws/api-docs/ec2/routetable/).
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)]
                + [aws.ec2.RouteTableRouteArgs(cidr_block=cidr, **target) for cidr, target in args.routes],
                region=region,
                tags={**tags, "Name": f"{name}-private-{n}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-rta-{n}", subnet_id=private.id, route_table_id=private_rt.id, region=region, opts=child
            )
            self.public_subnet_ids.append(public.id)
            self.private_subnet_ids.append(private.id)
            self.nat_public_ips.append(eip.public_ip)

        # Flow logs: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-cwl.html; the role's
        # trust and permissions: flow_logs_trust_policy and flow_logs_policy (checked by parliament,
        # tests/test_iam_parliament.py).
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/fleetform/{name}/vpc-flow-logs",
            retention_in_days=FLOW_LOG_RETENTION_DAYS,
            region=region,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            assume_role_policy=log_group.arn.apply(lambda arn: flow_logs_trust_policy(arn, region)),
            description=f"VPC flow logs of {name} to CloudWatch Logs",
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.name,
            policy=log_group.arn.apply(flow_logs_policy),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            region=region,
            tags=tags,
            opts=child,
        )

        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "privateSubnetIds": self.private_subnet_ids,
                "publicSubnetIds": self.public_subnet_ids,
                "natPublicIps": self.nat_public_ips,
                "availabilityZones": self.availability_zones,
            }
        )
