"""GKE (target gcp, mode managed), planned offline: the resources, their secure defaults, the
kubeconfig, and a Kubernetes provider that node-pool and tag changes leave alone.

Expected values are written from the stack files and GKE's documentation (links in
components/fleetform/cluster/gke.py and components/fleetform/network/gcp.py), resource by resource, not read back
from the code.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import subprocess
import sys

import pytest
import yaml

from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.conftest import ROOT, one, planned, regs, stack_config

CLUSTER = "prod-gcp"
REGION = "europe-west4"
# The least-privilege node roles GKE documents: roles/container.defaultNodeServiceAccount
# (logs, metrics, metadata, autoscaling metrics) plus read access to Artifact Registry images.
NODE_ROLES = {"roles/container.defaultNodeServiceAccount", "roles/artifactregistry.reader"}
GKE_AGENT = re.compile(r"^serviceAccount:service-[0-9]+@container-engine-robot\.iam\.gserviceaccount\.com$")


# ----------------------------------------------------------------------------------- helpers


def inputs(reg):
    return plain(reg.inputs, mask=False)


def mock_id(reg):
    """The id the plan's mock engine gives a resource (components/fleetform/plan/mocks.py: ``<name>-id``)."""
    return f"{reg.name}-id"


def kubeconfig_of(result, cluster=CLUSTER):
    provider = one(result, "pulumi:providers:kubernetes", f"{cluster}-k8s")
    return yaml.safe_load(inputs(provider)["kubeconfig"])


def prod_config():
    return copy.deepcopy(stack_config("prod-gcp"))


@pytest.fixture(scope="module")
def prod():
    return planned("prod-gcp")


@pytest.fixture(scope="module")
def changed_pools_and_tags():
    """prod-gcp with every node pool resized/relabelled and different tags: same cluster."""
    cfg = prod_config()
    c = cfg["fleetform:clusters"][0]
    c["nodePools"][0].update(size="e2-standard-8", min=4, max=12, labels={"tier": "general"})
    c["nodePools"][1].update(size="n2-standard-8", min=1, max=3, labels={"capacity": "spot", "extra": "yes"})
    c["tags"] = {"env": "prod", "team": "platform", "cost-center": "42"}
    return plan("prod-gcp", config=cfg)


@pytest.fixture(scope="module")
def public_api_two_zones():
    """prod-gcp with a public API endpoint for two CIDRs, and nodes in two zones."""
    cfg = prod_config()
    c = cfg["fleetform:clusters"][0]
    c["controlPlane"] = {"publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24", "198.51.100.7/32"]}
    c["network"]["zones"] = 2
    return plan("prod-gcp", config=cfg)


# ------------------------------------------------------------------------------ the plan


