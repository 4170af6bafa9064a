"""The bootstrap's options for clusters whose nodes a cloud's own controllers look after
(external cloud-controller-manager, providerID from instance metadata, node names with an id),
the bounded wait of joining nodes, and the kernel parameters loaded before k3s starts.

Expected values come from the sources, not from the code under test:

- k3s: https://docs.k3s.io/networking/networking-services#deploying-an-external-cloud-controller-manager
  ("start all K3s servers with the --disable-cloud-controller flag"); k3s-io/k3s
  pkg/daemons/agent/agent_linux.go (kubeletArgsAndConfig sets cloud-provider=external only
  without DisableCCM); pkg/agent/config/config.go (--with-node-id: name + "-" + 8 hex digits);
  pkg/server/handlers/router.go and handlers.go (/ping answers "pong", unauthenticated).
- providerID formats: kubernetes/cloud-provider-aws pkg/providers/v1/instances.go
  (KubernetesInstanceID "aws:///<zone>/<awsInstanceId>"), kubernetes/cloud-provider-gcp
  providers/gce/gce_util.go (providerIDRE ^gce://([^/]+)/([^/]+)/([^/]+)$).
- metadata: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
  (IMDSv2: PUT /latest/api/token, then X-aws-ec2-metadata-token),
  https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys (Metadata-Flavor:
  Google; instance/zone is projects/<number>/zones/<zone>).
- kubelet: kubernetes/kubernetes pkg/kubelet/cm/container_manager_linux.go setupKernelTunables
  and staging/src/k8s.io/component-helpers/node/util/sysctl/sysctl.go (commit 001332b0 / 04791b49).
- Azure: https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service (header
  ``Metadata: true``, requests without it refused with 400; ``format=text`` for a leaf; bypass
  proxies); kubernetes-sigs/cloud-provider-azure v1.32.20 ... v1.36.5: pkg/node/node.go
  (IMDSNodeProvider.InstanceID: "azure://" + the instance id), pkg/provider/azure_instances_v1.go
  getLocalInstanceProviderID (strings.ReplaceAll of the subscription id, then of the resource
  group name, by its lower case), pkg/provider/azure_vmss.go vmssVMResourceIDTemplate and
  azure_standard.go providerIDRE (what the controllers parse), pkg/consts/consts.go
  ImdsInstanceAPIVersion "2021-10-01".
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import replace

import pytest

from fleetform.bootstrap import NodeBootstrap, config_sha256, render_cloud_init, render_script
from fleetform.bootstrap.script import SYSCTL_FILE, k3s_args
from tests.bootstrap_parsing import files_of, installer_args
from tests.test_bootstrap import AGENT, INIT, JOIN, URL, Sandbox, _cloud_init_script, _lint

EXTERNAL = {role: replace(node, cloud_provider_external=True) for role, node in
            (("init", INIT), ("join", JOIN), ("agent", AGENT))}
AWS_IDS = {role: replace(node, provider_id_from="aws", with_node_id=True) for role, node in EXTERNAL.items()}
GCP_IDS = {role: replace(node, provider_id_from="gcp", with_node_id=True) for role, node in EXTERNAL.items()}
AZURE_IDS = {role: replace(node, provider_id_from="azure", with_node_id=True) for role, node in EXTERNAL.items()}

# What the kubelet requires under --protect-kernel-defaults (setupKernelTunables' desiredState).
KUBELET_TUNABLES = {
    "vm.overcommit_memory": "1",         # VMOvercommitMemoryAlways
    "vm.panic_on_oom": "0",              # VMPanicOnOOMInvokeOOMKiller
    "kernel.panic": "10",                # KernelPanicRebootTimeout
    "kernel.panic_on_oops": "1",         # KernelPanicOnOopsAlways
    "kernel.keys.root_maxkeys": "1000000",    # RootMaxKeysSetting
    "kernel.keys.root_maxbytes": "25000000",  # RootMaxBytesSetting = RootMaxKeysSetting * 25
}

AWS_PROVIDER_ID = re.compile(r"^aws:///[a-z0-9-]+/i-[0-9a-f]{8,17}$")
GCE_PROVIDER_ID = re.compile(r"^gce://([^/]+)/([^/]+)/([^/]+)$")


# ------------------------------------------------------------------------------ flags


def test_defaults_keep_k3s_own_cloud_controller_and_host_names():
    """On-prem (and any node that does not ask) keeps k3s's embedded CCM and plain names."""
    for node in (INIT, JOIN, AGENT):
        flags = k3s_args(node)
        assert "--disable-cloud-controller" not in flags
        assert not any(f.startswith("--kubelet-arg=cloud-provider") or "provider-id" in f for f in flags)
        assert "--with-node-id" not in flags


