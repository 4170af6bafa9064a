"""Target ``aws``, mode ``managed``: an EKS cluster in its own VPC, behind the common cluster face.

Secure defaults follow terraform-aws-eks (``variables.tf``): private API endpoint, secrets
envelope-encrypted with a KMS key the stack creates, every control-plane log type on, IRSA, access
entries only (no aws-auth ConfigMap), IMDSv2-only private nodes with encrypted disks, least-privilege
IAM roles. Every AWS doc a setting relies on is linked next to it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import pulumi
import pulumi_aws as aws
import yaml
from pulumi_kubernetes import Provider as K8sProvider
from pulumi_kubernetes.helm.v3 import Release, ReleaseArgs, RepositoryOptsArgs

from ..config import ClusterSpec, FleetConfigError, NodePoolSpec
from ..network.aws import LOG_RETENTION_DAYS as _LOG_RETENTION_DAYS
from ..network.aws import AwsNetwork, AwsNetworkArgs
from . import addons
from .base import Cluster, ClusterContext

LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]
"""Every EKS control-plane log type (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html)."""
LOG_RETENTION_DAYS = _LOG_RETENTION_DAYS
"""Days control-plane logs are kept: a year, as every log group of a cluster
(:data:`fleetform.network.aws.LOG_RETENTION_DAYS`)."""


def control_plane_log_group(cluster: str) -> str:
    """The log group EKS sends a cluster's control-plane logs to, ``/aws/eks/<cluster>/cluster``
    (https://docs.aws.amazon.com/eks/latest/userguide/control-plane-logs.html)."""
    return f"/aws/eks/{cluster}/cluster"

LBC_CHART = addons.LBC.name
LBC_REPO: str = addons.LBC.repo or ""
LBC_CHART_VERSION: str = addons.LBC.version or ""
"""Chart 1.14.1 ships controller v2.14.1, the release the EKS user guide installs
(https://docs.aws.amazon.com/eks/latest/userguide/lbc-helm.html). Pinned in :mod:`.addons`; bump
together with ``eks_lbc_iam_policy.json``."""
LBC_NAMESPACE = "kube-system"
LBC_SERVICE_ACCOUNT = "aws-load-balancer-controller"
LBC_POLICY_FILE = Path(__file__).with_name("eks_lbc_iam_policy.json")
"""The controller's reference IAM policy, byte for byte:
https://raw.githubusercontent.com/kubernetes-sigs/aws-load-balancer-controller/v2.14.1/docs/install/iam_policy.json
(checked against AWS's copy in aws-cdk-lib, ``aws-eks/lib/addons/alb-iam_policy-v2.14.1.json``;
``arn:aws:`` becomes the cluster's partition when loaded)."""

CNI_NAMESPACE, CNI_SERVICE_ACCOUNT = "kube-system", "aws-node"
STS_AUDIENCE = "sts.amazonaws.com"

CNI_CONFIGURATION = {"enableNetworkPolicy": "true"}
"""The vpc-cni add-on's configuration: enforce NetworkPolicies (off by default; the key and its string
value as the EKS user guide gives them, https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html,
and as the add-on's chart declares it, ``enableNetworkPolicy: "false"`` in amazon-vpc-cni-k8s
``charts/aws-vpc-cni/values.yaml``). The same page's prerequisites hold for every cluster fleetform
makes: Kubernetes 1.25+, VPC CNI 1.14+ (see :data:`.addons.VPC_CNI`), kernel 5.10+ and the BPF file
system, which the EKS-optimized Amazon Linux AMIs (AL2023 here) have from 1.27. The node agent ships
in the add-on's aws-node DaemonSet; EKS manages the policy controller's PolicyEndpoint objects (same page).
New pods start allowing all traffic until their policies are in place (the default "standard" mode)."""

SYSTEM_NAMESPACE = "kube-system"
"""Where the cluster add-ons run (as the EKS user guide installs the LBC and metrics-server)."""
METRICS_SERVER_RELEASE = "metrics-server"
CA_RELEASE = CA_SERVICE_ACCOUNT = "cluster-autoscaler"

PREFER_ON_DEMAND = {
    "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 100,
                "preference": {
                    "matchExpressions": [{"key": "eks.amazonaws.com/capacityType", "operator": "In", "values": ["ON_DEMAND"]}]
                },
            }
        ]
    }
}
"""Cluster add-ons prefer on-demand nodes: a spot reclaim should not take the autoscaler down with its
node. EKS labels managed nodes ``eks.amazonaws.com/capacityType: ON_DEMAND`` or ``SPOT``
(https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html); only a preference, so a
cluster of spot pools alone still runs them."""

