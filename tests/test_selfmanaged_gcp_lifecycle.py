"""Self-managed k3s on GCP, the nodes' life with the cloud: cloud-provider-gcp (the GCE
cloud-controller-manager) and the Cluster Autoscaler on the masters, their identity, the k3s flags
for an external cloud provider in the rendered bootstrap, the zonal worker groups with their
scale-from-zero template, the API load balancer's global access, and the Google APIs the stack
enables (issue 14). Planned offline; expected values come from the sources cited next to them:

- cloud-provider-gcp (v36.0.7 unless said): docs/RELEASE.md (tags ``v<k8s minor>.<patch>.<ccm
  patch>``); cmd/cloud-controller-manager/main.go (controllers, ``nodeipam``); providers/gce/gce.go
  (``ConfigGlobal`` gcfg keys, URL-valued ``network-name``, metadata token source);
  providers/gce/gce_util.go (providerID ``gce://<project>/<zone>/<instance>``);
  providers/gce/gce_instances.go (InstanceMetadata / InstanceExists call instances.get);
  deploy/packages/default/manifest.yaml (uninitialized toleration, liveness on /healthz:10258).
- k8s.io/cloud-provider: names/controller_names.go (canonical controller names),
  controllers/nodelifecycle (deletes Nodes), options/kubecloudshared.go (flags).
- Kubernetes skew policy: https://kubernetes.io/releases/version-skew-policy/ (a
  cloud-controller-manager may be one minor older than kube-apiserver, never newer).
- Cluster Autoscaler 1.35.2: cloudprovider/gce/gce_url.go (zonal group URLs),
  autoscaling_gce_client.go (API calls), templates.go and kube_env.go (scale from zero); FAQ.md
  (flags; CPU autoscalers "NOT compatible"; balance-similar-node-groups per zone); README.md
  (Releases: the autoscaler's minor is the cluster's); chart 9.59.0 templates/deployment.yaml
  (``autoscalingGroups`` -> ``--nodes``).
- k3s: https://docs.k3s.io/networking/networking-services#deploying-an-external-cloud-controller-manager;
  pkg/server/server.go (servers labelled ``node-role.kubernetes.io/control-plane: "true"``).
- Compute Engine: https://cloud.google.com/load-balancing/docs/internal#client_access (global
  access); https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/resize
  (compute.instanceGroupManagers.update); https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create
  (role IDs).
"""

from __future__ import annotations

import configparser
import copy
import os
import re
import subprocess

import pytest
import yaml

from fleetform.cluster import addons
from fleetform.cluster.selfmanaged_gcp import zone_bounds
from fleetform.config import FleetConfigError
from fleetform.plan.engine import plan
from fleetform.plan.mocks import plain
from tests.bootstrap_parsing import installer_args
from tests.conftest import one, planned, regs, stack_config
from tests.test_bootstrap import _lint
from tests.test_bootstrap_cloud import GCE_PROVIDER_ID, CloudSandbox

STACK = CLUSTER = "selfmanaged-gcp"
CCM_IMAGE = "registry.k8s.io/cloud-provider-gcp/cloud-controller-manager"
CA_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
DAEMONSET = "kubernetes:apps/v1:DaemonSet"
RELEASE = "kubernetes:helm.sh/v3:Release"
MIG = "gcp:compute/instanceGroupManager:InstanceGroupManager"
TEMPLATE = "gcp:compute/instanceTemplate:InstanceTemplate"
SERVICE_API = "gcp:projects/service:Service"
ROLE = "gcp:projects/iAMCustomRole:IAMCustomRole"
MEMBER = "gcp:projects/iAMMember:IAMMember"
ACCOUNT = "gcp:serviceaccount/account:Account"
SECRET_VERSION = "gcp:secretmanager/secretVersion:SecretVersion"


def raw(reg):
    return plain(reg.inputs, mask=False)


def config():
    return copy.deepcopy(stack_config(STACK))


