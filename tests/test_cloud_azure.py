"""AKS (target azure, mode managed), planned offline: the resources, their secure defaults, the
kubeconfig, and a Kubernetes provider that node-pool and tag changes leave alone.

Expected values are written from the stack files and Azure's documentation (links in
components/fleetform/cluster/aks.py and components/fleetform/network/azure.py), resource by resource, not read back
from the code.
"""

from __future__ import annotations

import base64
import copy
import importlib
import inspect
import ipaddress
import json
import subprocess
import sys

import pulumi
import pytest

from fleetform.config import FleetConfigError
import yaml

from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.conftest import ROOT, one, planned, regs, stack_config

CLUSTER = "prod-azure"
REGION = "westeurope"
TAGS = {"env": "prod", "fleetform-cluster": CLUSTER}
AKS_SERVER_APP = "6dae42f8-4368-4678-94ff-3960e28e3630"  # "Azure Kubernetes Service AAD Server"
# Built-in role ids, from https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
KEY_VAULT_CRYPTO_USER = "12338af0-0e69-4776-bea7-57ae8d297424"
AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"
INTERNET = {"Internet", "*", "0.0.0.0/0", "Any"}

MC = "azure-native:containerservice:ManagedCluster"
POOL = "azure-native:containerservice:AgentPool"
NSG = "azure-native:network:NetworkSecurityGroup"
SUBNET = "azure-native:network:Subnet"
VNET = "azure-native:network:VirtualNetwork"
ROLE = "azure-native:authorization:RoleAssignment"
IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"


# ----------------------------------------------------------------------------------- helpers


def inputs(reg):
    return plain(reg.inputs, mask=False)


def mock_id(reg):
    """The id the plan's mock engine gives a resource (components/fleetform/plan/mocks.py: ``<name>-id``)."""
    return f"{reg.name}-id"


def kubeconfig_of(result, cluster=CLUSTER):
    provider = one(result, "pulumi:providers:kubernetes", f"{cluster}-k8s")
    return yaml.safe_load(inputs(provider)["kubeconfig"])


def roles_by_definition(result):
    """Role assignments keyed by the built-in role's GUID (last segment of roleDefinitionId)."""
    out = {}
    for r in regs(result, ROLE):
        out.setdefault(inputs(r)["roleDefinitionId"].rsplit("/", 1)[-1], []).append(r)
    return out


def prod_config():
    return copy.deepcopy(stack_config("prod-azure"))


def only(cfg, cluster):
    """A copy of a stack config reduced to one cluster (and the services that may run there)."""
    cfg = copy.deepcopy(cfg)
    cfg["fleetform:clusters"] = [c for c in cfg["fleetform:clusters"] if c["name"] == cluster]
    cfg.pop("fleetform:traffic", None)  # its hostname spans the clusters taken out (tests/test_traffic.py plans it)
    for svc in cfg["fleetform:services"]:
        if "clusters" in svc:
            svc["clusters"] = [c for c in svc["clusters"] if c == cluster]
    return cfg


@pytest.fixture(scope="module")
def prod():
    return planned("prod-azure")


@pytest.fixture(scope="module")
def changed_pools_and_tags():
    """prod-azure with every node pool resized/relabelled and different tags: the same cluster."""
    cfg = prod_config()
    c = cfg["fleetform:clusters"][0]
    c["nodePools"][0].update(size="Standard_D8s_v5", min=4, max=12, labels={"tier": "general"})
    c["nodePools"][1].update(size="Standard_D16s_v5", min=1, max=3, labels={"capacity": "spot", "extra": "yes"})
    c["tags"] = {"env": "prod", "team": "platform", "cost-center": "42"}
    return plan("prod-azure", config=cfg)


@pytest.fixture(scope="module")
def public_api():
    cfg = prod_config()
    cfg["fleetform:clusters"][0]["controlPlane"] = {"publicAccess": True, "apiAllowedCidrs": ["198.51.100.0/24"]}
    return plan("prod-azure", config=cfg)


