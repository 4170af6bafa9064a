"""Self-managed k3s on Azure (target azure, mode self-managed), planned offline: masters behind the
API load balancer, worker scale sets sized by the Cluster Autoscaler, fleetform's own service load
balancers, the NSG, the bootstrap each VM receives, the kubeconfig, and a provider that node pools
and tags leave alone. The cloud's controllers, their identity and the scale sets' upgrade policy
are in tests/test_selfmanaged_azure_lifecycle.py.

Expected values come from the stack file (stacks/Pulumi.selfmanaged-azure.yaml), from the
Kubernetes Services the plan renders (the NodePorts), from Azure's and k3s's documentation (links
in components/fleetform/cluster/selfmanaged_azure.py) and from the subnet arithmetic written out here, not
read back from the code under test.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import shlex
import subprocess
import sys

import pytest
import yaml

from fleetform.bootstrap import K3S_RELEASES, NodeBootstrap, render_cloud_init
from fleetform.bootstrap.script import CUSTOM_CA_FILES
from fleetform.config import FleetConfigError
from fleetform.plan.canned.tls import placeholder_certificate, placeholder_private_key
from fleetform.plan.engine import plan
from fleetform.plan.mocks import SECRET, RecordingMonitor, FleetMocks, plain
from fleetform.plan.runner import run_under_mocks
from tests.conftest import ROOT, one, regs, stack_config
from tests.bootstrap_parsing import files_of, installer_args

STACK = "selfmanaged-azure"
CLUSTER = "sm-azure"
REGION = "westeurope"
TAGS = {"env": "prod", "fleetform-cluster": CLUSTER}
# 10.45.0.0/16 carved for 3 zones: the private /19s come first, the node subnet is the first one.
NODES = ipaddress.IPv4Network("10.45.0.0/19")
# Azure reserves a subnet's last address (and the first four); the fixed addresses are taken from
# the top: the API frontend is 10.45.31.254, the masters the three below it.
API_IP = "10.45.31.254"
MASTER_IPS = ["10.45.31.253", "10.45.31.252", "10.45.31.251"]
API_URL = f"https://{API_IP}:6443"
VERSION = K3S_RELEASES["1.35"]
OPEN = {"Internet", "*", "0.0.0.0/0", "Any", "any"}

VM = "azure-native:compute:VirtualMachine"
VMSS = "azure-native:compute:VirtualMachineScaleSet"
NIC = "azure-native:network:NetworkInterface"
LB = "azure-native:network:LoadBalancer"
PIP = "azure-native:network:PublicIPAddress"
NSG = "azure-native:network:NetworkSecurityGroup"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"
UAI = "azure-native:managedidentity:UserAssignedIdentity"


# ----------------------------------------------------------------------------------- helpers


def by_name(result):
    return {r.name: r for r in result.capture.registrations}


def raw(reg):
    return plain(reg.inputs, mask=False)


def raw_outputs_principal(reg):
    """The principalId the plan's canned answers give an identity (plan/canned/azure_native.py)."""
    from fleetform.plan.canned.azure_native import _guid

    return _guid("principal", raw(reg)["resourceGroupName"], raw(reg)["resourceName"])


def mock_id(reg):
    """The id the plan's mock engine gives a resource (components/fleetform/plan/mocks.py: ``<name>-id``)."""
    return f"{reg.name}-id"


def node_ports(result):
    """NodePort of each exposed Service, read from the rendered Kubernetes manifests."""
    out = {}
    for m in result.manifests:
        if m.kind == "Service" and m.object["spec"].get("type") == "NodePort":
            (port,) = m.object["spec"]["ports"]
            out[m.name] = port["nodePort"]
    return out


def cloud_init_script(custom_data: str) -> str:
    """The bootstrap script inside a VM's customData (base64 cloud-config -> write_files)."""
    doc = yaml.safe_load(base64.b64decode(custom_data))
    assert doc["runcmd"] == [["/bin/sh", doc["write_files"][0]["path"]]]
    assert doc["write_files"][0]["permissions"] == "0700" and doc["write_files"][0]["owner"] == "root:root"
    return base64.b64decode(doc["write_files"][0]["content"]).decode()


def master_script(result, i):
    return cloud_init_script(raw(by_name(result)[f"{CLUSTER}-master-{i}"])["osProfile"]["customData"])


def pool_script(result, pool):
    profile = raw(by_name(result)[f"{CLUSTER}-pool-{pool}"])["virtualMachineProfile"]
    return cloud_init_script(profile["osProfile"]["customData"])


