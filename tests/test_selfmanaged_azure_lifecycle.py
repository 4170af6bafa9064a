"""Self-managed Azure clusters that live (issue 14): the cloud's own controllers, their identity,
the Cluster Autoscaler, worker scale sets that follow model changes, and how nodes join.

Planned offline from stacks/Pulumi.selfmanaged-azure.yaml (and variants). Expected values come from
the sources cited next to each test (cloud-provider-azure, kubernetes/autoscaler, Azure and k3s
documentation), from the stack file, or from the plan's canned cloud answers
(components/fleetform/plan/canned/azure_native.py), never from the code under test.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import pathlib
import re
import shlex

import pulumi
import pytest
import yaml

from fleetform.config import FleetConfigError
from fleetform.plan.canned.azure_native import PLAN_SUBSCRIPTION_ID, PLAN_TENANT_ID, _guid
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.bootstrap_parsing import installer_args
from tests.conftest import one, planned, regs, stack_config
from tests.test_bootstrap import _lint
from tests.test_bootstrap_cloud import AZURE_INSTANCE, AZURE_VMSS_PROVIDER_ID, CloudSandbox, azure_node_manager_provider_id

STACK = "selfmanaged-azure"
CLUSTER = "sm-azure"
RG = f"{CLUSTER}-rg"
MASTER_IPS = ["10.45.31.253", "10.45.31.252", "10.45.31.251"]  # see tests/test_selfmanaged_azure.py
API_IP = "10.45.31.254"

VMSS = "azure-native:compute:VirtualMachineScaleSet"
LB = "azure-native:network:LoadBalancer"
ROLE = "azure-native:authorization:RoleDefinition"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
UAI = "azure-native:managedidentity:UserAssignedIdentity"
RELEASE = "kubernetes:helm.sh/v3:Release"

# cloud-provider-azure releases: the newest tag of each minor in kubernetes-sigs/cloud-provider-azure
# (git tags, repository snapshot of 2026-08-19; "Minor release versions match Kubernetes minor
# release versions", README "Version matrix"). Images for 1.32+ live under
# mcr.microsoft.com/oss/v2/kubernetes (helm/cloud-provider-azure/README.md and its template).
CLOUD_PROVIDER_AZURE = {"1.35": "v1.35.8", "1.36": "v1.36.5"}
CCM_IMAGE = "mcr.microsoft.com/oss/v2/kubernetes/azure-cloud-controller-manager"
CNM_IMAGE = "mcr.microsoft.com/oss/v2/kubernetes/azure-cloud-node-manager"
# The CCM's controllers (cmd/cloud-controller-manager/app/controllermanager.go newControllerInitializers,
# with the aliases of k8s.io/cloud-provider names.CCMControllerAliases); all enabled by default
# (ControllersDisabledByDefault is empty).
CCM_KNOWN = {"cloud-node": "cloud-node-controller", "cloud-node-lifecycle": "cloud-node-lifecycle-controller",
             "service": "service-lb-controller", "route": "node-route-controller", "node-ipam": "node-ipam"}


# ----------------------------------------------------------------------------------- helpers


def raw(reg):
    return plain(reg.inputs, mask=False)


def by_name(result):
    return {r.name: r for r in result.capture.registrations}


def manifest(result, kind, name):
    (found,) = [m for m in result.manifests if m.kind == kind and m.name == name]
    return found.object_raw


def pod_spec(result, kind, name):
    return manifest(result, kind, name)["spec"]["template"]["spec"]


def cloud_init_script(custom_data):
    doc = yaml.safe_load(base64.b64decode(custom_data))
    return base64.b64decode(doc["write_files"][0]["content"]).decode()


def master_script(result, i):
    return cloud_init_script(raw(by_name(result)[f"{CLUSTER}-master-{i}"])["osProfile"]["customData"])


def pool_script(result, pool):
    return cloud_init_script(raw(by_name(result)[f"{CLUSTER}-pool-{pool}"])["virtualMachineProfile"]["osProfile"]["customData"])


def identity_client_id(name):
    """The clientId the plan's canned answers give a user-assigned identity."""
    return _guid("client", RG, name)


def identity_principal_id(name):
    return _guid("principal", RG, name)


