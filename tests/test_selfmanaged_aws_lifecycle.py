"""aws/self-managed nodes that live with EC2 (issue 14): cloud-provider-aws, the Cluster Autoscaler,
the masters' instance role, and the k3s flags that hand the Nodes to the cloud's controllers.

Expected values come from the sources, not from the code under test:

- cloud-provider-aws: chart ``aws-cloud-controller-manager`` 0.0.11, repo
  https://kubernetes.github.io/cloud-provider-aws (charts/aws-cloud-controller-manager/Chart.yaml and
  Readme.md at tag helm-chart-aws-cloud-controller-manager-0.0.11; values.yaml: ``hostNetworking``,
  ``nodeSelector``, ``tolerations``, ``args``); one release per Kubernetes minor, compatible with that
  minor only (README, "Compatibility with Kubernetes"); the newest promoted image per minor:
  v1.32.8, v1.33.4, v1.34.3, v1.35.2 (https://github.com/kubernetes/k8s.io/pull/9580) and v1.36.1
  (https://github.com/kubernetes/k8s.io/pull/9796); no 1.37 tag or branch. Its documented
  control-plane policy: docs/prerequisites.md#iam-policies. Cluster ID from the
  ``kubernetes.io/cluster/<id>`` instance tag, exactly one (pkg/providers/v1/tags.go, findClusterIDs).
  providerID ``aws:///<zone>/<instance id>`` (pkg/providers/v1/instances.go), looked up before the
  node name (instances_v2.go, getProviderID).
- controller names: k8s.io/cloud-provider names/controller_names.go (``service`` ->
  service-lb-controller, ``route`` -> node-route-controller; ``*`` enables the default-on ones).
- Cluster Autoscaler: chart 9.59.0, repo https://kubernetes.github.io/autoscaler, values
  ``autoDiscovery.clusterName`` (default tags ``k8s.io/cluster-autoscaler/enabled`` and
  ``k8s.io/cluster-autoscaler/<clusterName>``), ``awsRegion``, ``hostNetwork``; image tags
  cluster-autoscaler-<minor>.<patch> of kubernetes/autoscaler; IAM "Full Cluster Autoscaler Features
  Policy" and the instance-role fallback of cloudprovider/aws/README.md; node-template tags
  ``.../label/<name>: <value>`` and ``.../taint/<key>: <value>:<effect>`` (same README;
  aws_manager.go extractTaintsFromAsg: value must match ``(.*):(NoSchedule|NoExecute|PreferNoSchedule)``).
- Kubernetes: taint/toleration matching (https://kubernetes.io/docs/concepts/scheduling-eviction/taint-and-toleration/),
  the ``node.cloudprovider.kubernetes.io/uninitialized=true:NoSchedule`` taint of an external cloud provider
  (https://kubernetes.io/docs/reference/labels-annotations-taints/#node-cloudprovider-kubernetes-io-uninitialized).
- k3s: servers are labelled ``node-role.kubernetes.io/control-plane: "true"`` (k3s-io/k3s
  pkg/server/server.go); ``--disable-cloud-controller`` before an external CCM
  (https://docs.k3s.io/networking/networking-services#deploying-an-external-cloud-controller-manager);
  ``--with-node-id`` against node-password clashes (https://docs.k3s.io/architecture).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from fleetform.config import FleetConfigError
from fleetform.plan.canned import aws as canned_aws
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.bootstrap_parsing import installer_args
from tests.conftest import planned, regs, stack_config
from tests.test_bootstrap import _lint
from tests.test_selfmanaged_aws import bootstrap_script, cluster_cfg

STACK = "selfmanaged-aws"
RELEASE = "kubernetes:helm.sh/v3:Release"
INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"

CCM_CHART = ("aws-cloud-controller-manager", "0.0.11", "https://kubernetes.github.io/cloud-provider-aws")
CCM_IMAGE = "registry.k8s.io/provider-aws/cloud-controller-manager"
CCM_TAGS = {"1.32": "v1.32.8", "1.33": "v1.33.4", "1.34": "v1.34.3", "1.35": "v1.35.2", "1.36": "v1.36.1"}
CA_CHART = ("cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
CA_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
CA_TAGS = {"1.32": "v1.32.7", "1.33": "v1.33.6", "1.34": "v1.34.5", "1.35": "v1.35.2", "1.36": "v1.36.1"}

# docs/prerequisites.md, "Control Plane Policy" (every action, as documented).
CCM_DOCUMENTED = {
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeTags",
    "ec2:DescribeInstances", "ec2:DescribeRegions", "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets", "ec2:DescribeVolumes", "ec2:DescribeAvailabilityZones", "ec2:CreateSecurityGroup",
    "ec2:CreateTags", "ec2:CreateVolume", "ec2:ModifyInstanceAttribute", "ec2:ModifyVolume", "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:DeleteSecurityGroup",
    "ec2:DeleteVolume", "ec2:DetachVolume", "ec2:RevokeSecurityGroupIngress", "ec2:DescribeVpcs",
    "ec2:DescribeInstanceTopology", "iam:CreateServiceLinkedRole", "kms:DescribeKey",
}
# What the disabled service and route controllers (and the in-tree volumes) use: never granted.
DISABLED_CONTROLLERS = {
    "ec2:CreateRoute", "ec2:DeleteRoute", "ec2:DescribeRouteTables", "ec2:ModifyInstanceAttribute",  # route
    "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup", "ec2:AuthorizeSecurityGroupIngress",          # service
    "ec2:RevokeSecurityGroupIngress", "iam:CreateServiceLinkedRole",
    "ec2:CreateVolume", "ec2:DeleteVolume", "ec2:AttachVolume", "ec2:DetachVolume", "ec2:ModifyVolume", "kms:DescribeKey",
}
# The autoscaler README's "Full Cluster Autoscaler Features Policy" (auto-discovery).
CA_README_READS = {
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
}
CA_README_WRITES = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}

UNINITIALIZED = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}
CONTROL_PLANE_LABEL = ("node-role.kubernetes.io/control-plane", "true")
CA_TAINT_VALUE = re.compile(r"(.*):(?:NoSchedule|NoExecute|PreferNoSchedule)")
CONTROLLER_ALIASES = {"cloud-node": "cloud-node-controller", "service": "service-lb-controller",
                      "route": "node-route-controller", "cloud-node-lifecycle": "cloud-node-lifecycle-controller"}


# ------------------------------------------------------------------------------ helpers


def raw(reg) -> dict[str, Any]:
    return plain(reg.inputs, mask=False)


def names(result) -> dict:
    return {r.name: r for r in result.capture.registrations}


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, str]) -> bool:
    """Kubernetes' rule: same key (or no key with Exists), same effect or none, Exists or equal value."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint["effect"]:
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint["key"]:
                return True
        elif t.get("key") == taint["key"] and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def parse_taint(text: str) -> dict[str, str]:
    """``key[=value]:Effect`` as k3s's --node-taint takes it."""
    kv, effect = text.rsplit(":", 1)
    key, _, value = kv.partition("=")
    return {"key": key, "value": value, "effect": effect}


