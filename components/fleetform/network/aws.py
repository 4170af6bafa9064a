"""The AWS network of one cluster: a dedicated VPC, private and public subnets over several zones,
NAT egress, and flow logs (kept a year, encrypted with the cluster's logs key). Subnets come from
:func:`fleetform.network.cidr.carve` only. Also the S3 bucket a cluster's own load balancers write
their access logs to (:class:`AccessLogBucket`)."""

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

LOG_RETENTION_DAYS = 365
"""Days fleetform keeps a cluster's logs (CloudWatch log groups, load balancer access logs): a year,
the least the policy pack's ``log-group-retention-encryption`` rule accepts (checkov CKV_AWS_338).
365 is one of the values CloudWatch Logs takes
(https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html)."""
FLOW_LOG_RETENTION_DAYS = LOG_RETENTION_DAYS
"""Days VPC flow logs are kept (:data:`LOG_RETENTION_DAYS`)."""
LOG_KEY_DELETION_DAYS = 30
"""Waiting period before a destroyed logs key is deleted (KMS's longest, as for the EKS secrets key:
https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys.html). Logs encrypted with it
can be read again only if the deletion is cancelled within it."""
LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"
"""The service principal that writes Network Load Balancer access logs to S3
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html)."""

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
    log_groups: Sequence[str] = ()
    """Names of the cluster's other CloudWatch log groups (besides the flow logs' own) that the
    network's logs key may encrypt (:attr:`AwsNetwork.logs_key_arn`): one key per cluster, e.g.
    EKS's control-plane group. The key policy names every group, so a group not listed here cannot
    use the key."""


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


def flow_log_group_name(network: str) -> str:
    """The CloudWatch log group of the VPC flow logs of network ``network``."""
    return f"/fleetform/{network}/vpc-flow-logs"


def log_group_arn(partition: str, region: str, account: str, name: str) -> str:
    """A log group's ARN as CloudWatch Logs puts it in the encryption context
    (``arn:<partition>:logs:<region>:<account>:log-group:<name>``, no ``:*``:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html)."""
    return f"arn:{partition}:logs:{region}:{account}:log-group:{name}"


def logs_key_policy(partition: str, account: str, region: str, log_groups: Sequence[str]) -> str:
    """The key policy of a cluster's logs key: the account administers it through IAM, and
    CloudWatch Logs of ``region`` may use it for the named log groups only.

    The first statement is KMS's default key policy statement: without it, IAM policies cannot grant
    use of the key and the key becomes unmanageable
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
    The second is the one https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    ("Step 2: Set permissions on the key") adds: the regional service principal
    ``logs.<region>.amazonaws.com``, held by CloudWatch Logs' encryption context
    (``kms:EncryptionContext:aws:logs:arn``, the log group's ARN, same page) to this cluster's groups.
    Two deliberate differences from the page's example, both found by parliament
    (tests/test_iam_parliament.py): its ``kms:Describe*`` is left out, because DescribeKey (and
    DescribeCustomKeyStores) take no encryption context, so under this condition it never matches
    and grants nothing (the Service Authorization Reference lists no ``kms:EncryptionContext:*`` key
    for them, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html;
    a condition on a key absent from the request does not match,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html);
    and the operator is ``StringEquals``, as the key's type is String (same reference), matching the
    whole ARN exactly, as ``ArnEquals`` without wildcards does.
    ``Resource`` is ``"*"`` in a key policy: it means the key itself
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsOfThisCluster",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {
                            "kms:EncryptionContext:aws:logs:arn": [
                                log_group_arn(partition, region, account, group) for group in log_groups
                            ]
                        }
                    },
                },
            ],
        }
    )


def access_log_bucket_policy(bucket_arn: str, partition: str, account: str, region: str) -> str:
    """The bucket policy of a cluster's load balancer access logs.

    The two statements of https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html
    ("Bucket requirements"): the log delivery service (:data:`LOG_DELIVERY_SERVICE`) may read the
    bucket's ACL and put objects under ``AWSLogs/<account>/`` (no prefix: the page's ``Prefix/`` is
    left out) with the ``bucket-owner-full-control`` ACL, only for this account's load balancers in
    this region (``aws:SourceAccount``, ``aws:SourceArn`` ``arn:<partition>:logs:<region>:<account>:*``,
    the page's confused-deputy conditions). A third statement refuses every request not over TLS
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html, "Enforce
    encryption of data in transit"; AWS's log delivery uses TLS)."""
    source = {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:logs:{region}:{account}:*"},
    }
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSLogDeliveryAclCheck",
                    "Effect": "Allow",
                    "Principal": {"Service": LOG_DELIVERY_SERVICE},
                    "Action": "s3:GetBucketAcl",
                    "Resource": bucket_arn,
                    "Condition": source,
                },
                {
                    "Sid": "AWSLogDeliveryWrite",
                    "Effect": "Allow",
                    "Principal": {"Service": LOG_DELIVERY_SERVICE},
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                    "Condition": {
                        "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account},
                        "ArnLike": source["ArnLike"],
                    },
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )


def _partition_and_account(caller_arn: str) -> tuple[str, str]:
    """Partition and account of the identity running the program, from its ARN
    (``arn:<partition>:sts::<account>:...``)."""
    parts = caller_arn.split(":")
    return parts[1], parts[4]