@pytest.mark.parametrize("role", ["init", "join"])
def test_external_cloud_provider_on_servers(role):
    flags = k3s_args(EXTERNAL[role])
    assert flags[0] == "server"
    assert flags.count("--disable-cloud-controller") == 1
    assert flags.count("--kubelet-arg=cloud-provider=external") == 1
    # Still hardened as before: the option adds, it takes nothing away.
    assert set(k3s_args(INIT if role == "init" else JOIN)) <= set(flags)


def test_external_cloud_provider_on_agents_sets_only_the_kubelet():
    """--disable-cloud-controller is a server flag (https://docs.k3s.io/cli/server); an agent's
    kubelet needs cloud-provider=external all the same (k3s omits it once the CCM is disabled)."""
    flags = k3s_args(EXTERNAL["agent"])
    assert flags[0] == "agent"
    assert "--kubelet-arg=cloud-provider=external" in flags
    assert "--disable-cloud-controller" not in flags


@pytest.mark.parametrize("role", ["init", "join", "agent"])
def test_with_node_id_on_every_role(role):
    node = replace({"init": INIT, "join": JOIN, "agent": AGENT}[role], with_node_id=True)
    assert "--with-node-id" in k3s_args(node)
    assert "--with-node-id" in installer_args(render_script(node))


def test_options_change_the_configuration_hash():
    """A host that gets them re-runs its bootstrap (on-prem compares the hash)."""
    assert config_sha256(EXTERNAL["agent"]) != config_sha256(AGENT)
    assert config_sha256(replace(AGENT, with_node_id=True)) != config_sha256(AGENT)
    assert config_sha256(AWS_IDS["agent"]) != config_sha256(GCP_IDS["agent"])
    assert len({config_sha256(n["agent"]) for n in (AWS_IDS, GCP_IDS, AZURE_IDS)}) == 3


def test_provider_id_needs_the_external_cloud_provider():
    with pytest.raises(ValueError, match="cloud_provider_external"):
        k3s_args(replace(AGENT, provider_id_from="aws"))


@pytest.mark.parametrize("nodes", [AWS_IDS, GCP_IDS, AZURE_IDS], ids=["aws", "gcp", "azure"])
def test_provider_id_is_the_only_argument_expanded_on_the_node(nodes):
    for node in nodes.values():
        script = render_script(node)
        args = installer_args(script)
        assert "--kubelet-arg=provider-id=${PROVIDER_ID}" in args
        # Double-quoted in the script (expanded), every other argument single-quoted or bare.
        assert '  "--kubelet-arg=provider-id=${PROVIDER_ID}" \\' in script.splitlines()
        assert sum("$" in a for a in args) == 1


# ------------------------------------------------------------------------------ shellcheck

LINTED = {
    **{f"external-{r}": n for r, n in EXTERNAL.items()},
    **{f"aws-{r}": n for r, n in AWS_IDS.items()},
    **{f"gcp-{r}": n for r, n in GCP_IDS.items()},
    **{f"azure-{r}": n for r, n in AZURE_IDS.items()},
    "join-wait-fatal": replace(JOIN, join_wait_fatal=True),
    "agent-wait-fatal": replace(AGENT, join_wait_fatal=True),
}


@pytest.mark.parametrize("name", sorted(LINTED))
def test_cloud_variants_pass_shellcheck(name, tmp_path):
    node = LINTED[name]
    assert _lint(render_script(node), tmp_path, name) == ""
    assert _cloud_init_script(node) == render_script(node)  # cloud-init carries the same script


# ------------------------------------------------------------------------------ sandbox runs