def controller_enabled(spec: str, canonical: str) -> bool:
    """k8s.io/controller-manager's --controllers: a name turns it on, "-name" off, "*" the default-on
    ones (every controller here is on by default); aliases resolve to canonical names."""
    on, off, star = set(), set(), False
    for item in spec.split(","):
        if item == "*":
            star = True
        elif item.startswith("-"):
            off.add(CONTROLLER_ALIASES.get(item[1:], item[1:]))
        else:
            on.add(CONTROLLER_ALIASES.get(item, item))
    return canonical in on or (star and canonical not in off)


def master_taints(result, cluster: str) -> list[dict[str, str]]:
    args = installer_args(bootstrap_script(raw(names(result)[f"{cluster}-master-1"])["userDataBase64"]))
    return [parse_taint(a.removeprefix("--node-taint=")) for a in args if a.startswith("--node-taint=")]


def asg_tags(reg) -> dict[str, str]:
    return {t["key"]: t["value"] for t in raw(reg)["tags"]}


# ------------------------------------------------------------------------------ plans


@pytest.fixture(scope="module")
def result():
    return planned(STACK)


SMALL = {
    "name": "lab", "target": "aws", "mode": "self-managed", "region": "eu-west-1",
    "network": {"cidr": "10.91.0.0/16", "zones": 2},
    "controlPlane": {"count": 1},
    "nodePools": [
        {"name": "base", "size": "m6i.large", "min": 1, "max": 2},
        {"name": "gpu", "size": "g5.xlarge", "min": 0, "max": 4, "labels": {"accel": "a10g"},
         "taints": [{"key": "dedicated", "effect": "NoSchedule"}]},
    ],
}
"""One master, Kubernetes 1.36, another region, a min-0 pool with a label and a value-less taint."""