def tolerates(tolerations, taint):
    """Whether ``tolerations`` tolerate ``taint`` (core/v1 Toleration: an empty key with Exists
    matches every key; an empty effect matches every effect)."""
    for t in tolerations:
        op = t.get("operator", "Equal")
        key_ok = (not t.get("key") and op == "Exists") or t.get("key") == taint["key"]
        value_ok = op == "Exists" or t.get("value", "") == taint.get("value", "")
        effect_ok = not t.get("effect") or t["effect"] == taint["effect"]
        if key_ok and value_ok and effect_ok:
            return True
    return False


def enabled_controllers(flag_value):
    """--controllers semantics (k8s.io/controller-manager GenericControllerManagerConfiguration):
    "*" turns on the default-enabled ones, "-x" turns x off, "x" turns x on; aliases resolve."""
    items = flag_value.split(",")
    on = set(CCM_KNOWN.values()) if "*" in items else set()
    for item in items:
        if item == "*":
            continue
        name = CCM_KNOWN[item.lstrip("-")] if item.lstrip("-") in CCM_KNOWN else item.lstrip("-")
        (on.discard if item.startswith("-") else on.add)(name)
    return on


MASTER_TAINT = {"key": "CriticalAddonsOnly", "value": "true", "effect": "NoExecute"}
UNINITIALIZED = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "value": "true", "effect": "NoSchedule"}


def variant(mutate):
    cfg = copy.deepcopy(stack_config(STACK))
    mutate(cfg)
    return cfg


@pytest.fixture(scope="module")
def sm():
    return planned(STACK)


# ------------------------------------------------------------------------------ cloud-controller-manager