# ------------------------------------------------------------------------------ the plan


def test_prod_azure_plans_cleanly(prod):
    assert prod.errors == []
    assert prod.schema_errors == []
    assert prod.mandatory_violations == []
    assert prod.exit_code == 0
    assert {m.cluster for m in prod.manifests} == {CLUSTER}


def test_expected_resources(prod):
    count = lambda t: len(regs(prod, t))  # noqa: E731
    assert count("fleetform:cluster:AksCluster") == 1
    assert count("fleetform:network:AzureNetwork") == 1
    for t in (
        "azure-native:resources:ResourceGroup",
        VNET,
        SUBNET,
        NSG,
        "azure-native:network:NatGateway",
        "azure-native:network:PublicIPAddress",
        IDENTITY,
        "azure-native:keyvault:Vault",
        "azure-native:keyvault:Key",
        "azure-native:operationalinsights:Workspace",
        "azure-native:monitor:DiagnosticSetting",
        MC,
        "pulumi:providers:kubernetes",
    ):
        assert count(t) == 1, t
    assert sorted(inputs(r)["agentPoolName"] for r in regs(prod, POOL)) == ["general", "spot"]
    assert count(ROLE) == 3  # subnet, KMS key, deployer


def test_children_hang_off_the_cluster_component(prod):
    cluster = one(prod, "fleetform:cluster:AksCluster")
    network = one(prod, "fleetform:network:AzureNetwork")
    assert network.parent == cluster.urn and network.name == f"{CLUSTER}-network"
    for r in prod.capture.registrations:
        if r.type.startswith("azure-native:"):
            assert r.parent in (cluster.urn, network.urn), r.urn
            assert r.name.startswith(f"{CLUSTER}-"), r.name


# ------------------------------------------------------------------------------ network


def test_vnet_excludes_the_pod_and_service_ranges(prod):
    # 10.40.0.0/16 carved for 3 zones: private /19s in the first half, public in the third quarter,
    # pods and services share the last quarter. The VNet holds the first three quarters only.
    vnet = inputs(one(prod, VNET))
    assert sorted(vnet["addressSpace"]["addressPrefixes"]) == ["10.40.0.0/17", "10.40.128.0/18"]
    assert vnet["location"] == REGION
    net = inputs(one(prod, MC))["networkProfile"]
    assert (net["podCidr"], net["serviceCidr"]) == ("10.40.192.0/19", "10.40.224.0/19")
    space = [ipaddress.ip_network(p) for p in vnet["addressSpace"]["addressPrefixes"]]
    for cidr in (net["podCidr"], net["serviceCidr"]):
        assert not any(ipaddress.ip_network(cidr).overlaps(block) for block in space)
    assert ipaddress.ip_address(net["dnsServiceIP"]) in ipaddress.ip_network(net["serviceCidr"])
    assert not ipaddress.ip_network(net["podCidr"]).overlaps(ipaddress.ip_network(net["serviceCidr"]))


def test_one_regional_node_subnet_behind_nsg_and_nat(prod):
    subnet = inputs(one(prod, SUBNET))
    assert subnet["addressPrefix"] == "10.40.0.0/19"
    assert subnet["networkSecurityGroup"] == {"id": mock_id(one(prod, NSG))}
    assert subnet["natGateway"] == {"id": mock_id(one(prod, "azure-native:network:NatGateway"))}
    assert subnet["defaultOutboundAccess"] is False
    nat = inputs(one(prod, "azure-native:network:NatGateway"))
    assert nat["publicIpAddresses"] == [{"id": mock_id(one(prod, "azure-native:network:PublicIPAddress"))}]
    assert inputs(one(prod, MC))["networkProfile"]["outboundType"] == "userAssignedNATGateway"