@pytest.fixture(scope="module")
def small():
    return plan("lab", config={"fleetform:kubernetesVersion": "1.36", "fleetform:clusters": [SMALL]})


# ------------------------------------------------------------------------------ cloud-provider-aws


def test_ccm_release_pinned_to_the_clusters_minor(result, small):
    assert result.exit_code == 0, (result.errors, result.mandatory_violations)
    assert small.exit_code == 0, (small.errors, small.mandatory_violations)
    for res, cluster, minor in ((result, STACK, stack_config(STACK)["fleetform:kubernetesVersion"]), (small, "lab", "1.36")):
        release = raw(names(res)[f"{cluster}-ccm"])
        assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == CCM_CHART
        assert release["namespace"] == "kube-system"
        assert release["values"]["image"] == {"repository": CCM_IMAGE, "tag": CCM_TAGS[minor]}


def test_ccm_runs_only_node_controllers_on_the_masters_host_network(result):
    values = raw(names(result)[f"{STACK}-ccm"])["values"]
    args = values["args"]
    assert "--cloud-provider=aws" in args
    (controllers,) = [a.removeprefix("--controllers=") for a in args if a.startswith("--controllers=")]
    assert controllers == "*,-service,-route"
    assert controller_enabled(controllers, "cloud-node-controller")
    assert controller_enabled(controllers, "cloud-node-lifecycle-controller")
    assert not controller_enabled(controllers, "service-lb-controller")  # fleetform owns the service NLBs
    assert not controller_enabled(controllers, "node-route-controller")  # flannel routes the pods
    # IMDS hop limit 1 answers the host only: the CCM needs its instance ID, region and role.
    assert values["hostNetworking"] is True
    assert values["nodeSelector"] == dict([CONTROL_PLANE_LABEL])
    # It must start on masters that are still uninitialised and carry their dedicated taint.
    for taint in [UNINITIALIZED, *master_taints(result, STACK)]:
        assert tolerates(values["tolerations"], taint), taint
    assert master_taints(result, STACK)  # the masters are tainted (else the check above is empty)


def test_ccm_waits_for_the_gate_and_workloads_wait_for_the_ccm(result):
    n = names(result)
    ccm, system, workloads = n[f"{STACK}-ccm"], n[f"{STACK}-k8s-system"], n[f"{STACK}-k8s"]
    assert ccm.provider.startswith(system.urn + "::")
    assert n[f"{STACK}-api-ready"].urn in system.dependencies
    assert n[f"{STACK}-masters-policy"].urn in ccm.dependencies
    assert ccm.urn in workloads.dependencies
    assert raw(system)["clusterIdentifier"] == STACK


def test_a_minor_without_ccm_or_autoscaler_is_one_config_error():
    cfg = stack_config(STACK)
    cfg["fleetform:kubernetesVersion"] = "1.37"  # k3s offers it; neither controller has a 1.37 release
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=cfg)
    (line,) = info.value.problems
    assert "kubernetesVersion" in line and "'1.37'" in line and "1.32, 1.33, 1.34, 1.35, 1.36" in line


# ------------------------------------------------------------------------------ identity


def test_masters_role_is_the_documented_least_privilege(result):
    n = names(result)
    trust = json.loads(raw(n[f"{STACK}-masters-role"])["assumeRolePolicy"])
    assert trust["Statement"] == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    statements = json.loads(raw(n[f"{STACK}-masters-policy"])["policy"])["Statement"]
    acts = lambda s: {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])  # noqa: E731
    every = set().union(*(acts(s) for s in statements))
    assert not any("*" in a for a in every) and all(s["Effect"] == "Allow" for s in statements)
    ccm = every - CA_README_READS - CA_README_WRITES
    # The CCM's actions come from its documented policy, without the disabled controllers' ...
    assert ccm <= CCM_DOCUMENTED and not ccm & DISABLED_CONTROLLERS
    assert {"ec2:DescribeInstances", "ec2:DescribeAvailabilityZones"} <= ccm  # providerID lookups, zone-ID label
    assert not {a for a in every if a.startswith(("elasticloadbalancing:", "iam:", "kms:"))}
    # ... and the autoscaler's are the README's, but EKS's node-group call.
    assert every & CA_README_READS == CA_README_READS - {"eks:DescribeNodegroup"}
    (write,) = [s for s in statements if acts(s) & CA_README_WRITES]
    assert acts(write) == CA_README_WRITES
    region = cluster_cfg()["region"]
    assert write["Resource"] == f"arn:aws:autoscaling:{region}:{canned_aws.ACCOUNT}:autoScalingGroup:*:autoScalingGroupName/*"
    assert write["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{STACK}": "owned",
    }}
    for s in statements:
        if s is not write:
            assert s["Resource"] == "*" and "Condition" not in s  # describe calls take no resource ARN


