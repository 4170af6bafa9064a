"""Self-managed k3s on GCP (target gcp, mode self-managed), planned offline: masters, workers,
the API and service load balancers, the firewall, the bootstrap secrets, the kubeconfig and a
Kubernetes provider that node-pool and tag changes leave alone.

Expected values come from the stack file and the documentation linked in
components/fleetform/cluster/selfmanaged_gcp.py (firewall source ranges, k3s ports, load balancer
schemes), resource by resource; the canned plan values (addresses, ids) are read from the
resources that own them, never copied from the code's output.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http.server
import ipaddress
import json
import os
import shlex
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

from fleetform.bootstrap import K3S_RELEASES
from fleetform.cluster import selfmanaged_gcp_reaper as reaper
from fleetform.cluster.selfmanaged_gcp import gcp_name
from fleetform.config import load_spec
from fleetform.network.cidr import carve
from fleetform.plan.canned.random import placeholder_password
from fleetform.plan.canned.tls import placeholder_certificate, placeholder_private_key
from fleetform.plan.engine import plan
from fleetform.plan.mocks import SECRET, plain
from tests.conftest import ROOT, one, planned, regs, stack_config
from tests.bootstrap_parsing import files_of, installer_args

STACK = "selfmanaged-gcp"
CLUSTER = "selfmanaged-gcp"
REGION = "europe-west4"
VPC_CIDR = "10.80.0.0/16"
VERSION = K3S_RELEASES["1.35"]
ZONES = [f"{REGION}-a", f"{REGION}-b", f"{REGION}-c"]  # the canned region lists c, a, b
TLS = "/var/lib/rancher/k3s/server/tls"
TOKEN_FILE = "/etc/rancher/k3s/fleetform/token"

# https://cloud.google.com/load-balancing/docs/firewall-rules
GOOGLE_PROBES = {"35.191.0.0/16", "130.211.0.0/22"}
EXTERNAL_PASSTHROUGH_PROBES = {"35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22"}
# https://docs.k3s.io/installation/requirements#networking
K3S_NODE_PORTS = {("tcp", "10250"), ("udp", "8472")}
ETCD = {("tcp", "2379-2380")}

INSTANCE = "gcp:compute/instance:Instance"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
REGIONAL_MIG = "gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager"
AUTOSCALER = "gcp:compute/regionAutoscaler:RegionAutoscaler"
RELEASE = "kubernetes:helm.sh/v3:Release"
GROUP = "gcp:compute/instanceGroup:InstanceGroup"
ADDRESS = "gcp:compute/address:Address"
RULE = "gcp:compute/forwardingRule:ForwardingRule"
BACKEND = "gcp:compute/regionBackendService:RegionBackendService"
HEALTH = "gcp:compute/regionHealthCheck:RegionHealthCheck"
PROXY = "gcp:compute/regionTargetTcpProxy:RegionTargetTcpProxy"
FIREWALL = "gcp:compute/firewall:Firewall"
SUBNET = "gcp:compute/subnetwork:Subnetwork"
ACCOUNT = "gcp:serviceaccount/account:Account"
SECRET_TYPE = "gcp:secretmanager/secret:Secret"
VERSION_TYPE = "gcp:secretmanager/secretVersion:SecretVersion"
SECRET_IAM = "gcp:secretmanager/secretIamMember:SecretIamMember"


# ----------------------------------------------------------------------------------- helpers


def raw(reg):
    return plain(reg.inputs, mask=False)


def mock_id(reg):
    """The id the plan's mock engine gives a resource (components/fleetform/plan/mocks.py: ``<name>-id``)."""
    return f"{reg.name}-id"


def api_ip(result):
    return raw(one(result, RULE, f"{CLUSTER}-api-rule"))["ipAddress"]


def master_ip(result, i):
    return raw(one(result, INSTANCE, f"{CLUSTER}-master-{i}"))["networkInterfaces"][0]["networkIp"]


def script_of(result, node):
    """The bootstrap script a node fetches: its Secret Manager secret version's payload."""
    return raw(one(result, VERSION_TYPE, f"{CLUSTER}-{node}-bootstrap"))["secretData"]


def user_data(reg):
    return raw(reg)["metadata"]["user-data"]


def cloud_config(reg):
    text = user_data(reg)
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def email_of(result, account_id):
    account = one(result, ACCOUNT, account_id)
    emails = {raw(r)["serviceAccount"]["email"] for r in regs(result, INSTANCE) + regs(result, TEMPLATE)}
    (email,) = [e for e in emails if e.startswith(raw(account)["accountId"] + "@")]
    return email


def k8s_side(result):
    return {r.urn: raw(r) for r in result.capture.registrations if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))}


def config():
    return copy.deepcopy(stack_config(STACK))


@pytest.fixture(scope="module")
def result():
    return planned(STACK)


@pytest.fixture(scope="module")
def changed_pools_and_tags():
    """The stack with every node pool resized and relabelled and different tags: the same cluster."""
    cfg = config()
    c = cfg["fleetform:clusters"][0]
    c["nodePools"][0].update(size="n2-standard-8", min=2, max=12, labels={"tier": "general"})
    c["nodePools"][1].update(size="n2-standard-4", min=2, max=4, spot=False)
    c["tags"] = {"env": "prod", "team": "platform"}
    return plan(STACK, config=cfg)


