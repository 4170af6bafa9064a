"""EKS as a first real `pulumi up` meets it (issue 13): HPAs get metrics, node groups autoscale,
NetworkPolicies are enforced, the private API is reachable from listed networks, nodes wait for NAT,
and the kubeconfig signs as the identity Pulumi used.

Expected values come from the sources, not from the code under test:
- metrics-server: EKS ships none, https://docs.aws.amazon.com/eks/latest/userguide/metrics-server.html;
  chart 3.13.1 (app 0.8.1) at https://github.com/kubernetes-sigs/metrics-server/blob/metrics-server-helm-chart-3.13.1/charts/metrics-server/Chart.yaml,
  repo https://kubernetes-sigs.github.io/metrics-server/ (the chart's README).
- Cluster Autoscaler: chart 9.59.0, repo https://kubernetes.github.io/autoscaler, values autoDiscovery.clusterName,
  awsRegion, rbac.serviceAccount.annotations (chart README at cluster-autoscaler-chart-9.59.0); the IAM policy of
  https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#iam-policy and the
  tag condition of https://docs.aws.amazon.com/eks/latest/best-practices/cas.html; its minor must be the cluster's
  (https://github.com/kubernetes/autoscaler/tree/master/cluster-autoscaler#releases).
- vpc-cni: ``{"enableNetworkPolicy": "true"}``, https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy-configure.html.
- Private endpoint from a connected network: 443 allowed in the control plane security group,
  https://docs.aws.amazon.com/eks/latest/userguide/cluster-endpoint.html#private-access.
- Exec auth: ``get-token --role-arn`` (aws-cli awscli/customizations/eks/get_token.py: its only options are
  cluster-name, role-arn and cluster-id; no session name), the profile as the CLI's global ``--profile``
  (preferred to environment credentials:
  https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-quickstart.html#cli-configure-quickstart-precedence); ``aws:assumeRoles`` is a list of objects with
  ``roleArn`` (https://www.pulumi.com/registry/packages/aws/installation-configuration/#configuration-options).
"""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
import yaml

from fleetform.cluster import addons
from fleetform.config import FleetConfigError
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.conftest import one, planned, regs, stack_config

STACK = "prod-aws"
REGION = "us-east-1"  # region: of the prod-aws stack file
RELEASE = "kubernetes:helm.sh/v3:Release"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"

# The autoscaler README's "Full Cluster Autoscaler Features Policy" (auto-discovery), read actions.
CA_README_READ_ACTIONS = {
    "autoscaling:DescribeAutoScalingGroups",
    "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations",
    "autoscaling:DescribeScalingActivities",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
}
CA_README_WRITE_ACTIONS = {"autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"}


def inputs(reg) -> dict[str, Any]:
    return plain(reg.inputs, mask=False)


def by_name(result) -> dict:
    return {r.name: r for r in result.capture.registrations}


def with_cluster(**changes: Any) -> dict[str, Any]:
    """The prod-aws stack config with its cluster changed (its own stack file stays the reference)."""
    cfg = stack_config(STACK)
    (cluster,) = cfg["fleetform:clusters"]
    for key, value in changes.items():
        cluster[key] = value
    return cfg


@pytest.fixture(scope="module")
def prod():
    result = planned(STACK)
    assert result.exit_code == 0, result.problems() if hasattr(result, "problems") else result.violations
    return result


@pytest.fixture(scope="module")
def reachable():
    """prod-aws with a VPN range and a peered VPC admitted to the private API, deployed as a profile that
    assumes a role."""
    cfg = with_cluster(controlPlane={"privateAccessCidrs": ["192.168.40.0/24", "172.20.0.0/16"]})
    # ... each with its route back (a VPN's virtual private gateway, the peering).
    cfg["fleetform:clusters"][0]["network"]["routes"] = [
        {"cidr": "192.168.40.0/24", "vpnGatewayId": "vgw-0a1b2c3d"},
        {"cidr": "172.20.0.0/16", "vpcPeeringConnectionId": "pcx-0a1b2c3d"},
    ]
    cfg["aws:profile"] = "ops"
    cfg["aws:assumeRoles"] = [{"roleArn": "arn:aws:iam::123456789012:role/fleetform-deployer", "sessionName": "ci"}]
    return plan(STACK, config=cfg)