def kubeconfig_of(result):
    return yaml.safe_load(raw(one(result, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s"))["kubeconfig"])


def port_covered(port, rule):
    specs = [rule.get("destinationPortRange"), *(rule.get("destinationPortRanges") or [])]
    for spec in (s for s in specs if s):
        if spec == "*":
            return True
        lo, _, hi = spec.partition("-")
        if int(lo) <= port <= int(hi or lo):
            return True
    return False


# ----------------------------------------------------------------------------------- plans


def fresh_plan(stack, **kwargs):
    # (fleetform.plan.runner cancels whatever an earlier failed plan in this process left behind.)
    return plan(stack, **kwargs)


@pytest.fixture(scope="module")
def sm():
    return fresh_plan(STACK)


class _IgnoreChanges(RecordingMonitor):
    """Also records each registration's ignoreChanges (the plan's Registration does not keep it)."""

    def __init__(self):
        super().__init__(FleetMocks())
        self.ignore_changes = {}

    def RegisterResource(self, request):  # noqa: N802
        self.ignore_changes[request.name] = list(request.ignoreChanges)
        return super().RegisterResource(request)


@pytest.fixture(scope="module")
def changed():
    """The stack with every node pool resized/relabelled and other tags: the same cluster."""
    from fleetform.fleet import program

    cfg = copy.deepcopy(stack_config(STACK))
    c = cfg["fleetform:clusters"][0]
    c["nodePools"][0].update(size="Standard_D8s_v5", min=4, max=12, labels={"tier": "general"})
    c["nodePools"][1].update(size="Standard_D16s_v5", min=1, max=3, labels={"capacity": "spot", "extra": "yes"})
    c["tags"] = {"env": "prod", "team": "platform", "cost-center": "42"}
    monitor = _IgnoreChanges()
    capture = run_under_mocks(STACK, cfg, lambda: program(skip_unimplemented=True), monitor=monitor)
    return capture, monitor.ignore_changes


@pytest.fixture(scope="module")
def public_api():
    """One master, a public API for one CIDR, and a second public service."""
    cfg = copy.deepcopy(stack_config(STACK))
    cfg["fleetform:clusters"][0]["controlPlane"] = {
        "count": 1, "publicAccess": True, "apiAllowedCidrs": ["198.51.100.0/24"],
    }
    shop = copy.deepcopy(cfg["fleetform:services"][0])
    shop.update(name="shop", servicePort=443, health={"path": "/shop/healthz"}, egress=[])
    cfg["fleetform:services"].append(shop)
    return fresh_plan(STACK, config=cfg)


# ------------------------------------------------------------------------------ the plan


def test_plans_cleanly(sm):
    assert sm.errors == [] and sm.schema_errors == [] and sm.mandatory_violations == []
    assert sm.exit_code == 0
    assert [r.type for r in sm.capture.registrations if r.type.startswith("fleetform:cluster:")] == [
        "fleetform:cluster:SelfManagedAzureCluster"
    ]
    assert {m.cluster for m in sm.manifests} == {CLUSTER}
    workloads = {m.name for m in sm.manifests if m.kind == "Deployment" and m.object["metadata"]["namespace"] != "kube-system"}
    assert workloads == {"web", "api"}


def test_fleetform_plan_of_the_stack_file_exits_0(capsys):
    from fleetform.cli import main

    assert main(["plan", STACK]) == 0
    assert "SelfManagedAzureCluster" in capsys.readouterr().out


def test_expected_resources(sm):
    count = lambda t: len(regs(sm, t))  # noqa: E731
    assert count(VM) == 3 and count(NIC) == 3
    # No Azure autoscale setting: the Cluster Autoscaler owns the scale sets' size (two autoscalers
    # would fight over the capacity).
    assert count(VMSS) == 2 and count(AUTOSCALE) == 0
    assert count(UAI) == 2  # the workers' (no role) and the masters' (the controllers')
    assert sorted(raw(r)["loadBalancerName"] for r in regs(sm, LB)) == [
        f"{CLUSTER}-api", f"{CLUSTER}-services-internal", f"{CLUSTER}-services-public",
    ]
    assert count("fleetform:network:AzureNetwork") == 1
    # No managed Kubernetes; one custom role and its one assignment (the masters' identity).
    assert count("azure-native:containerservice:ManagedCluster") == 0
    assert sorted(r.type for r in sm.capture.registrations if r.type.startswith("azure-native:authorization:")) == [
        "azure-native:authorization:RoleAssignment", "azure-native:authorization:RoleDefinition",
    ]


def test_children_hang_off_the_cluster_component(sm):
    cluster = one(sm, "fleetform:cluster:SelfManagedAzureCluster")
    network = one(sm, "fleetform:network:AzureNetwork")
    identity = one(sm, "fleetform:bootstrap:ClusterIdentity")
    assert network.parent == cluster.urn and network.name == f"{CLUSTER}-network"
    assert identity.parent == cluster.urn
    for r in sm.capture.registrations:
        if r.type.startswith(("azure-native:", "tls:", "random:", "command:")):
            assert r.parent in (cluster.urn, network.urn, identity.urn), r.urn
            assert r.name.startswith(f"{CLUSTER}-"), r.name


# ------------------------------------------------------------------------------ masters and API


def test_three_masters_across_zones_with_fixed_addresses(sm):
    names = by_name(sm)
    for i, (zone, ip) in enumerate(zip(["1", "2", "3"], MASTER_IPS), start=1):
        vm = raw(names[f"{CLUSTER}-master-{i}"])
        assert vm["zones"] == [zone]
        assert vm["hardwareProfile"]["vmSize"] == "Standard_D2s_v5"  # controlPlane.size
        assert vm["location"] == REGION and vm["tags"] == TAGS
        nic = names[f"{CLUSTER}-master-{i}-nic"]
        assert vm["networkProfile"]["networkInterfaces"] == [
            {"id": mock_id(nic), "primary": True, "deleteOption": "Detach"}
        ]
        (ipc,) = raw(nic)["ipConfigurations"]
        assert (ipc["privateIPAllocationMethod"], ipc["privateIPAddress"]) == ("Static", ip)
        assert ipaddress.ip_address(ip) in NODES
        assert ipc["subnet"]["id"] == mock_id(one(sm, "azure-native:network:Subnet"))
    # One master at a time joins etcd.
    assert names[f"{CLUSTER}-master-1"].urn in names[f"{CLUSTER}-master-2"].dependencies
    assert names[f"{CLUSTER}-master-2"].urn in names[f"{CLUSTER}-master-3"].dependencies


def test_masters_sit_behind_the_internal_api_load_balancer(sm):
    api = one(sm, LB, f"{CLUSTER}-api-lb")
    lb = raw(api)
    (fe,) = lb["frontendIPConfigurations"]
    assert (fe["privateIPAllocationMethod"], fe["privateIPAddress"]) == ("Static", API_IP)
    assert fe["subnet"]["id"] == mock_id(one(sm, "azure-native:network:Subnet"))
    assert "publicIPAddress" not in fe
    assert lb["sku"] == {"name": "Standard", "tier": "Regional"}
    (rule,) = lb["loadBalancingRules"]
    assert (rule["protocol"], rule["frontendPort"], rule["backendPort"]) == ("Tcp", 6443, 6443)
    (probe,) = lb["probes"]
    assert (probe["protocol"], probe["port"]) == ("Tcp", 6443)
    assert rule["probe"]["id"].endswith(f"/loadBalancers/{CLUSTER}-api/probes/{probe['name']}")
    assert rule["backendAddressPool"]["id"].endswith(f"/loadBalancers/{CLUSTER}-api/backendAddressPools/masters")
    assert [p["name"] for p in lb["backendAddressPools"]] == ["masters"]
    # Every master NIC is in that pool, and in no other.
    for i in (1, 2, 3):
        (ipc,) = raw(by_name(sm)[f"{CLUSTER}-master-{i}-nic"])["ipConfigurations"]
        pools = [p["id"] for p in ipc["loadBalancerBackendAddressPools"]]
        assert pools == [f"{mock_id(api)}/backendAddressPools/masters"]


def test_each_master_boots_its_k3s_role_with_the_api_address(sm):
    init = installer_args(master_script(sm, 1))
    assert init[0] == "server" and "--cluster-init" in init
    assert f"--tls-san={API_IP}" in init and f"--node-ip={MASTER_IPS[0]}" in init
    assert not any(a.startswith("--server=") for a in init)
    for i in (2, 3):
        join = installer_args(master_script(sm, i))
        # Joining masters register with the first master, not the API load balancer that holds
        # their own NIC (see tests/test_selfmanaged_azure_lifecycle.py).
        assert join[0] == "server" and f"--server=https://{MASTER_IPS[0]}:6443" in join and "--cluster-init" not in join
        assert f"--tls-san={API_IP}" in join and f"--node-ip={MASTER_IPS[i - 1]}" in join
    for args in (init, join):
        assert "--node-taint=CriticalAddonsOnly=true:NoExecute" in args  # control plane only
        assert {"--disable=traefik", "--disable=servicelb"} <= set(args)  # Services are NodePorts
    assert f"K3S_VERSION={VERSION}" in master_script(sm, 1)


def test_only_the_first_master_receives_the_minted_cas(sm):
    tls_dir = "/var/lib/rancher/k3s/server/tls"
    first = files_of(master_script(sm, 1))
    assert {f"{tls_dir}/{p}" for p in CUSTOM_CA_FILES} <= set(first)
    assert first[f"{tls_dir}/server-ca.crt"] == placeholder_certificate(f"{CLUSTER}-identity-server-ca")
    assert first[f"{tls_dir}/client-ca.key"] == placeholder_private_key(f"{CLUSTER}-identity-client-ca-key")
    for i in (2, 3):
        assert not any(p.startswith(tls_dir) for p in files_of(master_script(sm, i)))
    assert not any(p.startswith(tls_dir) for p in files_of(pool_script(sm, "general")))


def test_custom_data_is_secret_and_fits_azures_limit(sm):
    for r in regs(sm, VM):
        assert plain(r.inputs, mask=True)["osProfile"] == SECRET
    for r in regs(sm, VMSS):
        assert plain(r.inputs, mask=True)["virtualMachineProfile"] == SECRET
    # customData: at most 64 KB once decoded (https://learn.microsoft.com/azure/virtual-machines/custom-data).
    # The plan's keys are short placeholders; render the first master with 2 KiB per CA file, more
    # than any real one: the largest, the RSA-2048 service-account key, is a ~1.7 KB PEM; the
    # ECDSA P-256 CA certificates and keys are under 1 KB.
    big = tuple((p, "x" * 2048) for p in CUSTOM_CA_FILES)
    first = NodeBootstrap(
        role="init", version=VERSION, tls_sans=(API_IP,), token="t" * 120, agent_token="a" * 48, tls_files=big
    )
    assert len(render_cloud_init(first).encode()) < 65535


# ------------------------------------------------------------------------------ workers


def test_one_scale_set_per_pool_with_bounds_for_the_cluster_autoscaler(sm):
    # From the stack file: general Standard_D4s_v5 3..9, spot Standard_D8s_v5 0..6. The Cluster
    # Autoscaler reads the bounds from the scale set's "min"/"max" tags (cloudprovider/azure
    # azure_manager.go, getFilteredScaleSets); the tag details are in the lifecycle tests.
    expected = {"general": ("Standard_D4s_v5", 3, 9), "spot": ("Standard_D8s_v5", 0, 6)}
    names = by_name(sm)
    for pool, (size, lo, hi) in expected.items():
        vmss = raw(names[f"{CLUSTER}-pool-{pool}"])
        assert vmss["sku"] == {"name": size, "tier": "Standard", "capacity": lo}
        assert vmss["zones"] == ["1", "2", "3"]
        assert vmss["overprovision"] is False  # extra VMs would join the cluster as ghost nodes
        assert vmss["orchestrationMode"] == "Uniform" and vmss["upgradePolicy"]["mode"] == "Rolling"
        assert (vmss["tags"]["min"], vmss["tags"]["max"]) == (str(lo), str(hi))
        assert {k: v for k, v in vmss["tags"].items() if k in TAGS} == TAGS


def test_spot_only_where_asked(sm):
    names = by_name(sm)
    spot = raw(names[f"{CLUSTER}-pool-spot"])["virtualMachineProfile"]
    assert (spot["priority"], spot["evictionPolicy"], spot["billingProfile"]) == ("Spot", "Delete", {"maxPrice": -1})
    general = raw(names[f"{CLUSTER}-pool-general"])["virtualMachineProfile"]
    assert general["priority"] == "Regular" and "evictionPolicy" not in general


def test_workers_boot_as_agents_with_their_labels_and_taints(sm):
    spot = installer_args(pool_script(sm, "spot"))
    assert spot[0] == "agent" and f"--server={API_URL}" in spot
    assert "--node-label=capacity=spot" in spot and "--node-taint=capacity=spot:PreferNoSchedule" in spot
    general = installer_args(pool_script(sm, "general"))
    assert general[0] == "agent" and f"--server={API_URL}" in general
    assert not any(a.startswith(("--node-label", "--node-taint", "--tls-san", "--cluster-init")) for a in general)
    # Agents get the agent token, never the server token or the agent password.
    token = files_of(pool_script(sm, "general"))["/etc/rancher/k3s/fleetform/token"]
    assert "::node:" in token and "/etc/rancher/k3s/fleetform/agent-token" not in files_of(pool_script(sm, "general"))


# ------------------------------------------------------------------------------ node security


def test_no_public_ip_on_any_vm(sm):
    for r in regs(sm, NIC):
        for ipc in raw(r)["ipConfigurations"]:
            assert "publicIPAddress" not in ipc
    for r in regs(sm, VMSS):
        for nic in raw(r)["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]:
            for ipc in nic["ipConfigurations"]:
                assert "publicIPAddressConfiguration" not in ipc
    # The only public addresses: the NAT gateway's (egress) and the public service's frontend.
    assert sorted(r.name for r in regs(sm, PIP)) == [f"{CLUSTER}-network-nat-ip", f"{CLUSTER}-svc-web-ip"]


def test_encrypted_hosts_trusted_launch_and_no_passwords(sm):
    key = one(sm, "tls:index/privateKey:PrivateKey", f"{CLUSTER}-ssh-key")
    assert raw(key)["algorithm"] == "ED25519"
    profiles = [raw(r) for r in regs(sm, VM)] + [raw(r)["virtualMachineProfile"] for r in regs(sm, VMSS)]
    assert len(profiles) == 5
    for p in profiles:
        assert p["securityProfile"] == {
            "encryptionAtHost": True, "securityType": "TrustedLaunch",
            "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
        }
        assert p["storageProfile"]["osDisk"]["createOption"] == "FromImage"
        assert "managedDisk" in p["storageProfile"]["osDisk"]  # managed disks: encrypted at rest
        linux = p["osProfile"]["linuxConfiguration"]
        assert linux["disablePasswordAuthentication"] is True
        assert "adminPassword" not in p["osProfile"]
        # The public half of the stack's own key (the plan's placeholder for it).
        assert [k["keyData"] for k in linux["ssh"]["publicKeys"]] == [f"ssh-placeholder {CLUSTER}-ssh-key"]
    # Masters' etcd disks are Premium SSD.
    disks = {raw(r)["storageProfile"]["osDisk"]["managedDisk"]["storageAccountType"] for r in regs(sm, VM)}
    assert disks == {"Premium_LRS"}


def test_the_ssh_private_key_goes_nowhere(sm):
    # Unmasked: not even as a secret does the private half reach any resource or output.
    everything = json.dumps([raw(r) for r in sm.capture.registrations])
    everything += json.dumps(sm.capture.outputs_raw, default=str)
    for name in (f"{CLUSTER}-ssh-key", f"{CLUSTER}-ssh-key-pkcs8", f"{CLUSTER}-ssh-key-openssh"):
        pem = placeholder_private_key(name)
        body = "".join(pem.splitlines()[1:-1])
        assert body not in everything.replace("\\n", "") and base64.b64encode(pem.encode()).decode() not in everything


def test_workers_run_as_an_identity_without_permissions(sm):
    workers = one(sm, UAI, f"{CLUSTER}-node-identity")
    masters = one(sm, UAI, f"{CLUSTER}-control-plane-identity")
    for r in regs(sm, VMSS):
        assert raw(r)["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [mock_id(workers)]}
    for r in regs(sm, VM):
        assert raw(r)["identity"] == {"type": "UserAssigned", "userAssignedIdentities": [mock_id(masters)]}
    # The only role assignment is the masters' identity's (principalId: the mock's canned GUID).
    (assignment,) = regs(sm, "azure-native:authorization:RoleAssignment")
    assert raw(assignment)["principalId"] == raw_outputs_principal(masters)
    assert raw(assignment)["principalId"] != raw_outputs_principal(workers)


# ------------------------------------------------------------------------------ NSG


def nsg_rules(result):
    return raw(one(result, NSG))["securityRules"]


def test_only_public_service_node_ports_are_open_to_the_internet(sm):
    ports = node_ports(sm)
    assert set(ports) == {"web", "api"}
    public_lb = raw(one(sm, LB, f"{CLUSTER}-public-lb"))
    public_backends = {r["backendPort"] for r in public_lb["loadBalancingRules"]}
    open_allows = [r for r in nsg_rules(sm) if r["direction"] == "Inbound" and r["access"] == "Allow"
                   and ({r.get("sourceAddressPrefix")} | set(r.get("sourceAddressPrefixes") or [])) & OPEN]
    assert open_allows, "the public service must be reachable"
    opened = set()
    for r in open_allows:
        assert r["protocol"] == "Tcp"
        assert r["destinationAddressPrefix"] == str(NODES)
        assert "destinationPortRange" not in r
        opened |= {int(p) for p in r["destinationPortRanges"]}
    # Exactly the public service's NodePort, which is what the public listener (servicePort 80)
    # forwards to: Azure's load balancer keeps the client's address and DNATs to the backend port.
    assert opened == {ports["web"]} == public_backends


def test_no_rule_opens_ssh_or_rdp_and_everything_else_is_denied(sm):
    rules = nsg_rules(sm)
    assert len({r["priority"] for r in rules}) == len(rules)
    for r in rules:
        if r["access"] == "Allow":
            assert not port_covered(22, r) and not port_covered(3389, r), r["name"]
    last = max(rules, key=lambda r: r["priority"])
    shape = (last["access"], last["sourceAddressPrefix"], last["destinationPortRange"], last["protocol"])
    assert shape == ("Deny", "*", "*", "*")
    assert all(r["direction"] == "Inbound" for r in rules)


def test_k3s_ports_only_from_inside_the_vnet(sm):
    rules = nsg_rules(sm)
    vnet_sources = {"VirtualNetwork", str(NODES), *MASTER_IPS}
    for port, proto in ((6443, "Tcp"), (2379, "Tcp"), (2380, "Tcp"), (10250, "Tcp"), (8472, "Udp")):
        allows = [r for r in rules if r["access"] == "Allow" and r["protocol"] == proto and port_covered(port, r)]
        assert allows, port
        for r in allows:
            sources = {r.get("sourceAddressPrefix")} | set(r.get("sourceAddressPrefixes") or [])
            sources.discard(None)
            # Load balancer health probes (168.63.129.16) may reach the API port.
            assert sources <= vnet_sources | ({"AzureLoadBalancer"} if port == 6443 else set()), (port, r["name"])
    etcd = [r for r in rules if r["access"] == "Allow" and port_covered(2379, r)]
    assert [sorted(r["sourceAddressPrefixes"]) for r in etcd] == [sorted(MASTER_IPS)]


def test_probes_and_internal_services_are_allowed(sm):
    ports = node_ports(sm)
    rules = {r["name"]: r for r in nsg_rules(sm)}
    probes = [r for r in rules.values()
              if r.get("sourceAddressPrefix") == "AzureLoadBalancer" and r["access"] == "Allow"]
    for port in (6443, ports["web"], ports["api"]):
        assert any(port_covered(port, r) for r in probes), port
    internal = [r for r in rules.values()
                if r.get("sourceAddressPrefix") == "VirtualNetwork" and port_covered(ports["api"], r)]
    assert internal and all(r["access"] == "Allow" and r["destinationAddressPrefix"] == str(NODES) for r in internal)


# ------------------------------------------------------------------------------ service load balancers


def test_public_service_load_balancer(sm):
    ports = node_ports(sm)
    pip = one(sm, PIP, f"{CLUSTER}-svc-web-ip")
    assert raw(pip)["sku"] == {"name": "Standard", "tier": "Regional"}
    assert raw(pip)["publicIPAllocationMethod"] == "Static"
    lb = raw(one(sm, LB, f"{CLUSTER}-public-lb"))
    (fe,) = lb["frontendIPConfigurations"]
    assert fe["publicIPAddress"] == {"id": mock_id(pip)} and "subnet" not in fe
    (rule,) = lb["loadBalancingRules"]
    (probe,) = lb["probes"]
    # web: servicePort default 80 -> its NodePort; HTTP probe on its health path, on the NodePort.
    assert (rule["protocol"], rule["frontendPort"], rule["backendPort"]) == ("Tcp", 80, ports["web"])
    assert (probe["protocol"], probe["port"], probe["requestPath"]) == ("Http", ports["web"], "/healthz")
    lb_path = f"/loadBalancers/{CLUSTER}-services-public"
    assert rule["frontendIPConfiguration"]["id"].endswith(f"{lb_path}/frontendIPConfigurations/{fe['name']}")
    assert rule["probe"]["id"].endswith(f"{lb_path}/probes/{probe['name']}")
    assert rule["enableFloatingIP"] is False
    assert rule["disableOutboundSnat"] is True  # egress stays on the NAT gateway


def test_internal_service_load_balancer(sm):
    ports = node_ports(sm)
    lb = raw(one(sm, LB, f"{CLUSTER}-internal-lb"))
    (fe,) = lb["frontendIPConfigurations"]
    assert fe["subnet"]["id"] == mock_id(one(sm, "azure-native:network:Subnet")) and "publicIPAddress" not in fe
    (rule,) = lb["loadBalancingRules"]
    (probe,) = lb["probes"]
    assert (rule["frontendPort"], rule["backendPort"]) == (80, ports["api"])
    assert (probe["protocol"], probe["port"], probe["requestPath"]) == ("Http", ports["api"], "/ready")


def test_workers_and_only_workers_are_in_the_service_pools(sm):
    public, internal = one(sm, LB, f"{CLUSTER}-public-lb"), one(sm, LB, f"{CLUSTER}-internal-lb")
    expected = [f"{mock_id(public)}/backendAddressPools/workers", f"{mock_id(internal)}/backendAddressPools/workers"]
    for r in regs(sm, VMSS):
        (nic,) = raw(r)["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        (ipc,) = nic["ipConfigurations"]
        assert sorted(p["id"] for p in ipc["loadBalancerBackendAddressPools"]) == sorted(expected)
    for r in regs(sm, NIC):
        pools = [p["id"] for ipc in raw(r)["ipConfigurations"] for p in ipc["loadBalancerBackendAddressPools"]]
        assert not set(pools) & set(expected)


def test_kubernetes_services_are_node_ports_fronted_by_fleetform(sm):
    for m in sm.manifests:
        if m.kind == "Service":
            assert m.object["spec"]["type"] == "NodePort"
            assert m.object["metadata"]["annotations"]["fleetform.io/fronted-by"] in ("public", "internal")


# ------------------------------------------------------------------------------ kubeconfig and provider


def test_kubeconfig_points_at_the_api_load_balancer_and_is_secret(sm):
    kc = kubeconfig_of(sm)
    (cluster,) = kc["clusters"]
    assert cluster["cluster"]["server"] == API_URL
    ca = base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    assert ca == placeholder_certificate(f"{CLUSTER}-identity-server-ca")
    (user,) = kc["users"]
    cert = base64.b64decode(user["user"]["client-certificate-data"]).decode()
    assert cert == placeholder_certificate(f"{CLUSTER}-identity-admin-cert")
    assert sm.capture.outputs_raw["clusters"][CLUSTER]["endpoint"] == API_URL
    report = {r["name"]: r for r in sm.resources()}
    assert report[f"{CLUSTER}-k8s"]["inputs"]["kubeconfig"] == SECRET
    assert sm.capture.outputs["kubeconfigs"] == SECRET
    admin_key = placeholder_private_key(f"{CLUSTER}-identity-admin-key").splitlines()[1]
    assert admin_key not in json.dumps(sm.resources()) + json.dumps(sm.capture.outputs)


def test_provider_waits_for_the_gate_which_waits_for_the_masters(sm):
    names = by_name(sm)
    gate, provider = names[f"{CLUSTER}-api-ready"], names[f"{CLUSTER}-k8s"]
    assert gate.urn in provider.dependencies
    for i in (1, 2, 3):
        assert names[f"{CLUSTER}-master-{i}"].urn in gate.dependencies
    assert f"{API_URL}/readyz" in raw(gate)["create"]
    assert raw(provider)["clusterIdentifier"] == CLUSTER
    assert names[f"{CLUSTER}-web-deployment"].provider.startswith(provider.urn)


def test_details_are_published(sm):
    details = sm.capture.outputs_raw["clusters"][CLUSTER]
    assert details["target"] == "azure" and details["name"] == CLUSTER
    assert details["apiAddress"] == API_IP
    assert details["masters"] == 3
    assert details["nodePools"] == ["general", "spot"]
    # Service addresses: the public frontend's IP, and the internal frontend's private address
    # (canned: the plan cannot know which address Azure will pick in the subnet).
    assert set(details["services"]) == {"web", "api"}
    assert all(".svc.cluster.local" not in a for a in details["services"].values())


def test_node_pool_and_tag_changes_leave_the_provider_and_workloads_alone(sm, changed):
    after, ignore_changes = changed
    before_regs = {r.urn: r for r in sm.capture.registrations}
    after_regs = {r.urn: r for r in after.registrations}
    assert set(before_regs) == set(after_regs)  # no resource replaced by a new name
    # The change is real on the cloud side ...
    for pool in ("general", "spot"):
        urn = next(u for u, r in before_regs.items() if r.name == f"{CLUSTER}-pool-{pool}")
        assert raw(before_regs[urn]) != raw(after_regs[urn])
    # ... and invisible to the Kubernetes side.
    k8s = ("kubernetes:", "pulumi:providers:kubernetes")
    k8s_before = {u: raw(r) for u, r in before_regs.items() if r.type.startswith(k8s)}
    k8s_after = {u: raw(r) for u, r in after_regs.items() if r.type.startswith(k8s)}
    assert len(k8s_before) > 10 and k8s_before == k8s_after
    # The cluster's identity and the masters' bootstrap do not move either.
    for u, r in before_regs.items():
        if r.type.startswith(("tls:", "random:", "command:")):
            assert raw(r) == raw(after_regs[u]), r.name
    # The autoscaler owns the instance count; a master's bootstrap is never re-applied in place.
    assert ignore_changes[f"{CLUSTER}-pool-general"] == ["sku.capacity"]
    assert ignore_changes[f"{CLUSTER}-master-2"] == ["osProfile.customData"]


# ------------------------------------------------------------------------------ public API, one master


def test_public_api_plans_cleanly(public_api):
    assert public_api.exit_code == 0, (public_api.errors, public_api.mandatory_violations)
    assert len(regs(public_api, VM)) == 1


def test_public_api_endpoint_only_for_allowed_cidrs(public_api):
    names = by_name(public_api)
    pip = raw(names[f"{CLUSTER}-api-public-ip"])
    label = pip["dnsSettings"]["domainNameLabel"]
    fqdn = f"{label}.{REGION}.cloudapp.azure.com"  # Azure's name for a labelled public IP
    url = f"https://{fqdn}:6443"
    assert kubeconfig_of(public_api)["clusters"][0]["cluster"]["server"] == url
    assert public_api.capture.outputs_raw["clusters"][CLUSTER]["apiAddress"] == fqdn
    # The only master is in the pools of the internal and the public API load balancers.
    (ipc,) = raw(names[f"{CLUSTER}-master-1-nic"])["ipConfigurations"]
    assert sorted(p["id"] for p in ipc["loadBalancerBackendAddressPools"]) == sorted([
        f"{mock_id(names[f'{CLUSTER}-api-lb'])}/backendAddressPools/masters",
        f"{mock_id(names[f'{CLUSTER}-api-public-lb'])}/backendAddressPools/masters",
    ])
    (fe,) = raw(names[f"{CLUSTER}-api-public-lb"])["frontendIPConfigurations"]
    assert fe["publicIPAddress"] == {"id": mock_id(names[f"{CLUSTER}-api-public-ip"])}
    # 6443 is open to the allowed CIDR only, and to nothing on the internet.
    rules = nsg_rules(public_api)
    api_allows = [r for r in rules if r["access"] == "Allow" and port_covered(6443, r)]
    sources = set()
    for r in api_allows:
        sources |= {r.get("sourceAddressPrefix")} | set(r.get("sourceAddressPrefixes") or [])
    sources.discard(None)
    assert sources == {"AzureLoadBalancer", "VirtualNetwork", "198.51.100.0/24"}
    # The one master initialises etcd, serves the name clients use and the internal address nodes use.
    args = installer_args(master_script(public_api, 1))
    assert "--cluster-init" in args and f"--tls-san={fqdn}" in args and f"--tls-san={API_IP}" in args
    assert f"--server={API_URL}" in installer_args(pool_script(public_api, "general"))
    gate = raw(names[f"{CLUSTER}-api-ready"])
    assert f"{url}/readyz" in gate["create"]


def test_several_public_services_share_one_public_load_balancer(public_api):
    # A scale set can reference the pools of one public and one internal load balancer only,
    # so a second public service is a second frontend, rule and probe on the same one.
    ports = node_ports(public_api)
    public_lbs = [r for r in regs(public_api, LB) if r.name == f"{CLUSTER}-public-lb"]
    assert len(public_lbs) == 1
    lb = raw(public_lbs[0])
    rules = {r["name"]: r for r in lb["loadBalancingRules"]}
    assert {n: (r["frontendPort"], r["backendPort"]) for n, r in rules.items()} == {
        "web": (80, ports["web"]), "shop": (443, ports["shop"]),
    }
    probes = {p["port"]: p["requestPath"] for p in lb["probes"]}
    assert probes == {ports["web"]: "/healthz", ports["shop"]: "/shop/healthz"}
    assert {fe["publicIPAddress"]["id"] for fe in lb["frontendIPConfigurations"]} == {
        f"{CLUSTER}-svc-web-ip-id", f"{CLUSTER}-svc-shop-ip-id",
    }
    opened = set()
    for r in nsg_rules(public_api):
        if r["access"] == "Allow" and r.get("sourceAddressPrefix") in OPEN:
            opened |= {int(p) for p in r["destinationPortRanges"]}
    assert opened == {ports["web"], ports["shop"]}


# ------------------------------------------------------------------------------ edges


def test_more_than_three_zones_is_refused_by_config():
    cfg = copy.deepcopy(stack_config(STACK))
    cfg["fleetform:clusters"][0]["network"] = {"cidr": "10.45.0.0/16", "zones": 4}
    with pytest.raises(FleetConfigError, match=r"network\.zones: got 4; allowed: at most 3"):
        fresh_plan(STACK, config=cfg)


def test_security_rules_without_exposed_services_open_nothing_to_the_internet():
    from fleetform.cluster.selfmanaged_azure import Addressing, security_rules

    addressing = Addressing.of(NODES, 1)
    assert (addressing.api, addressing.masters) == (API_IP, (MASTER_IPS[0],))
    rules = security_rules(addressing, ())
    for r in rules:
        if r.access == "Allow":
            sources = r.source_address_prefixes
            assert isinstance(sources, (list, type(None)))
            assert r.source_address_prefix not in OPEN and not set(sources or []) & OPEN