def test_only_the_masters_have_an_identity(result):
    n = names(result)
    profile = raw(n[f"{STACK}-masters-profile"])
    assert profile["role"] == f"{STACK}-masters-role"  # the canned role name (its resource name)
    for m in regs(result, INSTANCE):
        assert raw(m)["iamInstanceProfile"] == f"{STACK}-masters-profile", m.name
    for lt in regs(result, TEMPLATE):
        assert "iamInstanceProfile" not in raw(lt), lt.name
    roles = sorted(r.name for r in regs(result, "aws:iam/role:Role"))
    assert roles == [f"{STACK}-masters-role", f"{STACK}-network-flow-logs-role"]


def test_every_instance_carries_exactly_one_cluster_tag(result):
    """cloud-provider-aws refuses to start without the tag on its own instance and refuses more than one."""
    tagged = [raw(m)["tags"] for m in regs(result, INSTANCE)]
    for lt in regs(result, TEMPLATE):
        (spec,) = [s for s in raw(lt)["tagSpecifications"] if s["resourceType"] == "instance"]
        tagged.append(spec["tags"])
    assert len(tagged) == 3 + len(cluster_cfg()["nodePools"])
    for tags in tagged:
        assert [(k, v) for k, v in tags.items() if k.startswith("kubernetes.io/cluster/")] == [
            (f"kubernetes.io/cluster/{STACK}", "owned")
        ]


# ------------------------------------------------------------------------------ cluster autoscaler


def test_cluster_autoscaler_discovers_this_clusters_groups_from_the_masters(result):
    n = names(result)
    reg = n[f"{STACK}-cluster-autoscaler"]
    release = raw(reg)
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == CA_CHART
    values = release["values"]
    minor = stack_config(STACK)["fleetform:kubernetesVersion"]
    assert values["image"] == {"repository": CA_IMAGE, "tag": CA_TAGS[minor]}
    assert values["cloudProvider"] == "aws" and values["awsRegion"] == cluster_cfg()["region"]
    cluster = values["autoDiscovery"]["clusterName"]
    assert cluster == STACK
    # The chart's default discovery tags must be on every pool's group (tag keys, any value).
    for asg in regs(result, ASG):
        assert {"k8s.io/cluster-autoscaler/enabled", f"k8s.io/cluster-autoscaler/{cluster}"} <= set(asg_tags(asg)), asg.name
    # No IRSA here: the instance role through IMDS, so on the masters and the host network.
    assert "annotations" not in values["rbac"]["serviceAccount"]
    assert values["hostNetwork"] is True and values["nodeSelector"] == dict([CONTROL_PLANE_LABEL])
    for taint in master_taints(result, STACK):
        assert tolerates(values["tolerations"], taint), taint
    assert values["updateStrategy"] == {"type": "Recreate"}  # its host port cannot be held twice on one master
    assert reg.provider.startswith(n[f"{STACK}-k8s-system"].urn + "::")
    assert n[f"{STACK}-ccm"].urn in reg.dependencies and n[f"{STACK}-masters-policy"].urn in reg.dependencies


def test_autoscaler_image_follows_the_minor(small):
    values = raw(names(small)["lab-cluster-autoscaler"])["values"]
    assert values["image"] == {"repository": CA_IMAGE, "tag": CA_TAGS["1.36"]}
    assert values["awsRegion"] == "eu-west-1"
    policy = json.loads(raw(names(small)["lab-masters-policy"])["policy"])
    (write,) = [s for s in policy["Statement"] if "Condition" in s]
    assert write["Resource"].startswith(f"arn:aws:autoscaling:eu-west-1:{canned_aws.ACCOUNT}:")
    assert write["Condition"]["StringEquals"]["aws:ResourceTag/k8s.io/cluster-autoscaler/lab"] == "owned"