@pytest.fixture(scope="module")
def result():
    return planned(STACK)


@pytest.fixture(scope="module")
def v136_zero_and_arm():
    """1.36, the spot pool at min 0, and an Arm pool of one VM at most."""
    cfg = config()
    cfg["fleetform:kubernetesVersion"] = "1.36"
    c = cfg["fleetform:clusters"][0]
    c["nodePools"][1]["min"] = 0
    c["nodePools"].append({"name": "arm", "size": "t2a-standard-4", "min": 0, "max": 1})
    return plan(STACK, config=cfg)


def ccm_container(result):
    ds = raw(one(result, DAEMONSET, f"{CLUSTER}-ccm"))
    (container,) = ds["spec"]["template"]["spec"]["containers"]
    return ds, container


def script_of(result, node):
    return raw(one(result, SECRET_VERSION, f"{CLUSTER}-{node}-bootstrap"))["secretData"]


def closure(result, reg):
    """Every URN ``reg`` depends on, directly or through what it depends on."""
    by_urn = {r.urn: r for r in result.capture.registrations}
    seen, todo = set(), list(reg.dependencies)
    while todo:
        urn = todo.pop()
        if urn not in seen and urn in by_urn:
            seen.add(urn)
            todo += by_urn[urn].dependencies
    return seen


# ------------------------------------------------------------------------------ cloud-provider-gcp


PROMOTED = {
    # kubernetes/k8s.io registry.k8s.io/images/k8s-staging-cloud-provider-gcp/images.yaml at
    # 43401df3, cloud-controller-manager's dmap: tag -> the digest registry.k8s.io serves.
    "v32.2.4": "sha256:210d919487bd3d7e916d116b734bdec68977702cf851751ece893c0b64e211fd",
    "v33.1.1": "sha256:6fdc9a4e3eee967bd9775b6f607541ec00d114754b490b6a87fea3df40b87c26",
    "v34.2.0": "sha256:4795f50bd273894d46e21b5569a716374377ae06d276343a6e5eae5aa93d5de8",
    "v35.0.2": "sha256:f1cfeca80d58695683ddaeebb41215bf7239cb49534c5eb2b6e6205929822389",
}


def test_ccm_image_is_a_release_of_the_clusters_minor(result, v136_zero_and_arm):
    assert ccm_container(result)[1]["image"] == f"{CCM_IMAGE}:v35.0.2"  # the stack's 1.35
    # kubermatic/kubeone pkg/templates/images/images.go at ce6bae0a runs v36.0.7; the promoter's
    # manifest at 43401df3 does not list it yet (its pin says so).
    assert ccm_container(v136_zero_and_arm)[1]["image"] == f"{CCM_IMAGE}:v36.0.7"
    assert "not yet in" in addons.GCP_CCM_IMAGES["1.36"].note
    # 1.34 runs its own minor's release, v34.2.0 (tag on release-1.34, k8s.io/* v0.34.2 in go.mod).
    assert addons.GCP_CCM_IMAGES["1.34"].version == "v34.2.0"
    for minor, pin in addons.GCP_CCM_IMAGES.items():
        if pin.version in PROMOTED:
            assert PROMOTED[pin.version] in pin.note and addons.GCP_CCM_PROMOTED in pin.note, minor
        if minor != "1.35":  # v35.0.2 is built against k8s.io/* v0.34.2: one minor older, allowed
            assert pin.version is not None and pin.version.startswith("v" + minor.split(".")[1] + "."), minor
        ccm_minor = int((pin.version or "").removeprefix("v").split(".")[0])
        # The tag's major is the Kubernetes minor; the skew policy allows one minor older, never newer.
        assert int(minor.split(".")[1]) - 1 <= ccm_minor <= int(minor.split(".")[1]), (minor, pin.version)
        assert pin.name == CCM_IMAGE and pin.source.startswith("https://github.com/kubernetes/cloud-provider-gcp/releases/tag/")