@pytest.fixture(scope="module")
def public_single_master():
    """One master, a public API for two CIDRs, two zones, and only the internal service."""
    cfg = config()
    c = cfg["fleetform:clusters"][0]
    c["controlPlane"] = {"count": 1, "publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}
    c["network"]["zones"] = 2
    cfg["fleetform:services"] = [s for s in cfg["fleetform:services"] if s["name"] == "api"]
    return plan(STACK, config=cfg)


# ------------------------------------------------------------------------------ the plan


def test_example_stack_plans_clean(result):
    assert result.errors == []
    assert result.schema_errors == []
    assert result.mandatory_violations == []
    assert result.exit_code == 0
    kinds = {m.kind for m in result.manifests if m.cluster == CLUSTER}
    assert {"Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds


def test_expected_resources(result):
    counts = {}
    for r in result.capture.registrations:
        counts[r.type] = counts.get(r.type, 0) + 1
    # 3 masters over 3 zones, pools general + spot, services web (public) + api (internal).
    expected = {
        "fleetform:cluster:SelfManagedGcpCluster": 1,
        "fleetform:network:GcpNetwork": 1,
        "fleetform:bootstrap:ClusterIdentity": 1,
        INSTANCE: 3,
        GROUP: 3,  # one unmanaged group per zone holding masters
        ADDRESS: 1 + 3 + 2,  # API, one per master, one per fronted service
        RULE: 1 + 2,
        BACKEND: 1 + 2,
        HEALTH: 1 + 2,
        PROXY: 2,
        TEMPLATE: 2,
        # One zonal group per zone a pool has room in: general 3..9 and spot 1..6 over 3 zones.
        MIG: 3 + 3,
        # The Cluster Autoscaler owns the groups' sizes; no regional group, no CPU autoscaler
        # (kubernetes/autoscaler FAQ: CPU-based instance group autoscalers are "NOT compatible").
        REGIONAL_MIG: 0,
        AUTOSCALER: 0,
        SECRET_TYPE: 3 + 2,  # one bootstrap per master, one per pool
        VERSION_TYPE: 3 + 2,
        SECRET_IAM: 3 + 2,
        ACCOUNT: 2,
        FIREWALL: 5,
        SUBNET: 2,  # nodes + proxy-only
        # One project role, the masters' custom one (the workers' account holds none).
        "gcp:projects/iAMMember:IAMMember": 1,
        "gcp:projects/iAMCustomRole:IAMCustomRole": 1,
        "gcp:projects/service:Service": 4,
        "gcp:container/cluster:Cluster": 0,
        "command:local:Command": 1,
        "pulumi:providers:kubernetes": 2,  # the add-ons' and the workloads'
        RELEASE: 1,  # the Cluster Autoscaler
        "kubernetes:apps/v1:DaemonSet": 1,  # cloud-provider-gcp
        # cloud-provider-gcp's and the stale-Node reaper's.
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole": 2,
        "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding": 2,
    }
    assert {t: counts.get(t, 0) for t in expected} == expected
    cluster = next(r for r in result.capture.registrations if r.type == "fleetform:cluster:SelfManagedGcpCluster")
    network = next(r for r in result.capture.registrations if r.type == "fleetform:network:GcpNetwork")
    assert cluster.name == CLUSTER and network.name == f"{CLUSTER}-network" and network.parent == cluster.urn
    for t in (INSTANCE, MIG, FIREWALL, RULE, SECRET_TYPE):
        assert {r.parent for r in regs(result, t)} == {cluster.urn}, t
    assert {r.parent for r in regs(result, SUBNET)} == {network.urn}


# ------------------------------------------------------------------------------ masters


def test_three_masters_over_three_zones_private_and_shielded(result):
    masters = [raw(one(result, INSTANCE, f"{CLUSTER}-master-{i}")) for i in range(3)]
    assert [m["zone"] for m in masters] == ZONES
    subnet = one(result, SUBNET, f"{CLUSTER}-network-nodes")
    for i, m in enumerate(masters):
        assert m["machineType"] == "e2-standard-4"  # controlPlane.size
        (nic,) = m["networkInterfaces"]
        assert "accessConfigs" not in nic or nic["accessConfigs"] == []  # no external IP
        assert nic["subnetwork"].endswith("/subnetworks/" + subnet.name)
        assert m["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableVtpm": True, "enableIntegrityMonitoring": True}
        assert m["bootDisk"]["initializeParams"]["image"].startswith("ubuntu-os-cloud/ubuntu-2404-lts")
        assert m["bootDisk"]["initializeParams"]["type"] == "pd-ssd"
        assert m["deletionProtection"] is True
        assert m["labels"]["env"] == "prod" and m["labels"]["fleetform-cluster"] == CLUSTER
    assert len({master_ip(result, i) for i in range(3)}) == 3


def test_no_ssh_way_in_and_no_default_compute_account(result):
    ctrl = email_of(result, f"{CLUSTER}-ctrl")
    nodes = email_of(result, f"{CLUSTER}-nodes")
    assert ctrl != nodes
    for reg in regs(result, INSTANCE) + regs(result, TEMPLATE):
        props = raw(reg)
        meta = props["metadata"]
        # https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys
        assert meta["block-project-ssh-keys"] == "TRUE" and meta["enable-oslogin"] == "TRUE", reg.name
        assert meta["serial-port-enable"] == "FALSE"
        assert "ssh-keys" not in meta and "startup-script" not in meta
        email = props["serviceAccount"]["email"]
        assert email == (ctrl if reg.type == INSTANCE else nodes)
        assert not email.endswith("-compute@developer.gserviceaccount.com") and email != "default"
        assert props["serviceAccount"]["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    for fw in regs(result, FIREWALL):
        for allow in raw(fw)["allows"]:
            assert "22" not in allow.get("ports", []) and allow.get("ports"), fw.name


# ------------------------------------------------------------------------------ bootstrap


def test_bootstrap_roles_and_registration_addresses(result):
    api, m0 = api_ip(result), master_ip(result, 0)
    init = installer_args(script_of(result, "master-0"))
    assert init[0] == "server" and "--cluster-init" in init
    assert not any(a.startswith("--server=") for a in init)
    for i in (1, 2):
        join = installer_args(script_of(result, f"master-{i}"))
        # Joining masters register with master 0 itself (a backend of the internal passthrough
        # LB would reach only itself through the LB's address).
        assert join[0] == "server" and f"--server=https://{m0}:6443" in join and "--cluster-init" not in join
    for i in range(3):
        args = installer_args(script_of(result, f"master-{i}"))
        assert f"--tls-san={api}" in args  # the API LB's address is in the serving certificate
        assert "--node-taint=CriticalAddonsOnly=true:NoExecute" in args
        assert {"--disable=traefik", "--disable=servicelb", "--secrets-encryption"} <= set(args)
    general = installer_args(script_of(result, "pool-general"))
    spot = installer_args(script_of(result, "pool-spot"))
    for agent in (general, spot):
        assert agent[0] == "agent" and f"--server=https://{api}:6443" in agent
        assert not any(a.startswith("--tls-san") for a in agent)
    assert "--node-label=capacity=spot" in spot and "--node-taint=capacity=spot:PreferNoSchedule" in spot
    assert not any(a.startswith(("--node-label", "--node-taint")) for a in general)
    assert f"K3S_VERSION={VERSION}" in script_of(result, "pool-general")


def test_only_the_first_master_receives_the_cluster_cas_and_tokens_fit_their_role(result):
    prefix = f"{CLUSTER}-identity"
    server_ca = placeholder_certificate(f"{prefix}-server-ca")
    ca_hash = hashlib.sha256(server_ca.encode()).hexdigest()
    first = files_of(script_of(result, "master-0"))
    assert first[f"{TLS}/server-ca.crt"] == server_ca
    assert first[f"{TLS}/client-ca.key"] == placeholder_private_key(f"{prefix}-client-ca-key")
    for node in ("master-0", "master-1", "master-2"):
        files = files_of(script_of(result, node))
        assert files[TOKEN_FILE] == f"K10{ca_hash}::server:{placeholder_password(f'{prefix}-server-token')}"
        assert (node == "master-0") == any(p.startswith(TLS) for p in files), node
    for pool in ("pool-general", "pool-spot"):
        files = files_of(script_of(result, pool))
        assert files[TOKEN_FILE] == f"K10{ca_hash}::node:{placeholder_password(f'{prefix}-agent-token')}"
        assert not any(p.startswith(TLS) for p in files)


def test_user_data_fetches_the_bootstrap_and_holds_no_secret(result):
    # Every secret a bootstrap carries, as text and in the base64 form its script writes it in.
    secret_files = {**files_of(script_of(result, "master-0")), **files_of(script_of(result, "pool-general"))}
    secret_values = [secret_files[TOKEN_FILE], files_of(script_of(result, "master-0"))[TOKEN_FILE],
                     secret_files["/etc/rancher/k3s/fleetform/agent-token"], secret_files[f"{TLS}/server-ca.key"]]
    assert all(v.startswith("K10") for v in secret_values[:2])
    secret_bits = [
        placeholder_password(f"{CLUSTER}-identity-server-token"),
        placeholder_password(f"{CLUSTER}-identity-agent-token"),
        placeholder_private_key(f"{CLUSTER}-identity-server-ca-key").splitlines()[1],
        *(base64.b64encode(v.encode()).decode() for v in secret_values),
    ]
    nodes = {f"{CLUSTER}-master-{i}": f"master-{i}" for i in range(3)}
    nodes.update({f"{CLUSTER}-{p}-tpl": f"pool-{p}" for p in ("general", "spot")})
    for reg in regs(result, INSTANCE) + regs(result, TEMPLATE):
        text = user_data(reg)
        doc = cloud_config(reg)
        write = doc["write_files"][0]
        fetcher = base64.b64decode(write["content"]).decode()
        for bit in secret_bits:
            assert bit not in text and bit not in fetcher, (reg.name, bit)
        assert write["path"] == "/var/lib/fleetform/fetch-bootstrap.py" and write["permissions"] == "0700"
        *before, cmd = doc["runcmd"]
        # Masters enable the stale-Node reaper's timer first: the bootstrap's exec ends the script.
        assert before == ([["/bin/sh", "-c", reaper.ENABLE_COMMAND]] if reg.type == INSTANCE else []), reg.name
        version_name = f"projects/000000000000/secrets/{CLUSTER}-{nodes[reg.name]}-bootstrap/versions/1"
        assert cmd == ["/bin/sh", "-c", f"python3 /var/lib/fleetform/fetch-bootstrap.py {version_name} "
                       "/var/lib/fleetform/bootstrap.sh && exec /bin/sh /var/lib/fleetform/bootstrap.sh"]
        # The header names the role and the k3s release, so a plan shows that a bootstrap changed.
        role = "init" if nodes[reg.name] == "master-0" else "join" if reg.type == INSTANCE else "agent"
        assert text.splitlines()[1].startswith(f"# fleetform k3s bootstrap: role={role} k3s={VERSION} config=")
    # ... while the secret versions do hold the scripts, as secrets.
    report = {r["name"] + "|" + r["type"]: r for r in result.resources()}
    for node in nodes.values():
        assert report[f"{CLUSTER}-{node}-bootstrap|{VERSION_TYPE}"]["inputs"]["secretData"] == SECRET
        assert files_of(script_of(result, node))[TOKEN_FILE].startswith("K10")


def test_workers_join_under_a_unique_node_name_and_masters_under_their_own(result):
    # A managed instance group recreates a VM (preempted Spot VM, repair) under its old name;
    # k3s would refuse a second node password for that name, so agents append a node id
    # (k3s agent --with-node-id, https://docs.k3s.io/cli/agent#node), now a bootstrap flag rather
    # than a k3s config file written by cloud-init.
    for pool in ("general", "spot"):
        assert "--with-node-id" in installer_args(script_of(result, f"pool-{pool}"))
    for i in range(3):
        assert "--with-node-id" not in installer_args(script_of(result, f"master-{i}"))
    reaper_files = [reaper.REAPER_PATH, f"/etc/systemd/system/{reaper.REAPER_UNIT}.service",
                    f"/etc/systemd/system/{reaper.REAPER_UNIT}.timer"]
    for reg in regs(result, INSTANCE) + regs(result, TEMPLATE):
        paths = [f["path"] for f in cloud_config(reg)["write_files"]]
        # No k3s config file; masters also carry the stale-Node reaper (selfmanaged_gcp_reaper).
        assert paths == ["/var/lib/fleetform/fetch-bootstrap.py"] + (reaper_files if reg.type == INSTANCE else [])


def test_each_bootstrap_secret_is_readable_by_its_role_only(result):
    ctrl, nodes = email_of(result, f"{CLUSTER}-ctrl"), email_of(result, f"{CLUSTER}-nodes")
    expected = {f"{CLUSTER}-master-{i}-bootstrap": ctrl for i in range(3)}
    expected.update({f"{CLUSTER}-pool-general-bootstrap": nodes, f"{CLUSTER}-pool-spot-bootstrap": nodes})
    for secret_name, email in expected.items():
        secret = one(result, SECRET_TYPE, secret_name)
        props = raw(secret)
        assert props["secretId"] == secret_name
        assert props["replication"] == {"userManaged": {"replicas": [{"location": REGION}]}}
        (grant,) = [raw(g) for g in regs(result, SECRET_IAM) if raw(g)["secretId"] == mock_id(secret)]
        assert grant["role"] == "roles/secretmanager.secretAccessor"
        assert grant["member"] == f"serviceAccount:{email}"
    # VMs are created after their read grant.
    grant_urn = {raw(g)["secretId"]: g.urn for g in regs(result, SECRET_IAM)}
    master0 = one(result, INSTANCE, f"{CLUSTER}-master-0")
    assert grant_urn[mock_id(one(result, SECRET_TYPE, f"{CLUSTER}-master-0-bootstrap"))] in master0.dependencies
    for j in range(3):
        mig = one(result, MIG, f"{CLUSTER}-spot-mig-{j}")
        assert grant_urn[mock_id(one(result, SECRET_TYPE, f"{CLUSTER}-pool-spot-bootstrap"))] in mig.dependencies


# ------------------------------------------------------------------------------ API load balancer


def test_masters_are_behind_the_internal_api_load_balancer(result):
    masters = {raw(one(result, INSTANCE, f"{CLUSTER}-master-{i}"))["zone"]: f"{CLUSTER}-master-{i}" for i in range(3)}
    groups = regs(result, GROUP)
    members = {}
    for g in groups:
        props = raw(g)
        for link in props["instances"]:
            assert link.split("/zones/")[1].split("/")[0] == props["zone"]  # zonal groups
            members[link.rsplit("/", 1)[1]] = props["zone"]
    assert members == {name: zone for zone, name in masters.items()}  # every master exactly once
    backend = raw(one(result, BACKEND, f"{CLUSTER}-api-backend"))
    assert backend["loadBalancingScheme"] == "INTERNAL" and backend["protocol"] == "TCP"
    assert sorted(b["group"].rsplit("/", 1)[1] for b in backend["backends"]) == sorted(g.name for g in groups)
    assert {b["balancingMode"] for b in backend["backends"]} == {"CONNECTION"}
    hc = one(result, HEALTH, f"{CLUSTER}-api-hc")
    assert backend["healthChecks"] == mock_id(hc)
    assert raw(hc)["tcpHealthCheck"] == {"port": 6443}
    rule = raw(one(result, RULE, f"{CLUSTER}-api-rule"))
    assert rule["loadBalancingScheme"] == "INTERNAL" and rule["ports"] == ["6443"] and rule["ipProtocol"] == "TCP"
    # Global access: clients in any region of a connected network reach the API ("If the field is
    # set to TRUE, clients can access ILB from all regions", gcp.compute.ForwardingRule
    # allowGlobalAccess; https://cloud.google.com/load-balancing/docs/internal#client_access).
    assert rule["allowGlobalAccess"] is True
    assert rule["backendService"] == mock_id(one(result, BACKEND, f"{CLUSTER}-api-backend"))
    address = raw(one(result, ADDRESS, f"{CLUSTER}-api-ip"))
    assert address["addressType"] == "INTERNAL" and address["subnetwork"] == rule["subnetwork"]
    assert not regs_named(result, RULE, "api-public")  # private by default


def regs_named(result, type_, part):
    return [r for r in regs(result, type_) if part in r.name]


# ------------------------------------------------------------------------------ workers


def ca_groups(result):
    """The Cluster Autoscaler's node groups: its chart's ``autoscalingGroups`` (``--nodes=min:max:URL``)."""
    values = raw(one(result, RELEASE, f"{CLUSTER}-cluster-autoscaler"))["values"]
    return {g["name"]: (g["minSize"], g["maxSize"]) for g in values["autoscalingGroups"]}


def group_url_of(result, reg):
    """The ``.../zones/<zone>/instanceGroups/<name>`` URL the autoscaler names ``reg`` by."""
    props = raw(reg)
    (url,) = [u for u in ca_groups(result) if u.endswith(f"/zones/{props['zone']}/instanceGroups/{props['name']}")]
    return url


def test_worker_pools_are_zonal_groups_sharing_the_pool_bounds(result):
    spec = load_spec(stack_config(STACK)).clusters[0]
    groups = ca_groups(result)
    seen = set()
    for pool in spec.effective_node_pools:
        migs = [m for m in regs(result, MIG) if m.name.startswith(f"{CLUSTER}-{pool.name}-mig-")]
        # The autoscaler's GCE provider manages zonal groups only
        # (kubernetes/autoscaler cloudprovider/gce/gce_url.go ParseMigUrl: projects/<p>/zones/<z>/instanceGroups/<n>).
        assert sorted(raw(m)["zone"] for m in migs) == ZONES  # both pools have room in every zone
        bounds = [groups[group_url_of(result, m)] for m in migs]
        seen |= {group_url_of(result, m) for m in migs}
        # The pool's min/max are totals: the zones' shares add up to them, as evenly as VMs go.
        assert sum(lo for lo, _ in bounds) == pool.min and sum(hi for _, hi in bounds) == pool.max
        assert all(lo <= hi for lo, hi in bounds)
        assert max(hi for _, hi in bounds) - min(hi for _, hi in bounds) <= 1
        assert max(lo for lo, _ in bounds) - min(lo for lo, _ in bounds) <= 1
        template = one(result, TEMPLATE, f"{CLUSTER}-{pool.name}-tpl")
        for mig, (lo, _hi) in zip(migs, bounds):
            props = raw(mig)
            assert props["targetSize"] == lo  # the first size; then the autoscaler's
            assert "targetSize" in mig.ignore_changes
            assert props["updatePolicy"]["type"] == "OPPORTUNISTIC"
            assert len(props["name"]) <= 63
            (version,) = props["versions"]
            assert version["instanceTemplate"].split("?")[0].endswith("/instanceTemplates/" + template.name)
            assert "?uniqueId=" in version["instanceTemplate"]  # pinned with selfLinkUnique
        t = raw(template)
        assert t["machineType"] == pool.size
        (disk,) = t["disks"]
        assert disk["boot"] is True and disk["diskSizeGb"] == pool.disk_gb
        (nic,) = t["networkInterfaces"]
        assert not nic.get("accessConfigs")
        assert t["shieldedInstanceConfig"]["enableSecureBoot"] is True
        assert t["labels"]["fleetform-pool"] == pool.name
        sched = t["scheduling"]
        if pool.spot:
            assert sched["provisioningModel"] == "SPOT" and sched["preemptible"] is True
            assert sched["automaticRestart"] is False and sched["instanceTerminationAction"] == "DELETE"
        else:
            assert sched["provisioningModel"] == "STANDARD" and sched.get("preemptible") in (None, False)
    assert seen == set(groups)  # the autoscaler manages exactly the pools' groups (no master group)
    bounds = {(p.name, p.min, p.max) for p in spec.effective_node_pools}
    assert bounds == {("general", 3, 9), ("spot", 0, 6)}  # the stack file's


# ------------------------------------------------------------------------------ firewall


def _allows(props):
    return {(a["protocol"], port) for a in props["allows"] for port in a.get("ports") or ["all"]}


def test_nothing_but_public_listeners_open_to_the_internet(result, public_single_master):
    for r in (result, public_single_master):
        public_ports = {str(s.service_port) for s in r.spec.services if s.expose == "public"}
        for fw in regs(r, FIREWALL):
            props = raw(fw)
            assert props["direction"] == "INGRESS"
            open_ranges = [c for c in props.get("sourceRanges") or [] if ipaddress.ip_network(c).prefixlen == 0]
            if open_ranges:
                assert {p for _, p in _allows(props)} <= public_ports, fw.name
    # With proxy load balancers the listeners are Google's frontends: no rule is open at all.
    for fw in regs(result, FIREWALL):
        assert all(ipaddress.ip_network(c).prefixlen > 0 for c in raw(fw).get("sourceRanges") or [])


def test_firewall_rules_admit_only_what_the_cluster_needs(result):
    ctrl, nodes = email_of(result, f"{CLUSTER}-ctrl"), email_of(result, f"{CLUSTER}-nodes")
    rules = {fw.name: raw(fw) for fw in regs(result, FIREWALL)}
    api = rules[f"{CLUSTER}-allow-api"]
    assert _allows(api) == {("tcp", "6443")} and api["sourceRanges"] == [VPC_CIDR]
    assert api["targetServiceAccounts"] == [ctrl]
    hc = rules[f"{CLUSTER}-allow-api-health-checks"]
    assert _allows(hc) == {("tcp", "6443")} and set(hc["sourceRanges"]) == GOOGLE_PROBES
    etcd = rules[f"{CLUSTER}-allow-etcd"]
    assert _allows(etcd) == ETCD
    assert etcd["sourceServiceAccounts"] == [ctrl] == etcd["targetServiceAccounts"] and "sourceRanges" not in etcd
    between = rules[f"{CLUSTER}-allow-nodes"]
    assert _allows(between) == K3S_NODE_PORTS
    assert set(between["sourceServiceAccounts"]) == {ctrl, nodes} == set(between["targetServiceAccounts"])
    assert "sourceRanges" not in between
    lb = rules[f"{CLUSTER}-allow-lb-nodeports"]
    spec = load_spec(stack_config(STACK))
    node_ports = {str(spec.node_port_of(s)) for s in spec.services}
    assert _allows(lb) == {("tcp", p) for p in node_ports}
    proxy_only = str(carve(VPC_CIDR, 3).public[0])
    assert set(lb["sourceRanges"]) == GOOGLE_PROBES | {proxy_only}
    assert lb["targetServiceAccounts"] == [nodes]
    assert set(rules) == {f"{CLUSTER}-allow-{n}" for n in ("api", "api-health-checks", "etcd", "nodes", "lb-nodeports")}


# ------------------------------------------------------------------------------ service load balancers


def test_each_exposed_service_gets_a_proxy_load_balancer_from_its_port_to_its_node_port(result):
    spec = load_spec(stack_config(STACK))
    services = {m.name: m.object for m in result.manifests if m.kind == "Service" and m.cluster == CLUSTER}
    migs = [raw(m) for m in regs(result, MIG)]
    for svc in spec.services:
        public = svc.expose == "public"
        scheme = "EXTERNAL_MANAGED" if public else "INTERNAL_MANAGED"
        node_port = spec.node_port_of(svc)
        # The Kubernetes side: a NodePort Service on exactly that port.
        k8s = services[svc.name]["spec"]
        assert k8s["type"] == "NodePort" and k8s["ports"][0]["nodePort"] == node_port
        assert k8s["ports"][0]["port"] == svc.service_port
        # Health check: HTTP on the NodePort and the service's health path.
        hc = one(result, HEALTH, f"{CLUSTER}-{svc.name}-lb-hc")
        assert raw(hc)["httpHealthCheck"] == {"port": node_port, "requestPath": svc.health.path}
        backend = one(result, BACKEND, f"{CLUSTER}-{svc.name}-lb-backend")
        b = raw(backend)
        assert b["loadBalancingScheme"] == scheme and b["protocol"] == "TCP" and b["healthChecks"] == mock_id(hc)
        # The backend's named port is the NodePort on every worker group.
        for mig in migs:
            assert {p["name"]: p["port"] for p in mig["namedPorts"]}[b["portName"]] == node_port
        # Every worker group of every pool is a backend, as the same URL the autoscaler scales.
        assert sorted(x["group"] for x in b["backends"]) == sorted(group_url_of(result, m) for m in regs(result, MIG))
        assert {x["balancingMode"] for x in b["backends"]} == {"UTILIZATION"}
        assert b["logConfig"]["enable"] is True
        proxy = one(result, PROXY, f"{CLUSTER}-{svc.name}-lb-proxy")
        assert raw(proxy)["backendService"] == mock_id(backend) and raw(proxy)["loadBalancingScheme"] == scheme
        rule = raw(one(result, RULE, f"{CLUSTER}-{svc.name}-lb-rule"))
        assert rule["target"] == mock_id(proxy) and rule["loadBalancingScheme"] == scheme
        assert rule["portRange"] == str(svc.service_port)  # the listener: the service port
        address = raw(one(result, ADDRESS, f"{CLUSTER}-{svc.name}-lb-ip"))
        assert address["addressType"] == ("EXTERNAL" if public else "INTERNAL")
        if public:
            assert rule["networkTier"] == "PREMIUM" == address["networkTier"] and "subnetwork" not in rule
        else:
            assert rule["subnetwork"] == address["subnetwork"]
        details = result.capture.outputs_raw["clusters"][CLUSTER]["services"]
        assert details[svc.name] == f"{rule['ipAddress']}:{svc.service_port}"


def test_proxy_only_subnet_is_carved_from_the_cluster_cidr(result):
    proxy = raw(one(result, SUBNET, f"{CLUSTER}-network-proxy-only"))
    assert proxy["purpose"] == "REGIONAL_MANAGED_PROXY" and proxy["role"] == "ACTIVE"
    assert proxy["region"] == REGION
    assert ipaddress.IPv4Network(proxy["ipCidrRange"]).subnet_of(ipaddress.IPv4Network(VPC_CIDR))
    nodes = raw(one(result, SUBNET, f"{CLUSTER}-network-nodes"))
    assert not ipaddress.ip_network(proxy["ipCidrRange"]).overlaps(ipaddress.ip_network(nodes["ipCidrRange"]))
    subnet_urn = one(result, SUBNET, f"{CLUSTER}-network-proxy-only").urn
    for rule in regs(result, RULE):
        if raw(rule)["loadBalancingScheme"].endswith("_MANAGED"):
            assert subnet_urn in rule.dependencies, rule.name


def test_service_resource_names_fit_compute_engine_limits():
    assert gcp_name("prod", "web", "hc") == "prod-web-hc"
    long = gcp_name("c" * 24, "s" * 40, "backend")
    assert len(long) == 63 and long.startswith("c" * 24 + "-") and long.endswith("-" + hashlib.sha256(
        ("c" * 24 + "-" + "s" * 40 + "-backend").encode()).hexdigest()[:8])
    assert gcp_name("c" * 24, "s" * 40, "proxy") != long


# ------------------------------------------------------------------------------ kubeconfig and provider


def test_kubeconfig_points_at_the_api_load_balancer_with_the_minted_identity(result):
    assert result.capture.outputs["kubeconfigs"] == SECRET
    doc = yaml.safe_load(result.capture.outputs_raw["kubeconfigs"][CLUSTER])
    url = f"https://{api_ip(result)}:6443"
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == url
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode() == placeholder_certificate(
        f"{CLUSTER}-identity-server-ca"
    )
    (user,) = doc["users"]
    assert base64.b64decode(user["user"]["client-key-data"]).decode() == placeholder_private_key(f"{CLUSTER}-identity-admin-key")
    assert result.capture.outputs["clusters"][CLUSTER]["endpoint"] == url
    report = {r["name"]: r for r in result.resources()}
    assert report[f"{CLUSTER}-k8s"]["inputs"]["kubeconfig"] == SECRET
    text = json.dumps(result.resources()) + json.dumps(result.capture.outputs)
    for secret in (placeholder_private_key(f"{CLUSTER}-identity-admin-key").splitlines()[1],
                   placeholder_private_key(f"{CLUSTER}-identity-server-ca-key").splitlines()[1],
                   placeholder_password(f"{CLUSTER}-identity-server-token")):
        assert secret not in text


def test_provider_waits_for_the_readiness_gate_which_waits_for_masters_and_lb(result):
    gate = one(result, "command:local:Command", f"{CLUSTER}-api-ready")
    provider = one(result, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s")
    assert gate.urn in provider.dependencies
    for i in range(3):
        assert one(result, INSTANCE, f"{CLUSTER}-master-{i}").urn in gate.dependencies
    assert one(result, RULE, f"{CLUSTER}-api-rule").urn in gate.dependencies
    assert one(result, FIREWALL, f"{CLUSTER}-allow-api").urn in gate.dependencies
    assert f"https://{api_ip(result)}:6443/readyz" in raw(gate)["create"]
    assert plain(gate.inputs, mask=True)["environment"] == SECRET
    assert raw(provider)["clusterIdentifier"] == CLUSTER
    deployment = next(r for r in result.capture.registrations if r.name == f"{CLUSTER}-web-deployment")
    assert deployment.provider.startswith(provider.urn)
    # Masters join one after another.
    assert one(result, INSTANCE, f"{CLUSTER}-master-0").urn in one(result, INSTANCE, f"{CLUSTER}-master-1").dependencies
    assert one(result, INSTANCE, f"{CLUSTER}-master-1").urn in one(result, INSTANCE, f"{CLUSTER}-master-2").dependencies


def test_node_pool_and_tag_changes_leave_the_provider_masters_and_workloads_alone(result, changed_pools_and_tags):
    before, after = result, changed_pools_and_tags
    assert after.exit_code == 0
    # The change is real on the cloud side ...
    tpl = lambda r, p: raw(one(r, TEMPLATE, f"{CLUSTER}-{p}-tpl"))  # noqa: E731
    assert tpl(before, "general")["machineType"] != tpl(after, "general")["machineType"]
    assert ca_groups(before) != ca_groups(after)
    labels = lambda r: raw(one(r, INSTANCE, f"{CLUSTER}-master-0"))["labels"]  # noqa: E731
    assert labels(before) != labels(after)  # labels are updated in place ...
    # ... while what only applies when a master is created stays as it was.
    for i in range(3):
        name = f"{CLUSTER}-master-{i}"
        for key in ("bootDisk", "zone", "networkInterfaces", "machineType", "description"):
            assert raw(one(before, INSTANCE, name))[key] == raw(one(after, INSTANCE, name))[key], (name, key)
    # ... and invisible to the Kubernetes side, the readiness gate and the masters' bootstraps.
    k8s_before, k8s_after = k8s_side(before), k8s_side(after)
    # ... but for the autoscaler's node groups, which follow the pools by design.
    (ca,) = [urn for urn in k8s_before if urn.endswith(f"::{CLUSTER}-cluster-autoscaler")]
    ca_before, ca_after = k8s_before.pop(ca), k8s_after.pop(ca)
    ca_before["values"].pop("autoscalingGroups")
    ca_after["values"].pop("autoscalingGroups")
    assert ca_before == ca_after
    assert len(k8s_before) > 10 and k8s_before == k8s_after
    gate = lambda r: raw(one(r, "command:local:Command", f"{CLUSTER}-api-ready"))  # noqa: E731
    assert gate(before) == gate(after)
    for i in range(3):
        name = f"{CLUSTER}-master-{i}-bootstrap"
        assert raw(one(before, VERSION_TYPE, name)) == raw(one(after, VERSION_TYPE, name))


def test_details_are_published(result):
    details = result.capture.outputs_raw["clusters"][CLUSTER]
    assert details["target"] == "gcp" and details["name"] == CLUSTER and details["region"] == REGION
    assert details["apiAddress"] == api_ip(result) == details["registrationAddress"]
    assert details["masters"] == 3
    assert details["nodePools"] == ["general", "spot"]
    assert details["k3sVersion"] == VERSION
    assert isinstance(result.capture.outputs["clusters"][CLUSTER]["endpoint"], str)  # not secret


# ------------------------------------------------------------------------------ public API, one master


def test_public_api_adds_an_external_passthrough_lb_for_the_allowed_cidrs_only(public_single_master):
    r = public_single_master
    assert r.exit_code == 0, (r.errors, r.schema_errors, r.mandatory_violations)
    (master,) = [raw(m) for m in regs(r, INSTANCE)]
    assert master["zone"] == ZONES[0]
    (group,) = regs(r, GROUP)
    public_rule = raw(one(r, RULE, f"{CLUSTER}-api-public-rule"))
    assert public_rule["loadBalancingScheme"] == "EXTERNAL" and public_rule["portRange"] == "6443"
    assert public_rule["networkTier"] == "PREMIUM"
    public_backend = raw(one(r, BACKEND, f"{CLUSTER}-api-public-backend"))
    assert public_backend["loadBalancingScheme"] == "EXTERNAL"
    assert [b["group"].rsplit("/", 1)[1] for b in public_backend["backends"]] == [group.name]
    assert raw(one(r, ADDRESS, f"{CLUSTER}-api-public-ip"))["addressType"] == "EXTERNAL"
    # Passthrough keeps client addresses: the firewall admits the VPC and the allowed CIDRs only.
    api_fw = raw(one(r, FIREWALL, f"{CLUSTER}-allow-api"))
    assert api_fw["sourceRanges"] == [VPC_CIDR, "203.0.113.0/24", "198.51.100.7/32"]
    hc_fw = raw(one(r, FIREWALL, f"{CLUSTER}-allow-api-health-checks"))
    assert set(hc_fw["sourceRanges"]) == GOOGLE_PROBES | EXTERNAL_PASSTHROUGH_PROBES
    # Users reach the public address; nodes keep registering through the internal one.
    public_ip, internal_ip = public_rule["ipAddress"], api_ip(r)
    assert public_ip != internal_ip
    kube = yaml.safe_load(r.capture.outputs_raw["kubeconfigs"][CLUSTER])
    assert kube["clusters"][0]["cluster"]["server"] == f"https://{public_ip}:6443"
    init = installer_args(script_of(r, "master-0"))
    assert {f"--tls-san={internal_ip}", f"--tls-san={public_ip}"} <= set(init)
    assert f"--server=https://{internal_ip}:6443" in installer_args(script_of(r, "pool-general"))
    # Only the internal service: no external service address, one proxy LB.
    assert [raw(a)["addressType"] for a in regs(r, ADDRESS) if "-lb-" in a.name] == ["INTERNAL"]
    assert r.capture.outputs_raw["clusters"][CLUSTER]["masters"] == 1


# ------------------------------------------------------------------------------ the fetcher on a VM


class _FakeGoogle(http.server.BaseHTTPRequestHandler):
    """The metadata server and Secret Manager's access method, as far as the fetcher uses them."""

    token = "fake-token-7f3a"
    payload = b"#!/bin/sh\necho bootstrap\n"
    refuse = 0  # answer 403 this many times first (an IAM grant still propagating)
    calls: list[str] = []

    def do_GET(self):  # noqa: N802
        cls = type(self)
        cls.calls.append(self.path)
        if self.path == "/computeMetadata/v1/instance/service-accounts/default/token":
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, {})
            return self._send(200, {"access_token": cls.token, "expires_in": 3599, "token_type": "Bearer"})
        if self.path.startswith("/v1/projects/") and self.path.endswith(":access"):
            if self.headers.get("Authorization") != f"Bearer {cls.token}" or cls.refuse > 0:
                cls.refuse -= 1
                return self._send(403, {"error": {"code": 403}})
            data = base64.b64encode(cls.payload).decode()
            return self._send(200, {"name": self.path[4:-7], "payload": {"data": data}})
        return self._send(404, {})

    def _send(self, code, body):
        raw_body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw_body)))
        self.end_headers()
        self.wfile.write(raw_body)

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        pass