# Answers like the services the script talks to: k3s' /ping after FLEETFORM_TEST_PING_FAILURES
# failed attempts (connection refused = curl exit 7), EC2 IMDSv2 (token first; 401 without it,
# as IMDSv2 "required" does), the GCE metadata server (403 without Metadata-Flavor) and Azure's
# IMDS (400 without Metadata: true; leaves as text; values from FLEETFORM_TEST_AZURE_*); anything
# else is the installer download of tests/test_bootstrap.py.
STUB_CURL = r"""#!/bin/sh
printf 'curl %s\n' "$*" >> "$FLEETFORM_TEST_LOG"
url=""; out=""; token=""; flavor=""; azure=""; method=GET
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift;;
    -X) method="$2"; shift;;
    -H) case "$2" in
          "X-aws-ec2-metadata-token: "*) token="${2#X-aws-ec2-metadata-token: }";;
          "Metadata-Flavor: Google") flavor=yes;;
          "Metadata: true") azure=yes;;
        esac; shift;;
    http://*|https://*) url="$1";;
  esac
  shift
done
case "$url" in
  */ping)
    n=$(grep -c '/ping' "$FLEETFORM_TEST_LOG")
    if [ "$n" -le "${FLEETFORM_TEST_PING_FAILURES:-0}" ]; then exit 7; fi
    printf 'pong'; exit 0;;
  http://169.254.169.254/latest/api/token)
    [ "$method" = PUT ] || exit 22
    [ -n "${FLEETFORM_TEST_NO_METADATA:-}" ] && exit 7
    printf 'imds-session-token'; exit 0;;
  http://169.254.169.254/latest/meta-data/*)
    [ "$token" = imds-session-token ] || exit 22
    case "${url#http://169.254.169.254/latest/meta-data/}" in
      instance-id) printf 'i-0123456789abcdef0';;
      placement/availability-zone) printf 'us-east-1b';;
      *) exit 22;;
    esac; exit 0;;
  http://metadata.google.internal/computeMetadata/v1/*)
    [ -n "$flavor" ] || exit 22
    [ -n "${FLEETFORM_TEST_NO_METADATA:-}" ] && exit 7
    case "${url#http://metadata.google.internal/computeMetadata/v1/}" in
      project/project-id) printf 'acme-prod';;
      instance/zone) printf 'projects/123456789012/zones/europe-west1-c';;
      instance/name) printf 'fleet-general-7xq2';;
      *) exit 22;;
    esac; exit 0;;
  http://169.254.169.254/metadata/instance/compute/*)
    [ -n "$azure" ] || exit 22
    [ -n "${FLEETFORM_TEST_NO_METADATA:-}" ] && exit 7
    case "$url" in *'?api-version=2021-10-01&format=text') ;; *) exit 22;; esac
    leaf="${url#http://169.254.169.254/metadata/instance/compute/}"
    case "${leaf%%\?*}" in
      resourceId) printf '%s' "$FLEETFORM_TEST_AZURE_ID";;
      subscriptionId) printf '%s' "$FLEETFORM_TEST_AZURE_SUBSCRIPTION";;
      resourceGroupName) printf '%s' "$FLEETFORM_TEST_AZURE_GROUP";;
      *) exit 22;;
    esac; exit 0;;
esac
cp "$FLEETFORM_TEST_INSTALLER" "$out"
"""


# A scale set instance as Azure's IMDS describes it: a resource group name with upper case and
# regex-special characters, a subscription id in upper case, a scale set name with upper case.
AZURE_SUBSCRIPTION = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"
AZURE_GROUP = "Fleet.Prod(1)-RG"
AZURE_VMSS_ID = (f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/{AZURE_GROUP}/providers/"
                 "Microsoft.Compute/virtualMachineScaleSets/Fleet-General/virtualMachines/17")
AZURE_INSTANCE = {"FLEETFORM_TEST_AZURE_ID": AZURE_VMSS_ID, "FLEETFORM_TEST_AZURE_SUBSCRIPTION": AZURE_SUBSCRIPTION,
                  "FLEETFORM_TEST_AZURE_GROUP": AZURE_GROUP}
