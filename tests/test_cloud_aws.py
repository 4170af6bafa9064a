"""Target aws/managed (EKS): the example stacks plan cleanly and every secure default is in the
inputs the program would send, resource by resource.

Expected values come from the stack files (zones, pools, tags, CIDRs), from the AWS documentation
linked in components/fleetform/cluster/eks.py and components/fleetform/network/aws.py (log types, tag names, policy
names, IMDS settings), and from the canned deployer identity (an assumed-role session).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import yaml

from fleetform.cluster.eks import LBC_POLICY_FILE, ami_type_for, partition_of
from fleetform.network.cidr import carve
from fleetform.plan.engine import plan
from fleetform.plan.mocks import SECRET, _is_secret, plain
from tests.conftest import ROOT, aws_takes_tags, one, planned, regs, stack_config

STACKS = ["staging-aws", "prod-aws"]
LOG_TYPES = {"api", "audit", "authenticator", "controllerManager", "scheduler"}
OPEN = {"0.0.0.0/0", "::/0"}


@pytest.fixture(scope="module")
def plans():
    return {stack: planned(stack) for stack in STACKS}


def cluster_spec(stack: str) -> dict[str, Any]:
    (spec,) = [c for c in stack_config(stack)["fleetform:clusters"] if c["target"] == "aws"]
    return spec


def by_name(result) -> dict:
    return {r.name: r for r in result.capture.registrations}


def inputs(reg) -> dict[str, Any]:
    return plain(reg.inputs, mask=False)


def subnets(result, role_tag: str) -> list:
    return [r for r in regs(result, "aws:ec2/subnet:Subnet") if (inputs(r).get("tags") or {}).get(role_tag) == "1"]


# ------------------------------------------------------------------------------ clean plans


@pytest.mark.parametrize("stack", STACKS)
def test_stack_plans_clean_with_expected_resources(plans, stack):
    result = plans[stack]
    assert result.errors == [] and result.schema_errors == [] and result.exit_code == 0
    assert {m.cluster for m in result.manifests} == {stack}
    spec = cluster_spec(stack)
    zones, pools = spec["network"]["zones"], len(spec["nodePools"])
    counts = {t: len(regs(result, t)) for t in {r.type for r in result.capture.registrations}}
    expected = {
        "fleetform:cluster:EksCluster": 1,
        "fleetform:network:AwsNetwork": 1,
        "aws:ec2/vpc:Vpc": 1,
        "aws:ec2/subnet:Subnet": 2 * zones,
        "aws:ec2/natGateway:NatGateway": zones,
        "aws:ec2/internetGateway:InternetGateway": 1,
        "aws:ec2/flowLog:FlowLog": 1,
        "aws:eks/cluster:Cluster": 1,
        "aws:kms/key:Key": 2,  # Kubernetes secrets; the cluster's logs (tests/test_aws_logs.py)
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider": 1,
        "aws:eks/nodeGroup:NodeGroup": pools,
        "aws:ec2/launchTemplate:LaunchTemplate": pools,
        # The load balancer controller, metrics-server and the cluster autoscaler (test_eks_first_deploy.py).
        "kubernetes:helm.sh/v3:Release": 3,
    }
    assert {t: counts.get(t, 0) for t in expected} == expected


def test_hybrid_aws_cluster_plans(tmp_path):
    """The aws cluster of the hybrid stack, planned as that stack (its version, region, services)."""
    cfg = stack_config("hybrid")
    cfg["fleetform:clusters"] = [c for c in cfg["fleetform:clusters"] if c["name"] == "hy-aws"]
    cfg.pop("fleetform:traffic", None)  # its hostname spans the clusters taken out (tests/test_traffic.py plans it)
    for svc in cfg["fleetform:services"]:
        if "clusters" in svc:
            svc["clusters"] = [c for c in svc["clusters"] if c == "hy-aws"]
    result = plan("hybrid", config=cfg)
    assert result.exit_code == 0 and result.errors == [] and result.schema_errors == []
    eks = inputs(one(result, "aws:eks/cluster:Cluster"))
    assert eks["name"] == "hy-aws" and eks["version"] == "1.36" and eks["region"] == "eu-west-1"
    assert {m.name for m in result.manifests if m.kind == "Deployment"} == {"web", "api"}


# ------------------------------------------------------------------------------ network


@pytest.mark.parametrize("stack", STACKS)
def test_subnets_carved_tagged_private(plans, stack):
    result = plans[stack]
    spec = cluster_spec(stack)
    expected = carve(spec["network"]["cidr"], spec["network"]["zones"])
    private = subnets(result, "kubernetes.io/role/internal-elb")
    public = subnets(result, "kubernetes.io/role/elb")
    assert sorted(inputs(s)["cidrBlock"] for s in private) == sorted(str(n) for n in expected.private)
    assert sorted(inputs(s)["cidrBlock"] for s in public) == sorted(str(n) for n in expected.public)
    assert inputs(one(result, "aws:ec2/vpc:Vpc"))["cidrBlock"] == spec["network"]["cidr"]
    for s in private + public:
        assert inputs(s)["mapPublicIpOnLaunch"] is False
        # A subnet is either public (LBC role/elb) or private (role/internal-elb), never both.
        tags = inputs(s)["tags"]
        assert ("kubernetes.io/role/elb" in tags) != ("kubernetes.io/role/internal-elb" in tags)
    # One private subnet per zone, in distinct zones from the canned getAvailabilityZones answer.
    zones = [inputs(s)["availabilityZone"] for s in private]
    assert len(set(zones)) == spec["network"]["zones"] and all(z.startswith(spec["region"]) for z in zones)


def test_zone_unsupported_by_eks_is_skipped(plans):
    """us-east-1's third canned zone (use1-az3, us-east-1c) is one EKS does not support."""
    zones = {inputs(s)["availabilityZone"] for s in regs(plans["prod-aws"], "aws:ec2/subnet:Subnet")}
    assert zones == {"us-east-1a", "us-east-1b", "us-east-1d"}