@pytest.fixture
def fake_google():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FakeGoogle)
    _FakeGoogle.calls = []
    _FakeGoogle.refuse = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _run_fetcher(result, base_url, tmp_path, deadline="5"):
    doc = cloud_config(one(result, INSTANCE, f"{CLUSTER}-master-1"))
    fetcher = tmp_path / "fetch-bootstrap.py"
    fetcher.write_bytes(base64.b64decode(doc["write_files"][0]["content"]))
    version = shlex.split(doc["runcmd"][-1][2])[2]  # the last command: fetch and run the bootstrap
    dest = tmp_path / "var" / "bootstrap.sh"
    env = {**os.environ, "FLEETFORM_METADATA_URL": f"{base_url}/computeMetadata/v1",
           "FLEETFORM_SECRET_MANAGER_URL": f"{base_url}/v1", "FLEETFORM_FETCH_RETRY": "0.05",
           "FLEETFORM_FETCH_DEADLINE": deadline}
    proc = subprocess.run([sys.executable, str(fetcher), version, str(dest)], env=env, capture_output=True, text=True, timeout=60)
    return proc, version, dest


def test_the_fetcher_writes_the_secret_version_root_only(result, fake_google, tmp_path):
    proc, version, dest = _run_fetcher(result, fake_google, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert dest.read_bytes() == _FakeGoogle.payload
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert _FakeGoogle.calls[-1] == f"/v1/{version}:access"
    assert not Path(str(dest) + ".fleetform-new").exists()


def test_the_fetcher_waits_for_the_read_grant_and_gives_up_at_its_deadline(result, fake_google, tmp_path):
    _FakeGoogle.refuse = 3
    proc, _version, dest = _run_fetcher(result, fake_google, tmp_path)
    assert proc.returncode == 0 and dest.read_bytes() == _FakeGoogle.payload
    assert proc.stderr.count("waiting for") == 3
    _FakeGoogle.refuse = 10**6
    dest.unlink()
    proc, _version, dest = _run_fetcher(result, fake_google, tmp_path, deadline="0.3")
    assert proc.returncode == 1 and "giving up" in proc.stderr and not dest.exists()
    assert _FakeGoogle.token not in proc.stderr  # the token never reaches the log


# ------------------------------------------------------------------------------ imports