# What the controllers parse (cloud-provider-azure v1.35.8): a scale set instance by
# vmssVMProviderIDRE ("azure://" + vmssVMResourceIDTemplate), a VM by providerIDRE.
AZURE_VMSS_PROVIDER_ID = re.compile(r"azure:///subscriptions/(?:.*)/resourceGroups/(.+)/providers/"
                                    r"Microsoft.Compute/virtualMachineScaleSets/(.+)/virtualMachines/(?:\d+)")
AZURE_VM_PROVIDER_ID = re.compile(r".*/subscriptions/(?:.*)/Microsoft.Compute/virtualMachines/(.+)$")


def azure_node_manager_provider_id(resource_id: str, subscription: str, group: str) -> str:
    """getLocalInstanceProviderID with "azure://" in front: Go's strings.ReplaceAll and Python's
    str.replace both replace every non-overlapping occurrence, left to right."""
    return "azure://" + resource_id.replace(subscription, subscription.lower()).replace(group, group.lower())


class CloudSandbox(Sandbox):
    def __init__(self, tmp):
        super().__init__(tmp)
        (self.bin / "curl").write_text(STUB_CURL)

    def run(self, node: NodeBootstrap, **env: str) -> subprocess.CompletedProcess:
        return self.run_script(render_script(node), **env)

    def run_script(self, script: str, **env: str) -> subprocess.CompletedProcess:
        full = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "FLEETFORM_ROOT": str(self.root),
            "FLEETFORM_TEST_LOG": str(self.log),
            "FLEETFORM_TEST_INSTALLER": str(self.installer),
            "HOME": str(self.root),
            **AZURE_INSTANCE,
            **env,
        }
        return subprocess.run(["/bin/sh", "-s"], input=script, env=full, capture_output=True, text=True, timeout=60)

    def order(self) -> list[str]:
        """The log's lines reduced to what happened: ping, metadata, sysctl, installer."""
        out = []
        for line in self.log.read_text().splitlines():
            if line.startswith("curl ") and "/ping" in line:
                out.append("ping")
            elif line.startswith("curl ") and ("169.254.169.254" in line or "metadata.google.internal" in line):
                out.append("metadata")
            elif line.startswith("sysctl "):
                out.append("sysctl")
            elif line.startswith("installer "):
                out.append("installer")
        return out


@pytest.fixture
def cbox(tmp_path):
    return CloudSandbox(tmp_path)


def _flag(args: list[str], prefix: str) -> str:
    (value,) = [a[len(prefix):] for a in args if a.startswith(prefix)]
    return value


@pytest.mark.parametrize("role", ["init", "join", "agent"])
def test_aws_node_registers_with_the_providerid_from_imdsv2(cbox, role):
    proc = cbox.run(AWS_IDS[role])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (args,) = cbox.installs()
    provider_id = _flag(args, "--kubelet-arg=provider-id=")
    assert provider_id == "aws:///us-east-1b/i-0123456789abcdef0"
    assert AWS_PROVIDER_ID.fullmatch(provider_id)
    assert "--with-node-id" in args and "--kubelet-arg=cloud-provider=external" in args
    # IMDSv2: the token is asked for with PUT before any metadata read.
    calls = [c for c in cbox.calls("curl") if "169.254.169.254" in c]
    assert "-X PUT" in calls[0] and calls[0].endswith("/latest/api/token")
    assert all("X-aws-ec2-metadata-token: imds-session-token" in c for c in calls[1:])
    assert f"providerID: {provider_id}" in proc.stdout


@pytest.mark.parametrize("role", ["init", "join", "agent"])
def test_gcp_node_registers_with_the_providerid_the_gce_ccm_parses(cbox, role):
    proc = cbox.run(GCP_IDS[role])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (args,) = cbox.installs()
    provider_id = _flag(args, "--kubelet-arg=provider-id=")
    m = GCE_PROVIDER_ID.fullmatch(provider_id)
    assert m and m.groups() == ("acme-prod", "europe-west1-c", "fleet-general-7xq2")
    assert all("Metadata-Flavor: Google" in c for c in cbox.calls("curl") if "metadata.google.internal" in c)


