"""Target ``aws``, mode ``self-managed``: the machines' common settings and the worker pools
(split from :mod:`.selfmanaged_aws`, which builds the rest of the cluster): one launch template
and one Auto Scaling group per node pool, each worker a k3s agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws

from ..bootstrap import NodeBootstrap, render_cloud_init
from ..bootstrap.identity import ClusterIdentity
from ..config import NodePoolSpec, Taint
from ..network.aws import AwsNetwork
from . import selfmanaged_aws_addons as lifecycle
from .eks import ami_type_for

UBUNTU_RELEASE = "24.04"
"""The OS of every node: Ubuntu LTS, which ships cloud-init and the tools the bootstrap uses."""
ROOT_DEVICE = "/dev/sda1"
"""Root device name of Canonical's Ubuntu AMIs (a launch template mapping another name would add a
second volume instead of configuring the root one)."""
WORKER_WARMUP_SECONDS = 300
"""Seconds an instance refresh waits after a new worker is in service before replacing the next."""


def ubuntu_ami_parameter(instance_type: str) -> str:
    """Canonical's public SSM parameter holding the current Ubuntu LTS AMI for the instance type's
    architecture (https://discourse.ubuntu.com/t/finding-ubuntu-images-with-the-aws-ssm-parameter-store/15507)."""
    arch = "arm64" if ami_type_for(instance_type).startswith("AL2023_ARM") else "amd64"
    return f"/aws/service/canonical/ubuntu/server/{UBUNTU_RELEASE}/stable/current/{arch}/hvm/ebs-gp3/ami-id"


def taint_text(t: Taint) -> str:
    """A taint as k3s's ``--node-taint`` takes it."""
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def imds_options() -> dict[str, Any]:
    """Instance metadata options of every node (masters and workers)."""
    # IMDSv2 only, hop limit 1: cloud-init on the host reads the user data, but the token a
    # request needs cannot come back to a pod behind the node's network namespace (one hop
    # more), so pods cannot read the metadata service at all
    # (https://docs.aws.amazon.com/eks/latest/best-practices/identity-and-access-management.html);
    # host-network pods are refused by Pod Security "restricted" outside kube-system. The two
    # that do use it (cloud-provider-aws and the Cluster Autoscaler, selfmanaged_aws_addons.py)
    # run in kube-system on the masters with host networking, for the masters' instance role.
    # That is why carrying the join token (and, on the first master, the cluster CAs) in user
    # data is acceptable here: on the node only host processes can read it (no SSH, no login
    # users; workloads run in pods), and the host keeps those same secrets on disk for k3s
    # anyway. Outside the node, user data is readable by IAM
    # principals allowed ec2:DescribeInstanceAttribute / ec2:DescribeLaunchTemplateVersions:
    # keep those permissions as narrow as cluster-admin (AWS's advice is to keep secrets out of
    # user data: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-add-user-data.html).
    # The masters' role has the second (the autoscaler reads the pools' templates): the masters
    # hold every secret of the cluster already.
    return {"http_endpoint": "enabled", "http_tokens": "required", "http_put_response_hop_limit": 1, "instance_metadata_tags": "disabled"}


def worker_pool(
    parent: pulumi.Resource, cluster: str, region: str, tags: dict[str, str], pool: NodePoolSpec,
    url: pulumi.Output[str], identity: ClusterIdentity, version: str, network: AwsNetwork,
    nodes_sg: aws.ec2.SecurityGroup, workers_sg: aws.ec2.SecurityGroup, service_groups: list[aws.lb.TargetGroup],
    user_data: Callable[[str, str], str],
) -> aws.autoscaling.Group:
    """One node pool: a launch template and the Auto Scaling group of its k3s agents (children of
    ``parent``; ``user_data`` packs a cloud-config for EC2)."""
    name = cluster
    node = NodeBootstrap(
        role="agent",
        version=version,
        labels=tuple(sorted(pool.labels.items())),
        taints=tuple(taint_text(t) for t in pool.taints),
        # cloud-provider-aws initialises the Node from its providerID (see selfmanaged_aws.py).
        cloud_provider_external=True,
        provider_id_from="aws",
        # A replacement worker may get a terminated one's private IP, hence its ip-a-b-c-d host
        # name, while that Node and its node-password Secret still exist: k3s then refuses it
        # ("use --with-node-id", https://docs.k3s.io/architecture#how-agent-node-registration-works).
        # The random suffix makes every worker's name new; the CCM finds it by providerID.
        with_node_id=True,
    )
    data = pulumi.Output.all(url, identity.agent_token).apply(
        lambda v: user_data(render_cloud_init(replace(node, server_url=v[0], token=v[1])), f"pool {pool.name}")
    )
    template = aws.ec2.LaunchTemplate(
        f"{name}-{pool.name}-lt",
        description=f"k3s agents of pool {pool.name} of {name}",
        # Resolved at each launch: new workers get Canonical's current image, with no template
        # change (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/create-launch-template.html#use-an-ssm-parameter-instead-of-an-ami-id).
        image_id=f"resolve:ssm:{ubuntu_ami_parameter(pool.size)}",
        instance_type=pool.size,
        update_default_version=True,
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(**imds_options()),
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=pool.disk_gb, volume_type="gp3", encrypted="true", delete_on_termination="true"
                ),
            )
        ],
        network_interfaces=[
            aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                device_index=0,
                associate_public_ip_address="false",
                delete_on_termination="true",
                security_groups=[nodes_sg.id, workers_sg.id],
            )
        ],
        user_data=pulumi.Output.secret(data),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(
                resource_type=kind,
                # Instances carry the cluster tag cloud-provider-aws looks for.
                tags={**tags, "Name": f"{name}-{pool.name}", "fleetform:pool": pool.name,
                      **(lifecycle.cluster_tag(name) if kind == "instance" else {})},
            )
            for kind in ("instance", "volume", "network-interface")
        ],
        region=region,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    version_ref = template.latest_version.apply(str)
    if pool.spot:
        placement: dict[str, Any] = {
            "mixed_instances_policy": aws.autoscaling.GroupMixedInstancesPolicyArgs(
                instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                    on_demand_base_capacity=0,
                    on_demand_percentage_above_base_capacity=0,
                    spot_allocation_strategy="price-capacity-optimized",
                ),
                launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                    launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                        launch_template_id=template.id, version=version_ref
                    ),
                    overrides=[aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=pool.size)],
                ),
            ),
            # Replace a spot worker AWS announces it will reclaim before it is reclaimed.
            "capacity_rebalance": True,
        }
    else:
        placement = {"launch_template": aws.autoscaling.GroupLaunchTemplateArgs(id=template.id, version=version_ref)}
    group_tags = lifecycle.pool_tags(name, pool, tags)
    return aws.autoscaling.Group(
        f"{name}-{pool.name}-workers",
        # The Cluster Autoscaler moves the desired size within these bounds; it is never set
        # here, so a later `up` does not undo its work.
        min_size=pool.min,
        max_size=pool.max,
        vpc_zone_identifiers=network.private_subnet_ids,
        target_group_arns=[tg.arn for tg in service_groups],
        # EC2 status only: a service failing its own health check must not get workers killed.
        health_check_type="EC2",
        # A changed template rolls the pool, launching replacements before terminating
        # (https://docs.aws.amazon.com/autoscaling/ec2/userguide/asg-instance-refresh.html).
        instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
            strategy="Rolling",
            preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(
                min_healthy_percentage=100, max_healthy_percentage=150, instance_warmup=str(WORKER_WARMUP_SECONDS),
                skip_matching=True,
            ),
        ),
        # Instances are tagged by the launch template; these tag the group itself (the autoscaler
        # reads its discovery and node-template tags from the group).
        tags=[aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=False) for k, v in group_tags.items()],
        region=region,
        opts=pulumi.ResourceOptions(parent=parent),
        **placement,
    )