def test_controller_manager_runs_node_lifecycle_only_on_the_masters(sm):
    assert sm.exit_code == 0, (sm.errors, sm.schema_errors, sm.mandatory_violations)
    spec = pod_spec(sm, "Deployment", "cloud-controller-manager")
    (c,) = spec["containers"]
    assert c["image"] == f"{CCM_IMAGE}:{CLOUD_PROVIDER_AZURE['1.35']}"
    args = dict(a.split("=", 1) for a in c["args"])
    assert args["--cloud-provider"] == "azure"
    # cloud-node is the node manager's job ("cloud node controller should be disabled",
    # https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/); service and route are off:
    # fleetform owns the load balancers, flannel carries pod traffic.
    assert enabled_controllers(args["--controllers"]) == {"cloud-node-lifecycle-controller"}
    assert args["--configure-cloud-routes"] == "false" and args["--allocate-node-cidrs"] == "false"
    # The config file is the mounted ConfigMap.
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    config_volume = next(n for n, v in volumes.items() if "configMap" in v and v["configMap"]["name"] == "azure-cloud-config")
    assert args["--cloud-config"] == f"{mounts[config_volume]}/azure.json"
    # On the masters (k3s labels servers node-role.kubernetes.io/control-plane=true, k3s-io/k3s
    # pkg/server/server.go), where the masters' identity is; through their NoExecute taint.
    assert spec["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}
    assert tolerates(spec["tolerations"], MASTER_TAINT)
    assert not spec.get("hostNetwork")
    assert manifest(sm, "Deployment", "cloud-controller-manager")["spec"]["replicas"] >= 2  # leader election
    assert "--leader-elect=true" in c["args"]


def _allowed(rules, group, resource, verb):
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def test_controller_manager_may_read_what_its_informers_list_and_nothing_more(sm):
    # SetInformers runs whatever controllers are on (cmd/cloud-controller-manager/app/
    # controllermanager.go startControllers) and starts a Services lister and an EndpointSlices
    # informer (pkg/provider/azure.go SetInformers; azure_local_services.go
    # setUpEndpointSlicesInformer, discovery.k8s.io/v1): a reflector lists, then watches.
    rules = manifest(sm, "ClusterRole", "fleetform:cloud-controller-manager")["rules"]
    for group, resource in (("", "services"), ("discovery.k8s.io", "endpointslices")):
        assert _allowed(rules, group, resource, "list") and _allowed(rules, group, resource, "watch")
        # Read only: the service controller, which would write them, does not run.
        for verb in ("create", "update", "patch", "delete"):
            assert not _allowed(rules, group, resource, verb), (resource, verb)
    assert not _allowed(rules, "", "services/status", "patch")


def test_cloud_config_names_this_cluster_and_carries_no_secret(sm):
    names = by_name(sm)
    (cm,) = [m for m in sm.manifests if m.kind == "ConfigMap" and m.name == "azure-cloud-config"]
    config = json.loads(cm.object_raw["data"]["azure.json"])
    # Keys: https://cloud-provider-azure.sigs.k8s.io/install/configs/ (pkg/provider/config/azure.go).
    assert config["tenantId"] == PLAN_TENANT_ID and config["subscriptionId"] == PLAN_SUBSCRIPTION_ID
    assert config["resourceGroup"] == RG and config["location"] == "westeurope"
    assert config["vnetName"] == raw(one(sm, "azure-native:network:VirtualNetwork"))["virtualNetworkName"]
    assert config["subnetName"] == raw(one(sm, "azure-native:network:Subnet"))["subnetName"]
    assert config["securityGroupName"] == raw(one(sm, "azure-native:network:NetworkSecurityGroup"))["networkSecurityGroupName"]
    assert config["vnetResourceGroup"] == config["securityGroupResourceGroup"] == RG
    assert config["vmType"] == "vmss"
    # "For user-assigned managed identity: set useManagedIdentityExtension to true and also set
    # userAssignedIdentityID" (same page): the masters' identity.
    assert config["useManagedIdentityExtension"] is True
    cp = raw(names[f"{CLUSTER}-control-plane-identity"])["resourceName"]
    assert config["userAssignedIdentityID"] == identity_client_id(cp)
    secrets = {"aadClientSecret", "aadClientCertPath", "aadClientCertPassword", "aadClientId", "aadFederatedTokenFile"}
    assert not secrets & set(config)
    assert not [m for m in sm.manifests if m.kind == "Secret"]
    # A new Node whose instance ARM does not list yet is kept for a while, not deleted ("If not
    # set, it defaults to 0, which disables the grace period", pkg/provider/config/azure.go;
    # kubernetes-sigs/cloud-provider-azure#10604).
    assert config["nodeInstanceNotFoundGracePeriodInSeconds"] >= 300


def test_the_grace_period_is_written_only_where_the_release_reads_it():
    # nodeInstanceNotFoundGracePeriodInSeconds is in pkg/provider/config/azure.go at v1.33.17,
    # v1.34.13, v1.35.8 and v1.36.5, not at v1.32.20.
    from fleetform.cluster.selfmanaged_azure_cloud import cloud_config

    base = dict(tenant_id="t", subscription_id="s", resource_group="rg", location="l", vnet="v", subnet="n",
                security_group="g", identity_client_id="c")
    assert "nodeInstanceNotFoundGracePeriodInSeconds" not in cloud_config(**base, kubernetes_version="1.32")
    for minor in ("1.33", "1.34", "1.35", "1.36"):
        assert cloud_config(**base, kubernetes_version=minor)["nodeInstanceNotFoundGracePeriodInSeconds"] >= 300


def test_node_manager_runs_on_every_node_from_instance_metadata(sm):
    spec = pod_spec(sm, "DaemonSet", "cloud-node-manager")
    (c,) = spec["containers"]
    assert c["image"] == f"{CNM_IMAGE}:{CLOUD_PROVIDER_AZURE['1.35']}"
    # "--node-name: The node name for the Pod ... Kubernetes Downward API could be used";
    # "--wait-routes: only set to true when --configure-cloud-routes=true"
    # (https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/).
    assert "--node-name=$(NODE_NAME)" in c["args"] and "--wait-routes=false" in c["args"]
    assert {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} in c["env"]
    # Instance metadata, not ARM: no cloud config and no Azure credential needed.
    assert "--use-instance-metadata=true" in c["args"] and not any(a.startswith("--cloud-config") for a in c["args"])
    # Every node: the masters' taint and the taint it exists to remove.
    assert tolerates(spec["tolerations"], MASTER_TAINT) and tolerates(spec["tolerations"], UNINITIALIZED)
    assert set(spec.get("nodeSelector", {})) <= {"kubernetes.io/os"}
    # The pod network, unlike the chart (hostNetwork "required to fetch correct hostname"): with
    # vmType vmss the provider compares NODE_NAME, not the host name, with the Node's name
    # (pkg/provider/azure_instances_v1.go isCurrentInstance; the node manager's provider is built
    # with VMType "vmss", pkg/node/node.go NewIMDSNodeProvider), and the kubelet already set the
    # providerID, so nothing waits on it.
    assert not spec.get("hostNetwork")


def test_controllers_are_reachable_only_where_they_must_be(sm):
    # Egress of the controller manager: DNS, the API (masters:6443), IMDS, Azure Resource Manager.
    netpols = {m.name: m.object_raw["spec"] for m in sm.manifests if m.kind == "NetworkPolicy"
               and m.object_raw["metadata"]["namespace"] == "kube-system"}
    ccm = netpols["cloud-controller-manager"]
    assert ccm["podSelector"]["matchLabels"] == manifest(sm, "Deployment", "cloud-controller-manager")["spec"]["selector"]["matchLabels"]
    cidrs = {b["ipBlock"]["cidr"] for rule in ccm["egress"] for b in rule.get("to", [])}
    assert {f"{ip}/32" for ip in MASTER_IPS} | {"169.254.169.254/32"} <= cidrs
    cnm = netpols["cloud-node-manager"]
    cnm_cidrs = {b["ipBlock"]["cidr"] for rule in cnm["egress"] for b in rule.get("to", [])}
    assert "0.0.0.0/0" not in cnm_cidrs  # the node manager talks to nothing on the internet


@pytest.mark.parametrize("minor", ["1.36"])
def test_images_follow_the_kubernetes_minor(minor):
    result = plan(STACK, config=variant(lambda c: c.update({"fleetform:kubernetesVersion": minor})))
    assert result.exit_code == 0, result.errors
    assert pod_spec(result, "Deployment", "cloud-controller-manager")["containers"][0]["image"] == f"{CCM_IMAGE}:{CLOUD_PROVIDER_AZURE[minor]}"
    assert pod_spec(result, "DaemonSet", "cloud-node-manager")["containers"][0]["image"] == f"{CNM_IMAGE}:{CLOUD_PROVIDER_AZURE[minor]}"
    (release,) = regs(result, RELEASE)
    assert raw(release)["values"]["image"]["tag"] == "v1.36.1"  # cluster-autoscaler-1.36.1 release tag


def test_every_pinned_cloud_provider_image_matches_its_minor():
    from fleetform.cluster import addons

    assert set(addons.AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES) == set(addons.AZURE_CLOUD_NODE_MANAGER_IMAGES)
    for minor, pin in {**addons.AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES}.items():
        assert re.fullmatch(rf"v{re.escape(minor)}\.\d+", pin.version or "")
        assert pin.source == f"https://github.com/kubernetes-sigs/cloud-provider-azure/releases/tag/{pin.version}"
        assert addons.AZURE_CLOUD_NODE_MANAGER_IMAGES[minor].version == pin.version
        assert pin in addons.PINS


def test_1_37_is_one_config_error_naming_the_version():
    # No cloud-provider-azure v1.37.x tag and no cluster-autoscaler-1.37.x release when checked.
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=variant(lambda c: c.update({"fleetform:kubernetesVersion": "1.37"})))
    assert len(info.value.problems) == 1
    assert "kubernetesVersion" in info.value.problems[0] and "'1.37'" in info.value.problems[0]