def test_nsg_opens_nothing_of_the_nodes_to_the_internet(prod):
    rules = inputs(one(prod, NSG))["securityRules"]
    nodes = ipaddress.ip_network(inputs(one(prod, SUBNET))["addressPrefix"])
    vnet = [ipaddress.ip_network(p) for p in inputs(one(prod, VNET))["addressSpace"]["addressPrefixes"]]
    inbound_from_internet = [r for r in rules if r["direction"] == "Inbound" and r["sourceAddressPrefix"] in INTERNET]
    denies = [r for r in inbound_from_internet if r["access"] == "Deny"]
    allows = [r for r in inbound_from_internet if r["access"] == "Allow"]
    # An explicit deny of everything from the internet to the nodes' addresses...
    assert any(
        r["destinationAddressPrefix"] == str(nodes) and r["destinationPortRange"] == "*" and r["protocol"] == "*"
        for r in denies
    )
    deny_priority = min(r["priority"] for r in denies if r["destinationAddressPrefix"] == str(nodes))
    for r in allows:
        # ... ahead of any internet allow, and no allow names a VNet address or everything.
        assert r["priority"] > deny_priority
        dest = r["destinationAddressPrefix"]
        assert dest not in ("*", "VirtualNetwork", "Any")
        if dest != "Internet":  # the service tag of public addresses (public LB frontends)
            assert not any(ipaddress.ip_network(dest).overlaps(b) for b in vnet)
        # Never SSH or RDP, even to a load balancer frontend.
        ports = r.get("destinationPortRanges") or [r.get("destinationPortRange")]
        for port in (22, 3389):
            assert not any(p == "*" or p == str(port) or ("-" in p and int(p.split("-")[0]) <= port <= int(p.split("-")[1]))
                           for p in ports)


def test_cluster_identity_is_network_contributor_on_the_node_subnet_only(prod):
    (assignment,) = roles_by_definition(prod)[NETWORK_CONTRIBUTOR]
    a = inputs(assignment)
    assert a["scope"] == mock_id(one(prod, SUBNET))
    assert a["principalType"] == "ServicePrincipal"
    assert one(prod, IDENTITY).urn in assignment.dependencies


# ------------------------------------------------------------------------------ control plane


