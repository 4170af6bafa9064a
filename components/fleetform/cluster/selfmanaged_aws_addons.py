"""Target ``aws``, mode ``self-managed``: what keeps the nodes in step with EC2 once the cluster
answers (split from :mod:`.selfmanaged_aws`, which builds the machines).

- **cloud-provider-aws** (the AWS cloud-controller-manager, CCM): gives every Node its providerID
  and its ``topology.kubernetes.io/zone``/``region`` labels, and deletes the Node of a terminated
  instance. Its service and route controllers are off: fleetform provisions each service's NLB
  itself (one owner per load balancer) and flannel routes the pods.
- **the Kubernetes Cluster Autoscaler**: moves each pool's Auto Scaling group between ``min`` and
  ``max``, found by its tags; a ``min: 0`` pool scales from zero through node-template tags.
- **the masters' instance role**, the only AWS identity in the cluster: both controllers run on
  the masters, with host networking, and use it through the instance metadata service.

Both are Helm releases on a Kubernetes provider that waits for the readiness gate, as on EKS
(:mod:`.eks`), rather than k3s auto-deploy manifests in the first master's user data: the
masters never run changed user data again (see :mod:`.selfmanaged_aws`), so a manifest there
could never be upgraded, while a release is upgraded by the next ``pulumi up``. Versions are
pinned per Kubernetes minor in :mod:`.addons`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
from pulumi_kubernetes import Provider as K8sProvider
from pulumi_kubernetes.helm.v3 import Release

from ..config import FleetConfigError, NodePoolSpec
from . import addons
from .eks import CA_READ_ACTIONS, CA_RESOURCES, SYSTEM_NAMESPACE, cluster_autoscaler_scale_statement

CLUSTER_TAG_PREFIX = "kubernetes.io/cluster/"
"""cloud-provider-aws reads its cluster ID from this tag on the instance it runs on, and fails to
start without one (``newAWSCloud2`` -> ``tagging.initFromTags``, pkg/providers/v1/aws.go and tags.go
of https://github.com/kubernetes/cloud-provider-aws); its getting-started guide asks for it, value
``owned``, on the cluster's instances (docs/getting_started.md)."""

CCM_RELEASE = "aws-cloud-controller-manager"
CCM_ARGS = (
    "--v=2",
    "--cloud-provider=aws",
    # Everything but the service and route controllers. "service" and "route" are the aliases
    # k8s.io/cloud-provider keeps for service-lb-controller and node-route-controller
    # (names/controller_names.go, CCMControllerAliases: "should never be removed").
    "--controllers=*,-service,-route",
    # As the project's own example DaemonSet sets it (examples/existing-cluster/base/
    # aws-cloud-controller-manager-daemonset.yaml: "Set --configure-cloud-routes=true if required
    # by your CNI"); flannel's VXLAN needs no VPC routes.
    "--configure-cloud-routes=false",
)
"""Arguments of the CCM container (the chart's ``args`` value replaces its ``--v=2
--cloud-provider=aws`` default, so both are repeated)."""

CCM_ACTIONS = ("ec2:DescribeInstances", "ec2:DescribeAvailabilityZones", "ec2:DescribeInstanceTopology")
"""What the CCM's node and node-lifecycle controllers call, from its documented control-plane
policy (https://github.com/kubernetes/cloud-provider-aws/blob/master/docs/prerequisites.md#iam-policies),
read against the source (pkg/providers/v1 at the pinned tags v1.32.8 … v1.36.1): ``DescribeInstances`` finds its own instance
at start, each Node's instance by providerID and whether it still exists; ``DescribeAvailabilityZones``
gives the zone-ID label (zones.go); ``DescribeInstanceTopology`` the network-topology labels of
the instance types that have them (topology.go; without it the CCM logs and carries on). The
rest of the documented policy serves the service controller (ELB, security groups, subnets,
``iam:CreateServiceLinkedRole``), the route controller (route tables, ``ModifyInstanceAttribute``),
the tagging controller (``CreateTags``, off by default) and in-tree volumes (EBS, KMS): all off here.
The documented node policy (ECR pulls, ``DescribeRegions``) is for the kubelet's ECR credential
provider, which fleetform's nodes do not run, so the workers have no identity at all."""

CA_RELEASE = "cluster-autoscaler"
CA_MASTER_READ_ACTIONS = tuple(a for a in CA_READ_ACTIONS if not a.startswith("eks:"))
"""The autoscaler's documented read actions ("Full Cluster Autoscaler Features Policy",
https://github.com/kubernetes/autoscaler/blob/cluster-autoscaler-chart-9.59.0/cluster-autoscaler/cloudprovider/aws/README.md#iam-policy)
without ``eks:DescribeNodegroup``, which serves EKS managed node groups only: here a pool's labels
and taints for scaling from zero are tags on its Auto Scaling group (:func:`node_template_tags`)."""

CONTROL_PLANE_SELECTOR = {"node-role.kubernetes.io/control-plane": "true"}
"""k3s labels its servers ``node-role.kubernetes.io/control-plane: "true"`` (k3s-io/k3s
pkg/server/server.go, ``setNodeLabelsAndAnnotations``); the CCM chart's default selector expects
the value ``""`` (kubeadm's), so it is set explicitly."""

MASTER_TOLERATIONS = [
    # The masters' own taint (DEDICATED_MASTER_TAINT in selfmanaged_aws.py), any effect.
    {"key": "CriticalAddonsOnly", "operator": "Exists"},
    {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
]
CCM_TOLERATIONS = [
    # Every Node carries this until the CCM has initialised it, the masters included: the CCM
    # must run there first (the chart's default tolerations, charts/aws-cloud-controller-manager/values.yaml).
    {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"},
    *MASTER_TOLERATIONS,
]
LOCKED_DOWN = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def cluster_tag(cluster: str) -> dict[str, str]:
    """The tag that makes an instance one of ``cluster``'s for cloud-provider-aws."""
    return {f"{CLUSTER_TAG_PREFIX}{cluster}": "owned"}


def supported_minors() -> list[str]:
    """Kubernetes minors with both a cloud-provider-aws and a Cluster Autoscaler release pinned."""
    return sorted(set(addons.AWS_CCM_IMAGES) & set(addons.CLUSTER_AUTOSCALER_IMAGES), key=lambda v: tuple(map(int, v.split("."))))


def check_kubernetes_version(cluster: str, version: str) -> tuple[addons.Pin, addons.Pin]:
    """The CCM and autoscaler images for ``version``, or one config error naming the key: both
    projects release per Kubernetes minor and support only their own
    (https://github.com/kubernetes/cloud-provider-aws#compatibility-with-kubernetes,
    https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases), and neither
    had a 1.37 release when checked, so a 1.37 cluster is refused rather than run with a
    controller of another minor."""
    ccm, ca = addons.aws_ccm_image(version), addons.cluster_autoscaler_image(version)
    if ccm is None or ca is None:
        raise FleetConfigError([
            f"cluster {cluster}: kubernetesVersion: got {version!r}; allowed on target aws (self-managed): "
            f"{', '.join(supported_minors())} (the minors with both a cloud-provider-aws and a Cluster Autoscaler "
            "release pinned in fleetform.cluster.addons)"
        ])
    return ccm, ca


def node_template_tags(pool: NodePoolSpec) -> dict[str, str]:
    """Tags that tell the autoscaler, while a pool has no node, which labels and taints its nodes
    will have, so pending pods that select or tolerate them scale a ``min: 0`` pool up (AWS README,
    "Auto-Discovery Setup": ``k8s.io/cluster-autoscaler/node-template/label/<name>: <value>`` and
    ``.../taint/<key>: <value>:<effect>``, read by ``extractLabelsFromAsg``/``extractTaintsFromAsg``
    in cloudprovider/aws/aws_manager.go; an empty value is ``:<effect>``). The bootstrap applies the
    same labels and taints to the kubelet, as the README requires."""
    tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in sorted(pool.labels.items())}
    tags.update({f"k8s.io/cluster-autoscaler/node-template/taint/{t.key}": f"{t.value}:{t.effect}" for t in pool.taints})
    return tags


def masters_policy(cluster: str, partition: str, region: str, account: str) -> str:
    """The masters' instance-role policy: the CCM's node actions and the autoscaler's, each on the
    narrowest resource it takes (Service Authorization Reference: the EC2 and Auto Scaling
    describe calls take none; the two writes take an ``autoScalingGroup`` ARN,
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html),
    the writes further held to this cluster's groups by their tags (the README: "It is strongly
    recommended to restrict the target resources ... using tag based conditionals"; the condition
    of https://docs.aws.amazon.com/eks/latest/best-practices/cas.html)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "CloudControllerManagerNodes", "Effect": "Allow", "Action": list(CCM_ACTIONS), "Resource": "*"},
                {"Sid": "ClusterAutoscalerDiscover", "Effect": "Allow", "Action": list(CA_MASTER_READ_ACTIONS), "Resource": "*"},
                cluster_autoscaler_scale_statement("ClusterAutoscalerScaleOwnGroups", cluster, partition, region, account),
            ],
        },
        separators=(",", ":"),
    )


def ec2_trust_policy() -> str:
    """Only EC2 may assume the masters' role (for the instance profile,
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_switch-role-ec2.html)."""
    return json.dumps(
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        separators=(",", ":"),
    )


class MastersIdentity:
    """The masters' instance role, its inline policy and instance profile (children of ``parent``)."""

    def __init__(self, parent: pulumi.Resource, cluster: str, region: str, partition: str, tags: dict[str, str]):
        opts = pulumi.ResourceOptions(parent=parent)
        caller = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=parent))
        self.role = aws.iam.Role(
            f"{cluster}-masters-role",
            assume_role_policy=ec2_trust_policy(),
            description=f"k3s masters of {cluster}: cloud-provider-aws and the Cluster Autoscaler",
            tags=tags,
            opts=opts,
        )
        self.policy = aws.iam.RolePolicy(
            f"{cluster}-masters-policy",
            role=self.role.id,
            policy=caller.account_id.apply(lambda account: masters_policy(cluster, partition, region, account)),
            opts=opts,
        )
        self.profile = aws.iam.InstanceProfile(f"{cluster}-masters-profile", role=self.role.name, tags=tags, opts=opts)