def test_ccm_runs_only_the_node_controllers(result):
    _ds, c = ccm_container(result)
    args = c["args"]
    assert "--cloud-provider=gce" in args and "--leader-elect=true" in args
    (controllers,) = [a.split("=", 1)[1] for a in args if a.startswith("--controllers=")]
    # Canonical names: cloud-node-controller, cloud-node-lifecycle-controller; the service and
    # route controllers (service-lb-controller / node-route-controller, aliases service / route)
    # and cloud-provider-gcp's nodeipam are not in the allow-list, and no "*" enables them.
    assert set(controllers.split(",")) == {"cloud-node-controller", "cloud-node-lifecycle-controller"}
    assert "--configure-cloud-routes=false" in args and "--allocate-node-cidrs=false" in args
    assert "--use-service-account-credentials=false" in args


def test_the_ccm_starts_from_its_cached_image_with_the_skips_that_takes(result):
    ds, c = ccm_container(result)
    # A master restarting without registry.k8s.io or NAT still starts the CCM
    # (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy).
    assert c["imagePullPolicy"] == "IfNotPresent"
    notes = ds["metadata"]["annotations"]
    assert notes["checkov.io/skip1"].startswith("CKV_K8S_43=")  # tag, not digest (shared with Azure)
    assert notes["checkov.io/skip2"].startswith("CKV_K8S_15=")  # "Image Pull Policy should be Always"


def test_ccm_reads_the_clusters_network_from_its_config(result):
    ds, c = ccm_container(result)
    (path,) = [a.split("=", 1)[1] for a in c["args"] if a.startswith("--cloud-config=")]
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    directory, key = path.rsplit("/", 1)
    volume = {v["name"]: v for v in ds["spec"]["template"]["spec"]["volumes"]}[mounts[directory]]
    config_map = raw(one(result, "kubernetes:core/v1:ConfigMap", f"{CLUSTER}-ccm-config"))
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert config_map["metadata"]["namespace"] == ds["metadata"]["namespace"] == "kube-system"
    conf = configparser.ConfigParser()
    conf.read_string(config_map["data"][key])
    subnet = raw(one(result, "gcp:compute/subnetwork:Subnetwork", f"{CLUSTER}-network-nodes"))
    template = raw(one(result, TEMPLATE, f"{CLUSTER}-general-tpl"))
    assert conf["Global"]["network-name"] == subnet["network"]  # the VPC's self link (a URL)
    assert conf["Global"]["subnetwork-name"] == template["networkInterfaces"][0]["subnetwork"]
    assert conf["Global"]["multizone"] == "true"  # nodes span the region's zones
    # No service controller: no node tags, no firewall settings needed.
    assert set(conf["Global"]) == {"network-name", "subnetwork-name", "multizone"}


def test_ccm_runs_on_the_masters_before_any_node_is_initialised(result):
    ds, c = ccm_container(result)
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}  # k3s servers
    tolerations = pod["tolerations"]
    assert {"key": "node.cloudprovider.kubernetes.io/uninitialized", "operator": "Equal", "value": "true",
            "effect": "NoSchedule"} in tolerations
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in tolerations  # the masters' taint
    # CoreDNS cannot run before the CCM initialised a node: the node's own resolver.
    assert pod["dnsPolicy"] == "Default"
    assert not pod.get("hostNetwork")
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": 10258, "scheme": "HTTPS"}
    # The in-cluster client's files, from a projected volume (automount off).
    assert pod["automountServiceAccountToken"] is False
    token_dir = "/var/run/secrets/kubernetes.io/serviceaccount"
    (mount,) = [m for m in c["volumeMounts"] if m["mountPath"] == token_dir]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    paths = set()
    for source in volume["projected"]["sources"]:
        paths |= {source["serviceAccountToken"]["path"]} if "serviceAccountToken" in source else set()
        paths |= {i["path"] for i in (source.get("configMap") or {}).get("items", [])}
        paths |= {i["path"] for i in (source.get("downwardAPI") or {}).get("items", [])}
    assert paths == {"token", "ca.crt", "namespace"}
    assert pod["serviceAccountName"] == raw(one(result, "kubernetes:core/v1:ServiceAccount", f"{CLUSTER}-ccm-sa"))["metadata"]["name"]