def test_prod_gcp_plans_cleanly(prod):
    assert prod.errors == []
    assert prod.schema_errors == []
    assert prod.exit_code == 0
    kinds = {m.kind for m in prod.manifests if m.cluster == CLUSTER}
    assert {"Namespace", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy"} <= kinds


def test_expected_resources(prod):
    counts = {}
    for r in prod.capture.registrations:
        counts[r.type] = counts.get(r.type, 0) + 1
    expected = {
        "fleetform:cluster:GkeCluster": 1,
        "fleetform:network:GcpNetwork": 1,
        "gcp:compute/network:Network": 1,
        "gcp:compute/subnetwork:Subnetwork": 1,
        "gcp:compute/router:Router": 1,
        "gcp:compute/routerNat:RouterNat": 1,
        "gcp:kms/keyRing:KeyRing": 1,
        "gcp:kms/cryptoKey:CryptoKey": 1,
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": 1,
        "gcp:container/cluster:Cluster": 1,
        "gcp:container/nodePool:NodePool": 2,  # general and spot in the stack file
        "gcp:serviceaccount/account:Account": 1,
        # the node roles, and the GKE service agent's own role (tests/test_gke_first_deploy.py)
        "gcp:projects/iAMMember:IAMMember": len(NODE_ROLES) + 1,
        "pulumi:providers:kubernetes": 1,
    }
    assert {t: counts.get(t, 0) for t in expected} == expected
    gke = one(prod, "fleetform:cluster:GkeCluster")
    network = one(prod, "fleetform:network:GcpNetwork")
    assert gke.name == CLUSTER and network.name == f"{CLUSTER}-network" and network.parent == gke.urn
    for t in ("gcp:compute/network:Network", "gcp:compute/subnetwork:Subnetwork", "gcp:compute/router:Router", "gcp:compute/routerNat:RouterNat"):
        assert one(prod, t).parent == network.urn
    for t in ("gcp:container/cluster:Cluster", "gcp:kms/cryptoKey:CryptoKey", "gcp:serviceaccount/account:Account"):
        assert one(prod, t).parent == gke.urn


# ------------------------------------------------------------------------------ network


def test_vpc_is_dedicated_custom_mode(prod):
    vpc = inputs(one(prod, "gcp:compute/network:Network"))
    assert vpc["autoCreateSubnetworks"] is False


def test_subnet_is_regional_private_with_secondary_ranges(prod):
    subnet = inputs(one(prod, "gcp:compute/subnetwork:Subnetwork"))
    # 10.30.0.0/16 over 3 zones (components/fleetform/network/cidr.py layout): the first half holds four
    # /19 private blocks (3 zones rounded up to 4), nodes take the first; the last quarter splits
    # into pods (10.30.192.0/19) and services (10.30.224.0/19).
    assert subnet["region"] == REGION
    assert subnet["ipCidrRange"] == "10.30.0.0/19"
    assert {r["rangeName"]: r["ipCidrRange"] for r in subnet["secondaryIpRanges"]} == {
        "pods": "10.30.192.0/19",
        "services": "10.30.224.0/19",
    }
    assert subnet["privateIpGoogleAccess"] is True
    assert subnet["logConfig"], "VPC flow logs are on"
    cluster = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert cluster["ipAllocationPolicy"] == {"clusterSecondaryRangeName": "pods", "servicesSecondaryRangeName": "services"}
    assert cluster["networkingMode"] == "VPC_NATIVE"
    assert cluster["subnetwork"].endswith("/subnetworks/" + one(prod, "gcp:compute/subnetwork:Subnetwork").name)


def test_cloud_nat_for_the_node_subnet(prod):
    router = one(prod, "gcp:compute/router:Router")
    nat = inputs(one(prod, "gcp:compute/routerNat:RouterNat"))
    assert nat["router"] == router.name  # the canned router name is its resource name
    assert nat["region"] == REGION == inputs(router)["region"]
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    subnet = one(prod, "gcp:compute/subnetwork:Subnetwork")
    assert [(s["name"].rsplit("/", 1)[1], s["sourceIpRangesToNats"]) for s in nat["subnetworks"]] == [
        (subnet.name, ["ALL_IP_RANGES"])
    ]


def test_nothing_opens_nodes_to_the_internet(prod):
    for fw in regs(prod, "gcp:compute/firewall:Firewall"):
        props = inputs(fw)
        if props.get("allows") and (props.get("direction") or "INGRESS") == "INGRESS":
            assert not any(ipaddress.ip_network(c).prefixlen == 0 for c in props.get("sourceRanges") or []), fw.name
    cluster = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    for pool in regs(prod, "gcp:container/nodePool:NodePool"):
        assert inputs(pool)["networkConfig"]["enablePrivateNodes"] is True, pool.name


# ------------------------------------------------------------------------------ control plane


def test_private_api_endpoint_by_default(prod):
    cluster = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": True,
        "masterGlobalAccessConfig": {"enabled": False},  # on only with privateAccessCidrs
    }
    assert cluster["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False
    # Only the VPC's own range (network.cidr of the stack file); tests/test_gke_first_deploy.py
    # covers privateAccessCidrs.
    assert [b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == ["10.30.0.0/16"]
    # The IAM-guarded DNS endpoint answers from anywhere Google APIs do: closed to user traffic.
    assert cluster["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False


def test_public_api_only_for_allowed_cidrs(public_api_two_zones, prod):
    public_api = public_api_two_zones
    assert public_api.exit_code == 0
    cluster = inputs(one(public_api, "gcp:container/cluster:Cluster"))
    assert cluster["privateClusterConfig"] == {
        "enablePrivateNodes": True,
        "enablePrivateEndpoint": False,
        "masterGlobalAccessConfig": {"enabled": False},
    }
    assert [b["cidrBlock"] for b in cluster["masterAuthorizedNetworksConfig"]["cidrBlocks"]] == [
        "10.30.0.0/16",  # the VPC, for the private endpoint
        "203.0.113.0/24",
        "198.51.100.7/32",
    ]
    assert cluster["masterAuthorizedNetworksConfig"]["gcpPublicCidrsAccessEnabled"] is False
    assert cluster["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False
    # The kubeconfig follows: the public endpoint here, the private one by default.
    public_server = kubeconfig_of(public_api)["clusters"][0]["cluster"]["server"]
    private_server = kubeconfig_of(prod)["clusters"][0]["cluster"]["server"]
    assert public_server.startswith("https://") and private_server.startswith("https://")
    assert public_server != private_server


def test_secrets_encrypted_with_the_stacks_key(prod):
    ring = one(prod, "gcp:kms/keyRing:KeyRing")
    key = one(prod, "gcp:kms/cryptoKey:CryptoKey")
    assert inputs(ring)["location"] == REGION  # the key must live in the cluster's location
    key_in = inputs(key)
    assert key_in["keyRing"] == mock_id(ring)
    assert key_in["purpose"] == "ENCRYPT_DECRYPT"
    assert int(key_in["rotationPeriod"].rstrip("s")) <= 90 * 24 * 3600
    cluster = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert cluster["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": mock_id(key)}
    grant = inputs(one(prod, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"))
    assert grant["cryptoKeyId"] == mock_id(key)
    assert grant["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert GKE_AGENT.match(grant["member"]), grant["member"]
    # GKE checks the grant when it creates the cluster: the cluster waits for it.
    cluster_reg = one(prod, "gcp:container/cluster:Cluster")
    assert one(prod, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember").urn in cluster_reg.dependencies


def test_cluster_secure_defaults(prod):
    c = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert c["name"] == CLUSTER
    assert c["location"] == REGION  # regional: replicated control plane
    assert c["minMasterVersion"] == "1.35"  # fleetform:kubernetesVersion of the stack
    assert c["releaseChannel"] == {"channel": "REGULAR"}
    assert c["enableLegacyAbac"] is False
    assert c["masterAuth"]["clientCertificateConfig"] == {"issueClientCertificate": False}
    assert "APISERVER" in c["loggingConfig"]["enableComponents"]
    assert c["datapathProvider"] == "ADVANCED_DATAPATH"  # NetworkPolicy enforced by Dataplane V2
    assert "networkPolicy" not in c  # Calico and Dataplane V2 are exclusive
    assert c["enableShieldedNodes"] is True
    assert c["removeDefaultNodePool"] is True and c["initialNodeCount"] == 1
    assert c["deletionProtection"] is True
    assert c["addonsConfig"]["httpLoadBalancing"] == {"disabled": False}  # needed by cloud.google.com/l4-rbs
    assert c["resourceLabels"]["env"] == "prod"  # tags of the stack file


def test_workload_identity_pool_of_the_project(prod):
    c = inputs(one(prod, "gcp:container/cluster:Cluster"))
    grants = [inputs(r) for r in regs(prod, "gcp:projects/iAMMember:IAMMember")]
    projects = {g["project"] for g in grants}
    assert len(projects) == 1
    assert c["workloadIdentityConfig"] == {"workloadPool": f"{projects.pop()}.svc.id.goog"}


def test_project_comes_from_gcp_config_when_set():
    cfg = prod_config()
    cfg["gcp:project"] = "acme-prod-1234"
    result = plan("prod-gcp", config=cfg)
    c = inputs(one(result, "gcp:container/cluster:Cluster"))
    assert c["workloadIdentityConfig"]["workloadPool"] == "acme-prod-1234.svc.id.goog"
    assert {inputs(r)["project"] for r in regs(result, "gcp:projects/iAMMember:IAMMember")} == {"acme-prod-1234"}


# ------------------------------------------------------------------------------ node pools


def test_node_pools_from_the_stack_file(prod):
    pools = {inputs(r)["name"]: inputs(r) for r in regs(prod, "gcp:container/nodePool:NodePool")}
    assert set(pools) == {"general", "spot"}
    general, spot = pools["general"], pools["spot"]
    assert general["nodeConfig"]["machineType"] == "e2-standard-4"
    assert spot["nodeConfig"]["machineType"] == "e2-standard-8"
    # Config bounds are for the whole pool, so the total (not per-zone) limits are used.
    assert (general["autoscaling"]["totalMinNodeCount"], general["autoscaling"]["totalMaxNodeCount"]) == (3, 9)
    assert (spot["autoscaling"]["totalMinNodeCount"], spot["autoscaling"]["totalMaxNodeCount"]) == (0, 6)
    # The pool starts at its minimum: the initial count is per zone (3 zones here).
    assert (general["initialNodeCount"], spot["initialNodeCount"]) == (1, 0)
    for pool in pools.values():
        assert "minNodeCount" not in pool["autoscaling"] and "maxNodeCount" not in pool["autoscaling"]
    assert general["nodeConfig"]["spot"] is False and spot["nodeConfig"]["spot"] is True
    assert spot["nodeConfig"]["labels"] == {"capacity": "spot"}
    assert spot["nodeConfig"]["taints"] == [{"key": "capacity", "value": "spot", "effect": "PREFER_NO_SCHEDULE"}]
    assert general["nodeConfig"]["taints"] == []
    cluster = one(prod, "gcp:container/cluster:Cluster")
    assert {p["cluster"] for p in pools.values()} == {mock_id(cluster)}


def test_nodes_spread_over_the_configured_zones(prod, public_api_two_zones):
    # The plan's canned region has zones a, b, c (listed out of order); the stack asks for 3.
    c = inputs(one(prod, "gcp:container/cluster:Cluster"))
    assert c["nodeLocations"] == [f"{REGION}-a", f"{REGION}-b", f"{REGION}-c"]
    two = public_api_two_zones
    assert inputs(one(two, "gcp:container/cluster:Cluster"))["nodeLocations"] == [f"{REGION}-a", f"{REGION}-b"]
    # 10.30.0.0/16 over 2 zones: the first half splits into two /18 private blocks.
    assert inputs(one(two, "gcp:compute/subnetwork:Subnetwork"))["ipCidrRange"] == "10.30.0.0/18"
    # general: min 3 over 2 zones starts with 2 per zone; spot: min 0 starts empty.
    initial = {inputs(r)["name"]: inputs(r)["initialNodeCount"] for r in regs(two, "gcp:container/nodePool:NodePool")}
    assert initial == {"general": 2, "spot": 0}


def test_node_pools_are_hardened(prod):
    for reg in regs(prod, "gcp:container/nodePool:NodePool"):
        nc = inputs(reg)["nodeConfig"]
        assert inputs(reg)["management"] == {"autoRepair": True, "autoUpgrade": True}, reg.name
        assert nc["diskSizeGb"] == 50  # the config default
        assert nc["oauthScopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
        assert nc["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert nc["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert nc["kubeletConfig"]["insecureKubeletReadonlyPortEnabled"] == "FALSE"
        assert nc["resourceLabels"]["env"] == "prod"


def test_nodes_run_as_a_dedicated_least_privilege_account(prod):
    account = inputs(one(prod, "gcp:serviceaccount/account:Account"))
    pools = [inputs(r)["nodeConfig"]["serviceAccount"] for r in regs(prod, "gcp:container/nodePool:NodePool")]
    assert len(set(pools)) == 1
    email = pools[0]
    assert email.startswith(account["accountId"] + "@") and email.endswith(".iam.gserviceaccount.com")
    assert "-compute@developer.gserviceaccount.com" not in email and email != "default"
    granted = {}
    for r in regs(prod, "gcp:projects/iAMMember:IAMMember"):
        g = inputs(r)
        granted.setdefault(g["member"], set()).add(g["role"])
    # Besides the nodes' roles, only the GKE service agent's own role (tests/test_gke_first_deploy.py).
    assert {m: roles for m, roles in granted.items() if not GKE_AGENT.match(m)} == {f"serviceAccount:{email}": NODE_ROLES}


# ------------------------------------------------------------------------------ kubeconfig


def test_kubeconfig_is_exec_based_and_secret(prod):
    kc = kubeconfig_of(prod)
    (user,) = kc["users"]
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "gke-gcloud-auth-plugin"
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    assert exec_["installHint"]
    assert set(user["user"]) == {"exec"}  # no token, no client certificate or key
    (cluster,) = kc["clusters"]
    assert cluster["name"] == CLUSTER and cluster["cluster"]["server"].startswith("https://")
    assert cluster["cluster"]["certificate-authority-data"]
    assert prod.capture.outputs_raw["clusters"][CLUSTER]["endpoint"] == cluster["cluster"]["server"]
    # Secret everywhere the plan JSON shows it.
    report = {r["name"]: r for r in prod.resources()}
    assert report[f"{CLUSTER}-k8s"]["inputs"]["kubeconfig"] == "[secret]"
    assert prod.capture.outputs["kubeconfigs"] == "[secret]"
    assert "gke-gcloud-auth-plugin" not in json.dumps(prod.resources()) + json.dumps(prod.capture.outputs)


def test_details_are_published(prod):
    details = prod.capture.outputs_raw["clusters"][CLUSTER]
    pool_sa = inputs(regs(prod, "gcp:container/nodePool:NodePool")[0])["nodeConfig"]["serviceAccount"]
    workload_pool = inputs(one(prod, "gcp:container/cluster:Cluster"))["workloadIdentityConfig"]["workloadPool"]
    assert details["target"] == "gcp"
    assert details["name"] == CLUSTER
    assert details["region"] == REGION
    assert sorted(details["nodePools"]) == ["general", "spot"]
    assert details["nodeServiceAccount"] == pool_sa
    assert details["workloadPool"] == workload_pool
    assert isinstance(prod.capture.outputs["clusters"][CLUSTER]["endpoint"], str)  # not secret


# ------------------------------------------------------------------------------ provider invariance


def test_node_pool_and_tag_changes_leave_the_provider_and_workloads_alone(prod, changed_pools_and_tags):
    before, after = prod, changed_pools_and_tags
    assert after.exit_code == 0
    # The change is real on the cloud side...
    pools_before = {r.name: inputs(r) for r in regs(before, "gcp:container/nodePool:NodePool")}
    pools_after = {r.name: inputs(r) for r in regs(after, "gcp:container/nodePool:NodePool")}
    assert pools_before.keys() == pools_after.keys()
    assert all(pools_before[n] != pools_after[n] for n in pools_before)
    labels = lambda r: inputs(one(r, "gcp:container/cluster:Cluster"))["resourceLabels"]  # noqa: E731
    assert labels(before) != labels(after)
    # ... and invisible to the Kubernetes side: the provider and every object are unchanged.
    k8s_before = {r.urn: inputs(r) for r in before.capture.registrations if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))}
    k8s_after = {r.urn: inputs(r) for r in after.capture.registrations if r.type.startswith(("kubernetes:", "pulumi:providers:kubernetes"))}
    assert len(k8s_before) > 10
    assert k8s_before == k8s_after
    prov = lambda r: one(r, "pulumi:providers:kubernetes")  # noqa: E731
    assert inputs(prov(before))["clusterIdentifier"] == CLUSTER


# ------------------------------------------------------------------------------ hybrid, imports


def test_the_gcp_cluster_of_the_hybrid_stack_plans():
    cfg = stack_config("hybrid")
    cfg["fleetform:clusters"] = [c for c in cfg["fleetform:clusters"] if c["name"] == "hy-gcp"]
    cfg.pop("fleetform:traffic", None)  # its hostname spans the clusters taken out (tests/test_traffic.py plans it)
    for svc in cfg["fleetform:services"]:
        if "clusters" in svc:
            svc["clusters"] = [c for c in svc["clusters"] if c == "hy-gcp"]
    result = plan("hybrid", config=cfg)
    assert result.exit_code == 0 and result.errors == [] and result.schema_errors == []
    c = inputs(one(result, "gcp:container/cluster:Cluster"))
    assert c["name"] == "hy-gcp" and c["minMasterVersion"] == "1.36"
    subnet = inputs(one(result, "gcp:compute/subnetwork:Subnetwork"))
    assert subnet["ipCidrRange"] == "10.60.0.0/19"
    (pool,) = [inputs(r) for r in regs(result, "gcp:container/nodePool:NodePool")]
    assert (pool["autoscaling"]["totalMinNodeCount"], pool["autoscaling"]["totalMaxNodeCount"]) == (2, 6)
    assert {m.cluster for m in result.manifests} == {"hy-gcp"}