CA_READ_ACTIONS = (
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
)
"""The read actions of the autoscaler's documented policy for auto-discovery ("Full Cluster Autoscaler
Features Policy", https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#iam-policy).
``eks:DescribeNodegroup`` gives it a managed node group's labels and taints while the group has no node
(EKS does not copy them to the Auto Scaling group as node-template tags), so a ``min: 0`` pool with
labels or taints can scale from zero (same README; https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions-extended.html,
"Kubernetes 1.24")."""
CA_WRITE_ACTIONS = ("autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup")
"""The two write actions, allowed only on Auto Scaling groups tagged as this cluster's (EKS best
practices, "Employ least privileged access to the IAM role",
https://docs.aws.amazon.com/eks/latest/best-practices/cas.html, whose condition this is). EKS tags
every managed node group's Auto Scaling group for the autoscaler's auto-discovery
(https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html); the user guide does not
print the values, the best-practices policy conditions on ``enabled: true`` and ``<cluster>: owned``."""

CA_RESOURCES = {"requests": {"cpu": "100m", "memory": "600Mi"}, "limits": {"memory": "600Mi"}}
"""What the autoscaler's own EKS example asks for (cloudprovider/aws/examples/cluster-autoscaler-autodiscover.yaml:
100m CPU, 600Mi memory); no CPU limit, so it is never throttled."""
METRICS_SERVER_RESOURCES = {"requests": {"cpu": "100m", "memory": "200Mi"}}
"""The chart's own default requests (values.yaml of chart 3.13.1), pinned here so a chart bump cannot drop them."""


def cluster_autoscaler_scale_statement(sid: str, cluster: str, partition: str, region: str, account: str) -> dict[str, Any]:
    """The autoscaler's two writes (:data:`CA_WRITE_ACTIONS`) on Auto Scaling group ARNs, held to this
    cluster's groups by their tags: the statement EKS and self-managed AWS clusters share."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(CA_WRITE_ACTIONS),
        "Resource": f"arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/*",
        "Condition": {
            "StringEquals": {
                "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
                f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned",
            }
        },
    }


def cluster_autoscaler_policy(cluster: str, partition: str, region: str, account: str) -> str:
    """The autoscaler's least-privilege IAM policy for ``cluster`` (see :data:`CA_READ_ACTIONS`,
    :data:`CA_WRITE_ACTIONS`), each action on the narrowest resource it takes.

    Resource types from the Service Authorization Reference: the Auto Scaling and EC2 describe
    calls take none (``*``); ``eks:DescribeNodegroup`` takes a ``nodegroup`` ARN
    (``arn:${Partition}:eks:${Region}:${Account}:nodegroup/${ClusterName}/${NodegroupName}/${UUID}``,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservicekubernetes.html),
    so only this cluster's groups; the two writes take an ``autoScalingGroup`` ARN
    (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html)
    and are further held to this cluster's groups by their tags."""
    reads = [a for a in CA_READ_ACTIONS if a != "eks:DescribeNodegroup"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Discover", "Effect": "Allow", "Action": reads, "Resource": "*"},
                {
                    "Sid": "DescribeOwnNodeGroups",
                    "Effect": "Allow",
                    "Action": "eks:DescribeNodegroup",
                    "Resource": f"arn:{partition}:eks:{region}:{account}:nodegroup/{cluster}/*/*",
                },
                cluster_autoscaler_scale_statement("ScaleOwnNodeGroups", cluster, partition, region, account),
            ],
        },
        separators=(",", ":"),
    )

# The partitions regions belong to (for ARNs of AWS-managed policies and access policies).
_PARTITIONS = (
    (re.compile(r"^cn-"), "aws-cn"),
    (re.compile(r"^us-gov-"), "aws-us-gov"),
    (re.compile(r"^[a-z]{2}-isob-"), "aws-iso-b"),
    (re.compile(r"^[a-z]{2}-isoe-"), "aws-iso-e"),
    (re.compile(r"^[a-z]{2}-isof-"), "aws-iso-f"),
    (re.compile(r"^[a-z]{2}-iso-"), "aws-iso"),
)
_GRAVITON = re.compile(r"^[a-z]+[0-9]+g[a-z]*\.")
"""Instance families with a 'g' right after the generation (m7g, c6gn, t4g, r8gd) are Graviton (arm64)."""


def partition_of(region: str) -> str:
    """The AWS partition of ``region`` (aws, aws-cn, aws-us-gov, aws-iso*)."""
    return next((p for pattern, p in _PARTITIONS if pattern.match(region)), "aws")


def ami_type_for(instance_type: str) -> str:
    """The EKS-optimized Amazon Linux 2023 AMI type for an instance type (arm64 for Graviton).

    AL2023 is the default for managed node groups from Kubernetes 1.30 and the only Amazon Linux
    from 1.33 (https://docs.aws.amazon.com/eks/latest/APIReference/API_Nodegroup.html#AmazonEKS-Type-Nodegroup-amiType).
    Its root device is /dev/xvda. GPU instance types would need the NVIDIA variant (not handled).
    """
    return "AL2023_ARM_64_STANDARD" if _GRAVITON.match(instance_type) else "AL2023_x86_64_STANDARD"