def test_ccm_rbac_is_what_its_two_controllers_need(result):
    role = raw(one(result, "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", f"{CLUSTER}-ccm-clusterrole"))
    verbs = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"update", "patch", "delete"} <= verbs[("", "nodes")]  # initialise; delete vanished instances' Nodes
    assert {"patch"} <= verbs[("", "nodes/status")]
    for (_group, resource), _v in verbs.items():
        assert resource not in ("secrets", "*", "serviceaccounts/token"), resource
    local = raw(one(result, "kubernetes:rbac.authorization.k8s.io/v1:Role", f"{CLUSTER}-ccm-role"))
    assert local["metadata"]["namespace"] == "kube-system"
    lease_rules = [r for r in local["rules"] if r["resources"] == ["leases"]]
    assert any(r.get("resourceNames") == ["cloud-controller-manager"] and set(r["verbs"]) == {"get", "update"} for r in lease_rules)
    # gce_clusterid.go lists and watches ingress-uid alone (fieldSelector metadata.name=ingress-uid),
    # which a rule by name admits (RBAC docs, "Referring to resources").
    (config_maps,) = [r for r in local["rules"] if r["resources"] == ["configmaps"]]
    assert config_maps["resourceNames"] == ["ingress-uid"] and set(config_maps["verbs"]) == {"get", "list", "watch"}
    for binding in ("clusterrolebinding", "rolebinding", "auth-reader"):
        kind = "ClusterRoleBinding" if binding == "clusterrolebinding" else "RoleBinding"
        b = raw(one(result, f"kubernetes:rbac.authorization.k8s.io/v1:{kind}", f"{CLUSTER}-ccm-{binding}"))
        assert b["subjects"] == [{"kind": "ServiceAccount", "name": "gce-cloud-controller-manager", "namespace": "kube-system"}]