def exec_stanzas(result) -> list[dict[str, Any]]:
    stanzas = []
    for provider in regs(result, "pulumi:providers:kubernetes"):
        (user,) = yaml.safe_load(inputs(provider)["kubeconfig"])["users"]
        stanzas.append(user["user"]["exec"])
    assert len(stanzas) == 2  # the system add-ons' provider and the workloads' provider
    return stanzas


# ------------------------------------------------------------------------------ metrics-server (item 1)


def test_metrics_server_installed_pinned_after_the_nodes(prod):
    names = by_name(prod)
    reg = names[f"{STACK}-metrics-server"]
    release = inputs(reg)
    assert release["chart"] == "metrics-server" and release["version"] == "3.13.1"
    assert release["repositoryOpts"] == {"repo": "https://kubernetes-sigs.github.io/metrics-server/"}
    assert release["namespace"] == "kube-system"
    values = release["values"]
    # Highly available as the upstream README describes it (replicas > 1), and a PDB keeps one up in a drain.
    assert values["replicas"] >= 2 and values["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    assert set(values["resources"]["requests"]) == {"cpu", "memory"}
    # On the system add-ons' provider, after every node group and the deployer's admin access.
    assert reg.provider.startswith(names[f"{STACK}-k8s-system"].urn + "::")
    assert {ng.urn for ng in regs(prod, NODE_GROUP)} <= set(reg.dependencies)
    assert names[f"{STACK}-deployer-admin"].urn in reg.dependencies


# ------------------------------------------------------------------------------ cluster autoscaler (item 2)


def test_cluster_autoscaler_release_discovers_this_clusters_groups(prod):
    names = by_name(prod)
    reg = names[f"{STACK}-cluster-autoscaler"]
    release = inputs(reg)
    assert release["chart"] == "cluster-autoscaler" and release["version"] == "9.59.0"
    assert release["repositoryOpts"] == {"repo": "https://kubernetes.github.io/autoscaler"}
    assert release["namespace"] == "kube-system"
    values = release["values"]
    assert values["cloudProvider"] == "aws"
    assert values["autoDiscovery"] == {"clusterName": STACK}
    assert values["awsRegion"] == stack_config(STACK)["fleetform:clusters"][0]["region"] == "us-east-1"
    sa = values["rbac"]["serviceAccount"]
    assert sa["create"] is True and sa["name"] == "cluster-autoscaler"
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/{STACK}-cluster-autoscaler-role"}
    # The image's minor is the cluster's minor.
    cluster_version = inputs(one(prod, "aws:eks/cluster:Cluster"))["version"]
    assert values["image"]["repository"] == "registry.k8s.io/autoscaling/cluster-autoscaler"
    assert re.fullmatch(rf"v{re.escape(cluster_version)}\.\d+", values["image"]["tag"])
    assert set(values["resources"]["requests"]) == {"cpu", "memory"}
    assert values["containerSecurityContext"]["allowPrivilegeEscalation"] is False
    assert reg.provider.startswith(names[f"{STACK}-k8s-system"].urn + "::")
    assert {ng.urn for ng in regs(prod, NODE_GROUP)} <= set(reg.dependencies)
    assert names[f"{STACK}-cluster-autoscaler-policy"].urn in reg.dependencies


def test_cluster_autoscaler_policy_is_the_documented_least_privilege(prod):
    policy = json.loads(inputs(by_name(prod)[f"{STACK}-cluster-autoscaler-policy"])["policy"])
    statements = policy["Statement"]
    actions = lambda s: {s["Action"]} if isinstance(s["Action"], str) else set(s["Action"])  # noqa: E731
    reads = [s for s in statements if "Condition" not in s]
    writes = [s for s in statements if "Condition" in s]
    assert set().union(*(actions(s) for s in reads)) == CA_README_READ_ACTIONS
    assert all(s["Effect"] == "Allow" for s in statements)
    # Each action on the narrowest resource the Service Authorization Reference gives it: the
    # describe calls of Auto Scaling and EC2 take none; eks:DescribeNodegroup takes a nodegroup ARN
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservicekubernetes.html),
    # the writes an autoScalingGroup ARN (.../list_amazonec2autoscaling.html).
    account = "123456789012"  # the plan's mock account (components/fleetform/plan/canned/aws.py)
    resources = {a: s["Resource"] for s in statements for a in actions(s)}
    assert resources.pop("eks:DescribeNodegroup") == f"arn:aws:eks:{REGION}:{account}:nodegroup/{STACK}/*/*"
    for action in CA_README_WRITE_ACTIONS:
        assert resources.pop(action) == f"arn:aws:autoscaling:{REGION}:{account}:autoScalingGroup:*:autoScalingGroupName/*"
    assert set(resources.values()) == {"*"}
    (write,) = writes
    assert actions(write) == CA_README_WRITE_ACTIONS
    # Only this cluster's node groups (EKS best practices' condition, with this cluster's name).
    assert write["Condition"] == {"StringEquals": {
        "aws:ResourceTag/k8s.io/cluster-autoscaler/enabled": "true",
        f"aws:ResourceTag/k8s.io/cluster-autoscaler/{STACK}": "owned",
    }}
    # No wildcard action, and no write action outside the conditioned statement.
    every = set().union(*(actions(s) for s in statements))
    assert not any("*" in a for a in every)
    assert every - CA_README_READ_ACTIONS == CA_README_WRITE_ACTIONS