@pytest.mark.parametrize("stack", STACKS)
def test_private_subnets_route_only_to_their_zones_nat(plans, stack):
    result = plans[stack]
    names = by_name(result)
    ids = {f"{r.name}-id": r for r in result.capture.registrations}
    for rta in regs(result, "aws:ec2/routeTableAssociation:RouteTableAssociation"):
        subnet = ids[inputs(rta)["subnetId"]]
        table = inputs(ids[inputs(rta)["routeTableId"]])
        (route,) = table["routes"]
        assert route["cidrBlock"] == "0.0.0.0/0"
        if inputs(subnet)["tags"].get("kubernetes.io/role/internal-elb"):
            assert "gatewayId" not in route  # no internet gateway route to private subnets
            nat = ids[route["natGatewayId"]]
            nat_subnet = ids[inputs(nat)["subnetId"]]
            assert inputs(nat_subnet)["tags"].get("kubernetes.io/role/elb") == "1"
            assert inputs(nat_subnet)["availabilityZone"] == inputs(subnet)["availabilityZone"]
        else:
            assert ids[route["gatewayId"]].type == "aws:ec2/internetGateway:InternetGateway"
    assert len(regs(result, "aws:ec2/routeTableAssociation:RouteTableAssociation")) == 2 * cluster_spec(stack)["network"]["zones"]
    assert names  # the lookup tables were not empty