def system_provider(parent: pulumi.Resource, cluster: str, kubeconfig: pulumi.Input[str], ready: pulumi.Resource) -> K8sProvider:
    """The Kubernetes provider of the cluster add-ons (as on EKS, ``<cluster>-k8s-system``): the
    workloads' provider waits for the CCM release on it, so no workload is created on Nodes the
    CCM has not initialised (they carry ``node.cloudprovider.kubernetes.io/uninitialized`` until then)."""
    return K8sProvider(
        f"{cluster}-k8s-system",
        cluster_identifier=cluster,
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[ready]),
    )


def ccm_release(
    parent: pulumi.Resource, cluster: str, image: addons.Pin, provider: K8sProvider, depends_on: list[pulumi.Resource],
) -> Release:
    """cloud-provider-aws from its chart (``aws-cloud-controller-manager``, a DaemonSet), on the
    masters only, with host networking: the CCM reads its instance ID and region from the
    instance metadata service (``buildSelfAWSInstance``, ``getRegionFromMetadata`` in
    pkg/providers/v1/aws.go) and its credentials from the instance role, and IMDS hop limit 1
    answers only the host's network namespace (the project's example DaemonSet runs with
    ``hostNetwork: true`` as well). The chart's ``hostNetworking`` value sets it."""
    chart = addons.AWS_CCM
    values: dict[str, Any] = {
        "image": {"repository": image.name, "tag": image.version},
        "args": list(CCM_ARGS),
        "hostNetworking": True,
        # The chart's advice for a DaemonSet on control-plane nodes (values.yaml, dnsPolicy).
        "dnsPolicy": "Default",
        "nodeSelector": CONTROL_PLANE_SELECTOR,
        "tolerations": CCM_TOLERATIONS,
        # The chart's request (200m CPU) plus memory; no CPU limit, so it is never throttled.
        "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
        "securityContext": LOCKED_DOWN,
    }
    return addons.helm_release(f"{cluster}-ccm", chart, CCM_RELEASE, SYSTEM_NAMESPACE, values, pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on))