def test_cluster_autoscaler_role_trusts_only_its_service_account(prod):
    names = by_name(prod)
    (stmt,) = json.loads(inputs(names[f"{STACK}-cluster-autoscaler-role"])["assumeRolePolicy"])["Statement"]
    issuer = prod.capture.outputs["clusters"][STACK]["oidcIssuer"].removeprefix("https://")
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"] == {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"}
    assert stmt["Condition"] == {"StringEquals": {
        f"{issuer}:sub": "system:serviceaccount:kube-system:cluster-autoscaler",
        f"{issuer}:aud": "sts.amazonaws.com",
    }}


def test_node_groups_still_carry_the_discovery_tags_and_min_max(prod):
    for pool in stack_config(STACK)["fleetform:clusters"][0]["nodePools"]:
        ng = inputs(by_name(prod)[f"{STACK}-{pool['name']}-nodes"])
        assert ng["scalingConfig"]["minSize"] == pool["min"] and ng["scalingConfig"]["maxSize"] == pool["max"]
        assert ng["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert ng["tags"][f"k8s.io/cluster-autoscaler/{STACK}"] == "owned"


# ------------------------------------------------------------------------------ network policy (item 3)


def test_vpc_cni_enforces_network_policies(prod):
    addon = inputs(one(prod, "aws:eks/addon:Addon"))
    assert addon["addonName"] == "vpc-cni"
    # A JSON object with the *string* "true", as the EKS user guide writes it.
    assert json.loads(addon["configurationValues"]) == {"enableNetworkPolicy": "true"}


# ------------------------------------------------------------------------------ private API reach (item 10)


def test_private_api_admits_the_private_access_cidrs(reachable):
    assert reachable.exit_code == 0 or reachable.violations  # planned; policy verdicts are tested elsewhere
    api = inputs(one(reachable, "aws:ec2/securityGroup:SecurityGroup"))
    https = [r for r in api["ingress"] if r["protocol"] == "tcp" and r["fromPort"] == 443 and r["toPort"] == 443]
    sources = sorted(c for r in https for c in r["cidrBlocks"])
    assert sources == sorted(["10.10.0.0/16", "192.168.40.0/24", "172.20.0.0/16"])
    assert len(api["ingress"]) == len(https) == 3  # nothing but HTTPS, nothing else opened
    vpc = inputs(one(reachable, "aws:eks/cluster:Cluster"))["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False  # still private


def test_no_private_access_cidrs_leaves_only_the_vpc(prod):
    api = inputs(one(prod, "aws:ec2/securityGroup:SecurityGroup"))
    assert [c for r in api["ingress"] for c in r["cidrBlocks"]] == ["10.10.0.0/16"]


# ------------------------------------------------------------------------------ NAT before nodes (review B)


def test_node_groups_wait_for_the_private_subnets_nat_routes(prod):
    """Every private route table (its default route goes to a NAT gateway) and its subnet association
    exists before any node boots."""
    private_tables = [r for r in regs(prod, "aws:ec2/routeTable:RouteTable")
                      if any("natGatewayId" in route for route in inputs(r)["routes"])]
    table_ids = {f"{t.name}-id" for t in private_tables}
    associations = [a for a in regs(prod, "aws:ec2/routeTableAssociation:RouteTableAssociation")
                    if inputs(a)["routeTableId"] in table_ids]
    nats = regs(prod, "aws:ec2/natGateway:NatGateway")
    zones = stack_config(STACK)["fleetform:clusters"][0]["network"]["zones"]
    assert len(private_tables) == len(associations) == len(nats) == zones
    for ng in regs(prod, NODE_GROUP):
        assert {r.urn for r in [*private_tables, *associations, *nats]} <= set(ng.dependencies), ng.name


# ------------------------------------------------------------------------------ exec identity (item 13)


def test_kubeconfig_signs_as_the_default_credentials_without_aws_identity_config(prod):
    for stanza in exec_stanzas(prod):
        assert "env" not in stanza
        assert "--role-arn" not in stanza["args"] and "--profile" not in stanza["args"]


def test_kubeconfig_signs_with_the_profile_and_the_assumed_role(reachable):
    for stanza in exec_stanzas(reachable):
        assert "env" not in stanza
        args = stanza["args"]
        assert args[:2] == ["eks", "get-token"]
        assert args[args.index("--role-arn") + 1] == "arn:aws:iam::123456789012:role/fleetform-deployer"
        assert args[args.index("--profile") + 1] == "ops"
        assert "--session-name" not in args  # get-token has no such option: every call would fail


def test_kubeconfig_with_a_profile_alone():
    cfg = stack_config(STACK)
    cfg["aws:profile"] = "prod-admin"
    for stanza in exec_stanzas(plan(STACK, config=cfg)):
        assert "env" not in stanza
        assert stanza["args"][stanza["args"].index("--profile") + 1] == "prod-admin"
        assert "--role-arn" not in stanza["args"]


def test_an_assumed_role_without_arn_is_a_config_error_naming_the_key():
    cfg = stack_config(STACK)
    cfg["aws:assumeRoles"] = [{"sessionName": "ci"}]
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=cfg)
    assert "aws:assumeRoles[0].roleArn: got null; allowed: an IAM role ARN" in str(info.value)


# ------------------------------------------------------------------------------ pins in one place


def test_every_pin_has_a_source_and_a_check_date():
    assert addons.PINS
    for pin in addons.PINS:
        assert pin.source.startswith("https://"), pin
        assert isinstance(pin.checked, date) and pin.checked >= date(2026, 12, 2), pin  # checked for issue 13 or later
        if pin.kind == "helm-chart":
            assert pin.repo and pin.repo.startswith("https://") and pin.version and pin.app_version, pin
        elif pin.version is None:
            assert pin.kind == "eks-addon" and pin.note, pin  # an unpinned add-on says why


@pytest.mark.parametrize("minor", sorted(addons.CLUSTER_AUTOSCALER_IMAGES))
def test_cluster_autoscaler_image_minor_matches_kubernetes_minor(minor):
    pin = addons.CLUSTER_AUTOSCALER_IMAGES[minor]
    version = pin.version or ""
    assert re.fullmatch(rf"v{re.escape(minor)}\.\d+", version)
    assert pin.source.endswith(f"/releases/tag/cluster-autoscaler-{version.removeprefix('v')}")


def test_supported_minors_have_an_autoscaler_and_1_37_has_none_yet():
    # kubernetes/autoscaler had release branches to 1.37 but no 1.37 release when checked.
    assert {"1.33", "1.34", "1.35", "1.36"} <= set(addons.CLUSTER_AUTOSCALER_IMAGES)
    assert addons.cluster_autoscaler_image("1.37") is None


def test_a_minor_without_an_autoscaler_is_refused_naming_the_version():
    cfg = stack_config(STACK)
    cfg["fleetform:kubernetesVersion"] = "1.37"
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=cfg)
    assert "kubernetesVersion" in str(info.value) and "1.37" in str(info.value)


def test_lbc_constants_still_importable_from_eks():
    from fleetform.cluster.eks import LBC_CHART, LBC_CHART_VERSION, LBC_REPO

    assert (LBC_CHART, LBC_REPO, LBC_CHART_VERSION) == ("aws-load-balancer-controller", "https://aws.github.io/eks-charts", "1.14.1")