@pytest.mark.parametrize("role", ["init", "join", "agent"])
def test_azure_node_registers_with_the_providerid_the_node_manager_would_set(cbox, role):
    proc = cbox.run(AZURE_IDS[role])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (args,) = cbox.installs()
    provider_id = _flag(args, "--kubelet-arg=provider-id=")
    assert provider_id == azure_node_manager_provider_id(AZURE_VMSS_ID, AZURE_SUBSCRIPTION, AZURE_GROUP)
    # Subscription and group lower-cased, nothing else: the scale set keeps its case.
    assert provider_id == ("azure:///subscriptions/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/resourceGroups/"
                           "fleet.prod(1)-rg/providers/Microsoft.Compute/virtualMachineScaleSets/Fleet-General/virtualMachines/17")
    m = AZURE_VMSS_PROVIDER_ID.fullmatch(provider_id)
    assert m and m.groups() == ("fleet.prod(1)-rg", "Fleet-General")
    assert "--with-node-id" in args and "--kubelet-arg=cloud-provider=external" in args
    # Three leaf reads, each with the header IMDS requires, as text, bypassing any proxy.
    # (The stub logs its arguments joined by spaces; the stub itself refused a request without
    # the header, exit 22.)
    calls = [c for c in cbox.calls("curl") if "169.254.169.254" in c]
    assert sorted(c.split("/compute/")[1] for c in calls) == sorted(
        f"{leaf}?api-version=2021-10-01&format=text" for leaf in ("resourceId", "subscriptionId", "resourceGroupName"))
    for c in calls:
        assert " -H Metadata: true " in c and " --noproxy * " in c
        assert re.search(r" --retry ([1-5]) ", c) and " --retry-connrefused " in c  # bounded
    assert f"providerID: {provider_id}" in proc.stdout
    assert cbox.order().index("metadata") < cbox.order().index("installer")


def test_azure_vm_providerid_matches_what_the_controllers_parse(cbox):
    """A master is a VM, not a scale set instance; the group's name also occurs in the VM's name
    (ReplaceAll lower-cases every occurrence)."""
    vm_id = f"/subscriptions/{AZURE_SUBSCRIPTION}/resourceGroups/SM-RG/providers/Microsoft.Compute/virtualMachines/SM-RG-master-1"
    proc = cbox.run(AZURE_IDS["init"], FLEETFORM_TEST_AZURE_ID=vm_id, FLEETFORM_TEST_AZURE_GROUP="SM-RG")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    provider_id = _flag(cbox.installs()[0], "--kubelet-arg=provider-id=")
    assert provider_id == azure_node_manager_provider_id(vm_id, AZURE_SUBSCRIPTION, "SM-RG")
    m = AZURE_VM_PROVIDER_ID.fullmatch(provider_id)
    assert m and m.group(1) == "sm-rg-master-1"
    assert not AZURE_VMSS_PROVIDER_ID.fullmatch(provider_id)


def test_azure_metadata_that_is_not_a_resource_id_stops_the_bootstrap(cbox):
    proc = cbox.run(AZURE_IDS["agent"], FLEETFORM_TEST_AZURE_ID="<html>proxy error</html>")
    assert proc.returncode == 1
    assert "not a resource id; cannot register the node with its providerID" in proc.stdout
    assert cbox.installs() == []


@pytest.mark.parametrize("missing", ["FLEETFORM_TEST_AZURE_SUBSCRIPTION", "FLEETFORM_TEST_AZURE_GROUP"])
def test_azure_metadata_missing_one_value_names_it(cbox, missing):
    proc = cbox.run(AZURE_IDS["agent"], **{missing: ""})
    assert proc.returncode == 1
    name = {"FLEETFORM_TEST_AZURE_SUBSCRIPTION": "subscriptionId", "FLEETFORM_TEST_AZURE_GROUP": "resourceGroupName"}[missing]
    assert f"instance metadata gave no {name}; cannot register the node with its providerID" in proc.stdout
    assert cbox.installs() == []


@pytest.mark.parametrize("nodes", [AWS_IDS, GCP_IDS, AZURE_IDS], ids=["aws", "gcp", "azure"])
def test_no_metadata_means_no_install_and_a_clear_reason(cbox, nodes):
    proc = cbox.run(nodes["agent"], FLEETFORM_TEST_NO_METADATA="1")
    assert proc.returncode == 1
    assert "instance metadata gave no" in proc.stdout and "providerID" in proc.stdout
    assert cbox.installs() == []


