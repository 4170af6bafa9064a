"""Target aws/self-managed: k3s masters and worker pools on EC2, planned offline with the real SDK.

Expected values come from the stack file (pools, services, CIDR, tags), from k3s's documented
ports (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes), from the AWS
documentation linked in components/fleetform/cluster/selfmanaged_aws.py (IMDS, NLB security groups, user
data limits), and from the canned mock outputs (load balancer DNS names, tls placeholders), which
are recomputed here from the captured inputs rather than copied from the program's output.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shlex
import subprocess
import sys
import zlib
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fleetform.bootstrap import K3S_RELEASES, NodeBootstrap, render_cloud_init
from fleetform.bootstrap.script import CUSTOM_CA_FILES
from fleetform.cluster.selfmanaged_aws import USER_DATA_LIMIT, elb_name, ubuntu_ami_parameter, user_data
from fleetform.plan.canned import aws as canned_aws
from fleetform.plan.canned.tls import placeholder_certificate, placeholder_private_key
from fleetform.plan.engine import plan
from fleetform.plan.mocks import SECRET, plain
from fleetform.plan.render import to_json
from tests.conftest import ROOT, aws_takes_tags, regs, stack_config
from tests.bootstrap_parsing import files_of, installer_args

STACK = "selfmanaged-aws"
OPEN = {"0.0.0.0/0", "::/0"}
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INSTANCE = "aws:ec2/instance:Instance"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
ASG = "aws:autoscaling/group:Group"
NLB = "aws:lb/loadBalancer:LoadBalancer"
TG = "aws:lb/targetGroup:TargetGroup"
LISTENER = "aws:lb/listener:Listener"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
SG = "aws:ec2/securityGroup:SecurityGroup"


# ------------------------------------------------------------------------------ helpers


def raw(reg) -> dict[str, Any]:
    return plain(reg.inputs, mask=False)


def names(result) -> dict:
    return {r.name: r for r in result.capture.registrations}


def ids(result) -> dict:
    """Mock ids are ``<name>-id``: map them back to registrations."""
    return {f"{r.name}-id": r for r in result.capture.registrations}


def cluster_cfg(cfg=None) -> dict[str, Any]:
    (c,) = (cfg or stack_config(STACK))["fleetform:clusters"]
    return c


def services_cfg() -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in stack_config(STACK)["fleetform:services"]}


def node_port(service: str) -> int:
    # The documented derivation (README, components/fleetform/config.py): CRC-32 of the name into 30000-32767.
    return 30000 + zlib.crc32(service.encode()) % 2768


def lb_dns(result, reg_name: str) -> str:
    """The DNS name the mocks give a load balancer, recomputed from its captured inputs."""
    reg = names(result)[reg_name]
    return canned_aws._load_balancer(SimpleNamespace(name=reg.name, inputs=raw(reg)))["dnsName"]


def lb_arn(result, reg_name: str) -> str:
    reg = names(result)[reg_name]
    return canned_aws._load_balancer(SimpleNamespace(name=reg.name, inputs=raw(reg)))["arn"]


def tg_arn(result, reg_name: str) -> str:
    reg = names(result)[reg_name]
    return canned_aws._target_group(SimpleNamespace(name=reg.name, inputs=raw(reg)))["arn"]


def cloud_config(encoded: str) -> str:
    packed = base64.b64decode(encoded)
    assert packed[:2] == b"\x1f\x8b"  # gzip magic: cloud-init uncompresses it itself
    return gzip.decompress(packed).decode()


def bootstrap_script(encoded: str) -> str:
    doc = yaml.safe_load(cloud_config(encoded))
    assert doc["runcmd"] == [["/bin/sh", doc["write_files"][0]["path"]]]
    return base64.b64decode(doc["write_files"][0]["content"]).decode()


def rules(result) -> list[dict[str, Any]]:
    """Every separate security group rule as (direction, group name, protocol, ports, source)."""
    by_id = ids(result)
    out = []
    for typ, direction in ((INGRESS, "in"), (EGRESS, "out")):
        for r in regs(result, typ):
            rule = raw(r)
            peer = rule.get("referencedSecurityGroupId")
            out.append({
                "name": r.name,
                "dir": direction,
                "group": by_id[rule["securityGroupId"]].name,
                "proto": rule["ipProtocol"],
                "ports": (rule.get("fromPort"), rule.get("toPort")),
                "peer": by_id[peer].name if peer else rule.get("cidrIpv4") or rule.get("cidrIpv6"),
            })
    return out


# ------------------------------------------------------------------------------ plans


@pytest.fixture(scope="module")
def ignored():
    """``ignoreChanges`` of every registration (the recording monitor does not keep them)."""
    from fleetform.plan.mocks import RecordingMonitor

    seen: dict[str, list[str]] = {}
    original = RecordingMonitor.RegisterResource

    def register(self, request):
        seen[request.name] = list(request.ignoreChanges)
        return original(self, request)

    mp = pytest.MonkeyPatch()
    mp.setattr(RecordingMonitor, "RegisterResource", register)
    yield seen
    mp.undo()


@pytest.fixture(scope="module")
def result(ignored):
    return plan(STACK)  # its own plan: `ignored` records what this one registers


@pytest.fixture(scope="module")
def changed():
    """The same stack with its node pools and tags changed (sizes, bounds, labels, a new pool)."""
    cfg = stack_config(STACK)
    c = cluster_cfg(cfg)
    c["nodePools"] = [
        {"name": "general", "size": "m6i.2xlarge", "min": 4, "max": 12, "labels": {"tier": "web"}},
        {"name": "batch", "size": "c7g.large", "min": 1, "max": 3, "taints": [{"key": "batch", "effect": "NoSchedule"}]},
    ]
    c["tags"] = {"env": "prod", "team": "platform", "cost-center": "42"}
    return plan(STACK, config=cfg)


@pytest.fixture(scope="module")
def variant():
    """One master, a public API for two CIDRs, two zones, a Graviton pool."""
    cfg = {
        "fleetform:clusters": [{
            "name": "pub", "target": "aws", "mode": "self-managed", "region": "eu-west-1",
            "network": {"cidr": "10.90.0.0/16", "zones": 2},
            "controlPlane": {"count": 1, "publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"]},
            "nodePools": [{"name": "arm", "size": "m7g.large", "min": 1, "max": 2, "diskGb": 80}],
        }],
    }
    return plan("variant", config=cfg)


# ------------------------------------------------------------------------------ the example stack


def test_stack_plans_clean(result):
    assert result.exit_code == 0, (result.errors, result.schema_errors, result.mandatory_violations)
    assert result.errors == [] and result.schema_errors == [] and result.mandatory_violations == []
    assert [r.type for r in result.capture.registrations if r.type.startswith("fleetform:cluster:")] == [
        "fleetform:cluster:SelfManagedAwsCluster"
    ]
    assert {m.cluster for m in result.manifests} == {STACK}
    spec = cluster_cfg()
    counts = {t: len(regs(result, t)) for t in (INSTANCE, TEMPLATE, ASG, NLB, TG, LISTENER, ATTACHMENT)}
    exposed = [s for s in services_cfg().values() if s.get("expose") in ("public", "internal")]
    assert counts == {
        INSTANCE: spec["controlPlane"]["count"],
        TEMPLATE: len(spec["nodePools"]),
        ASG: len(spec["nodePools"]),
        NLB: 1 + len(exposed),  # the API + one per exposed service
        TG: 1 + len(exposed),
        LISTENER: 1 + len(exposed),
        ATTACHMENT: spec["controlPlane"]["count"],
    }
    # No EKS, and no IAM identity beyond the network's flow-logs role and the masters' role (for
    # cloud-provider-aws and the Cluster Autoscaler: tests/test_selfmanaged_aws_lifecycle.py).
    assert not [r for r in result.capture.registrations if r.type.startswith("aws:eks/")]
    assert sorted(r.name for r in regs(result, "aws:iam/role:Role")) == [f"{STACK}-masters-role", f"{STACK}-network-flow-logs-role"]


def test_details_published(result):
    out = result.capture.outputs["clusters"][STACK]
    spec = cluster_cfg()
    assert out["target"] == "aws" and out["name"] == STACK
    assert out["masters"] == 3 and out["nodePools"] == [p["name"] for p in spec["nodePools"]]
    assert out["apiAddress"] == lb_dns(result, f"{STACK}-api-lb")
    assert out["endpoint"] == f"https://{out['apiAddress']}:6443"
    assert out["k3sVersion"] == K3S_RELEASES[stack_config(STACK)["fleetform:kubernetesVersion"]]
    # The fleet exports the service LBs fleetform provisioned as the services' addresses.
    assert out["services"] == {
        "web": lb_dns(result, f"{STACK}-svc-web-lb"), "api": lb_dns(result, f"{STACK}-svc-api-lb")
    }


# ------------------------------------------------------------------------------ masters + API LB


def test_three_masters_behind_the_internal_api_load_balancer(result):
    n = names(result)
    by_id = ids(result)
    api_lb = raw(n[f"{STACK}-api-lb"])
    assert api_lb["loadBalancerType"] == "network" and api_lb["internal"] is True
    private = {f"{STACK}-network-private-{i}-id" for i in (1, 2, 3)}
    assert set(api_lb["subnets"]) == private
    assert api_lb["securityGroups"] == [f"{STACK}-api-lb-sg-id"]
    assert api_lb["enableCrossZoneLoadBalancing"] is True
    assert len(api_lb["name"]) <= 32

    tg = raw(n[f"{STACK}-api-tg"])
    assert (tg["port"], tg["protocol"], tg["targetType"]) == (6443, "TCP", "instance")
    assert tg["preserveClientIp"] == "false"  # no hairpin timeouts for masters reaching their own LB
    assert tg["healthCheck"]["protocol"] == "TCP"
    listener = raw(n[f"{STACK}-api-listener"])
    assert (listener["port"], listener["protocol"]) == (6443, "TCP")
    assert listener["loadBalancerArn"] == lb_arn(result, f"{STACK}-api-lb")
    assert listener["defaultActions"] == [{"type": "forward", "targetGroupArn": tg_arn(result, f"{STACK}-api-tg")}]

    masters = regs(result, INSTANCE)
    attached = {by_id[raw(a)["targetId"]].name for a in regs(result, ATTACHMENT)}
    assert attached == {m.name for m in masters} == {f"{STACK}-master-{i}" for i in (1, 2, 3)}
    for a in regs(result, ATTACHMENT):
        assert raw(a)["targetGroupArn"] == tg_arn(result, f"{STACK}-api-tg") and raw(a)["port"] == 6443
    # One master per zone (three zones, three masters), all in private subnets.
    assert {raw(m)["subnetId"] for m in masters} == private
    assert {raw(m)["instanceType"] for m in masters} == {cluster_cfg()["controlPlane"]["size"]}
    # One master after the other: 2 after 1, 3 after 2 (and destroyed in reverse).
    assert n[f"{STACK}-master-1"].urn in n[f"{STACK}-master-2"].dependencies
    assert n[f"{STACK}-master-2"].urn in n[f"{STACK}-master-3"].dependencies
    assert not [d for d in n[f"{STACK}-master-1"].dependencies if "::" + STACK + "-master-" in d]


def test_masters_and_workers_hardened_without_public_ips_or_ssh(result):
    for m in regs(result, INSTANCE):
        i = raw(m)
        assert i["associatePublicIpAddress"] is False, m.name
        assert i["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1,
                                        "instanceMetadataTags": "disabled"}
        assert i["rootBlockDevice"]["encrypted"] is True and i["rootBlockDevice"]["volumeType"] == "gp3"
        assert "keyName" not in i  # no SSH key
        assert i["iamInstanceProfile"] == f"{STACK}-masters-profile"  # the only identity (lifecycle tests)
        assert i["ami"].startswith("ami-")  # Canonical's Ubuntu AMI from the public SSM parameter
        assert sorted(i["vpcSecurityGroupIds"]) == [f"{STACK}-masters-sg-id", f"{STACK}-nodes-sg-id"]
    pools = {p["name"]: p for p in cluster_cfg()["nodePools"]}
    for lt in regs(result, TEMPLATE):
        t = raw(lt)
        pool = pools[lt.name.removeprefix(f"{STACK}-").removesuffix("-lt")]
        assert t["metadataOptions"]["httpTokens"] == "required" and t["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (disk,) = t["blockDeviceMappings"]
        assert disk["deviceName"] == "/dev/sda1"  # Ubuntu's root device: the mapping sets the root volume
        assert disk["ebs"] == {"volumeSize": pool.get("diskGb", 50), "volumeType": "gp3", "encrypted": "true",
                               "deleteOnTermination": "true"}
        (nic,) = t["networkInterfaces"]
        assert nic["associatePublicIpAddress"] == "false"
        assert sorted(nic["securityGroups"]) == [f"{STACK}-nodes-sg-id", f"{STACK}-workers-sg-id"]
        assert "iamInstanceProfile" not in t and "keyName" not in t  # workers: no identity, no SSH key
        assert t["imageId"] == f"resolve:ssm:{ubuntu_ami_parameter(pool['size'])}"
        assert t["instanceType"] == pool["size"]
    for subnet in regs(result, "aws:ec2/subnet:Subnet"):
        assert raw(subnet)["mapPublicIpOnLaunch"] is False


def test_ubuntu_parameter_follows_the_architecture():
    assert ubuntu_ami_parameter("m6i.large") == "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
    assert ubuntu_ami_parameter("m7g.large").endswith("/current/arm64/hvm/ebs-gp3/ami-id")


def test_masters_ignore_new_amis_and_bootstraps(result, ignored):
    """cloud-init never re-runs changed user data on an existing instance, and a stopped master is
    an etcd member down: masters keep their AMI and user data; workers roll instead."""
    for i in (1, 2, 3):
        assert sorted(ignored[f"{STACK}-master-{i}"]) == ["ami", "userDataBase64"]
    assert not ignored[f"{STACK}-general-workers"] and not ignored[f"{STACK}-general-lt"]


def test_every_taggable_resource_carries_the_tags(result):
    spec_tags = cluster_cfg()["tags"]
    taggable = 0
    for r in result.capture.registrations:
        if not r.type.startswith("aws:") or not aws_takes_tags(r.type):
            continue
        taggable += 1
        tags = raw(r).get("tags") or {}
        if isinstance(tags, list):  # Auto Scaling groups: [{key, value, propagateAtLaunch}]
            tags = {t["key"]: t["value"] for t in tags}
        assert spec_tags.items() <= tags.items(), r.name
        assert tags["fleetform:cluster"] == STACK, r.name
    assert taggable > 40
    for lt in regs(result, TEMPLATE):
        specs = raw(lt)["tagSpecifications"]
        assert {s["resourceType"] for s in specs} == {"instance", "volume", "network-interface"}
        assert all(spec_tags.items() <= s["tags"].items() for s in specs)


# ------------------------------------------------------------------------------ bootstrap


def test_each_node_boots_its_k3s_role_through_the_api_load_balancer(result):
    n = names(result)
    api = lb_dns(result, f"{STACK}-api-lb")
    url = f"https://{api}:6443"
    init = installer_args(bootstrap_script(raw(n[f"{STACK}-master-1"])["userDataBase64"]))
    assert init[0] == "server" and "--cluster-init" in init and f"--tls-san={api}" in init
    assert not [a for a in init if a.startswith("--server=")]
    assert "--node-taint=CriticalAddonsOnly=true:NoExecute" in init and "--disable=servicelb" in init
    for i in (2, 3):
        join = installer_args(bootstrap_script(raw(n[f"{STACK}-master-{i}"])["userDataBase64"]))
        assert join[0] == "server" and f"--server={url}" in join and f"--tls-san={api}" in join
        assert "--cluster-init" not in join
    pools = {p["name"]: p for p in cluster_cfg()["nodePools"]}
    for name, pool in pools.items():
        agent = installer_args(bootstrap_script(raw(n[f"{STACK}-{name}-lt"])["userData"]))
        assert agent[0] == "agent" and f"--server={url}" in agent
        assert not [a for a in agent if a.startswith(("--tls-san", "--cluster-init"))]
        # The pool's labels, and fleetform's spot label on a spot pool (no cloud labels spot nodes of
        # a self-managed cluster; services without spot: true keep off it).
        want = {**pool.get("labels", {}), **({"fleetform.io/capacity-type": "spot"} if pool.get("spot") else {})}
        assert [a for a in agent if a.startswith("--node-label=")] == [f"--node-label={k}={v}" for k, v in sorted(want.items())]
        assert [a for a in agent if a.startswith("--node-taint=")] == [
            f"--node-taint={t['key']}={t['value']}:{t['effect']}" for t in pool.get("taints", [])
        ]


def test_only_the_first_master_gets_the_minted_cas(result):
    n = names(result)
    tls = "/var/lib/rancher/k3s/server/tls"
    first = files_of(bootstrap_script(raw(n[f"{STACK}-master-1"])["userDataBase64"]))
    assert first[f"{tls}/server-ca.crt"] == placeholder_certificate(f"{STACK}-identity-server-ca")
    assert first[f"{tls}/client-ca.key"] == placeholder_private_key(f"{STACK}-identity-client-ca-key")
    assert {f"{tls}/{p}" for p in CUSTOM_CA_FILES} <= set(first)
    for other in (f"{STACK}-master-2", f"{STACK}-master-3"):
        assert not [p for p in files_of(bootstrap_script(raw(n[other])["userDataBase64"]))if p.startswith(tls)]
    worker = files_of(bootstrap_script(raw(n[f"{STACK}-general-lt"])["userData"]))
    assert not [p for p in worker if p.startswith(tls)]
    assert worker["/etc/rancher/k3s/fleetform/token"].split("::")[1].startswith("node:")  # the agent token


def test_user_data_gzip_keeps_the_first_master_under_the_ec2_limit():
    """With key material of real sizes (5 ECDSA CAs, an RSA-2048 service key; incompressible random
    bytes), the first master's cloud-config is over EC2's 16 KB as text, and fits gzip-compressed."""
    rng = __import__("random").Random(7)

    def pem(label: str, der_bytes: int) -> str:
        body = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(der_bytes))).decode()
        return "\n".join([f"-----BEGIN {label}-----", *[body[i:i + 64] for i in range(0, len(body), 64)], f"-----END {label}-----", ""])

    files = {p: pem("CERTIFICATE", 500) if p.endswith(".crt") else pem("EC PRIVATE KEY", 121) for p in CUSTOM_CA_FILES}
    files["service.key"] = pem("RSA PRIVATE KEY", 1190)
    node = NodeBootstrap(
        role="init", version=K3S_RELEASES["1.35"], tls_sans=("x" * 60 + ".elb.us-east-1.amazonaws.com",),
        taints=("CriticalAddonsOnly=true:NoExecute",), token="K10" + "a" * 64 + "::server:" + "b" * 48,
        agent_token="c" * 48, tls_files=tuple(sorted(files.items())),
    )
    text = render_cloud_init(node)
    assert len(text.encode()) > USER_DATA_LIMIT  # plain user data would be rejected by EC2
    encoded = user_data(text, "test")
    assert len(base64.b64decode(encoded)) <= USER_DATA_LIMIT
    assert cloud_config(encoded) == text
    assert user_data(text, "test") == encoded  # deterministic (no gzip timestamp): no spurious diff
    with pytest.raises(ValueError, match="EC2 allows 16384"):
        user_data(text + "#" + base64.b64encode(bytes(rng.getrandbits(8) for _ in range(12000))).decode(), "big")


# ------------------------------------------------------------------------------ workers


def test_worker_pools_follow_the_config(result):
    n = names(result)
    private = {f"{STACK}-network-private-{i}-id" for i in (1, 2, 3)}
    service_tgs = {tg_arn(result, f"{STACK}-svc-{s}-tg") for s in ("web", "api")}
    for pool in cluster_cfg()["nodePools"]:
        asg = raw(n[f"{STACK}-{pool['name']}-workers"])
        assert (asg["minSize"], asg["maxSize"]) == (pool["min"], pool["max"])
        assert "desiredCapacity" not in asg  # starts at min; the autoscaler owns it afterwards
        assert set(asg["vpcZoneIdentifiers"]) == private
        assert set(asg["targetGroupArns"]) == service_tgs  # every pool's workers serve every service LB
        assert asg["healthCheckType"] == "EC2"
        assert asg["instanceRefresh"]["strategy"] == "Rolling"
        assert asg["instanceRefresh"]["preferences"]["minHealthyPercentage"] == 100  # launch before terminate
        lt_id = f"{STACK}-{pool['name']}-lt-id"
        if pool.get("spot"):
            assert "launchTemplate" not in asg and asg["capacityRebalance"] is True
            mip = asg["mixedInstancesPolicy"]
            assert mip["instancesDistribution"]["onDemandBaseCapacity"] == 0
            assert mip["instancesDistribution"]["onDemandPercentageAboveBaseCapacity"] == 0
            assert mip["launchTemplate"]["launchTemplateSpecification"]["launchTemplateId"] == lt_id
            assert mip["launchTemplate"]["overrides"] == [{"instanceType": pool["size"]}]
        else:
            assert "mixedInstancesPolicy" not in asg and asg["launchTemplate"]["id"] == lt_id
        tags = {t["key"]: t["value"] for t in asg["tags"]}
        assert tags["k8s.io/cluster-autoscaler/enabled"] == "true" and tags[f"k8s.io/cluster-autoscaler/{STACK}"] == "owned"
        assert cluster_cfg()["tags"].items() <= tags.items()


# ------------------------------------------------------------------------------ service load balancers


@pytest.mark.parametrize("svc", ["web", "api"])
def test_service_load_balancer_forwards_to_the_nodeport_with_http_health_check(result, svc):
    n = names(result)
    spec = services_cfg()[svc]
    public = spec["expose"] == "public"
    port = node_port(svc)
    lb = raw(n[f"{STACK}-svc-{svc}-lb"])
    assert lb["loadBalancerType"] == "network" and lb["internal"] is (not public)
    zone_subnets = {f"{STACK}-network-{'public' if public else 'private'}-{i}-id" for i in (1, 2, 3)}
    assert set(lb["subnets"]) == zone_subnets
    assert lb["securityGroups"] == [f"{STACK}-svc-{svc}-lb-sg-id"]
    tg = raw(n[f"{STACK}-svc-{svc}-tg"])
    assert (tg["port"], tg["protocol"], tg["targetType"]) == (port, "TCP", "instance")
    assert tg["healthCheck"] == {"protocol": "HTTP", "path": spec["health"]["path"], "port": "traffic-port",
                                 "matcher": "200-399", "interval": 10, "healthyThreshold": 3, "unhealthyThreshold": 3}
    listener = raw(n[f"{STACK}-svc-{svc}-listener"])
    assert (listener["port"], listener["protocol"]) == (spec.get("servicePort", 80), "TCP")
    assert listener["loadBalancerArn"] == lb_arn(result, f"{STACK}-svc-{svc}-lb")
    assert listener["defaultActions"] == [{"type": "forward", "targetGroupArn": tg_arn(result, f"{STACK}-svc-{svc}-tg")}]
    # The Kubernetes Service is the NodePort this load balancer forwards to.
    (service,) = [m.object for m in result.manifests if m.kind == "Service" and m.name == svc]
    assert service["spec"]["type"] == "NodePort" and service["spec"]["ports"][0]["nodePort"] == port
    assert service["metadata"]["annotations"] == {"fleetform.io/fronted-by": spec["expose"]}


# ------------------------------------------------------------------------------ security groups


def test_only_a_public_service_listener_port_is_open_to_the_internet(result):
    open_in = [r for r in rules(result) if r["dir"] == "in" and r["peer"] in OPEN]
    web = services_cfg()["web"]
    assert [(r["group"], r["proto"], r["ports"]) for r in open_in] == [
        (f"{STACK}-svc-web-lb-sg", "tcp", (web.get("servicePort", 80),) * 2)
    ]
    # No inline rules anywhere, and the only egress open to the internet is the nodes' (NAT egress).
    for g in regs(result, SG):
        assert "ingress" not in raw(g) and "egress" not in raw(g), g.name
    open_out = [r for r in rules(result) if r["dir"] == "out" and r["peer"] in OPEN]
    assert [(r["group"], r["proto"]) for r in open_out] == [(f"{STACK}-nodes-sg", "-1")]
    # SSH is closed: no rule covers port 22 at all.
    for r in rules(result):
        lo, hi = r["ports"]
        assert r["proto"] == "-1" and r["dir"] == "out" or not (lo <= 22 <= hi), r["name"]


def test_security_groups_admit_exactly_the_k3s_and_load_balancer_paths(result):
    s = lambda role: f"{STACK}-{role}-sg"  # noqa: E731
    ingress = {(r["group"], r["proto"], r["ports"], r["peer"]) for r in rules(result) if r["dir"] == "in"}
    web, api = node_port("web"), node_port("api")
    assert ingress == {
        # between all nodes: flannel VXLAN and the kubelet (k3s inbound rules)
        (s("nodes"), "udp", (8472, 8472), s("nodes")),
        (s("nodes"), "tcp", (10250, 10250), s("nodes")),
        # masters: etcd between masters, 6443 from the nodes and the API load balancer
        (s("masters"), "tcp", (2379, 2380), s("masters")),
        (s("masters"), "tcp", (6443, 6443), s("nodes")),
        (s("masters"), "tcp", (6443, 6443), s("api-lb")),
        # the API load balancer: 6443 from the VPC only (no apiAllowedCidrs in this stack)
        (s("api-lb"), "tcp", (6443, 6443), cluster_cfg()["network"]["cidr"]),
        # each NodePort only from its own service load balancer
        (s("workers"), "tcp", (web, web), s("svc-web-lb")),
        (s("workers"), "tcp", (api, api), s("svc-api-lb")),
        # the service load balancers: listener port from the internet (public) / the VPC (internal)
        (s("svc-web-lb"), "tcp", (80, 80), "0.0.0.0/0"),
        (s("svc-api-lb"), "tcp", (80, 80), cluster_cfg()["network"]["cidr"]),
    }
    egress = {(r["group"], r["proto"], r["ports"], r["peer"]) for r in rules(result) if r["dir"] == "out"}
    assert egress == {
        (s("nodes"), "-1", (None, None), "0.0.0.0/0"),
        # load balancers reach only their targets' port (health checks obey outbound rules)
        (s("api-lb"), "tcp", (6443, 6443), s("masters")),
        (s("svc-web-lb"), "tcp", (web, web), s("workers")),
        (s("svc-api-lb"), "tcp", (api, api), s("workers")),
    }


# ------------------------------------------------------------------------------ kubeconfig + provider


def test_kubeconfig_points_at_the_api_load_balancer_with_the_minted_identity(result):
    doc = yaml.safe_load(result.capture.outputs_raw["kubeconfigs"][STACK])
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == f"https://{lb_dns(result, f'{STACK}-api-lb')}:6443"
    ca = base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    assert ca == placeholder_certificate(f"{STACK}-identity-server-ca")
    (user,) = doc["users"]
    assert base64.b64decode(user["user"]["client-certificate-data"]).decode() == placeholder_certificate(f"{STACK}-identity-admin-cert")
    assert base64.b64decode(user["user"]["client-key-data"]).decode() == placeholder_private_key(f"{STACK}-identity-admin-key")


def test_secrets_are_masked_in_the_plan_json(result):
    report = to_json(result)
    text = json.dumps(report)
    assert report["outputs"]["kubeconfigs"] == SECRET
    resources = {r["name"]: r for r in report["resources"]}
    assert resources[f"{STACK}-k8s"]["inputs"]["kubeconfig"] == SECRET
    for i in (1, 2, 3):
        assert resources[f"{STACK}-master-{i}"]["inputs"]["userDataBase64"] == SECRET
    assert resources[f"{STACK}-general-lt"]["inputs"]["userData"] == SECRET
    for secret in (placeholder_private_key(f"{STACK}-identity-admin-key").splitlines()[1],
                   placeholder_private_key(f"{STACK}-identity-server-ca-key").splitlines()[1]):
        assert secret not in text
    # The report does describe the masters: masking is not an empty report.
    assert resources[f"{STACK}-master-1"]["inputs"]["instanceType"] == "m6i.large"


def test_provider_waits_for_the_readiness_gate(result):
    n = names(result)
    gate, provider = n[f"{STACK}-api-ready"], n[f"{STACK}-k8s"]
    assert gate.type == "command:local:Command" and gate.urn in provider.dependencies
    for dep in [f"{STACK}-master-{i}" for i in (1, 2, 3)] + [f"{STACK}-master-{i}-api" for i in (1, 2, 3)] + [f"{STACK}-api-listener"]:
        assert n[dep].urn in gate.dependencies, dep
    url = f"https://{lb_dns(result, f'{STACK}-api-lb')}:6443"
    create = raw(gate)["create"]
    assert f"{url}/readyz" in create and "--cacert" in create and "--cert" in create
    assert plain(gate.inputs, mask=True)["environment"] == SECRET
    assert raw(provider)["clusterIdentifier"] == STACK
    # Workloads on the cluster's provider; the cluster add-ons (Helm releases) on the system one.
    workloads = [r for r in result.capture.registrations if r.type.startswith("kubernetes:") and r.custom
                 and r.type != "kubernetes:helm.sh/v3:Release"]
    assert workloads and all(r.provider.startswith(provider.urn + "::") for r in workloads)
    releases = [r for r in result.capture.registrations if r.type == "kubernetes:helm.sh/v3:Release"]
    assert len(releases) == 2 and all(r.provider.startswith(n[f"{STACK}-k8s-system"].urn + "::") for r in releases)


def test_node_pool_and_tag_changes_leave_provider_and_workloads_alone(result, changed):
    # The change is real: pools and tags differ ...
    assert changed.exit_code == 0
    assert {r.name for r in regs(changed, ASG)} == {f"{STACK}-general-workers", f"{STACK}-batch-workers"}
    assert raw(names(changed)[f"{STACK}-general-workers"])["maxSize"] == 12
    assert raw(names(result)[f"{STACK}-master-1"])["tags"] != raw(names(changed)[f"{STACK}-master-1"])["tags"]
    # ... and no Kubernetes provider or object sees it, nor the gate the provider waits for.
    k8s = lambda res: {r.urn: (r.provider, raw(r), sorted(r.dependencies)) for r in res.capture.registrations  # noqa: E731
                       if r.type.startswith("kubernetes:") or r.type == "pulumi:providers:kubernetes"}
    before, after = k8s(result), k8s(changed)
    assert before.keys() == after.keys() and len(before) > 10
    for urn in before:
        assert before[urn] == after[urn], urn
    gate = lambda res: raw(names(res)[f"{STACK}-api-ready"])  # noqa: E731
    assert gate(result) == gate(changed)


# ------------------------------------------------------------------------------ variants


def test_public_api_only_to_allowed_cidrs_the_vpc_and_the_nat_addresses(variant):
    assert variant.exit_code == 0, (variant.errors, variant.mandatory_violations)
    n = names(variant)
    lb = raw(n["pub-api-lb"])
    assert lb["internal"] is False and set(lb["subnets"]) == {"pub-network-public-1-id", "pub-network-public-2-id"}
    assert lb["name"] == "pub-api-pub"
    nat_ips = {canned_aws._eip(SimpleNamespace(name=f"pub-network-nat-eip-{i}", inputs={}))["publicIp"] + "/32" for i in (1, 2)}
    sources = {r["peer"] for r in rules(variant) if r["group"] == "pub-api-lb-sg" and r["dir"] == "in"}
    assert sources == {"10.90.0.0/16", "203.0.113.0/24", "198.51.100.7/32"} | nat_ips
    assert not sources & OPEN
    assert not [r for r in rules(variant) if r["dir"] == "in" and r["peer"] in OPEN]  # no exposed services here


def test_single_master_graviton_pool(variant):
    n = names(variant)
    assert [m.name for m in regs(variant, INSTANCE)] == ["pub-master-1"] and len(regs(variant, ATTACHMENT)) == 1
    args = installer_args(bootstrap_script(raw(n["pub-master-1"])["userDataBase64"]))
    assert "--cluster-init" in args
    # No controlPlane.size: 2 vCPU / 8 GiB, k3s's sizing row for up to 350 agents.
    assert raw(n["pub-master-1"])["instanceType"] == "m6i.large"
    lt = raw(n["pub-arm-lt"])
    assert lt["imageId"].endswith("/arm64/hvm/ebs-gp3/ami-id") and lt["blockDeviceMappings"][0]["ebs"]["volumeSize"] == 80
    assert all(".svc.cluster.local:" in a for a in variant.capture.outputs["clusters"]["pub"]["services"].values())


def test_api_open_to_everyone_is_refused():
    cfg = {"fleetform:clusters": [{
        "name": "wide", "target": "aws", "mode": "self-managed", "region": "us-east-1",
        "controlPlane": {"publicAccess": True, "apiAllowedCidrs": ["0.0.0.0/0"]},
        "nodePools": [{"name": "general", "size": "m6i.large", "min": 1, "max": 2}],
    }]}
    with pytest.raises(Exception, match="the API is never open to everyone"):
        plan("wide", config=cfg)


# ------------------------------------------------------------------------------ naming


@pytest.mark.parametrize("parts,expected", [
    (("selfmanaged-aws", "api", "int"), "selfmanaged-aws-api-int"),
    (("internal", "api", "int"), "ff-internal-api-int"),
])
def test_elb_name_examples(parts, expected):
    assert elb_name(*parts) == expected


@given(st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3))
def test_elb_names_fit_aws_rules(parts):
    name = elb_name(*parts)
    joined = "-".join(parts)
    assert len(name) <= 32 and not name.startswith("internal-") and not name.endswith("-")
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name)
    assert name == elb_name(*parts)  # deterministic
    if len(joined) <= 32 and not joined.startswith("internal-"):
        assert name == joined  # short names are kept as they are
    elif len(joined) > 32:
        assert re.fullmatch(r".*[a-z0-9]-[0-9a-f]{8}", name)  # shortened, with a hash of the whole


# ------------------------------------------------------------------------------ lazy imports

def test_oversized_user_data_stops_the_deployment_with_one_line():
    """The check runs inside an apply (the user data holds secrets): it fails the deployment with a
    RunError, which Pulumi prints as one line without a traceback. (Called directly: a plan failing
    in two applies at once would leave its second error to the next plan in the process; see the
    lead's notes on components/fleetform/plan/runner.py.)"""
    import pulumi

    from fleetform.cluster.selfmanaged_aws import SelfManagedAwsCluster

    fake = SimpleNamespace(_name="tiny")
    big = "#cloud-config\n#" + base64.b64encode(os.urandom(20000)).decode()
    with pytest.raises(pulumi.RunError, match=r"^cluster tiny, master 1: cloud-init user data is \d+ bytes compressed; EC2 allows 16384$"):
        SelfManagedAwsCluster._user_data(fake, big, "master 1")  # type: ignore[arg-type]
    assert cloud_config(SelfManagedAwsCluster._user_data(fake, "#cloud-config\n{}\n", "pool general")) == "#cloud-config\n{}\n"  # type: ignore[arg-type]