class AccessLogBucket:
    """The S3 bucket a cluster's own load balancers write access logs to (one per cluster).

    Per https://docs.aws.amazon.com/elasticloadbalancing/latest/network/enable-access-logs.html the
    bucket is in the load balancers' region with the policy of :func:`access_log_bucket_policy`; and per
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html it is
    encrypted with SSE-S3 or SSE-KMS with a customer managed key: SSE-S3 here, which needs no key policy
    for the log delivery service. Besides: every public-access block on
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html);
    ACLs disabled (``BucketOwnerEnforced``, S3's default for new buckets, set explicitly), which still
    accepts the delivery's ``bucket-owner-full-control`` puts
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_OwnershipControlsRule.html); objects expire
    after :data:`LOG_RETENTION_DAYS`, unfinished multipart uploads after 7 days
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lifecycle-mgmt.html). No versioning:
    log files are written once under unique names (same pages), so versions would only keep deleted
    logs past their expiry.

    What gets logged: an NLB writes access logs only for TLS listeners ("Access logs are created only
    if the load balancer has a TLS listener", load-balancer-access-logs.html above). fleetform's NLBs
    forward TCP, so the bucket stays (nearly) empty until a listener terminates TLS; their TCP traffic
    is recorded by the VPC flow logs.

    ``force_destroy``: once logs arrive (a file per load balancer node every 5 minutes, same page) S3
    refuses to delete a non-empty bucket, and ``pulumi destroy`` would stop on it after deleting
    everything else. So the logs go with the cluster, as its CloudWatch log groups do; copy them out
    before destroying to keep them longer. The name is Pulumi's auto-name (logical name plus a random
    suffix, https://www.pulumi.com/docs/iac/concepts/resources/names/#autonaming): bucket names are
    global across accounts.

    ``ready`` lists what a load balancer must wait for, so that logging is enabled only once the
    bucket's policy, encryption and ownership are in place (delivery is checked against them).
    """

    bucket: aws.s3.Bucket
    ready: list[pulumi.Resource]

    def __init__(self, parent: pulumi.Resource, name: str, region: str, tags: Mapping[str, str]):
        opts = pulumi.ResourceOptions(parent=parent)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
        bucket = aws.s3.Bucket(f"{name}-lb-logs", force_destroy=True, region=region, tags=dict(tags), opts=opts)
        public_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-lb-logs-public-access",
            bucket=bucket.bucket,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            region=region,
            opts=opts,
        )
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-lb-logs-ownership",
            bucket=bucket.bucket,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            region=region,
            opts=opts,
        )
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-lb-logs-encryption",
            bucket=bucket.bucket,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            region=region,
            opts=opts,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lb-logs-lifecycle",
            bucket=bucket.bucket,
            # No filter: the rule applies to every object.
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs",
                    status="Enabled",
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=LOG_RETENTION_DAYS),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            region=region,
            opts=opts,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-lb-logs-policy",
            bucket=bucket.bucket,
            policy=pulumi.Output.all(bucket.arn, caller.arn).apply(
                lambda v: access_log_bucket_policy(v[0], *_partition_and_account(v[1]), region)
            ),
            region=region,
            # After the public-access block: S3 refuses concurrent changes to one bucket's settings.
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[public_block]),
        )
        self.bucket = bucket
        self.ready = [policy, encryption, ownership]


class AwsNetwork(pulumi.ComponentResource):
    """A dedicated VPC for one cluster (``fleetform:network:AwsNetwork``).

    Builds: the VPC (DNS support and hostnames on, which a private EKS endpoint needs); per zone,
    a private subnet (nodes, pods, internal load balancers) and a public subnet (only NAT gateways
    and internet-facing load balancers), both without public IPs on launch; an internet gateway;
    one NAT gateway per zone, each private subnet routing to the NAT of its own zone (the HA choice:
    losing a zone does not cut the other zones' egress, at the cost of one NAT per zone); the VPC's
    default security group stripped of all rules (CIS AWS 5.4); VPC flow logs of all traffic to a
    CloudWatch log group kept :data:`FLOW_LOG_RETENTION_DAYS` days, encrypted with the cluster's logs
    key: a customer managed KMS key (rotation on) whose policy (:func:`logs_key_policy`) lets
    CloudWatch Logs use it for the flow logs' group and ``args.log_groups`` only.

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
    logs_key_arn: pulumi.Output[str]
    """The cluster's logs key, for the log groups named in ``AwsNetworkArgs.log_groups``."""

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

        # The cluster's logs key. It must exist (with its policy) before a log group names it, so its
        # policy cannot take the account from a log group's ARN: it comes from the caller identity,
        # and the groups' ARNs are built from their names (log_group_arn).
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        flow_group = flow_log_group_name(name)
        logs_key = aws.kms.Key(
            f"{name}-logs-key",
            description=f"CloudWatch Logs encryption of {name} (VPC flow logs and the cluster's log groups)",
            enable_key_rotation=True,
            deletion_window_in_days=LOG_KEY_DELETION_DAYS,
            policy=caller.arn.apply(
                lambda arn: logs_key_policy(*_partition_and_account(arn), region, [flow_group, *args.log_groups])
            ),
            region=region,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-logs-key-alias", name=f"alias/fleetform/{name}-logs", target_key_id=logs_key.key_id, region=region, opts=child
        )
        self.logs_key_arn = logs_key.arn

        # Flow logs: https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-cwl.html; the role's
        # trust and permissions: flow_logs_trust_policy and flow_logs_policy (checked by parliament,
        # tests/test_iam_parliament.py). The group is encrypted by CloudWatch Logs itself: the
        # flow-log role needs no KMS permission (encrypt-log-data-kms.html above). On an existing
        # group, a new kms_key_id is associated in place (AssociateKmsKey in the AWS provider's
        # resourceGroupUpdate, internal/service/logs/group.go), not by replacing the group.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=flow_group,
            retention_in_days=FLOW_LOG_RETENTION_DAYS,
            kms_key_id=logs_key.arn,
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
                "logsKeyArn": self.logs_key_arn,
            }
        )