def cluster_autoscaler_release(
    parent: pulumi.Resource, cluster: str, region: str, image: addons.Pin, provider: K8sProvider,
    depends_on: list[pulumi.Resource],
) -> Release:
    """The Cluster Autoscaler from its chart, finding the pools' Auto Scaling groups by their
    ``k8s.io/cluster-autoscaler/enabled`` and ``.../<cluster>`` tags (the chart's default
    ``autoDiscovery.tags`` for ``autoDiscovery.clusterName``, values.yaml at cluster-autoscaler-chart-9.59.0).

    Its AWS credentials: IRSA needs an OIDC issuer AWS trusts, which a self-managed cluster has
    not, and the README's fallback is "an IAM service role with the EC2 instance on which the
    Cluster Autoscaler pod runs" (cloudprovider/aws/README.md, "Permissions"; run on a control
    plane node: "Control Plane Node Setup"). So it runs on the masters (selector, tolerations),
    with host networking so the SDK's default credential chain reaches the instance metadata
    service, ``dnsPolicy: Default`` (it needs AWS's names, not the cluster's: the chart's own
    advice) and ``awsRegion`` set explicitly (``AWS_REGION``). The image is the cluster's minor."""
    chart = addons.CLUSTER_AUTOSCALER
    values: dict[str, Any] = {
        "cloudProvider": "aws",
        "awsRegion": region,
        "autoDiscovery": {"clusterName": cluster},
        "image": {"repository": image.name, "tag": image.version},
        "rbac": {"serviceAccount": {"create": True, "name": CA_RELEASE}},
        "hostNetwork": True,
        # On the host network its container port (8085) is a host port ("If HostNetwork is
        # specified, this must match ContainerPort", core/v1 ContainerPort, hostPort): a surge pod
        # could not start next to the old one on a single master. One replica, leader-elected:
        # replace it instead (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment).
        "updateStrategy": {"type": "Recreate"},
        "dnsPolicy": "Default",
        "nodeSelector": CONTROL_PLANE_SELECTOR,
        "tolerations": MASTER_TOLERATIONS,
        "extraArgs": {"expander": "least-waste"},
        "resources": CA_RESOURCES,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {**LOCKED_DOWN, "readOnlyRootFilesystem": True},
    }
    return addons.helm_release(f"{cluster}-cluster-autoscaler", chart, CA_RELEASE, SYSTEM_NAMESPACE, values, pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on))


def pool_tags(cluster: str, pool: NodePoolSpec, tags: dict[str, str]) -> dict[str, str]:
    """An Auto Scaling group's own tags: the cluster's, its name, the autoscaler's discovery tags
    (the README's ``--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/<cluster-name>``)
    and the pool's node-template tags."""
    return {
        **tags,
        "Name": f"{cluster}-{pool.name}",
        "k8s.io/cluster-autoscaler/enabled": "true",
        f"k8s.io/cluster-autoscaler/{cluster}": "owned",
        **node_template_tags(pool),
    }