@pytest.mark.parametrize("role", ["join", "agent"])
def test_joining_node_waits_for_the_server_then_installs(cbox, role):
    node = replace({"join": JOIN, "agent": AGENT}[role], join_retry_seconds=0)
    proc = cbox.run(node, FLEETFORM_TEST_PING_FAILURES="3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert cbox.order()[:5] == ["sysctl", "ping", "ping", "ping", "ping"]
    assert cbox.order()[-1] == "installer"
    waiting = [line for line in proc.stdout.splitlines() if "waiting for" in line]
    assert waiting == [f"fleetform-bootstrap: waiting for {URL}/ping (attempt {i}); next try in 0 s" for i in (1, 2, 3)]
    assert f"fleetform-bootstrap: {URL}/ping answers (attempt 4)" in proc.stdout
    # The wait sends nothing secret and verifies nothing it cannot (the node has only the CA hash).
    for call in cbox.calls("curl"):
        if "/ping" in call:
            assert shlex.split(call)[1:] == ["-sk", "--max-time", "5", f"{URL}/ping"]


def test_joining_node_gives_up_after_its_bound_when_told_to(cbox):
    """On-prem (over SSH, where the next `pulumi up` runs the bootstrap again)."""
    node = replace(JOIN, join_wait_seconds=1, join_retry_seconds=1, join_wait_fatal=True)
    proc = cbox.run(node, FLEETFORM_TEST_PING_FAILURES="1000")
    assert proc.returncode == 1
    assert f"fleetform-bootstrap: giving up: {URL}/ping did not answer within 1 s" in proc.stdout
    assert cbox.installs() == []
    assert 1 <= cbox.order().count("ping") <= 3  # bounded: retried, not spun


@pytest.mark.parametrize("role", ["join", "agent"])
def test_cloud_node_installs_anyway_after_its_bound(cbox, role):
    """cloud-init runs the bootstrap once: after the bounded wait the node says so and installs,
    and the installed k3s keeps retrying its server (a node never installed would never join)."""
    node = replace({"join": JOIN, "agent": AGENT}[role], join_wait_seconds=1, join_retry_seconds=1)
    proc = cbox.run(node, FLEETFORM_TEST_PING_FAILURES="1000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (f"fleetform-bootstrap: {URL}/ping did not answer within 1 s (2 attempts); installing anyway: "
            "k3s keeps retrying it") in proc.stdout
    assert len(cbox.installs()) == 1 and cbox.order()[-1] == "installer"
    assert 1 <= cbox.order().count("ping") <= 3


def test_first_master_does_not_wait_for_anyone(cbox):
    assert cbox.run(replace(INIT, join_wait_seconds=0)).returncode == 0
    assert "ping" not in cbox.order()
    assert "ping_url" not in render_script(INIT)


def test_default_wait_is_fifteen_minutes_every_five_seconds():
    script = render_script(JOIN)
    assert "deadline=$(( $(date +%s) + 900 ))" in script and "  sleep 5" in script


@pytest.mark.parametrize("node", [INIT, JOIN, AGENT, *EXTERNAL.values(), *AWS_IDS.values(), *GCP_IDS.values(),
                                  *AZURE_IDS.values()],
                         ids=lambda n: f"{n.role}-{n.provider_id_from or ('ext' if n.cloud_provider_external else 'plain')}")
def test_kubelet_tunables_are_loaded_before_k3s_starts(cbox, node):
    """Every role and cloud option, through the one renderer cloud-init and SSH both carry."""
    script = render_script(node)
    text = files_of(script)[SYSCTL_FILE]
    assert dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")) == KUBELET_TUNABLES
    assert "--protect-kernel-defaults" in installer_args(script)
    assert files_of(_cloud_init_script(node))[SYSCTL_FILE] == text
    assert "#cloud-config" in render_cloud_init(node)
    proc = cbox.run(node)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    order = cbox.order()
    assert order.index("sysctl") < order.index("installer")
    assert cbox.file(SYSCTL_FILE).read_text() == text