def test_private_api_server_by_default(prod):
    access = inputs(one(prod, MC))["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is True
    assert access["enablePrivateClusterPublicFQDN"] is False
    assert "authorizedIPRanges" not in access
    server = kubeconfig_of(prod)["clusters"][0]["cluster"]["server"]
    assert ".privatelink." in server and server.startswith("https://") and server.endswith(":443")


def test_public_api_only_for_allowed_cidrs(public_api):
    assert public_api.exit_code == 0
    access = inputs(one(public_api, MC))["apiServerAccessProfile"]
    assert access["enablePrivateCluster"] is False
    ranges = access["authorizedIPRanges"]
    assert "198.51.100.0/24" in ranges
    # Besides the configured CIDR, only the cluster's own NAT egress address (one /32).
    others = [r for r in ranges if r != "198.51.100.0/24"]
    assert len(others) == 1 and others[0].endswith("/32")
    assert all(ipaddress.ip_network(r).prefixlen > 0 for r in ranges)
    server = kubeconfig_of(public_api)["clusters"][0]["cluster"]["server"]
    assert ".hcp." in server and ".privatelink." not in server


def test_secrets_encrypted_with_the_stacks_key(prod):
    vault_reg = one(prod, "azure-native:keyvault:Vault")
    key_reg = one(prod, "azure-native:keyvault:Key")
    vault, key = inputs(vault_reg), inputs(key_reg)
    kms = inputs(one(prod, MC))["securityProfile"]["azureKeyVaultKms"]
    assert kms["enabled"] is True
    # The versioned id of the key this stack creates, in the vault this stack creates.
    prefix = f"https://{vault['vaultName']}.vault.azure.net/keys/{key['keyName']}/"
    assert kms["keyId"].startswith(prefix) and len(kms["keyId"]) > len(prefix)
    assert kms["keyVaultNetworkAccess"] == "Public"
    props = vault["properties"]
    assert props["enableRbacAuthorization"] is True
    assert props["enablePurgeProtection"] is True
    assert props["enableSoftDelete"] is True and props["softDeleteRetentionInDays"] == 90
    assert "accessPolicies" not in props
    assert key["properties"]["kty"] == "RSA-HSM" and key["properties"]["keySize"] >= 2048  # HSM: tests/test_aks_vault.py
    assert set(key["properties"]["keyOps"]) == {"encrypt", "decrypt"}
    # The control-plane identity may use that key, and nothing else of the vault.
    (assignment,) = roles_by_definition(prod)[KEY_VAULT_CRYPTO_USER]
    assert inputs(assignment)["scope"] == mock_id(key_reg)
    assert one(prod, IDENTITY).urn in assignment.dependencies
    cluster = one(prod, MC)
    assert assignment.urn in cluster.dependencies  # the grant exists before AKS checks it


def test_control_plane_runs_as_the_user_assigned_identity(prod):
    identity = inputs(one(prod, MC))["identity"]
    assert identity == {"type": "UserAssigned", "userAssignedIdentities": [mock_id(one(prod, IDENTITY))]}
    assert inputs(one(prod, IDENTITY))["location"] == REGION


def test_audit_logs_go_to_the_stacks_workspace(prod):
    setting = inputs(one(prod, "azure-native:monitor:DiagnosticSetting"))
    workspace = one(prod, "azure-native:operationalinsights:Workspace")
    assert setting["resourceUri"] == mock_id(one(prod, MC))
    assert setting["workspaceId"] == mock_id(workspace)
    enabled = {log["category"] for log in setting["logs"] if log["enabled"] is True}
    assert enabled & {"kube-audit", "kube-audit-admin"}
    assert "guard" in enabled
    ws = inputs(workspace)
    assert ws["retentionInDays"] >= 90
    assert ws["features"]["disableLocalAuth"] is True


def test_identity_and_authorization_defaults(prod):
    c = inputs(one(prod, MC))
    assert c["aadProfile"]["managed"] is True and c["aadProfile"]["enableAzureRBAC"] is True
    assert c["disableLocalAccounts"] is True
    assert c["enableRBAC"] is True
    assert c["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert c["oidcIssuerProfile"] == {"enabled": True}
    # The deployer is cluster admin through Azure RBAC, scoped to this cluster only.
    (admin,) = roles_by_definition(prod)[AKS_RBAC_CLUSTER_ADMIN]
    assert inputs(admin)["scope"] == mock_id(one(prod, MC))


def test_network_policy_and_lifecycle(prod):
    c = inputs(one(prod, MC))
    net = c["networkProfile"]
    assert (net["networkPlugin"], net["networkPluginMode"]) == ("azure", "overlay")
    assert (net["networkDataplane"], net["networkPolicy"]) == ("cilium", "cilium")
    assert c["autoUpgradeProfile"] == {"upgradeChannel": "patch", "nodeOSUpgradeChannel": "NodeImage"}
    assert c["kubernetesVersion"] == "1.35"  # fleetform:kubernetesVersion of the stack file
    assert c["sku"] == {"name": "Base", "tier": "Standard"}
    assert c["nodeResourceGroupProfile"] == {"restrictionLevel": "ReadOnly"}
    assert c["location"] == REGION


# ------------------------------------------------------------------------------ node pools


def test_system_pool_is_inline_small_and_tainted(prod):
    (system,) = inputs(one(prod, MC))["agentPoolProfiles"]  # user pools are AgentPool resources
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert system["enableAutoScaling"] is False and system["count"] == 3
    assert system["availabilityZones"] == ["1", "2", "3"]


def test_user_pools_from_the_stack_file(prod):
    pools = {inputs(r)["agentPoolName"]: inputs(r) for r in regs(prod, POOL)}
    general, spot = pools["general"], pools["spot"]
    assert general["mode"] == spot["mode"] == "User"
    assert (general["vmSize"], general["minCount"], general["maxCount"]) == ("Standard_D4s_v5", 3, 9)
    assert (spot["vmSize"], spot["minCount"], spot["maxCount"]) == ("Standard_D8s_v5", 0, 6)
    assert general["enableAutoScaling"] is True and spot["enableAutoScaling"] is True
    assert general["availabilityZones"] == spot["availabilityZones"] == ["1", "2", "3"]
    assert spot["nodeLabels"] == {"capacity": "spot"}
    assert spot["nodeTaints"] == ["capacity=spot:PreferNoSchedule"]
    assert (spot["scaleSetPriority"], spot["scaleSetEvictionPolicy"], spot["spotMaxPrice"]) == ("Spot", "Delete", -1)
    assert general["scaleSetPriority"] == "Regular" and "spotMaxPrice" not in general
    assert general["resourceName"] == spot["resourceName"] == CLUSTER
    assert general["orchestratorVersion"] == "1.35"


def test_every_pool_is_private_encrypted_and_in_the_node_subnet(prod):
    subnet_id = mock_id(one(prod, SUBNET))
    pools = [inputs(r) for r in regs(prod, POOL)] + inputs(one(prod, MC))["agentPoolProfiles"]
    assert len(pools) == 3
    for p in pools:
        assert p["enableNodePublicIP"] is False
        assert p["enableEncryptionAtHost"] is True
        assert p["vnetSubnetID"] == subnet_id


def test_tags_on_every_taggable_resource(prod):
    """Every resource whose SDK class takes tags carries the stack file's tags plus fleetform's."""
    checked = []
    for r in prod.capture.registrations:
        if not r.type.startswith("azure-native:"):
            continue
        _, module, cls_name = r.type.split(":")
        cls = getattr(importlib.import_module(f"pulumi_azure_native.{module}"), cls_name)
        if "tags" in inspect.signature(cls._internal_init).parameters:
            assert inputs(r).get("tags") == TAGS, r.urn
            checked.append(cls_name)
    assert sorted(checked) == sorted([
        "ResourceGroup", "VirtualNetwork", "NetworkSecurityGroup", "PublicIPAddress", "NatGateway",
        "UserAssignedIdentity", "Vault", "Key", "Workspace", "ManagedCluster", "AgentPool", "AgentPool",
    ])
    assert inputs(one(prod, MC))["agentPoolProfiles"][0]["tags"] == TAGS


# ------------------------------------------------------------------------------ kubeconfig


def test_kubeconfig_is_exec_based_and_secret(prod):
    kc = kubeconfig_of(prod)
    (user,) = kc["users"]
    assert set(user["user"]) == {"exec"}  # no token, no client certificate or key
    exec_ = user["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"] == ["get-token", "--login", "azurecli", "--server-id", AKS_SERVER_APP]
    assert exec_["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    (cluster,) = kc["clusters"]
    assert cluster["name"] == CLUSTER
    assert prod.capture.outputs_raw["clusters"][CLUSTER]["endpoint"] == cluster["cluster"]["server"]
    # The CA is the one listClusterUserCredential returns for this resource group and cluster.
    pem = base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    assert pem.startswith("-----BEGIN CERTIFICATE-----") and f"{CLUSTER}-rg/{CLUSTER}" in base64.b64decode(
        pem.splitlines()[1]
    ).decode()
    # Secret wherever the plan JSON shows it.
    report = {r["name"]: r for r in prod.resources()}
    assert report[f"{CLUSTER}-k8s"]["inputs"]["kubeconfig"] == "[secret]"
    assert prod.capture.outputs["kubeconfigs"] == "[secret]"
    # The kubeconfig itself shows nowhere in clear: its user and CA data stay inside the secret (the
    # deployer-admin-ready gate's command names kubelogin, so that word alone proves nothing).
    shown = json.dumps(prod.resources()) + json.dumps(prod.capture.outputs)
    assert f"{CLUSTER}-entra" not in shown
    assert cluster["cluster"]["certificate-authority-data"] not in shown


def test_details_are_published(prod):
    details = prod.capture.outputs_raw["clusters"][CLUSTER]
    assert details["target"] == "azure"
    assert details["name"] == CLUSTER
    assert details["region"] == REGION
    assert details["resourceGroup"] == inputs(one(prod, "azure-native:resources:ResourceGroup"))["resourceGroupName"]
    assert sorted(details["nodePools"]) == ["general", "spot", "system"]
    assert details["oidcIssuer"].startswith("https://") and details["oidcIssuer"].endswith("/")
    assert isinstance(prod.capture.outputs["clusters"][CLUSTER]["endpoint"], str)  # not secret


# ------------------------------------------------------------------------------ provider invariance


def test_node_pool_and_tag_changes_leave_the_provider_and_workloads_alone(prod, changed_pools_and_tags):
    before, after = prod, changed_pools_and_tags
    assert after.exit_code == 0
    # The change is real on the cloud side...
    pools_before = {r.urn: inputs(r) for r in regs(before, POOL)}
    pools_after = {r.urn: inputs(r) for r in regs(after, POOL)}
    assert pools_before.keys() == pools_after.keys()
    assert all(pools_before[u] != pools_after[u] for u in pools_before)
    assert inputs(one(before, MC))["tags"] != inputs(one(after, MC))["tags"]
    # ... and invisible to the Kubernetes side: the provider and every object are unchanged.
    k8s = ("kubernetes:", "pulumi:providers:kubernetes")
    k8s_before = {r.urn: inputs(r) for r in before.capture.registrations if r.type.startswith(k8s)}
    k8s_after = {r.urn: inputs(r) for r in after.capture.registrations if r.type.startswith(k8s)}
    assert len(k8s_before) > 10
    assert k8s_before == k8s_after
    assert inputs(one(before, "pulumi:providers:kubernetes"))["clusterIdentifier"] == CLUSTER


# ------------------------------------------------------------------------------ edges


def test_more_than_three_zones_is_refused():
    cfg = prod_config()
    cfg["fleetform:clusters"][0]["network"] = {"cidr": "10.40.0.0/16", "zones": 4}
    # Caught by config validation, before any resource is registered.
    with pytest.raises(FleetConfigError) as info:
        plan("prod-azure", config=cfg)
    assert info.value.problems == [
        "fleetform:clusters[0].network.zones: got 4; allowed: at most 3 (Azure regions have 3 availability zones)"
    ]


@pytest.mark.parametrize("names", [["system"], ["gpu-pool", "gpupool"], ["averyveryverylongpool"]])
def test_pool_names_aks_cannot_hold_are_refused(names):
    # AKS Linux pool names: lower-case letters and digits, starting with a letter, 1-12 characters,
    # and "system" is fleetform's own system pool.
    cfg = prod_config()
    cfg["fleetform:clusters"][0]["nodePools"] = [{"name": n, "size": "Standard_D4s_v5", "min": 1, "max": 2} for n in names]
    with pytest.raises(FleetConfigError) as info:
        plan("prod-azure", config=cfg)
    (line,) = info.value.problems
    assert line.startswith(f"fleetform:clusters[0].nodePools[{len(names) - 1}].name: got ")
    assert "allowed: on AKS, a name that is 1-12 lower-case letters and digits" in line


def test_the_azure_cluster_of_the_hybrid_stack_plans():
    result = plan("hybrid", config=only(stack_config("hybrid"), "hy-azure"))
    assert result.exit_code == 0 and result.errors == [] and result.schema_errors == []
    c = inputs(one(result, MC))
    assert c["resourceName"] == "hy-azure" and c["kubernetesVersion"] == "1.36"
    assert inputs(one(result, SUBNET))["addressPrefix"] == "10.70.0.0/19"
    (pool,) = [inputs(r) for r in regs(result, POOL)]
    assert (pool["agentPoolName"], pool["minCount"], pool["maxCount"]) == ("general", 2, 6)
    assert {m.cluster for m in result.manifests} == {"hy-azure"}
    services = {m.name for m in result.manifests if m.kind == "Deployment"}
    assert services == {"web", "api"}
