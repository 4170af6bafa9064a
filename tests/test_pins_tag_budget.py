"""The tag and label budgets of ``clusters[].tags`` and of self-managed node pools, pinned at each
boundary: exactly at the limit accepted, one over refused.

Every expected number is computed here from the clouds' documented limits and from the list of
tags and labels fleetform puts on the resource that carries the most (read from the code, each
name listed below with where it is set), never from fleetform.config.naming:

- AWS: 50 tags per resource (https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html;
  Auto Scaling groups the same, and their tag keys at most 128 characters:
  https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-tagging.html).
- GCP: 64 labels per resource (https://cloud.google.com/resource-manager/docs/labels-overview#requirements).
- Azure: 50 tags per resource
  (https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations);
  a Key Vault key 15 tags with names of at most 256 characters
  (https://learn.microsoft.com/azure/key-vault/keys/about-keys, "Key tags"): AKS's etcd key takes the
  cluster's tags.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetform.config import FleetConfigError, load_spec
from tests.conftest import cluster, fleet

AWS_LIMIT = 50
ASG_TAG_KEY_MAX = 128
GCP_LIMIT = 64
AZURE_LIMIT = 50
KEY_VAULT_KEY_LIMIT = 15

# What fleetform adds, per cloud and mode, on the resource that carries the most.
AWS_EKS_NLB = [
    "fleetform:cluster", "fleetform:stack",  # cluster/eks.py cluster_tags, the controller's defaultTags
    # the AWS Load Balancer Controller's own (kubernetes-sigs/aws-load-balancer-controller,
    # pkg/deploy/tracking/provider.go ResourceTags)
    "elbv2.k8s.aws/cluster", "service.k8s.aws/stack", "service.k8s.aws/resource",
]
AWS_EKS_NODE = [  # an EKS node: the launch template's (cluster/eks.py _node_group) + what EKS's own group propagates
    "fleetform:cluster", "fleetform:stack", "Name",
    "eks:cluster-name", "eks:nodegroup-name", "k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/c1",
    "kubernetes.io/cluster/c1",
]
AWS_SELF_MANAGED_ASG = [  # cluster/selfmanaged_aws_addons.py pool_tags, before the node-template tags
    "fleetform:cluster", "fleetform:stack", "Name", "k8s.io/cluster-autoscaler/enabled", "k8s.io/cluster-autoscaler/c1",
]
AWS_SELF_MANAGED_MASTER = [  # cluster/selfmanaged_aws.py, the masters' instances
    "fleetform:cluster", "fleetform:stack", "Name", "fleetform:role", "kubernetes.io/cluster/c1",
]
# The Cluster Autoscaler's node-template tags (cloudprovider/aws/README.md, "Auto-Discovery Setup").
AWS_LABEL_TAG = "k8s.io/cluster-autoscaler/node-template/label/"
AWS_TAINT_TAG = "k8s.io/cluster-autoscaler/node-template/taint/"
GCP_GKE = ["fleetform-cluster", "goog-pulumi-provisioned"]  # cluster/gke.py; pulumi-gcp's (pulumi/registry#5403)
GKE_NODE_VM = GCP_GKE + [  # what GKE adds on its node VMs and disks (seen on GKE nodes; no goog- exemption documented)
    "goog-gke-node", "goog-k8s-cluster-name", "goog-k8s-cluster-location", "goog-k8s-node-pool-name",
    "goog-gke-cluster-id-base32", "goog-gke-node-pool-provisioning-model", "goog-gke-cost-management",
]
GCP_SELF_MANAGED_TEMPLATE = GCP_GKE + ["fleetform-role", "fleetform-pool"]  # cluster/selfmanaged_gcp_workers.py
AZURE_AKS = ["fleetform-cluster"]  # cluster/aks.py
AZURE_SELF_MANAGED_VMSS = AZURE_AKS + [  # cluster/selfmanaged_azure_cloud.py autoscaler_tags
    "cluster-autoscaler-enabled", "cluster-autoscaler-name", "min", "max",
]
SPOT_LABEL = "fleetform.io/capacity-type"  # what a self-managed spot pool's nodes get (config/cluster.py)

AWS_ROOM = AWS_LIMIT - max(len(AWS_EKS_NLB), len(AWS_EKS_NODE))
AWS_SELF_ROOM = AWS_LIMIT - max(len(AWS_SELF_MANAGED_ASG), len(AWS_SELF_MANAGED_MASTER))
GCP_GKE_ROOM = GCP_LIMIT - len(GKE_NODE_VM)
GCP_SELF_MANAGED_ROOM = GCP_LIMIT - len(GCP_SELF_MANAGED_TEMPLATE)
AZURE_AKS_ROOM = KEY_VAULT_KEY_LIMIT - len(AZURE_AKS)
AZURE_SELF_MANAGED_ROOM = AZURE_LIMIT - len(AZURE_SELF_MANAGED_VMSS)
LONGEST_LABEL_KEY = ASG_TAG_KEY_MAX - len(AWS_LABEL_TAG)
LONGEST_TAINT_KEY = ASG_TAG_KEY_MAX - len(AWS_TAINT_TAG)


def _tags(count: int) -> dict[str, str]:
    return {f"k{i}": "v" for i in range(count)}


def _key(length: int) -> str:
    """A Kubernetes label key of exactly ``length`` characters: a DNS prefix, '/', a 63-character name."""
    return "a" * (length - 64) + "/" + "n" * 63


def _problems(target: str, mode: str, tags: int, **pool: Any) -> list[str]:
    config = fleet([cluster("c1", target, mode=mode, tags=_tags(tags),
                            nodePools=[{"name": "general", "size": "s", "min": 1, "max": 3, **pool}])], [])
    try:
        load_spec(config)
    except FleetConfigError as e:
        return e.problems
    return []


def _too_many(target: str, given: int, allowed: str) -> str:
    word = "labels" if target == "gcp" else "tags"
    return f'fleetform:clusters[0].tags: got "{given} {word}"; allowed: {allowed}'


def _pool_line(key: str, count: int, room: int, cloud: str, owner: str, carrier: str, tags: int, added: int,
               spot: bool = False) -> str:
    return (f'fleetform:clusters[0].nodePools[0].{key}: got "{count} labels and taint keys"; allowed: at most {room} '
            f"node labels and taint keys together on {cloud} self-managed with {tags} tags: each is a node-template "
            f"tag on the pool's {carrier}, next to the cluster's tags and fleetform's {added} ({owner} allows 50 per "
            f"resource" + (f"; a spot pool's labels include {SPOT_LABEL}" if spot else "") + ")")


AWS_MANAGED_TEXT = (f"at most {AWS_ROOM} tags on aws (AWS allows 50 per resource; a node carries 8 more, fleetform's "
                    "and those EKS propagates from its Auto Scaling group)")
AWS_SELF_TEXT = (f"at most {AWS_SELF_ROOM} tags on aws self-managed (AWS allows 50 per resource; fleetform adds 5, and on "
                 "a pool's Auto Scaling group one more per node label and taint key)")
AZURE_SELF_TEXT = (f"at most {AZURE_SELF_MANAGED_ROOM} tags on azure self-managed (Azure allows 50 per resource; "
                   "fleetform adds 5, and on a pool's scale set one more per node label and taint key)")


# ---- the cluster's tags alone --------------------------------------------------------------------

TAG_CASES = [
    ("aws", "managed", AWS_ROOM, AWS_MANAGED_TEXT),
    ("aws", "self-managed", AWS_SELF_ROOM, AWS_SELF_TEXT),
    ("gcp", "managed", GCP_GKE_ROOM,
     f"at most {GCP_GKE_ROOM} labels on gcp (GCP allows 64 per resource; fleetform adds 2, pulumi-gcp's "
     "goog-pulumi-provisioned included, and GKE up to 7 on its nodes)"),
    ("gcp", "self-managed", GCP_SELF_MANAGED_ROOM,
     f"at most {GCP_SELF_MANAGED_ROOM} labels on gcp self-managed (GCP allows 64 per resource; fleetform adds 4, "
     "pulumi-gcp's goog-pulumi-provisioned included)"),
    ("azure", "managed", AZURE_AKS_ROOM, f"at most {AZURE_AKS_ROOM} tags on azure (the cluster's etcd key in Key Vault "
     "takes them and allows 15 tags; fleetform adds 1)"),
    ("azure", "self-managed", AZURE_SELF_MANAGED_ROOM, AZURE_SELF_TEXT),
]


def test_the_budgets_are_what_the_clouds_allow_less_what_fleetform_adds():
    assert (AWS_ROOM, AWS_SELF_ROOM, GCP_GKE_ROOM, GCP_SELF_MANAGED_ROOM, AZURE_AKS_ROOM, AZURE_SELF_MANAGED_ROOM) == (
        42, 45, 55, 60, 14, 45)
    assert (LONGEST_LABEL_KEY, LONGEST_TAINT_KEY) == (82, 82)


@pytest.mark.parametrize("target,mode,room,allowed", TAG_CASES, ids=[f"{c[0]} {c[1]}" for c in TAG_CASES])
def test_tags_at_the_limit_pass_and_one_more_is_refused(target, mode, room, allowed):
    assert _problems(target, mode, room) == []
    assert _problems(target, mode, room + 1) == [_too_many(target, room + 1, allowed)]


# ---- self-managed pools: one node-template tag per label and taint key ------------------------

POOL = {"labels": {"team": "a", "example.com/tier": "b"}, "taints": ["dedicated=x:NoSchedule"]}
POOL_TEMPLATE_TAGS = 3  # 2 labels + 1 taint key


@pytest.mark.parametrize("target,room,added,owner,carrier", [
    ("aws", AWS_LIMIT - len(AWS_SELF_MANAGED_ASG), len(AWS_SELF_MANAGED_ASG), "AWS", "Auto Scaling group"),
    ("azure", AZURE_LIMIT - len(AZURE_SELF_MANAGED_VMSS), len(AZURE_SELF_MANAGED_VMSS), "Azure", "scale set"),
], ids=["aws", "azure"])
def test_a_pools_labels_and_taints_count_on_its_group(target, room, added, owner, carrier):
    fits = room - POOL_TEMPLATE_TAGS
    assert _problems(target, "self-managed", fits, **POOL) == []
    assert _problems(target, "self-managed", fits + 1, **POOL) == [
        _pool_line("labels", POOL_TEMPLATE_TAGS, POOL_TEMPLATE_TAGS - 1, target, owner, carrier, fits + 1, added)]
    # a pool with taints only is named by its taints
    assert _problems(target, "self-managed", room - 1, taints=["a:NoSchedule"]) == []
    assert _problems(target, "self-managed", room, taints=["a:NoSchedule"]) == [
        _pool_line("taints", 1, 0, target, owner, carrier, room, added)]
    # taints of one key share one tag
    two_effects = ["a=x:NoSchedule", "a=x:NoExecute"]
    assert _problems(target, "self-managed", room - 1, taints=two_effects) == []
    # a spot pool's extra label counts too
    assert _problems(target, "self-managed", room - 1, spot=True) == []
    assert _problems(target, "self-managed", room, spot=True) == [
        _pool_line("labels", 1, 0, target, owner, carrier, room, added, spot=True)]


@pytest.mark.parametrize("target", ["aws", "azure"])
def test_managed_pools_put_no_tag_per_label(target):
    # EKS node groups and AKS pools carry labels and taints in the Kubernetes API, not as tags.
    room = AWS_ROOM if target == "aws" else AZURE_AKS_ROOM
    assert _problems(target, "managed", room, **POOL, spot=True) == []


def test_too_many_tags_and_a_pool_with_labels_are_both_reported():
    assert _problems("aws", "self-managed", AWS_SELF_ROOM + 1, **POOL) == [
        _too_many("aws", AWS_SELF_ROOM + 1, AWS_SELF_TEXT),
        _pool_line("labels", POOL_TEMPLATE_TAGS, 0, "aws", "AWS", "Auto Scaling group", AWS_SELF_ROOM + 1, 5)]


# ---- aws self-managed: node-template tag keys -----------------------------------------------------

def _label_key_line(key: str) -> str:
    return (f'fleetform:clusters[0].nodePools[0].labels.{key}: got "v"; allowed: on aws self-managed, a label key of '
            f"at most {LONGEST_LABEL_KEY} characters (the pool's Auto Scaling group carries it as the tag "
            f"{AWS_LABEL_TAG}<key>, and AWS allows tag keys of {ASG_TAG_KEY_MAX})")


def _taint_key_line(key: str) -> str:
    # A long value is shown shortened, its head and tail kept (docs/configuration.md "Errors").
    shown = key[:29] + "..." + key[-26:]
    return (f'fleetform:clusters[0].nodePools[0].taints[0].key: got "{shown}"; allowed: on aws self-managed, a taint key '
            f"of at most {LONGEST_TAINT_KEY} characters (the pool's Auto Scaling group carries it as the tag "
            f"{AWS_TAINT_TAG}<key>, and AWS allows tag keys of {ASG_TAG_KEY_MAX})")


def test_label_keys_fit_the_auto_scaling_groups_tag_key():
    at, over = _key(LONGEST_LABEL_KEY), _key(LONGEST_LABEL_KEY + 1)
    assert len(AWS_LABEL_TAG + at) == ASG_TAG_KEY_MAX
    assert _problems("aws", "self-managed", 0, labels={at: "v"}) == []
    assert _problems("aws", "self-managed", 0, labels={over: "v"}) == [_label_key_line(over)]
    # EKS: labels are no tags
    assert _problems("aws", "managed", 0, labels={over: "v"}) == []


def test_taint_keys_fit_the_auto_scaling_groups_tag_key():
    at, over = _key(LONGEST_TAINT_KEY), _key(LONGEST_TAINT_KEY + 1)
    assert len(AWS_TAINT_TAG + at) == ASG_TAG_KEY_MAX
    assert _problems("aws", "self-managed", 0, taints=[f"{at}:NoSchedule"]) == []
    assert _problems("aws", "self-managed", 0, taints=[f"{over}:NoSchedule"]) == [_taint_key_line(over)]
    assert _problems("aws", "managed", 0, taints=[f"{over}:NoSchedule"]) == []


# ---- the accepted boundary is really the cloud's limit on the resources fleetform builds -----------

def _pool_spec(**pool: Any):
    from fleetform.config import NodePoolSpec

    return NodePoolSpec.model_validate({"name": "general", "size": "s", "min": 1, "max": 3, **pool})


def test_the_auto_scaling_group_of_an_accepted_pool_has_at_most_50_tags_of_at_most_128_characters():
    from fleetform.cluster import selfmanaged_aws_addons as lifecycle

    tags = _tags(AWS_LIMIT - len(AWS_SELF_MANAGED_ASG) - 2)
    given = {"labels": {_key(LONGEST_LABEL_KEY): "v"}, "taints": [f"{_key(LONGEST_TAINT_KEY)}:NoSchedule"]}
    assert _problems("aws", "self-managed", len(tags), **given) == []
    pool = _pool_spec(**given)
    group = lifecycle.pool_tags("c1", pool, {**tags, "fleetform:cluster": "c1", "fleetform:stack": "dev"})
    assert len(group) == AWS_LIMIT
    assert max(len(k) for k in group) == ASG_TAG_KEY_MAX
    assert set(AWS_SELF_MANAGED_ASG) <= set(group)


def test_the_scale_set_of_an_accepted_pool_has_at_most_50_tags():
    from fleetform.cluster.selfmanaged_azure_cloud import autoscaler_tags

    tags = _tags(AZURE_LIMIT - len(AZURE_SELF_MANAGED_VMSS) - POOL_TEMPLATE_TAGS)
    assert _problems("azure", "self-managed", len(tags), **POOL) == []
    pool = _pool_spec(**POOL)
    # what cluster/selfmanaged_azure.py puts on each pool's scale set
    vmss = {**tags, "fleetform-cluster": "c1", **autoscaler_tags("c1", pool)}
    assert len(vmss) == AZURE_LIMIT
    assert set(AZURE_SELF_MANAGED_VMSS) <= set(vmss)


def test_pulumi_gcp_still_has_its_attribution_label_switch():
    # The label counted in the gcp budgets is the provider's default (addPulumiAttributionLabel).
    import pulumi_gcp

    assert hasattr(pulumi_gcp.config, "add_pulumi_attribution_label")


def test_aks_tag_names_fit_a_key_vault_key_and_self_managed_azure_takes_azures_512():
    assert _problems("azure", "managed", 0) == []
    config = lambda mode, key: fleet([cluster("c1", "azure", mode=mode, tags={key: "v"})], [])  # noqa: E731
    load_spec(config("managed", "n" * 256))
    load_spec(config("self-managed", "n" * 512))
    with pytest.raises(FleetConfigError, match="names of 1-256 characters"):
        load_spec(config("managed", "n" * 257))
    with pytest.raises(FleetConfigError, match="names of 1-512 characters"):
        load_spec(config("self-managed", "n" * 513))