def test_zone_labels_come_from_the_cloud_not_the_config():
    # The node manager sets topology.kubernetes.io/zone and region and the instance type
    # (pkg/nodemanager/nodemanager.go); a pool spans zones, so one pool-wide value would be wrong.
    def zone_label(cfg):
        cfg["fleetform:clusters"][0]["nodePools"][0]["labels"] = {"topology.kubernetes.io/zone": "westeurope-1"}
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=variant(zone_label))
    (problem,) = info.value.problems
    assert "nodePools[0].labels" in problem and "topology.kubernetes.io/zone" in problem


# ------------------------------------------------------------------------------ Azure identity


def test_only_the_masters_identity_has_a_role_and_only_what_the_controllers_call(sm):
    names = by_name(sm)
    (role,) = regs(sm, ROLE)
    (assignment,) = regs(sm, ASSIGNMENT)
    rg_id = f"{CLUSTER}-network-rg-id"  # the mock's id of the cluster's resource group
    r = raw(role)
    assert r["scope"] == rg_id and r["assignableScopes"] == [rg_id]
    (perm,) = r["permissions"]
    actions = set(perm["actions"])
    # cloud-node-lifecycle: "Required to query information for VM" / "for vmssVM"
    # (https://cloud-provider-azure.sigs.k8s.io/topics/azure-permissions/).
    ccm = {"Microsoft.Compute/virtualMachines/read", "Microsoft.Compute/virtualMachineScaleSets/read",
           "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
           "Microsoft.Compute/virtualMachineScaleSets/virtualmachines/instanceView/read"}
    # Cluster Autoscaler: capacity PUT, DeleteInstances ("Deletes the instances of the Virtual
    # Machine Scale Set", https://learn.microsoft.com/azure/role-based-access-control/permissions/compute),
    # listing, and the linked join/assign of what new instances attach to.
    ca = {"Microsoft.Compute/virtualMachineScaleSets/write", "Microsoft.Compute/virtualMachineScaleSets/delete/action",
          "Microsoft.Network/virtualNetworks/subnets/join/action",
          "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
          "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action"}
    assert actions == ccm | ca
    assert not any("*" in a for a in actions)
    # Nothing the disabled service and route controllers would need: no load balancer, public IP,
    # NSG or route table writes, so the CCM could not own a load balancer even if asked.
    for prefix in ("Microsoft.Network/loadBalancers/write", "Microsoft.Network/loadBalancers/delete",
                   "Microsoft.Network/publicIPAddresses/", "Microsoft.Network/networkSecurityGroups/write",
                   "Microsoft.Network/routeTables/", "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/disks/"):
        assert not any(a.startswith(prefix) for a in actions), prefix
    # The display name "must be unique at the scope of the Microsoft Entra directory"
    # (https://learn.microsoft.com/azure/role-based-access-control/custom-roles): it carries a
    # digest of project, stack and subscription, so same-named clusters of two stacks do not collide.
    digest = hashlib.sha256(f"fleetform/{STACK}/{PLAN_SUBSCRIPTION_ID.lower()}/{CLUSTER}".encode()).hexdigest()[:8]
    assert r["roleName"] == f"fleetform {CLUSTER} control plane {digest}"
    assert len(r["roleName"]) <= 512  # "Maximum number of characters is 512" (same page)
    assert role.urn.endswith(f"::{CLUSTER}-control-plane-role")  # the URN it was added with
    a = raw(assignment)
    assert a["scope"] == rg_id and a["roleDefinitionId"] == f"{role.name}-id" and a["principalType"] == "ServicePrincipal"
    cp = raw(names[f"{CLUSTER}-control-plane-identity"])["resourceName"]
    assert a["principalId"] == identity_principal_id(cp)