def cluster_tags(spec: ClusterSpec, ctx: ClusterContext) -> dict[str, str]:
    """Tags for every taggable AWS resource of the cluster: the spec's plus fleetform's own."""
    return {**spec.tags, "fleetform:cluster": spec.name, "fleetform:stack": ctx.stack}


@dataclass(frozen=True)
class ExecIdentity:
    """Whom ``aws eks get-token`` signs as: the identity Pulumi's AWS provider uses, so the token
    matches the deployer's access entry (which is for that identity)."""

    profile: Optional[str] = None
    """``aws:profile``: the shared-config profile, passed as the CLI's global ``--profile`` option,
    which botocore prefers to credentials in the environment (an ``AWS_PROFILE`` variable, as
    ``aws eks update-kubeconfig --profile`` writes it, loses to ``AWS_ACCESS_KEY_ID``:
    https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-quickstart.html#cli-configure-quickstart-precedence)."""
    role_arn: Optional[str] = None
    """The last role of ``aws:assumeRoles``, passed as ``get-token --role-arn`` (aws-cli
    ``awscli/customizations/eks/get_token.py``: the CLI assumes it with its base credentials, under a
    session name of its own; get-token has no session-name option)."""


def exec_identity(config: Optional[pulumi.Config] = None) -> ExecIdentity:
    """The AWS provider's identity from stack config (``aws:profile``, ``aws:assumeRoles``).

    ``aws:assumeRoles`` is pulumi-aws v7's list of roles assumed in turn (``roleArn``, ``sessionName``,
    ``externalId``, ...; https://www.pulumi.com/registry/packages/aws/installation-configuration/#configuration-options).
    The provider ends up as the last role; ``get-token`` can assume one role, from its base credentials,
    with no external ID: a longer chain or an external ID is reported as a warning (use a profile whose
    ``role_arn``/``source_profile``/``external_id`` reproduce it, and ``aws:profile``).
    """
    config = config or pulumi.Config("aws")
    profile = config.get("profile") or None
    roles = config.get_object("assumeRoles")
    if not roles:
        return ExecIdentity(profile=profile)
    if not isinstance(roles, list) or not all(isinstance(r, dict) for r in roles):
        raise FleetConfigError([f"aws:assumeRoles: got {json.dumps(roles)[:80]}; allowed: a list of objects with roleArn"])
    last = roles[-1]
    role_arn = last.get("roleArn")
    if not isinstance(role_arn, str) or not role_arn.startswith("arn:"):
        raise FleetConfigError(
            [f"aws:assumeRoles[{len(roles) - 1}].roleArn: got {json.dumps(role_arn)}; allowed: an IAM role ARN "
             "(the role the provider ends up as, which the kubeconfig's aws eks get-token assumes too)"]
        )
    if len(roles) > 1:
        pulumi.log.warn(
            f"aws:assumeRoles chains {len(roles)} roles; the kubeconfig's aws eks get-token assumes only the last "
            f"({role_arn}) from its own base credentials, which must be allowed to assume it"
        )
    if last.get("externalId"):
        pulumi.log.warn(
            f"aws:assumeRoles[{len(roles) - 1}].externalId: aws eks get-token cannot pass an external ID; give the kubeconfig "
            "a profile (aws:profile) whose role_arn and external_id assume that role instead"
        )
    if last.get("sessionName"):
        pulumi.log.warn(
            f"aws:assumeRoles[{len(roles) - 1}].sessionName: aws eks get-token assumes the role under a session "
            "name of its own (it has no option for one); CloudTrail shows the kubeconfig's calls under that name"
        )
    return ExecIdentity(profile=profile, role_arn=role_arn)


def kubeconfig_yaml(name: str, endpoint: str, ca_data: str, region: str, identity: ExecIdentity = ExecIdentity()) -> str:
    """A kubeconfig for the EKS cluster with exec auth (``aws eks get-token``): no token in state.

    The same shape ``aws eks update-kubeconfig`` writes
    (https://docs.aws.amazon.com/eks/latest/userguide/create-kubeconfig.html), signing as ``identity``.
    """
    args = ["eks", "get-token", "--cluster-name", name, "--region", region, "--output", "json"]
    if identity.role_arn:
        args += ["--role-arn", identity.role_arn]
    if identity.profile:
        args += ["--profile", identity.profile]
    exec_: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "aws",
        "args": args,
        "interactiveMode": "Never",
    }
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
        "users": [{"name": name, "user": {"exec": exec_}}],
    }
    return yaml.safe_dump(doc, sort_keys=False)