def test_workloads_wait_for_the_ccm_which_waits_for_its_cloud_role(result):
    ds = one(result, DAEMONSET, f"{CLUSTER}-ccm")
    provider = one(result, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s")
    system = one(result, "pulumi:providers:kubernetes", f"{CLUSTER}-k8s-system")
    assert ds.urn in provider.dependencies
    assert ds.provider.startswith(system.urn)
    assert one(result, "command:local:Command", f"{CLUSTER}-api-ready").urn in system.dependencies
    assert one(result, MEMBER, f"{CLUSTER}-masters-role-member").urn in ds.dependencies
    assert not [v for v in result.violations if "ccm" in v.urn]  # the policy pack passes it as is


def test_a_minor_without_a_ccm_or_autoscaler_release_is_refused_naming_the_key():
    cfg = config()
    cfg["fleetform:kubernetesVersion"] = "1.37"
    with pytest.raises(FleetConfigError) as info:
        plan(STACK, config=cfg)
    text = str(info.value)
    assert "kubernetesVersion" in text and "'1.37'" in text and "gcp (self-managed)" in text
    assert "1.35, 1.36" in text


# ------------------------------------------------------------------------------ identity


def test_the_masters_account_holds_one_least_privilege_custom_role(result):
    role = one(result, ROLE, f"{CLUSTER}-masters-role")
    props = raw(role)
    assert re.fullmatch(r"[a-zA-Z0-9_.]{3,64}", props["roleId"])  # projects.roles.create
    assert set(props["permissions"]) == {
        # cloud-provider-gcp node controllers
        "compute.instances.get", "compute.zones.list",
        # Cluster Autoscaler (GCE): groups, templates, machine types, and its writes (resize,
        # createInstances, deleteInstances: compute.instanceGroupManagers.update) and waits. Not
        # compute.instances.list: only bulk listing calls it (FetchAllInstances), off unless
        # --bulk-mig-instances-listing-enabled (default false, config/flags/flags.go at 1.35.2).
        "compute.instanceGroupManagers.get", "compute.instanceGroupManagers.list",
        "compute.instanceGroupManagers.update", "compute.instanceTemplates.get",
        "compute.machineTypes.get", "compute.zoneOperations.get",
    }
    assert not any(p.endswith((".delete", ".create", ".setIamPolicy")) or p.startswith("iam.") for p in props["permissions"])
    (member,) = [raw(m) for m in regs(result, MEMBER)]
    ctrl = raw(one(result, ACCOUNT, f"{CLUSTER}-ctrl"))["accountId"]
    assert member["member"].startswith(f"serviceAccount:{ctrl}@")
    assert member["role"] == f"projects/{props['project']}/roles/{props['roleId']}"
    assert member["project"] == props["project"] == "fleetform-offline-plan"  # the plan's project


def test_the_autoscaler_runs_on_the_masters_with_their_account(result):
    release = one(result, RELEASE, f"{CLUSTER}-cluster-autoscaler")
    props = raw(release)
    assert (props["chart"], props["version"], props["repositoryOpts"]["repo"]) == (
        "cluster-autoscaler", "9.59.0", "https://kubernetes.github.io/autoscaler")
    values = props["values"]
    assert values["cloudProvider"] == "gce"
    assert values["image"] == {"repository": CA_IMAGE, "tag": "v1.35.2"}  # the 1.35 release (README: same minor)
    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}
    assert {"key": "CriticalAddonsOnly", "operator": "Exists"} in values["tolerations"]
    args = values["extraArgs"]
    assert args["balance-similar-node-groups"] is True  # one group per zone (FAQ)
    assert args["enforce-node-group-min-size"] is True
    assert not {"bulk-mig-instances-listing-enabled", "scale-down-unready-time"} & set(args)  # defaults (see below)
    # skip-nodes-with-local-storage keeps its default (true): fleetform's pods list their /tmp
    # emptyDir in safe-to-evict-local-volumes (FAQ, "What types of pods can prevent CA from
    # removing a node?"), and false would let the autoscaler drop other pods' local data.
    assert "skip-nodes-with-local-storage" not in args
    web = next(m for m in result.manifests if m.cluster == CLUSTER and m.kind == "Deployment" and m.name == "web")
    template = web.object["spec"]["template"]
    local = [v["name"] for v in template["spec"]["volumes"] if "emptyDir" in v or "hostPath" in v]
    assert template["metadata"]["annotations"]["cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"] == ",".join(local) == "tmp"
    assert values["containerSecurityContext"]["readOnlyRootFilesystem"] is True
    assert one(result, MEMBER, f"{CLUSTER}-masters-role-member").urn in release.dependencies
    assert one(result, DAEMONSET, f"{CLUSTER}-ccm").urn in release.dependencies
    for url in (g["name"] for g in values["autoscalingGroups"]):
        assert re.fullmatch(r"https://.*/projects/[^/]+/zones/[^/]+/instanceGroups/[^/]+", url)  # ParseMigUrl


def test_1_36_uses_the_1_36_autoscaler(v136_zero_and_arm):
    values = raw(one(v136_zero_and_arm, RELEASE, f"{CLUSTER}-cluster-autoscaler"))["values"]
    assert values["image"]["tag"] == addons.CLUSTER_AUTOSCALER_IMAGES["1.36"].version == "v1.36.1"


# ------------------------------------------------------------------------------ scaling from zero


def _autoscaler_vars(template_props) -> dict[str, str]:
    """AUTOSCALER_ENV_VARS as the autoscaler parses it: kube-env is YAML; ';'-separated name=value."""
    env = yaml.safe_load(template_props["metadata"]["kube-env"])
    return dict(pair.split("=", 1) for pair in env["AUTOSCALER_ENV_VARS"].split(";"))