@pytest.mark.parametrize("which", ["example", "small"])
def test_node_template_tags_describe_each_pools_nodes(which, result, small):
    """What the autoscaler reads from a group with no node must be what its nodes get from k3s."""
    res, cfg = (result, cluster_cfg()) if which == "example" else (small, SMALL)
    n = names(res)
    for pool in cfg["nodePools"]:
        tags = asg_tags(n[f"{cfg['name']}-{pool['name']}-workers"])
        labels = {k.removeprefix("k8s.io/cluster-autoscaler/node-template/label/"): v
                  for k, v in tags.items() if k.startswith("k8s.io/cluster-autoscaler/node-template/label/")}
        taints = []
        for k, v in tags.items():
            if k.startswith("k8s.io/cluster-autoscaler/node-template/taint/"):
                assert CA_TAINT_VALUE.fullmatch(v), v  # else the autoscaler ignores the tag
                value, effect = v.split(":", 1)
                taints.append({"key": k.removeprefix("k8s.io/cluster-autoscaler/node-template/taint/"), "value": value, "effect": effect})
        assert labels == {**pool.get("labels", {}), **({"fleetform.io/capacity-type": "spot"} if pool.get("spot") else {})}
        assert taints == [{"key": t["key"], "value": t.get("value", ""), "effect": t["effect"]} for t in pool.get("taints", [])]
        # ... and the same labels and taints are what the worker's k3s agent registers with.
        args = installer_args(bootstrap_script(raw(n[f"{cfg['name']}-{pool['name']}-lt"])["userData"]))
        assert {a.removeprefix("--node-label=") for a in args if a.startswith("--node-label=")} == {f"{k}={v}" for k, v in labels.items()}
        assert [parse_taint(a.removeprefix("--node-taint=")) for a in args if a.startswith("--node-taint=")] == taints
        asg = raw(n[f"{cfg['name']}-{pool['name']}-workers"])
        assert (asg["minSize"], asg["maxSize"]) == (pool["min"], pool["max"]) and "desiredCapacity" not in asg


# ------------------------------------------------------------------------------ k3s flags


def test_nodes_hand_their_lifecycle_to_the_ccm(result):
    n = names(result)
    masters = [installer_args(bootstrap_script(raw(n[f"{STACK}-master-{i}"])["userDataBase64"])) for i in (1, 2, 3)]
    workers = [installer_args(bootstrap_script(raw(n[f"{STACK}-{p['name']}-lt"])["userData"])) for p in cluster_cfg()["nodePools"]]
    for args in masters + workers:
        assert "--kubelet-arg=cloud-provider=external" in args
        assert "--kubelet-arg=provider-id=${PROVIDER_ID}" in args  # read from IMDS at boot (below)
        # Zones come from the CCM now: no node is labelled with one from config.
        assert not [a for a in args if a.startswith("--node-label=") and ("topology.kubernetes.io/" in a or "failure-domain" in a)]
    for args in masters:
        assert args[0] == "server" and "--disable-cloud-controller" in args
        assert "--with-node-id" not in args
    for args in workers:
        assert args[0] == "agent" and "--with-node-id" in args  # a reused IP/host name still joins


def test_provider_id_is_read_from_imds_in_the_ccms_format(result):
    script = bootstrap_script(raw(names(result)[f"{STACK}-general-lt"])["userData"])
    assert "/latest/api/token" in script and "X-aws-ec2-metadata-token" in script  # IMDSv2 (hop limit 1 suffices on the host)
    assert "meta-data/$1" in script and "imds placement/availability-zone" in script and "imds instance-id" in script
    assert 'PROVIDER_ID="aws:///$md_zone/$md_instance"' in script


def test_rendered_node_scripts_pass_shellcheck(result, tmp_path):
    n = names(result)
    scripts = {"master-1": raw(n[f"{STACK}-master-1"])["userDataBase64"], "master-2": raw(n[f"{STACK}-master-2"])["userDataBase64"],
               "worker": raw(n[f"{STACK}-spot-lt"])["userData"]}
    for name, data in scripts.items():
        assert _lint(bootstrap_script(data), tmp_path, name) == "", name