@lru_cache(maxsize=None)
def lbc_policy(partition: str) -> str:
    """The AWS Load Balancer Controller's IAM policy for ``partition``, minified."""
    text = LBC_POLICY_FILE.read_text().replace('"arn:aws:', f'"arn:{partition}:')
    return json.dumps(json.loads(text), separators=(",", ":"))


def _service_role_policy(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


def _irsa_trust(provider_arn: pulumi.Output[str], issuer: pulumi.Output[str], namespace: str, account: str) -> pulumi.Output[str]:
    """Trust policy letting exactly one Kubernetes service account assume a role through the
    cluster's OIDC provider (https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html)."""

    def doc(args: list[str]) -> str:
        arn, url = args
        host = url.removeprefix("https://")
        return json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Federated": arn},
                        "Action": "sts:AssumeRoleWithWebIdentity",
                        "Condition": {
                            "StringEquals": {
                                f"{host}:sub": f"system:serviceaccount:{namespace}:{account}",
                                f"{host}:aud": STS_AUDIENCE,
                            }
                        },
                    }
                ],
            }
        )

    return pulumi.Output.all(provider_arn, issuer).apply(doc)


class EksCluster(Cluster):
    """An Amazon EKS cluster with its own VPC (``fleetform:cluster:EksCluster``).

    Builds, with secure defaults:

    - the network (:class:`~fleetform.network.aws.AwsNetwork`): private node subnets over
      ``network.zones`` zones, public subnets only for NAT and internet-facing load balancers;
    - the control plane at the spec's Kubernetes version: private API endpoint (public only when
      ``controlPlane.publicAccess``, then only from ``apiAllowedCidrs``), Kubernetes secrets
      envelope-encrypted with a KMS key the stack creates (rotation on), every control-plane log type
      sent to a log group kept 365 days and encrypted with the cluster's logs key (the network's, whose
      policy names this group too), access entries only (``authenticationMode: API``; no
      implicit creator admin: the deployer's admin access is an explicit, visible access entry);
      the cluster role has AmazonEKSClusterPolicy and use of its KMS key only; an extra security
      group lets only the VPC and ``controlPlane.privateAccessCidrs`` reach the API on 443;
    - IRSA: an IAM OIDC provider for the cluster's issuer;
    - the VPC CNI as an EKS add-on enforcing NetworkPolicies, whose pods get the CNI policy through
      IRSA, so the node role carries only AmazonEKSWorkerNodePolicy and AmazonEC2ContainerRegistryPullOnly;
    - one managed node group per pool: launch template requiring IMDSv2 with hop limit 1 (pods
      cannot read the node's credentials), encrypted gp3 root volume, private subnets without public
      IPs, min/max from config (desired starts at min and is then the autoscaler's), labels, taints,
      spot capacity, cluster-autoscaler discovery tags; created once the private subnets route to
      their NAT gateways (nodes pull images and reach AWS APIs through them);
    - the AWS Load Balancer Controller (Helm, pinned) with an IRSA role holding its reference policy,
      which serves the ``service.k8s.aws/nlb`` Services of the workloads;
    - metrics-server (Helm, pinned; EKS has none) for the HPAs, and the Kubernetes Cluster Autoscaler
      (Helm, image of the cluster's minor) with an IRSA role that may resize only this cluster's node
      groups. Versions: :mod:`fleetform.cluster.addons`.

    The kubeconfig uses ``aws eks get-token`` (no credential in state) as the identity Pulumi's AWS
    provider uses (``aws:profile``, ``aws:assumeRoles``: :func:`exec_identity`) and is secret. The Kubernetes
    provider gets only the cluster's name, endpoint and CA, so node-pool or tag changes never replace
    it or the workloads on it; it waits (without taking any of their values) for the deployer's access
    entry and the load balancer controller, so workloads are created after both and deleted before.

    Operating notes: with the API private (the default), ``pulumi up`` must run where the VPC is
    reachable: a runner inside it, or a network listed in ``controlPlane.privateAccessCidrs`` (peered
    VPC, VPN, Direct Connect) that routes to it. The kubeconfig needs the AWS CLI where it is used.
    """

    network: AwsNetwork

    def __init__(self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:cluster:EksCluster", name, opts)
        assert spec.region is not None  # config validation requires a region on clouds
        region = spec.region
        ca_image = addons.cluster_autoscaler_image(ctx.kubernetes_version)
        if ca_image is None:
            raise FleetConfigError(
                [f"cluster {name}: kubernetesVersion: got {ctx.kubernetes_version!r}; allowed on target aws: "
                 f"{', '.join(addons.CLUSTER_AUTOSCALER_IMAGES)} (the minors with a Cluster Autoscaler release pinned "
                 "in fleetform.cluster.addons)"]
            )
        identity = exec_identity()
        partition = partition_of(region)
        tags = cluster_tags(spec, ctx)
        child = pulumi.ResourceOptions(parent=self)
        pools = spec.effective_node_pools
        self.target = "aws"
        self.self_managed = False
        self.kubernetes_version = ctx.kubernetes_version

        def managed_policy(policy: str) -> str:
            return f"arn:{partition}:iam::aws:policy/{policy}"

        log_group_name = control_plane_log_group(name)
        network = AwsNetwork(
            f"{name}-network",
            AwsNetworkArgs(cidr=spec.network.cidr, zones=spec.network.zones, region=region, tags=tags,
                           routes=[(str(r.cidr), r.target()) for r in spec.network.routes],
                           # One logs key per cluster: the network's, for the control-plane group too.
                           log_groups=(log_group_name,)),
            opts=child,
        )
        self.network = network

        # ---------------------------------------------------------------- control plane
        key = aws.kms.Key(
            f"{name}-secrets-key",
            description=f"Envelope encryption of Kubernetes secrets of EKS cluster {name}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=region,
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-secrets-key-alias", name=f"alias/fleetform/{name}-secrets", target_key_id=key.key_id, region=region, opts=child)

        cluster_role = aws.iam.Role(
            f"{name}-cluster-role",
            assume_role_policy=_service_role_policy("eks.amazonaws.com"),
            description=f"EKS control plane of {name}",
            tags=tags,
            opts=child,
        )
        # The one managed policy a cluster role needs (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html).
        cluster_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cluster-role-eks", role=cluster_role.name, policy_arn=managed_policy("AmazonEKSClusterPolicy"), opts=child
        )
        # Secrets encryption: the cluster role uses the key, and only this key (terraform-aws-eks
        # "cluster_encryption" policy; https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html).
        cluster_kms = aws.iam.RolePolicy(
            f"{name}-cluster-role-kms",
            role=cluster_role.id,
            policy=key.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"],
                                "Resource": arn,
                            }
                        ],
                    }
                )
            ),
            opts=child,
        )
        # EKS writes to /aws/eks/<name>/cluster; creating it first sets the retention (EKS would create
        # it with logs kept forever) and the encryption: CloudWatch Logs encrypts what EKS delivers with
        # the group's key (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html),
        # so the cluster role needs no permission on it.
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=log_group_name,
            retention_in_days=LOG_RETENTION_DAYS,
            kms_key_id=network.logs_key_arn,
            region=region,
            tags=tags,
            opts=child,
        )
        # Extra security group on the control-plane ENIs: HTTPS from inside the VPC (CI runners,
        # bastions) and from controlPlane.privateAccessCidrs. A connected network (peering, transit
        # gateway, VPN, Direct Connect) reaches the private endpoint only if "your Amazon EKS control
        # plane security group contains rules to allow ingress traffic on port 443 from your connected
        # network" (https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html#private-access).
        # Rules stay inline: the provider forbids mixing them with standalone rules on one group. No
        # egress rule: the provider removes AWS's default allow-all egress, and EKS's own cluster
        # security group carries the control plane's traffic to the nodes.
        api_sg = aws.ec2.SecurityGroup(
            f"{name}-api-sg",
            vpc_id=network.vpc_id,
            description=f"EKS API of {name}: HTTPS from the VPC only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=[str(spec.network.cidr)], description="Kubernetes API from the VPC"
                ),
                *(
                    aws.ec2.SecurityGroupIngressArgs(
                        protocol="tcp", from_port=443, to_port=443, cidr_blocks=[str(cidr)],
                        description=f"Kubernetes API from {cidr} (controlPlane.privateAccessCidrs)",
                    )
                    for cidr in spec.control_plane.private_access_cidrs
                ),
            ],
            region=region,
            tags={**tags, "Name": f"{name}-api"},
            opts=child,
        )
        public = spec.control_plane.public_access
        eks_cluster = aws.eks.Cluster(
            f"{name}-eks",
            name=name,
            version=ctx.kubernetes_version,
            role_arn=cluster_role.arn,
            # Endpoint access: https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html
            vpc_config=aws.eks.ClusterVpcConfigArgs(
                subnet_ids=network.private_subnet_ids,
                security_group_ids=[api_sg.id],
                endpoint_private_access=True,
                endpoint_public_access=public,
                public_access_cidrs=[str(c) for c in spec.control_plane.api_allowed_cidrs] if public else None,
            ),
            encryption_config=aws.eks.ClusterEncryptionConfigArgs(
                resources=["secrets"], provider=aws.eks.ClusterEncryptionConfigProviderArgs(key_arn=key.arn)
            ),
            enabled_cluster_log_types=LOG_TYPES,
            # Access entries only, and no implicit admin for whoever creates the cluster (changing that
            # flag later replaces the cluster: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-eks-cluster-accessconfig.html);
            # the deployer's admin access is the explicit access entry below (terraform-aws-eks v20+).
            access_config=aws.eks.ClusterAccessConfigArgs(
                authentication_mode="API", bootstrap_cluster_creator_admin_permissions=False
            ),
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cluster_policy, cluster_kms, log_group]),
        )

        def issuer_of(identities: Optional[Sequence[Any]]) -> str:
            oidcs = (identities[0].oidcs or []) if identities else []
            if not oidcs or not oidcs[0].issuer:
                raise pulumi.RunError(f"{name}: EKS reported no OIDC issuer for the cluster")
            return oidcs[0].issuer

        issuer = eks_cluster.identities.apply(issuer_of)

        # IRSA (https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html).
        # No thumbprint: IAM validates EKS's OIDC endpoint against its trusted root CAs, and fetches
        # the intermediate thumbprint itself when none is given
        # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html).
        oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=[STS_AUDIENCE], tags=tags, opts=child
        )

        # The identity running `pulumi up` gets cluster-admin through an access entry it can see and
        # revoke (the IAM role behind an assumed-role session, not the session).
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        deployer = aws.iam.get_session_context_output(arn=caller.arn, opts=pulumi.InvokeOutputOptions(parent=self))
        deployer_entry = aws.eks.AccessEntry(
            f"{name}-deployer-access",
            cluster_name=eks_cluster.name,
            principal_arn=deployer.issuer_arn,
            type="STANDARD",
            region=region,
            tags=tags,
            opts=child,
        )
        deployer_admin = aws.eks.AccessPolicyAssociation(
            f"{name}-deployer-admin",
            cluster_name=eks_cluster.name,
            principal_arn=deployer_entry.principal_arn,
            policy_arn=f"arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
            region=region,
            opts=child,
        )

        # ---------------------------------------------------------------- VPC CNI with IRSA
        # The CNI policy goes to the aws-node service account, not to every node
        # (https://docs.aws.amazon.com/eks/latest/userguide/cni-iam-role.html).
        cni_role = aws.iam.Role(
            f"{name}-cni-role",
            assume_role_policy=_irsa_trust(oidc.arn, issuer, CNI_NAMESPACE, CNI_SERVICE_ACCOUNT),
            description=f"VPC CNI (aws-node) of {name}",
            tags=tags,
            opts=child,
        )
        cni_policy = aws.iam.RolePolicyAttachment(
            f"{name}-cni-role-cni", role=cni_role.name, policy_arn=managed_policy("AmazonEKS_CNI_Policy"), opts=child
        )
        cni_addon = aws.eks.Addon(
            f"{name}-vpc-cni",
            cluster_name=eks_cluster.name,
            addon_name="vpc-cni",
            service_account_role_arn=cni_role.arn,
            configuration_values=json.dumps(CNI_CONFIGURATION),
            # Take over the aws-node DaemonSet EKS bootstraps, before any node exists.
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="PRESERVE",
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[cni_policy]),
        )

        # ---------------------------------------------------------------- nodes
        # Node role: https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html (worker
        # policy + ECR pull-only; the CNI policy is on the aws-node IRSA role above).
        node_role = aws.iam.Role(
            f"{name}-node-role",
            assume_role_policy=_service_role_policy("ec2.amazonaws.com"),
            description=f"EKS nodes of {name}",
            tags=tags,
            opts=child,
        )
        node_policies = [
            aws.iam.RolePolicyAttachment(
                f"{name}-node-role-{suffix}", role=node_role.name, policy_arn=managed_policy(policy), opts=child
            )
            for suffix, policy in (("worker", "AmazonEKSWorkerNodePolicy"), ("ecr", "AmazonEC2ContainerRegistryPullOnly"))
        ]
        # Nodes wait for the whole network, so for the private subnets' default route to their zone's
        # NAT gateway (route tables and associations): a node booting without egress cannot pull
        # images or reach AWS APIs and fails to join (the same wait GKE's node pools have).
        node_groups = [
            self._node_group(name, pool, eks_cluster, node_role, network, tags, region, depends_on=[*node_policies, cni_addon, network])
            for pool in pools
        ]

        # ---------------------------------------------------------------- kubeconfig + providers
        kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(eks_cluster.name, eks_cluster.endpoint, eks_cluster.certificate_authority.data).apply(
                lambda v: kubeconfig_yaml(v[0], v[1], v[2], region, identity)
            )
        )
        self.kubeconfig = kubeconfig
        self.endpoint = eks_cluster.endpoint

        # Cluster add-ons get their own provider (same cluster, same identity) so the workloads'
        # provider can wait for them without a cycle.
        system_provider = K8sProvider(
            f"{name}-k8s-system",
            cluster_identifier=name,
            kubeconfig=kubeconfig,
            enable_server_side_apply=True,
            opts=child,
        )
        lbc = self._load_balancer_controller(
            name, region, partition, oidc, issuer, network, tags, system_provider,
            depends_on=[deployer_admin, *node_groups],
        )
        self._metrics_server(name, system_provider, depends_on=[deployer_admin, *node_groups])
        self._cluster_autoscaler(
            name, region, ca_image, oidc, issuer, tags, system_provider, depends_on=[deployer_admin, *node_groups],
            policy=caller.account_id.apply(lambda account: cluster_autoscaler_policy(name, partition, region, account)),
        )

        # The workloads' provider: the kubeconfig's *value* is name/endpoint/CA only; the URNs (known
        # in every preview, unchanged by node-pool or tag edits) only order it after the deployer's
        # admin access and the load balancer controller, so workloads wait for both on create and
        # are deleted before them on destroy.
        gated = pulumi.Output.all(kubeconfig, deployer_admin.urn, lbc.urn).apply(lambda v: v[0])
        self.provider = self._make_provider(kubeconfig=pulumi.Output.secret(gated))

        self.details = {
            "name": eks_cluster.name,
            "region": region,
            "oidcIssuer": issuer,
            "oidcProviderArn": oidc.arn,
            "nodePools": [p.name for p in pools],
        }
        self._publish()

    # ------------------------------------------------------------------------------ pieces

    def _node_group(
        self,
        name: str,
        pool: NodePoolSpec,
        eks_cluster: aws.eks.Cluster,
        node_role: aws.iam.Role,
        network: AwsNetwork,
        tags: dict[str, str],
        region: str,
        depends_on: list[pulumi.Resource],
    ) -> aws.eks.NodeGroup:
        """A managed node group for ``pool`` with its launch template."""
        # Launch template rules for managed node groups:
        # https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html (no instance profile,
        # no subnets; without security groups the nodes get the EKS cluster security group).
        template = aws.ec2.LaunchTemplate(
            f"{name}-{pool.name}-lt",
            description=f"Nodes of pool {pool.name} of EKS cluster {name}",
            update_default_version=True,
            # IMDSv2 only, hop limit 1: a container behind the node's network namespace cannot reach
            # the instance metadata (and the node role's credentials); pods use IRSA instead
            # (https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html).
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1, instance_metadata_tags="disabled"
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",  # the AL2023 root device (see ami_type_for)
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=pool.disk_gb, volume_type="gp3", encrypted="true", delete_on_termination="true"
                    ),
                )
            ],
            # Instances, their volumes and ENIs carry the cluster's tags (a tag change rolls the nodes
            # through a new template version, honouring PodDisruptionBudgets).
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={**tags, "Name": f"{name}-{pool.name}"})
                for kind in ("instance", "volume", "network-interface")
            ],
            region=region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Taint effects are spelled the EKS API's way
        # (https://docs.aws.amazon.com/eks/latest/APIReference/API_Taint.html).
        effects = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
        return aws.eks.NodeGroup(
            f"{name}-{pool.name}-nodes",
            cluster_name=eks_cluster.name,
            node_role_arn=node_role.arn,
            subnet_ids=network.private_subnet_ids,
            ami_type=ami_type_for(pool.size),
            instance_types=[pool.size],
            capacity_type="SPOT" if pool.spot else "ON_DEMAND",
            scaling_config=aws.eks.NodeGroupScalingConfigArgs(min_size=pool.min, max_size=pool.max, desired_size=pool.min),
            update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
            labels=dict(pool.labels) or None,
            taints=[aws.eks.NodeGroupTaintArgs(key=t.key, value=t.value or None, effect=effects[t.effect]) for t in pool.taints] or None,
            launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
            # EKS tags the group's Auto Scaling group for cluster-autoscaler discovery itself
            # (https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html); the same
            # tags on the node group make the intent visible and searchable.
            tags={**tags, "k8s.io/cluster-autoscaler/enabled": "true", f"k8s.io/cluster-autoscaler/{name}": "owned"},
            region=region,
            # The autoscaler owns the desired size once the group exists.
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, ignore_changes=["scalingConfig.desiredSize"]),
        )

    def _load_balancer_controller(
        self,
        name: str,
        region: str,
        partition: str,
        oidc: aws.iam.OpenIdConnectProvider,
        issuer: pulumi.Output[str],
        network: AwsNetwork,
        tags: dict[str, str],
        provider: K8sProvider,
        depends_on: list[pulumi.Resource],
    ) -> Release:
        """The AWS Load Balancer Controller (https://docs.aws.amazon.com/eks/latest/userguide/lbc-helm.html)
        with its IRSA role."""
        role = aws.iam.Role(
            f"{name}-lbc-role",
            assume_role_policy=_irsa_trust(oidc.arn, issuer, LBC_NAMESPACE, LBC_SERVICE_ACCOUNT),
            description=f"AWS Load Balancer Controller of {name}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-lbc-policy", role=role.id, policy=lbc_policy(partition), opts=pulumi.ResourceOptions(parent=self)
        )
        values: dict[str, Any] = {
            "clusterName": name,
            # Set explicitly: with IMDS hop limit 1 the controller's pods cannot look them up.
            "region": region,
            "vpcId": network.vpc_id,
            "serviceAccount": {
                "create": True,
                "name": LBC_SERVICE_ACCOUNT,
                "annotations": {"eks.amazonaws.com/role-arn": role.arn},
            },
            # fleetform's Services name their class (service.k8s.aws/nlb); no webhook needs to
            # intercept every Service of the cluster to set it.
            "enableServiceMutatorWebhook": False,
            # The NLBs and target groups the controller creates carry the cluster's tags.
            "defaultTags": tags,
        }
        return Release(
            f"{name}-lbc",
            ReleaseArgs(
                chart=LBC_CHART,
                version=LBC_CHART_VERSION,
                repository_opts=RepositoryOptsArgs(repo=LBC_REPO),
                name=LBC_CHART,
                namespace=LBC_NAMESPACE,
                values=values,
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[policy, *depends_on]),
        )

    def _metrics_server(self, name: str, provider: K8sProvider, depends_on: list[pulumi.Resource]) -> Release:
        """metrics-server, which EKS does not deploy ("isn't deployed by default in Amazon EKS clusters",
        https://docs.aws.amazon.com/eks/latest/userguide/metrics-server.html) and every HPA needs.

        The upstream chart rather than the EKS community add-on: its version and values are checked in
        its own repository at the pinned tag, it needs nothing from the instance metadata (it reads the
        kubelets' summary API), and it installs like the load balancer controller (pinned release on
        the system provider, after the node groups). Two replicas and a PodDisruptionBudget keep the
        metrics API up while a node drains (the chart's high-availability setting, "replicas value
        greater than 1", https://github.com/kubernetes-sigs/metrics-server#high-availability)."""
        chart = addons.METRICS_SERVER
        values: dict[str, Any] = {
            "replicas": 2,
            "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
            "resources": METRICS_SERVER_RESOURCES,
            "affinity": PREFER_ON_DEMAND,
        }
        return addons.helm_release(f"{name}-metrics-server", chart, METRICS_SERVER_RELEASE, SYSTEM_NAMESPACE, values, pulumi.ResourceOptions(parent=self, provider=provider, depends_on=depends_on))

    def _cluster_autoscaler(
        self,
        name: str,
        region: str,
        image: addons.Pin,
        oidc: aws.iam.OpenIdConnectProvider,
        issuer: pulumi.Output[str],
        tags: dict[str, str],
        provider: K8sProvider,
        depends_on: list[pulumi.Resource],
        policy: pulumi.Input[str],
    ) -> Release:
        """The Kubernetes Cluster Autoscaler: it moves each node group's desired size between the pool's
        min and max (EKS never does, https://docs.aws.amazon.com/eks/latest/userguide/create-managed-node-group.html).

        Chart values per its README ("AWS - Using auto-discovery of tagged instance groups",
        https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.59.0/cluster-autoscaler/charts/cluster-autoscaler/README.md):
        ``autoDiscovery.clusterName`` (finds the node groups by their ``k8s.io/cluster-autoscaler/*``
        tags), ``awsRegion`` set explicitly (it becomes ``AWS_REGION``, and only without it does the
        autoscaler ask the instance metadata, which IMDS hop limit 1 keeps from pods:
        ``getRegion`` in cloudprovider/aws/aws_sdk_provider.go), the service account annotated with an
        IRSA role. The image is the release of the cluster's minor (:mod:`.addons`)."""
        role = aws.iam.Role(
            f"{name}-cluster-autoscaler-role",
            assume_role_policy=_irsa_trust(oidc.arn, issuer, SYSTEM_NAMESPACE, CA_SERVICE_ACCOUNT),
            description=f"Kubernetes Cluster Autoscaler of {name}",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-cluster-autoscaler-policy",
            role=role.id,
            policy=policy,
            opts=pulumi.ResourceOptions(parent=self),
        )
        chart = addons.CLUSTER_AUTOSCALER
        values: dict[str, Any] = {
            "cloudProvider": "aws",
            "awsRegion": region,
            "autoDiscovery": {"clusterName": name},
            "image": {"repository": image.name, "tag": image.version},
            "rbac": {
                "serviceAccount": {
                    "create": True,
                    "name": CA_SERVICE_ACCOUNT,
                    "annotations": {"eks.amazonaws.com/role-arn": role.arn},
                }
            },
            # The general-purpose expander of the AWS example and the EKS best practices guide.
            "extraArgs": {"expander": "least-waste"},
            "resources": CA_RESOURCES,
            # The security contexts of the autoscaler's own EKS example manifest.
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
            "containerSecurityContext": {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            },
            "affinity": PREFER_ON_DEMAND,
        }
        return addons.helm_release(f"{name}-cluster-autoscaler", chart, CA_RELEASE, SYSTEM_NAMESPACE, values, pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[role_policy, *depends_on]))
