"""Each cloud's rules for the names and tags of a cluster's resources (:func:`cloud_naming_problems`),
checked before any resource exists: AWS tags, GCP labels and resource names, Azure tags, zones
and AKS pool names.

Tag budgets count what a resource really carries: the cluster's ``tags`` plus the tags or labels
fleetform (and the tools it deploys with) put on the same resource, on the resource that carries
the most. On self-managed aws and azure that is each pool's Auto Scaling group or scale set, which
carries one Cluster Autoscaler node-template tag per node label and taint key of its pool."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import ClusterSpec, NodePoolSpec

_AWS_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_AKS_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_AZURE_TAG_NAME_FORBIDDEN = "<>%&\\?/"

# ---- the clouds' limits ------------------------------------------------------------------------
AWS_TAGS_PER_RESOURCE = 50  # https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html
"""Tags per AWS resource (tags starting ``aws:`` are AWS's own and do not count); Auto Scaling groups
the same (https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html)."""
AWS_ASG_TAG_KEY_MAX = 128  # https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html
"""Characters of an Auto Scaling group's tag key (EC2's are 127, API_Tag.html, checked on ``tags``)."""
GCP_LABELS_PER_RESOURCE = 64  # https://cloud.google.com/resource-manager/docs/labels-overview#requirements
"""Labels per GCP resource."""
AZURE_TAGS_PER_RESOURCE = 50  # https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
"""Tag name-value pairs per Azure resource."""

# ---- what fleetform adds to the resource that carries the most ---------------------------------
AWS_FLEETFORM_TAGS = 5  # cluster/eks.py, cluster/selfmanaged_aws*.py; aws-load-balancer-controller pkg/deploy/tracking/provider.go
AWS_EKS_NODE_TAGS = 8
"""On EKS the nodes carry the most: the launch template's ``fleetform:cluster``, ``fleetform:stack``
and ``Name`` (cluster/eks.py ``_node_group``) plus the 5 EKS's own Auto Scaling group propagates at
launch: ``eks:cluster-name``, ``eks:nodegroup-name``, ``k8s.io/cluster-autoscaler/enabled``,
``k8s.io/cluster-autoscaler/<cluster>``, ``kubernetes.io/cluster/<cluster>`` ("Amazon EKS tags
managed node group resources so that they are configured to use the Kubernetes Cluster
Autoscaler", https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html; the group is
found by its ``eks:nodegroup-name`` tag, and pulumi-aws' ``autoscaling.Tag`` docs name "ASGs
implicitly created by EKS Node Groups"). Only ``aws:`` tags are exempt from the 50. Self-managed
keeps :data:`AWS_FLEETFORM_TAGS`."""
"""On aws, both modes. Every resource gets ``fleetform:cluster`` and ``fleetform:stack``
(cluster/eks.py ``cluster_tags``). EKS: the NLBs, target groups and security groups of the AWS Load
Balancer Controller get those 2 as its ``defaultTags`` (cluster/eks.py ``_load_balancer_controller``)
plus the controller's own 3, ``elbv2.k8s.aws/cluster``, ``service.k8s.aws/stack`` and
``service.k8s.aws/resource`` (kubernetes-sigs/aws-load-balancer-controller,
pkg/deploy/tracking/provider.go ``ResourceTags``): 5; node groups 4 (+ the 2
``k8s.io/cluster-autoscaler/*`` discovery tags, cluster/eks.py ``_node_group``), launch-template
instances 3 (+ Name), subnets 4 (+ Name and ``kubernetes.io/role/[internal-]elb``,
network/aws.py). Self-managed: masters and workers 5 (+ Name, ``fleetform:role``/``fleetform:pool``
and ``kubernetes.io/cluster/<name>``, cluster/selfmanaged_aws.py, selfmanaged_aws_workers.py), each
pool's Auto Scaling group 5 (+ Name and the 2 discovery tags, selfmanaged_aws_addons.py
``pool_tags``) plus one per node label and taint key (:data:`AWS_NODE_TEMPLATE_PREFIXES`)."""
AWS_NODE_TEMPLATE_PREFIXES = {
    "labels": "k8s.io/cluster-autoscaler/node-template/label/",
    "taints": "k8s.io/cluster-autoscaler/node-template/taint/",
}
"""The Auto Scaling group tag of a self-managed pool's node label or taint key is one of these
followed by the key (cluster/selfmanaged_aws_addons.py ``node_template_tags``; the autoscaler's
cloudprovider/aws/README.md, "Auto-Discovery Setup")."""
AZURE_FLEETFORM_TAGS = {
    "managed": 1,  # cluster/aks.py: fleetform-cluster (on the etcd key too: AKS_KEY_VAULT_KEY_TAGS)
    "self-managed": 5,  # cluster/selfmanaged_azure.py + selfmanaged_azure_cloud.py autoscaler_tags
}
"""On azure every resource gets ``fleetform-cluster`` (cluster/aks.py, cluster/selfmanaged_azure.py):
AKS 1. Self-managed, each pool's scale set also gets ``cluster-autoscaler-enabled``,
``cluster-autoscaler-name``, ``min`` and ``max`` (cluster/selfmanaged_azure_cloud.py
``autoscaler_tags``): 5, plus one ``k8s.io_cluster-autoscaler_node-template_label_<key>`` or
``..._taint_<key>`` per node label and taint key. Those names stay within Azure's 512 characters
(at most 46 + 253 + 1 + 124: a prefix, '/', and a name of 63 whose '_', 61 at most, are written
'~2'), so only their number is checked."""
AKS_KEY_VAULT_KEY_TAGS = 15
"""An AKS cluster's etcd KMS key (cluster/aks.py, a ``keyvault.Key``) carries the cluster's tags and
``fleetform-cluster``; "Key Vault supports up to 15 tags, each of which can have a 256 character
name and a 256 character value" (https://learn.microsoft.com/azure/key-vault/keys/about-keys,
Key tags). A private cluster's system Private DNS zone takes the cluster's tags too (15 as well)."""
GKE_NODE_LABELS = 7
"""What GKE puts on its node VMs and their disks besides the pool's labels (fleetform-cluster and
pulumi-gcp's goog-pulumi-provisioned, counted in :data:`GCP_FLEETFORM_LABELS`): goog-gke-node,
goog-k8s-cluster-name, goog-k8s-cluster-location, goog-k8s-node-pool-name,
goog-gke-cluster-id-base32, goog-gke-node-pool-provisioning-model, and goog-gke-cost-management
with cost allocation on (seen on GKE node VMs; GCP documents no goog- exemption from its 64)."""
GCP_FLEETFORM_LABELS = {
    "managed": 2,  # cluster/gke.py fleetform-cluster + pulumi-gcp goog-pulumi-provisioned (pulumi/registry#5403)
    "self-managed": 4,  # cluster/selfmanaged_gcp_workers.py instance template: + fleetform-role, fleetform-pool
}
"""On gcp every labelled resource gets ``fleetform-cluster`` (cluster/gke.py, cluster/selfmanaged_gcp.py)
and pulumi-gcp's ``goog-pulumi-provisioned``, which the provider adds to the labels it manages
(``effectiveLabels``: the GKE cluster, instances, instance templates, ...) unless its config
``gcp:addPulumiAttributionLabel`` is false, counted here either way (pulumi/registry#5403, the GCP v8
migration guide; pulumi_gcp/config/vars.py ``add_pulumi_attribution_label``): GKE 2. Self-managed,
workers' instance templates also get ``fleetform-role`` and ``fleetform-pool``
(cluster/selfmanaged_gcp_workers.py): 4."""


def _pool_template_keys(pool: "NodePoolSpec") -> int:
    """How many node-template tags a self-managed pool's Auto Scaling group or scale set carries:
    one per node label and one per distinct taint key (taints of one key share a tag)."""
    return len(pool.labels) + len({t.key for t in pool.taints})


def _pool_budget_problems(spec: "ClusterSpec", fleetform: int, limit: int, cloud: str, owner: str,
                          carrier: str) -> list[tuple[Any, Any, str]]:
    """Each self-managed pool whose node labels and taint keys, one node-template tag each, do not
    fit on its ``carrier`` next to the cluster's tags and fleetform's ``fleetform``."""
    from .cluster import SELF_MANAGED_SPOT_LABEL

    found: list[tuple[Any, Any, str]] = []
    room = max(0, limit - fleetform - len(spec.tags))
    for i, pool in enumerate(spec.effective_node_pools):
        count = _pool_template_keys(pool)
        if count > room:
            spot = SELF_MANAGED_SPOT_LABEL[0] in pool.labels
            found.append((f"nodePools[{i}].{'labels' if pool.labels else 'taints'}", f"{count} labels and taint keys",
                          f"at most {room} node labels and taint keys together on {cloud} self-managed with "
                          f"{len(spec.tags)} tags: each is a node-template tag on the pool's {carrier}, next to the "
                          f"cluster's tags and fleetform's {fleetform} ({owner} allows {limit} per resource"
                          + (f"; a spot pool's labels include {SELF_MANAGED_SPOT_LABEL[0]}" if spot else "") + ")"))
    return found


def _too_many_tags(spec: "ClusterSpec", cloud: str, budget: int, why: str) -> list[tuple[Any, Any, str]]:
    """The cluster's ``tags`` past ``budget``, ``why`` saying which resource sets it."""
    if len(spec.tags) <= budget:
        return []
    mode = " self-managed" if spec.effective_mode == "self-managed" else ""
    return [("tags", f"{len(spec.tags)} tags", f"at most {budget} tags on {cloud}{mode} ({why})")]


def _self_managed_tag_count(spec: "ClusterSpec", cloud: str, owner: str, limit: int, added: int,
                            carrier: str) -> list[tuple[Any, Any, str]]:
    """A self-managed cluster's ``tags`` past what fits next to fleetform's ``added`` on each pool's
    ``carrier`` (its node-template tags are :func:`_pool_budget_problems`')."""
    return _too_many_tags(spec, cloud, limit - added, f"{owner} allows {limit} per resource; fleetform adds {added}, "
                                                      f"and on a pool's {carrier} one more per node label and taint key")


def cloud_naming_problems(spec: "ClusterSpec") -> list[tuple[Any, Any, str]]:
    """What each cloud refuses in names and tags, caught before any resource exists: every
    (key below the cluster or (key, tag name), value given, what is allowed)."""
    found: list[tuple[Any, Any, str]] = []
    t = spec.target
    self_managed = spec.effective_mode == "self-managed"
    if t == "aws":
        # Keys 1-127 and values up to 256 characters: EC2's Tag
        # (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_Tag.html), the strictest of
        # the services fleetform tags (others allow keys of 128).
        if self_managed:
            found += _self_managed_tag_count(spec, "aws", "AWS", AWS_TAGS_PER_RESOURCE, AWS_FLEETFORM_TAGS,
                                             "Auto Scaling group")
        else:
            found += _too_many_tags(spec, "aws", AWS_TAGS_PER_RESOURCE - AWS_EKS_NODE_TAGS,
                                    f"AWS allows {AWS_TAGS_PER_RESOURCE} per resource; a node carries "
                                    f"{AWS_EKS_NODE_TAGS} more, fleetform's and those EKS propagates from its Auto "
                                    "Scaling group")
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= 127 or k.lower().startswith("aws:") or not _AWS_TAG_TEXT.fullmatch(k) \
                    or len(v) > 256 or not _AWS_TAG_TEXT.fullmatch(v):
                found.append((("tags", k), v, "AWS tags: keys of 1-127 and values of at most 256 letters, digits, "
                              "spaces and _ . : / = + - @; keys must not start with aws:"))
        if self_managed:
            found += _pool_budget_problems(spec, AWS_FLEETFORM_TAGS, AWS_TAGS_PER_RESOURCE, "aws", "AWS", "Auto Scaling group")
            for i, pool in enumerate(spec.effective_node_pools):
                for what, prefix in AWS_NODE_TEMPLATE_PREFIXES.items():
                    longest = AWS_ASG_TAG_KEY_MAX - len(prefix)
                    allowed = (f"on aws self-managed, a {what[:-1]} key of at most {longest} characters (the pool's "
                               f"Auto Scaling group carries it as the tag {prefix}<key>, and AWS allows tag keys of "
                               f"{AWS_ASG_TAG_KEY_MAX})")
                    if what == "labels":
                        found += [((f"nodePools[{i}].labels", k), v, allowed) for k, v in pool.labels.items() if len(k) > longest]
                    else:
                        found += [(f"nodePools[{i}].taints[{j}].key", taint.key, allowed)
                                  for j, taint in enumerate(pool.taints) if len(taint.key) > longest]
    elif t == "gcp":
        # https://cloud.google.com/resource-manager/docs/labels-overview#requirements
        if not spec.name[0].isalpha():
            found.append(("name", spec.name, "a name starting with a letter (GKE cluster and service account names must)"))
        added = GCP_FLEETFORM_LABELS["self-managed" if self_managed else "managed"]
        budget = GCP_LABELS_PER_RESOURCE - added - (0 if self_managed else GKE_NODE_LABELS)
        if len(spec.tags) > budget:
            found.append(("tags", f"{len(spec.tags)} labels",
                          f"at most {budget} labels on gcp{' self-managed' if self_managed else ''} (GCP allows "
                          f"{GCP_LABELS_PER_RESOURCE} per resource; fleetform adds {added}, pulumi-gcp's "
                          "goog-pulumi-provisioned included" + ("" if self_managed else
                                                               f", and GKE up to {GKE_NODE_LABELS} on its nodes") + ")"))
        for k, v in spec.tags.items():
            if not _GCP_LABEL_KEY.fullmatch(k) or not _GCP_LABEL_VALUE.fullmatch(v):
                found.append((("tags", k), v, "GCP labels: keys of 1-63 lower-case letters, digits, '_' or '-' "
                              "starting with a letter; values of at most 63 of those"))
        # Node pools (GKE) and instance templates (self-managed) are GCP resource names:
        # https://cloud.google.com/compute/docs/naming-resources#resource-name-format
        for i, pool in enumerate(spec.node_pools or []):
            if not pool.name[0].isalpha():
                found.append((f"nodePools[{i}].name", pool.name, "on gcp, a name starting with a letter (GCP resource names must)"))
    elif t == "azure":
        added = AZURE_FLEETFORM_TAGS["self-managed" if self_managed else "managed"]
        if self_managed:
            found += _self_managed_tag_count(spec, "azure", "Azure", AZURE_TAGS_PER_RESOURCE, added, "scale set")
        else:
            found += _too_many_tags(spec, "azure", AKS_KEY_VAULT_KEY_TAGS - added,
                                    f"the cluster's etcd key in Key Vault takes them and allows {AKS_KEY_VAULT_KEY_TAGS} "
                                    f"tags; fleetform adds {added}")
        longest = 512 if self_managed else 256  # Key Vault key tag names: 256 (AKS_KEY_VAULT_KEY_TAGS)
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= longest or len(v) > 256 or any(c in k for c in _AZURE_TAG_NAME_FORBIDDEN):
                found.append((("tags", k), v, f"Azure tags: names of 1-{longest} characters without < > % & \\ ? /, "
                              "values of at most 256 characters"))
        if self_managed:
            found += _pool_budget_problems(spec, added, AZURE_TAGS_PER_RESOURCE, "azure", "Azure", "scale set")
        from .cluster import MAX_AZURE_ZONES

        if spec.network.zones > MAX_AZURE_ZONES:
            found.append(("network.zones", spec.network.zones, f"at most {MAX_AZURE_ZONES} (Azure regions have 3 availability zones)"))
        if spec.effective_mode == "managed":
            # AKS Linux pool names: lower-case letters and digits, starting with a letter, 1-12
            # (https://learn.microsoft.com/azure/aks/create-node-pools); fleetform drops '-'.
            seen = {"system"}
            for i, pool in enumerate(spec.effective_node_pools):
                aks = re.sub(r"[^a-z0-9]", "", pool.name)
                if not _AKS_POOL.fullmatch(aks) or aks in seen:
                    found.append((f"nodePools[{i}].name", pool.name, "on AKS, a name that is 1-12 lower-case letters "
                                  "and digits once '-' is dropped, starts with a letter, is not system and differs from "
                                  "the other pools"))
                seen.add(aks)
    return found