def test_a_min_zero_pool_starts_empty_and_its_template_describes_its_nodes(v136_zero_and_arm):
    r = v136_zero_and_arm
    assert r.exit_code == 0, r.problems()
    spot = [raw(m) for m in regs(r, MIG) if m.name.startswith(f"{CLUSTER}-spot-mig-")]
    assert [m["targetSize"] for m in spot] == [0, 0, 0]
    values = raw(one(r, RELEASE, f"{CLUSTER}-cluster-autoscaler"))["values"]
    spot_groups = [g for g in values["autoscalingGroups"] if any(g["name"].endswith("/" + m["name"]) for m in spot)]
    assert sorted((g["minSize"], g["maxSize"]) for g in spot_groups) == [(0, 2), (0, 2), (0, 2)]
    v = _autoscaler_vars(raw(one(r, TEMPLATE, f"{CLUSTER}-spot-tpl")))
    assert v["os"] == "linux" and v["os_distribution"] == "ubuntu" and v["arch"] == "amd64"
    assert dict(kv.split("=", 1) for kv in v["node_labels"].split(",")) == {"capacity": "spot", "fleetform.io/capacity-type": "spot"}
    # buildTaints: key -> "value:effect"
    assert dict(kv.split("=", 1) for kv in v["node_taints"].split(",")) == {"capacity": "spot:PreferNoSchedule"}
    # ... the very labels and taints the kubelet is given.
    args = installer_args(script_of(r, "pool-spot"))
    assert "--node-label=capacity=spot" in args and "--node-taint=capacity=spot:PreferNoSchedule" in args
    assert _autoscaler_vars(raw(one(r, TEMPLATE, f"{CLUSTER}-general-tpl"))).keys() == {
        "os", "os_distribution", "arch", "kube_reserved", "evictionHard"}
    assert _autoscaler_vars(raw(one(r, TEMPLATE, f"{CLUSTER}-arm-tpl")))["arch"] == "arm64"
    # A pool of at most one VM gets one group, not three empty ones.
    assert [m.name for m in regs(r, MIG) if m.name.startswith(f"{CLUSTER}-arm-mig-")] == [f"{CLUSTER}-arm-mig-0"]


def test_a_template_node_gets_a_k3s_nodes_allocatable(result):
    """The autoscaler's arithmetic (cloudprovider/gce at 1.35.2): templates.go BuildNodeFromTemplate
    -> BuildAllocatableFromKubeEnv (no kube_reserved: allocatable = capacity, nothing kept back)
    -> CalculateAllocatable (capacity - kube_reserved - the memory eviction quantity; ephemeral
    storage minus its nodefs ratio); gce_reserved.go ParseEvictionHardOrGetDefault (memory.available
    and nodefs.available, 100Mi and 10% when missing). A k3s kubelet keeps back exactly
    evictionHard {imagefs.available: 5%, nodefs.available: 5%} and no reservation
    (k3s-io/k3s pkg/daemons/agent/agent_linux.go, kubeletConfig); the kubelet adds its defaults
    only to an unset map (SetDefaults_KubeletConfiguration)."""
    v = _autoscaler_vars(raw(one(result, TEMPLATE, f"{CLUSTER}-general-tpl")))

    def kv(text):  # parseKeyValueListToMap
        return dict(item.split("=", 1) for item in text.split(","))

    reserved, eviction = kv(v["kube_reserved"]), kv(v["evictionHard"])
    assert reserved == {"cpu": "0", "memory": "0", "ephemeral-storage": "0"}
    assert eviction == {"memory.available": "0", "nodefs.available": "5%"}
    memory, disk = 16 * 2**30, 100 * 10**9
    allocatable_memory = memory - int(reserved["memory"]) - int(eviction["memory.available"])
    allocatable_disk = disk - int(reserved["ephemeral-storage"]) - disk * float(eviction["nodefs.available"][:-1]) / 100
    # k3s: no memory threshold (so all of it), 5% of the disk kept for nodefs.available.
    assert (allocatable_memory, allocatable_disk) == (memory, disk * 0.95)