@pytest.mark.parametrize("stack", STACKS)
def test_no_security_group_opens_anything_to_the_internet(plans, stack):
    result = plans[stack]
    groups = regs(result, "aws:ec2/securityGroup:SecurityGroup") + regs(result, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    rules = regs(result, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule") + regs(result, "aws:ec2/securityGroupRule:SecurityGroupRule")
    assert groups
    # Nodes sit in the EKS-managed cluster security group (no inbound from outside it); the groups
    # fleetform creates must not open anything to the internet either.
    for g in groups:
        for rule in inputs(g).get("ingress") or []:
            sources = set(rule.get("cidrBlocks") or []) | set(rule.get("ipv6CidrBlocks") or [])
            assert not OPEN & sources, g.name
    for r in rules:
        rule = inputs(r)
        sources = {rule.get("cidrIpv4"), rule.get("cidrIpv6"), *(rule.get("cidrBlocks") or [])}
        assert rule.get("type") == "egress" or not OPEN & sources, r.name
    default = inputs(one(result, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"))
    assert not default.get("ingress") and not default.get("egress")  # stripped of all rules
    (api,) = [g for g in groups if g.type == "aws:ec2/securityGroup:SecurityGroup"]
    assert inputs(api)["ingress"] == [
        {"protocol": "tcp", "fromPort": 443, "toPort": 443, "cidrBlocks": [cluster_spec(stack)["network"]["cidr"]],
         "description": "Kubernetes API from the VPC"}
    ]


def test_flow_logs_on_all_traffic(plans):
    result = plans["prod-aws"]
    flow = inputs(one(result, "aws:ec2/flowLog:FlowLog"))
    assert flow["trafficType"] == "ALL" and flow["logDestinationType"] == "cloud-watch-logs"
    assert flow["vpcId"] == f"{one(result, 'aws:ec2/vpc:Vpc').name}-id"
    assert flow["iamRoleArn"].endswith(":role/prod-aws-network-flow-logs-role")


# ------------------------------------------------------------------------------ control plane


@pytest.mark.parametrize("stack", STACKS)
def test_control_plane_private_encrypted_logged(plans, stack):
    result = plans[stack]
    reg = one(result, "aws:eks/cluster:Cluster")
    eks = inputs(reg)
    assert eks["name"] == stack and eks["version"] == stack_config(stack)["fleetform:kubernetesVersion"]
    vpc = eks["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in vpc
    private_ids = {f"{s.name}-id" for s in subnets(result, "kubernetes.io/role/internal-elb")}
    assert set(vpc["subnetIds"]) == private_ids
    assert set(eks["enabledClusterLogTypes"]) == LOG_TYPES
    assert eks["encryptionConfig"]["resources"] == ["secrets"]
    key = one(result, "aws:kms/key:Key", f"{stack}-secrets-key")
    assert inputs(key)["enableKeyRotation"] is True
    # The secrets key is the stack's own key: the cluster's encryption input comes from it.
    assert key.urn in reg.dependencies and eks["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:")
    assert eks["accessConfig"] == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    log_group = [inputs(g) for g in regs(result, "aws:cloudwatch/logGroup:LogGroup") if inputs(g)["name"] == f"/aws/eks/{stack}/cluster"]
    assert log_group and log_group[0]["retentionInDays"] >= 90


@pytest.mark.parametrize("stack", STACKS)
def test_cluster_role_least_privilege(plans, stack):
    result = plans[stack]
    names = by_name(result)
    role = inputs(names[f"{stack}-cluster-role"])
    trust = json.loads(role["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "eks.amazonaws.com"}]
    attached = [inputs(a)["policyArn"] for a in regs(result, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if inputs(a)["role"] == f"{stack}-cluster-role"]
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"]
    (kms,) = json.loads(inputs(names[f"{stack}-cluster-role-kms"])["policy"])["Statement"]
    assert kms["Resource"] != "*" and kms["Resource"].startswith("arn:aws:kms:")
    assert set(kms["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ListGrants", "kms:DescribeKey"}


@pytest.mark.parametrize("stack", STACKS)
def test_irsa_provider_and_deployer_access_entry(plans, stack):
    result = plans[stack]
    out = result.capture.outputs["clusters"][stack]
    oidc = inputs(one(result, "aws:iam/openIdConnectProvider:OpenIdConnectProvider"))
    assert oidc["url"] == out["oidcIssuer"] and oidc["url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    assert "thumbprintLists" not in oidc  # IAM fetches/validates it (CreateOpenIDConnectProvider docs)
    entry = inputs(one(result, "aws:eks/accessEntry:AccessEntry"))
    admin = inputs(one(result, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"))
    # The canned deployer is an assumed-role session; access entries take the IAM role behind it.
    assert entry["principalArn"] == admin["principalArn"] == "arn:aws:iam::123456789012:role/fleetform-deployer"
    assert entry["clusterName"] == admin["clusterName"] == stack
    assert admin["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert admin["accessScope"] == {"type": "cluster"}


@pytest.mark.parametrize("stack", STACKS)
def test_details_published(plans, stack):
    out = plans[stack].capture.outputs["clusters"][stack]
    assert out["target"] == "aws" and out["name"] == stack and out["region"] == "us-east-1"
    assert out["nodePools"] == [p["name"] for p in cluster_spec(stack)["nodePools"]]
    assert out["oidcProviderArn"] == "arn:aws:iam::123456789012:oidc-provider/" + out["oidcIssuer"].removeprefix("https://")
    assert out["endpoint"].startswith("https://") and out["endpoint"].endswith(".eks.amazonaws.com")


# ------------------------------------------------------------------------------ nodes


@pytest.mark.parametrize("stack", STACKS)
def test_node_groups_follow_the_pools(plans, stack):
    result = plans[stack]
    names = by_name(result)
    private_ids = {f"{s.name}-id" for s in subnets(result, "kubernetes.io/role/internal-elb")}
    effects = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
    for pool in cluster_spec(stack)["nodePools"]:
        reg = names[f"{stack}-{pool['name']}-nodes"]
        ng = inputs(reg)
        assert ng["clusterName"] == stack
        assert ng["scalingConfig"] == {"minSize": pool["min"], "maxSize": pool["max"], "desiredSize": pool["min"]}
        assert ng["instanceTypes"] == [pool["size"]]
        assert ng["capacityType"] == ("SPOT" if pool.get("spot") else "ON_DEMAND")
        assert ng.get("labels", {}) == pool.get("labels", {})
        assert ng.get("taints", []) == [
            {"key": t["key"], "value": t["value"], "effect": effects[t["effect"]]} for t in pool.get("taints", [])
        ]
        assert set(ng["subnetIds"]) == private_ids
        assert ng["nodeRoleArn"].endswith(f":role/{stack}-node-role")
        assert ng["tags"]["k8s.io/cluster-autoscaler/enabled"] == "true"
        assert ng["tags"][f"k8s.io/cluster-autoscaler/{stack}"] == "owned"
        lt = names[f"{stack}-{pool['name']}-lt"]
        assert ng["launchTemplate"]["id"] == f"{lt.name}-id" and lt.urn in reg.dependencies
        assert ng["amiType"] == "AL2023_x86_64_STANDARD"  # every example pool is an x86 m6i


@pytest.mark.parametrize("stack", STACKS)
def test_launch_templates_imdsv2_encrypted_private(plans, stack):
    templates = regs(plans[stack], "aws:ec2/launchTemplate:LaunchTemplate")
    assert len(templates) == len(cluster_spec(stack)["nodePools"])
    for lt in templates:
        t = inputs(lt)
        assert t["metadataOptions"]["httpTokens"] == "required"
        assert t["metadataOptions"]["httpPutResponseHopLimit"] == 1
        assert t["metadataOptions"]["httpEndpoint"] == "enabled"
        (disk,) = t["blockDeviceMappings"]
        assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
        assert disk["ebs"]["volumeSize"] == 50  # the pools' default diskGb
        assert not any(ni.get("associatePublicIpAddress") == "true" for ni in t.get("networkInterfaces") or [])
        assert "iamInstanceProfile" not in t and "imageId" not in t


@pytest.mark.parametrize("stack", STACKS)
def test_node_role_and_cni_irsa(plans, stack):
    result = plans[stack]
    attachments: dict[str, set[str]] = {}
    for a in regs(result, "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        attachments.setdefault(inputs(a)["role"], set()).add(inputs(a)["policyArn"].rsplit("/", 1)[1])
    assert attachments[f"{stack}-node-role"] == {"AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly"}
    assert attachments[f"{stack}-cni-role"] == {"AmazonEKS_CNI_Policy"}
    names = by_name(result)
    (stmt,) = json.loads(inputs(names[f"{stack}-cni-role"])["assumeRolePolicy"])["Statement"]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    conditions = stmt["Condition"]["StringEquals"]
    assert sorted(conditions.values()) == ["sts.amazonaws.com", "system:serviceaccount:kube-system:aws-node"]
    addon = inputs(one(result, "aws:eks/addon:Addon"))
    assert addon["addonName"] == "vpc-cni" and addon["serviceAccountRoleArn"].endswith(f":role/{stack}-cni-role")
    # Nodes join after the CNI has its IRSA role.
    addon_urn = one(result, "aws:eks/addon:Addon").urn
    assert all(addon_urn in ng.dependencies for ng in regs(result, "aws:eks/nodeGroup:NodeGroup"))


# ------------------------------------------------------------------------------ kubeconfig, providers


@pytest.mark.parametrize("stack", STACKS)
def test_kubeconfig_exec_based_and_secret(plans, stack):
    result = plans[stack]
    providers = regs(result, "pulumi:providers:kubernetes")
    assert {p.name for p in providers} == {f"{stack}-k8s", f"{stack}-k8s-system"}
    endpoint = result.capture.outputs["clusters"][stack]["endpoint"]
    for p in providers:
        assert _is_secret(p.inputs["kubeconfig"])
        doc = yaml.safe_load(inputs(p)["kubeconfig"])
        (cluster,) = doc["clusters"]
        assert cluster["cluster"]["server"] == endpoint and cluster["cluster"]["certificate-authority-data"]
        (user,) = doc["users"]
        assert set(user["user"]) == {"exec"}  # no token, password or client key
        exec_ = user["user"]["exec"]
        assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1" and exec_["command"] == "aws"
        args = exec_["args"]
        assert args[:2] == ["eks", "get-token"]
        assert args[args.index("--cluster-name") + 1] == stack and args[args.index("--region") + 1] == "us-east-1"
        assert inputs(p)["clusterIdentifier"] == stack
    masked = {r["name"]: r for r in result.resources()}
    assert masked[f"{stack}-k8s"]["inputs"]["kubeconfig"] == SECRET
    assert result.capture.outputs["kubeconfigs"] == SECRET
    assert "get-token" not in json.dumps(result.resources())


@pytest.mark.parametrize("stack", STACKS)
def test_workloads_wait_for_admin_access_and_load_balancer_controller(plans, stack):
    result = plans[stack]
    names = by_name(result)
    provider = names[f"{stack}-k8s"]
    assert names[f"{stack}-lbc"].urn in provider.dependencies
    assert names[f"{stack}-deployer-admin"].urn in provider.dependencies
    workloads = [r for r in result.capture.registrations if r.type.startswith("kubernetes:") and r.custom and r.type != "kubernetes:helm.sh/v3:Release"]
    assert workloads and all(r.provider.startswith(provider.urn + "::") for r in workloads)
    lbc = names[f"{stack}-lbc"]
    assert lbc.provider.startswith(names[f"{stack}-k8s-system"].urn + "::")
    assert names[f"{stack}-deployer-admin"].urn in lbc.dependencies


# ------------------------------------------------------------------------------ load balancing


@pytest.mark.parametrize("stack", STACKS)
def test_load_balancer_controller_release(plans, stack):
    result = plans[stack]
    names = by_name(result)
    release = inputs(names[f"{stack}-lbc"])
    assert release["chart"] == "aws-load-balancer-controller"
    assert release["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release["version"].count(".") == 2 and release["version"][0].isdigit()  # pinned
    assert release["namespace"] == "kube-system"
    values = release["values"]
    assert values["clusterName"] == stack and values["region"] == "us-east-1"
    assert values["vpcId"] == f"{one(result, 'aws:ec2/vpc:Vpc').name}-id"
    sa = values["serviceAccount"]
    assert sa["name"] == "aws-load-balancer-controller"
    assert sa["annotations"]["eks.amazonaws.com/role-arn"].endswith(f":role/{stack}-lbc-role")
    (stmt,) = json.loads(inputs(names[f"{stack}-lbc-role"])["assumeRolePolicy"])["Statement"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in stmt["Condition"]["StringEquals"].values()
    policy = json.loads(inputs(names[f"{stack}-lbc-policy"])["policy"])
    assert policy == json.loads(LBC_POLICY_FILE.read_text())  # the reference policy, commercial partition
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:RegisterTargets", "ec2:AuthorizeSecurityGroupIngress"} <= actions
    # Every LoadBalancer Service of the workloads is of the class this controller serves.
    lb = [m.object for m in result.manifests if m.kind == "Service" and m.object["spec"]["type"] == "LoadBalancer"]
    assert lb and all(s["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb" for s in lb)


# ------------------------------------------------------------------------------ tags


@pytest.mark.parametrize("stack", STACKS)
def test_every_taggable_resource_carries_the_tags(plans, stack):
    result = plans[stack]
    spec_tags = cluster_spec(stack)["tags"]
    taggable = 0
    for r in result.capture.registrations:
        if not r.type.startswith("aws:") or not aws_takes_tags(r.type):
            continue
        taggable += 1
        tags = inputs(r).get("tags") or {}
        assert spec_tags.items() <= tags.items(), r.name
        assert tags["fleetform:cluster"] == stack, r.name
    assert taggable > 20
    for lt in regs(result, "aws:ec2/launchTemplate:LaunchTemplate"):
        specs = inputs(lt)["tagSpecifications"]
        assert {s["resourceType"] for s in specs} == {"instance", "volume", "network-interface"}
        assert all(spec_tags.items() <= s["tags"].items() for s in specs)


# ------------------------------------------------------------------------------ provider invariance


@pytest.fixture(scope="module")
def changed_staging():
    cfg = stack_config("staging-aws")
    (c,) = cfg["fleetform:clusters"]
    c["nodePools"] = [{"name": "general", "size": "m6i.xlarge", "min": 3, "max": 8, "labels": {"tier": "web"}}]
    c["tags"] = {"env": "staging", "team": "platform", "cost-center": "42"}
    return plan("staging-aws", config=cfg)


def test_node_pool_and_tag_changes_leave_provider_and_workloads_alone(plans, changed_staging):
    before, after = plans["staging-aws"], changed_staging
    # The change is real: the node group and the tags did change ...
    ng = lambda res: inputs(one(res, "aws:eks/nodeGroup:NodeGroup"))  # noqa: E731
    assert ng(before) != ng(after) and ng(after)["scalingConfig"]["maxSize"] == 8
    assert inputs(one(before, "aws:eks/cluster:Cluster"))["tags"] != inputs(one(after, "aws:eks/cluster:Cluster"))["tags"]
    # ... and no Kubernetes provider, nor any Kubernetes object, sees it.
    k8s = lambda res: {r.urn: (r.provider, inputs(r)) for r in res.capture.registrations  # noqa: E731
                       if r.type.startswith("kubernetes:") or r.type == "pulumi:providers:kubernetes"}
    a, b = k8s(before), k8s(after)
    assert a.keys() == b.keys() and len(a) > 10
    release = next(u for u in a if u.endswith(f"::staging-aws-lbc"))
    for urn in a:
        if urn == release:
            continue  # below: only the NLB default tags differ
        assert a[urn] == b[urn], urn
    (pa, va), (pb, vb) = a[release], b[release]
    assert pa == pb and va["values"].pop("defaultTags") != vb["values"].pop("defaultTags")
    assert va == vb


# ------------------------------------------------------------------------------ variants


@pytest.fixture(scope="module")
def variant():
    """Public endpoint, a GovCloud region, a Graviton pool with a NoExecute taint."""
    cfg = {
        "fleetform:clusters": [{
            "name": "gov", "target": "aws", "region": "us-gov-west-1",
            "network": {"cidr": "10.30.0.0/16", "zones": 2},
            "controlPlane": {"publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"]},
            "nodePools": [{"name": "arm", "size": "m7g.large", "min": 1, "max": 2, "diskGb": 80,
                           "taints": [{"key": "arch", "value": "arm64", "effect": "NoExecute"}]}],
        }],
    }
    return plan("variant", config=cfg)


def test_public_endpoint_only_to_allowed_cidrs(variant):
    assert variant.exit_code == 0
    vpc = inputs(one(variant, "aws:eks/cluster:Cluster"))["vpcConfig"]
    assert vpc["endpointPublicAccess"] is True and vpc["endpointPrivateAccess"] is True
    assert vpc["publicAccessCidrs"] == ["203.0.113.0/24", "198.51.100.7/32"]


def test_partition_graviton_taint_and_disk(variant):
    names = by_name(variant)
    ng = inputs(names["gov-arm-nodes"])
    assert ng["amiType"] == "AL2023_ARM_64_STANDARD"
    assert ng["taints"] == [{"key": "arch", "value": "arm64", "effect": "NO_EXECUTE"}]
    assert inputs(names["gov-arm-lt"])["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 80
    arns = [inputs(a)["policyArn"] for a in regs(variant, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert arns and all(a.startswith("arn:aws-us-gov:iam::aws:policy/") for a in arns)
    admin = inputs(one(variant, "aws:eks/accessPolicyAssociation:AccessPolicyAssociation"))
    assert admin["policyArn"].startswith("arn:aws-us-gov:eks::aws:cluster-access-policy/")
    lbc_policy = inputs(names["gov-lbc-policy"])["policy"]
    assert '"arn:aws-us-gov:elasticloadbalancing:' in lbc_policy and '"arn:aws:' not in lbc_policy


@pytest.mark.parametrize("region,partition", [
    ("us-east-1", "aws"), ("eu-west-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-east-1", "aws-us-gov"),
    ("us-iso-east-1", "aws-iso"), ("us-isob-east-1", "aws-iso-b"),
])
def test_partition_of(region, partition):
    assert partition_of(region) == partition


@pytest.mark.parametrize("size,ami", [
    ("m6i.large", "AL2023_x86_64_STANDARD"), ("m7g.large", "AL2023_ARM_64_STANDARD"), ("c6gn.xlarge", "AL2023_ARM_64_STANDARD"),
    ("t4g.small", "AL2023_ARM_64_STANDARD"), ("g5.xlarge", "AL2023_x86_64_STANDARD"), ("r8gd.large", "AL2023_ARM_64_STANDARD"),
])
def test_ami_type_for(size, ami):
    assert ami_type_for(size) == ami


def test_too_few_zones_is_an_error_not_a_silent_shrink():
    """us-east-1 has six canned zones, one of which EKS does not support: six zones cannot be had."""
    cfg = {"fleetform:clusters": [{"name": "wide", "target": "aws", "region": "us-east-1",
                                   "network": {"cidr": "10.40.0.0/16", "zones": 6},
                                   "nodePools": [{"name": "general", "size": "m6i.large", "min": 1, "max": 2}]}]}
    with pytest.raises(Exception, match="has 5 usable availability zones"):
        plan("wide", config=cfg)


# ------------------------------------------------------------------------------ lazy imports


def test_lbc_policy_is_the_controllers_reference_policy_for_the_pinned_release():
    """eks_lbc_iam_policy.json is, byte for byte, the reference policy of the controller release
    the chart installs (v2.14.1). Upstream's file cannot be fetched here; AWS's own copy of it,
    `aws-eks/lib/addons/alb-iam_policy-v2.14.1.json` in the npm package aws-cdk-lib@2.276.0, has
    this SHA-256. Bumping the chart means replacing the file and this digest together."""
    import hashlib

    from fleetform.cluster.eks import LBC_CHART_VERSION

    assert LBC_CHART_VERSION == "1.14.1"  # chart 1.14.1 = controller v2.14.1
    assert hashlib.sha256(LBC_POLICY_FILE.read_bytes()).hexdigest() == (
        "16f232c9d9f79366fe949c4550ad517a202380058a9e48d45a4e215044a20a6a"
    )