# ------------------------------------------------------------------------------ Cluster Autoscaler


def test_cluster_autoscaler_chart_and_values(sm):
    names = by_name(sm)
    (release,) = regs(sm, RELEASE)
    r = raw(release)
    # Chart 9.59.0 (kubernetes/autoscaler tag cluster-autoscaler-chart-9.59.0), image of the
    # cluster's minor (tag cluster-autoscaler-1.35.2).
    assert (r["chart"], r["version"], r["repositoryOpts"]["repo"]) == (
        "cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
    v = r["values"]
    assert v["image"] == {"repository": "registry.k8s.io/autoscaling/cluster-autoscaler", "tag": "v1.35.2"}
    # README "Auto-Discovery Setup" and the chart's deployment template: autoDiscovery.clusterName
    # renders --node-group-auto-discovery=label:cluster-autoscaler-enabled=true,cluster-autoscaler-name=<name>.
    assert v["cloudProvider"] == "azure" and v["autoDiscovery"] == {"clusterName": CLUSTER}
    assert v["azureVMType"] == "vmss"
    assert v["azureUseManagedIdentityExtension"] is True
    cp = raw(names[f"{CLUSTER}-control-plane-identity"])["resourceName"]
    assert v["azureUserAssignedIdentityID"] == identity_client_id(cp)
    assert (v["azureSubscriptionID"], v["azureResourceGroup"]) == (PLAN_SUBSCRIPTION_ID, RG)
    assert not v.get("azureClientSecret") and not v.get("azureClientID")
    assert v["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}
    assert tolerates(v["tolerations"], MASTER_TAINT)
    # Its identity must hold the role before it runs.
    assert names[f"{CLUSTER}-control-plane-role-assignment"].urn in release.dependencies
    # No second autoscaler: Azure's host-metric autoscale setting is gone.
    assert not regs(sm, "azure-native:monitor:AutoscaleSetting")


def test_scale_sets_carry_what_the_autoscaler_reads(sm):
    names = by_name(sm)
    # azure_manager.go getFilteredScaleSets reads the "min"/"max" tags; README "Scaling a VMSS node
    # group to and from 0": label foo=bar -> tag k8s.io_cluster-autoscaler_node-template_label_foo: bar,
    # taint foo=bar:NoSchedule -> tag k8s.io_cluster-autoscaler_node-template_taint_foo: bar:NoSchedule.
    spot = raw(names[f"{CLUSTER}-pool-spot"])["tags"]
    assert spot["cluster-autoscaler-enabled"] == "true" and spot["cluster-autoscaler-name"] == CLUSTER
    assert (spot["min"], spot["max"]) == ("0", "6")
    assert spot["k8s.io_cluster-autoscaler_node-template_label_capacity"] == "spot"
    assert spot["k8s.io_cluster-autoscaler_node-template_taint_capacity"] == "spot:PreferNoSchedule"
    general = raw(names[f"{CLUSTER}-pool-general"])["tags"]
    assert not [k for k in general if "node-template" in k]


def test_tag_names_encode_slashes_and_underscores_as_the_readme_says():
    from fleetform.cluster.selfmanaged_azure_cloud import autoscaler_tags
    from fleetform.config import NodePoolSpec

    pool = NodePoolSpec.model_validate({"name": "p", "size": "Standard_D4s_v5", "min": 0, "max": 3,
                                        "labels": {"example.com/cpu_arch": "x"},
                                        "taints": [{"key": "k8s.io/foo", "value": "bar", "effect": "NoSchedule"}]})
    tags = autoscaler_tags("c", pool)
    # "forward slashes ... as an underscore"; 'To encode a tag name containing an underscore, use "~2"'.
    assert tags["k8s.io_cluster-autoscaler_node-template_label_example.com_cpu~2arch"] == "x"
    assert tags["k8s.io_cluster-autoscaler_node-template_taint_k8s.io_foo"] == "bar:NoSchedule"
    assert (tags["min"], tags["max"]) == ("0", "3")


def test_the_autoscalers_capacity_survives_a_later_up(sm):
    """The scale sets ignore sku.capacity (the autoscaler owns it). For an ignored property Pulumi
    "uses the serialized value from the stack state" and "will continue to send those stale values
    ... unless you run a refresh" (https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/);
    azure-native's update is a full PUT of the scale set, so any later change to a scale set would
    also set its capacity back. A refresh stores the live capacity as the state's input (azure-native
    Read; RefreshStep.Apply), so every run asks for `pulumi up --refresh`. Pulumi.yaml does not force
    a refresh on every stack: refreshing Kubernetes resources fails when a private cluster is out of
    reach (pulumi/pulumi-kubernetes#1522)."""
    for r in regs(sm, VMSS):
        assert r.ignore_changes == ["sku.capacity"], r.name
    project = yaml.safe_load((pathlib.Path(__file__).parent.parent / "Pulumi.yaml").read_text())
    assert (project.get("options") or {}).get("refresh") is None


def test_every_run_asks_for_a_refresh(monkeypatch):
    from fleetform.cluster import selfmanaged_azure_cloud as cloud

    said: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: said.append(msg))
    plan(STACK)
    assert said.count(cloud.REFRESH_WARNING.format(name=CLUSTER)) == 1
    assert "pulumi up --refresh" in cloud.REFRESH_WARNING


def test_a_pool_from_zero_plans_cleanly():
    # "only the vmss option supports scaling down to zero nodes" (README); the pool starts empty.
    def zero(cfg):
        cfg["fleetform:clusters"][0]["nodePools"][1]["min"] = 0
    result = plan(STACK, config=variant(zero))
    assert result.exit_code == 0, (result.errors, result.mandatory_violations)
    vmss = raw(by_name(result)[f"{CLUSTER}-pool-spot"])
    assert vmss["sku"]["capacity"] == 0 and vmss["tags"]["min"] == "0"


# ------------------------------------------------------------------------------ scale set model changes


def _pools_of(result):
    """Pool name -> the backend pool ids its scale set's model references."""
    out = {}
    for r in regs(result, VMSS):
        (nic,) = raw(r)["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        (ipc,) = nic["ipConfigurations"]
        out[r.name] = sorted(p["id"] for p in ipc.get("loadBalancerBackendAddressPools") or [])
    return out


def _service_lb_pools(result):
    return sorted(f"{r.name}-id/backendAddressPools/workers" for r in regs(result, LB) if r.name != f"{CLUSTER}-api-lb")


def _drop_internal(cfg):
    cfg["fleetform:services"] = [s for s in cfg["fleetform:services"] if s["name"] != "api"]
    for s in cfg["fleetform:services"]:
        s["egress"] = [e for e in s.get("egress", []) if e.get("service") != "api"]


@pytest.fixture(scope="module")
def web_only():
    """The first deploy: only the public service."""
    return plan(STACK, config=variant(_drop_internal))


def _assert_instances_follow(result):
    for r in regs(result, VMSS):
        vmss = raw(r)
        # "With a rolling upgrade policy, the scale set performs updates in batches"; Manual would
        # leave running VMs on the old model (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-upgrade-policy).
        policy = vmss["upgradePolicy"]
        assert policy["mode"] == "Rolling"
        rolling = policy["rollingUpgradePolicy"]
        # "the value of maxBatchInstancePercent should not be more than maxUnhealthyInstancePercent"
        # (RollingUpgradePolicy, Azure compute API).
        assert 5 <= rolling["maxBatchInstancePercent"] <= rolling["maxUnhealthyInstancePercent"] <= 100
        # "the scale set must have a health probe or use the Application Health Extension"
        # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades).
        exts = vmss["virtualMachineProfile"]["extensionProfile"]["extensions"]
        (health,) = [e for e in exts if e["type"] == "ApplicationHealthLinux"]
        assert health["publisher"] == "Microsoft.ManagedServices"
        # The kubelet's healthz: 127.0.0.1:10248 by default (KubeletConfiguration reference).
        assert health["settings"] == {"protocol": "http", "port": 10248, "requestPath": "/healthz"}
        assert vmss["virtualMachineProfile"]["osProfile"]["allowExtensionOperations"] is True


def test_a_service_added_after_the_first_deploy_reaches_running_workers(web_only, sm):
    # First deploy: one public service, so one service load balancer whose pool the model holds.
    assert _service_lb_pools(web_only) == [f"{CLUSTER}-public-lb-id/backendAddressPools/workers"]
    assert all(p == _service_lb_pools(web_only) for p in _pools_of(web_only).values())
    _assert_instances_follow(web_only)
    # Second deploy adds the internal service: the same scale sets (same URNs: updated, not
    # replaced) now reference the internal load balancer's pool too, and the Rolling policy
    # applies that model change to the VMs already running.
    before = {r.name: r.urn for r in regs(web_only, VMSS)}
    after = {r.name: r.urn for r in regs(sm, VMSS)}
    assert before == after
    assert all(p == _service_lb_pools(sm) for p in _pools_of(sm).values()) and len(_service_lb_pools(sm)) == 2
    _assert_instances_follow(sm)


def test_removing_the_last_service_of_a_kind_drops_its_pool_from_the_model(sm, web_only):
    # Going the other way: the internal load balancer is deleted and no scale set model still
    # references its pool; the running VMs leave it in rolling batches (see the docs for the
    # order of the two on a real deploy).
    internal = f"{CLUSTER}-internal-lb-id/backendAddressPools/workers"
    assert all(internal in p for p in _pools_of(sm).values())
    assert not [r for r in regs(web_only, LB) if r.name == f"{CLUSTER}-internal-lb"]
    assert all(internal not in p for p in _pools_of(web_only).values())


# ------------------------------------------------------------------------------ joining and bootstrap


def test_joining_masters_register_with_the_first_master_not_their_own_load_balancer(sm):
    # An internal load balancer does not answer a backend whose flow it would map back to that
    # backend (https://learn.microsoft.com/azure/load-balancer/load-balancer-troubleshoot-backend-traffic);
    # every master NIC is in the API load balancer's pool, so a joining master must not use it.
    names = by_name(sm)
    api_pool = f"{CLUSTER}-api-lb-id/backendAddressPools/masters"
    for i in (2, 3):
        (ipc,) = raw(names[f"{CLUSTER}-master-{i}-nic"])["ipConfigurations"]
        assert api_pool in [p["id"] for p in ipc["loadBalancerBackendAddressPools"]]
        script = master_script(sm, i)
        args = installer_args(script)
        assert f"--server=https://{MASTER_IPS[0]}:6443" in args
        assert not [a for a in args if API_IP in a and a.startswith("--server")]
        # ... and waits, bounded, until the first master's supervisor answers.
        assert f"ping_url=https://{MASTER_IPS[0]}:6443/ping" in script
    # Workers are not in that pool: they keep the load balancer's address.
    assert f"--server=https://{API_IP}:6443" in installer_args(pool_script(sm, "general"))


def test_every_node_registers_with_its_azure_providerid(sm):
    """Without a providerID, cloud-node-lifecycle looks a NotReady Node's instance up by its name
    (pkg/provider/azure_instances_v2.go InstanceExists -> GetInstanceProviderID). For a worker that
    name is the computer name plus --with-node-id's suffix, so the scale set lookup
    (azure_vmss.go getNodeIdentityByNodeName: the last 6 characters as the base-36 instance id)
    finds nothing. The controller then deletes the Node, and the kubelet does not register it
    again (kubernetes/kubernetes#71398). So every node, master or worker, registers with the
    providerID the node manager would set, read from the instance metadata service at boot."""
    scripts = [master_script(sm, i) for i in (1, 2, 3)] + [pool_script(sm, p) for p in ("general", "spot")]
    for script in scripts:
        assert "--kubelet-arg=provider-id=${PROVIDER_ID}" in installer_args(script)
        assert "http://169.254.169.254/metadata/instance/compute/" in script and "'Metadata: true'" in script
    # A worker's id, as IMDS gives it for an instance of this cluster's scale set, comes out as
    # what the controllers parse to (resource group, scale set).
    vmss = raw(by_name(sm)[f"{CLUSTER}-pool-general"])["vmScaleSetName"]
    resource_id = (f"/subscriptions/{PLAN_SUBSCRIPTION_ID}/resourceGroups/{RG}/providers/Microsoft.Compute/"
                   f"virtualMachineScaleSets/{vmss}/virtualMachines/3")
    m = AZURE_VMSS_PROVIDER_ID.fullmatch(azure_node_manager_provider_id(resource_id, PLAN_SUBSCRIPTION_ID, RG))
    assert m and m.groups() == (RG.lower(), vmss)


def test_every_node_runs_with_the_external_cloud_provider(sm):
    # k3s: "Before deploying an external CCM, you must start all K3s servers with the
    # --disable-cloud-controller flag" (https://docs.k3s.io/networking/networking-services); the
    # kubelet then needs cloud-provider=external itself (k3s-io/k3s pkg/daemons/agent/agent_linux.go).
    for i in (1, 2, 3):
        args = installer_args(master_script(sm, i))
        assert "--disable-cloud-controller" in args and "--kubelet-arg=cloud-provider=external" in args
    for pool in ("general", "spot"):
        args = installer_args(pool_script(sm, pool))
        assert "--kubelet-arg=cloud-provider=external" in args
        # Scale set computer names come back once an instance id is reused
        # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-instance-ids).
        assert "--with-node-id" in args
        # No zone label from config: the node manager sets it.
        assert not [a for a in args if a.startswith("--node-label=topology.kubernetes.io/")]


@pytest.mark.parametrize("which", ["master-1", "master-2", "pool-general"])
def test_rendered_scripts_pass_shellcheck(sm, which, tmp_path):
    script = master_script(sm, int(which[-1])) if which.startswith("master") else pool_script(sm, "general")
    assert _lint(script, tmp_path, which) == ""


@pytest.mark.parametrize("which", ["master-2", "pool-spot"])
def test_rendered_scripts_run_in_a_sandbox(sm, which, tmp_path):
    # Instance metadata and k3s's /ping answered by tests/test_bootstrap_cloud.py's stubs.
    box = CloudSandbox(tmp_path)
    script = master_script(sm, 2) if which == "master-2" else pool_script(sm, "spot")
    proc = box.run_script(script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (args,) = box.installs()
    expanded = azure_node_manager_provider_id(*AZURE_INSTANCE.values())
    # The flags above reach the installer as rendered, the providerID expanded on the node.
    assert args == [a.replace("${PROVIDER_ID}", expanded) for a in installer_args(script)]
    assert "--kubelet-arg=cloud-provider=external" in args
    assert f"--kubelet-arg=provider-id={expanded}" in args
    joined = MASTER_IPS[0] if which == "master-2" else API_IP
    assert any(shlex.split(c)[-1] == f"https://{joined}:6443/ping" for c in box.calls("curl"))
    assert box.order().index("metadata") < box.order().index("installer")