@pytest.mark.parametrize("low,high,zones", [(0, 0, 3), (0, 1, 3), (3, 9, 3), (1, 6, 3), (2, 7, 3), (5, 5, 2), (0, 1000, 6)])
def test_zone_shares_add_up_to_the_pool_bounds(low, high, zones):
    shares = zone_bounds(low, high, zones)
    assert len(shares) == zones
    assert sum(a for a, _ in shares) == low and sum(b for _, b in shares) == high
    assert all(0 <= a <= b for a, b in shares)
    assert max(b for _, b in shares) - min(b for _, b in shares) <= 1


# ------------------------------------------------------------------------------ k3s flags


def test_every_node_runs_k3s_for_an_external_ccm_with_its_providerid(result):
    for node in ("master-0", "master-1", "master-2", "pool-general", "pool-spot"):
        args = installer_args(script_of(result, node))
        assert "--kubelet-arg=cloud-provider=external" in args, node
        assert "--kubelet-arg=provider-id=${PROVIDER_ID}" in args, node
        # "start all K3s servers with the --disable-cloud-controller flag" (k3s docs); agents take none.
        assert ("--disable-cloud-controller" in args) == node.startswith("master"), node
        # Zone and region labels are the CCM's, from the instance: none from config.
        assert not [a for a in args if "topology.kubernetes.io" in a or "failure-domain" in a], node


@pytest.mark.parametrize("node", ["master-0", "master-1", "pool-general"])
def test_the_planned_bootstraps_pass_shellcheck(result, node, tmp_path):
    assert _lint(script_of(result, node), tmp_path, node) == ""


def test_a_planned_worker_registers_with_the_providerid_the_gce_ccm_parses(result, tmp_path):
    box = CloudSandbox(tmp_path)
    env = {
        "PATH": f"{box.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "FLEETFORM_ROOT": str(box.root),
        "FLEETFORM_TEST_LOG": str(box.log),
        "FLEETFORM_TEST_INSTALLER": str(box.installer),
        "HOME": str(box.root),
    }
    proc = subprocess.run(["/bin/sh", "-s"], input=script_of(result, "pool-general"), env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (args,) = box.installs()
    (provider_id,) = [a.split("=", 2)[2] for a in args if a.startswith("--kubelet-arg=provider-id=")]
    # The stub metadata server's answers (tests/test_bootstrap_cloud.py STUB_CURL).
    match = GCE_PROVIDER_ID.fullmatch(provider_id)
    assert match and match.groups() == ("acme-prod", "europe-west1-c", "fleet-general-7xq2")
    assert "--with-node-id" in args and args[0] == "agent"


# ------------------------------------------------------------------------------ APIs


def test_the_apis_the_cluster_calls_are_enabled_and_never_disabled(result):
    apis = {raw(s)["service"]: s for s in regs(result, SERVICE_API)}
    assert set(apis) == {"compute.googleapis.com", "secretmanager.googleapis.com", "iam.googleapis.com",
                         "cloudresourcemanager.googleapis.com"}
    for s in apis.values():
        assert raw(s)["disableOnDestroy"] is False
    compute, secrets, iam, crm = (apis[f"{n}.googleapis.com"].urn for n in ("compute", "secretmanager", "iam", "cloudresourcemanager"))
    for reg in result.capture.registrations:
        if not reg.custom:
            continue
        deps = closure(result, reg)
        if reg.type.startswith("gcp:compute/"):
            assert compute in deps, reg.name
        elif reg.type.startswith("gcp:secretmanager/"):
            assert secrets in deps, reg.name
        elif reg.type in (ACCOUNT, ROLE):
            assert iam in deps, reg.name
        elif reg.type == MEMBER:
            assert crm in deps and iam in deps, reg.name
        elif reg.type == SERVICE_API and reg.urn != crm:
            assert crm in deps, reg.name  # read back through Resource Manager
