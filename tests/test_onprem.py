"""Target onprem: the example stack planned offline, the Pulumi-assembled kubeconfig, secrets in
every plan output, host removal, and the config errors of on-prem clusters."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import subprocess
import sys

import pytest
import yaml

from fleetform.bootstrap import K3S_RELEASES
from fleetform.config import FleetConfigError, load_spec
from fleetform.plan.canned.random import placeholder_password
from fleetform.plan.canned.tls import placeholder_certificate, placeholder_private_key
from fleetform.plan.engine import plan
from fleetform.plan.mocks import SECRET, plain
from tests.bootstrap_parsing import files_of, installer_args
from tests.conftest import ROOT, stack_config

PLANTED_SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nplanted-ssh-key-5b9e1c7d3f2a4e6b8d0c\n-----END OPENSSH PRIVATE KEY-----\n"
)
VIP = "192.0.2.10"
URL = f"https://{VIP}:6443"
VERSION = K3S_RELEASES["1.35"]


def _config(**changes):
    cfg = stack_config("onprem")
    cfg["fleetform:sshPrivateKey"] = PLANTED_SSH_KEY
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def _without_host(cfg, host):
    cfg = copy.deepcopy(cfg)
    cluster = cfg["fleetform:clusters"][0]
    cluster["hosts"] = [h for h in cluster["hosts"] if h["name"] != host]
    return cfg


@pytest.fixture(scope="module")
def result():
    return plan("onprem", config=_config())


@pytest.fixture(scope="module")
def regs(result):
    return {r.name: r for r in result.capture.registrations}


def _raw(reg):
    return plain(reg.inputs, mask=False)


# ------------------------------------------------------------------------------ the example stack


def test_example_stack_plans_clean(result):
    assert result.exit_code == 0, (result.schema_errors, result.errors, result.mandatory_violations)
    assert [r.type for r in result.capture.registrations if r.type.startswith("fleetform:cluster:")] == [
        "fleetform:cluster:OnPremCluster"
    ]


def test_fleetform_plan_of_the_example_stack_file_exits_0(capsys):
    from fleetform.cli import main

    assert main(["plan", "onprem"]) == 0
    out = capsys.readouterr().out
    assert "dc-master-dc-m1" in out and "OnPremCluster" in out


def test_three_masters_and_three_workers_provisioned_by_remote_commands(regs):
    remote = {n for n, r in regs.items() if r.type == "command:remote:Command"}
    assert {n for n in remote if not n.endswith("-drain")} == {
        "dc-master-dc-m1", "dc-master-dc-m2", "dc-master-dc-m3", "dc-worker-dc-w1", "dc-worker-dc-w2", "dc-worker-dc-w3",
    }
    # Every host but the first master can be drained through the first master.
    assert {n for n in remote if n.endswith("-drain")} == {
        "dc-master-dc-m2-drain", "dc-master-dc-m3-drain", "dc-worker-dc-w1-drain", "dc-worker-dc-w2-drain",
        "dc-worker-dc-w3-drain",
    }


def test_each_host_command_connects_to_its_host_with_the_secret_key(regs, result):
    hosts = {h["name"]: h for h in result.spec.clusters[0].model_dump(by_alias=True, mode="json")["hosts"]}
    for name, host in hosts.items():
        reg = regs[f"dc-{host['role']}-{name}"]
        assert plain(reg.inputs, mask=True)["connection"] == SECRET
        conn = _raw(reg)["connection"]
        assert conn["host"] == host["address"]
        assert conn["user"] == "fleetform" and conn["port"] == 22
        assert conn["privateKey"] == PLANTED_SSH_KEY
        assert conn["hostKey"] == host["hostKey"]  # host keys are verified
        # The script goes on stdin (secret); the command line names only role, release and hash.
        assert plain(reg.inputs, mask=True)["stdin"] == SECRET
        create = _raw(reg)["create"]
        assert create.startswith(f"# fleetform k3s bootstrap: role=") and f"k3s={VERSION}" in create
        assert "sudo -n sh -s" in create
        assert PLANTED_SSH_KEY not in create


def test_first_master_inits_etcd_and_the_others_join_the_vip(regs):
    init = installer_args(_raw(regs["dc-master-dc-m1"])["stdin"])
    assert init[0] == "server" and "--cluster-init" in init and f"--tls-san={VIP}" in init
    for m in ("dc-m2", "dc-m3"):
        join = installer_args(_raw(regs[f"dc-master-{m}"])["stdin"])
        assert join[0] == "server" and f"--server={URL}" in join and "--cluster-init" not in join
        assert f"--tls-san={VIP}" in join
    for w in ("dc-w1", "dc-w2", "dc-w3"):
        agent = installer_args(_raw(regs[f"dc-worker-{w}"])["stdin"])
        assert agent[0] == "agent" and f"--server={URL}" in agent
    # With workers present, the masters run the control plane only.
    assert "--node-taint=CriticalAddonsOnly=true:NoExecute" in init
    assert "--node-taint=CriticalAddonsOnly=true:NoExecute" not in agent


def test_joining_hosts_wait_for_the_vip_and_fail_clearly_if_it_never_answers(regs):
    """Over SSH a failed bootstrap is run again by the next `pulumi up`, so a host whose server
    never answers k3s' /ping fails with one line instead of installing a k3s that cannot join."""
    for name in ("dc-master-dc-m2", "dc-master-dc-m3", "dc-worker-dc-w1"):
        script = _raw(regs[name])["stdin"]
        assert f"ping_url={URL}/ping" in script
        assert 'log "giving up: $ping_url did not answer within 900 s ($attempt attempts)"\n    exit 1' in script
        assert "installing anyway" not in script
        assert script.index("ping_url=") < script.index('sh "$INSTALLER"')
    assert "ping_url=" not in _raw(regs["dc-master-dc-m1"])["stdin"]  # the first master waits for no one


def test_masters_join_one_at_a_time_and_workers_after_them(regs):
    urn = {n: r.urn for n, r in regs.items()}
    assert urn["dc-master-dc-m1"] in regs["dc-master-dc-m2"].dependencies
    assert urn["dc-master-dc-m2"] in regs["dc-master-dc-m3"].dependencies
    for w in ("dc-w1", "dc-w2", "dc-w3"):
        deps = regs[f"dc-worker-{w}"].dependencies
        assert {urn["dc-master-dc-m1"], urn["dc-master-dc-m2"], urn["dc-master-dc-m3"]} <= set(deps)
        # Drain is deleted before the host's own command (uninstall): it depends on it.
        assert urn[f"dc-worker-{w}"] in regs[f"dc-worker-{w}-drain"].dependencies


def test_first_master_receives_the_minted_cas_and_tokens_carry_their_hash(regs):
    script = _raw(regs["dc-master-dc-m1"])["stdin"]
    files = files_of(script)
    tls = "/var/lib/rancher/k3s/server/tls"
    server_ca = placeholder_certificate("dc-identity-server-ca")
    assert files[f"{tls}/server-ca.crt"] == server_ca
    assert files[f"{tls}/client-ca.key"] == placeholder_private_key("dc-identity-client-ca-key")
    assert files[f"{tls}/etcd/peer-ca.crt"] == placeholder_certificate("dc-identity-etcd-peer-ca")
    assert files[f"{tls}/service.key"] == placeholder_private_key("dc-identity-service-account-key")
    ca_hash = hashlib.sha256(server_ca.encode()).hexdigest()
    assert files["/etc/rancher/k3s/fleetform/token"] == f"K10{ca_hash}::server:{placeholder_password('dc-identity-server-token')}"
    assert files["/etc/rancher/k3s/fleetform/agent-token"] == placeholder_password("dc-identity-agent-token")
    worker = files_of(_raw(regs["dc-worker-dc-w1"])["stdin"])
    assert worker["/etc/rancher/k3s/fleetform/token"] == f"K10{ca_hash}::node:{placeholder_password('dc-identity-agent-token')}"
    # Only the first master gets CA keys.
    for other in ("dc-master-dc-m2", "dc-worker-dc-w1"):
        assert not any(p.startswith(tls) for p in files_of(_raw(regs[other])["stdin"]))


def test_kubeconfig_is_assembled_by_pulumi_from_the_minted_identity(result):
    assert result.capture.outputs["kubeconfigs"] == SECRET
    doc = yaml.safe_load(result.capture.outputs_raw["kubeconfigs"]["dc"])
    assert doc["kind"] == "Config" and doc["current-context"] == "dc"
    (cluster,) = doc["clusters"]
    assert cluster["cluster"]["server"] == URL
    ca = base64.b64decode(cluster["cluster"]["certificate-authority-data"]).decode()
    assert ca == placeholder_certificate("dc-identity-server-ca")
    (user,) = doc["users"]
    assert base64.b64decode(user["user"]["client-certificate-data"]).decode() == placeholder_certificate("dc-identity-admin-cert")
    assert base64.b64decode(user["user"]["client-key-data"]).decode() == placeholder_private_key("dc-identity-admin-key")
    (ctx,) = doc["contexts"]
    assert ctx["context"] == {"cluster": "dc", "user": user["name"]}
    assert result.capture.outputs["clusters"]["dc"]["endpoint"] == URL


def test_admin_certificate_is_a_system_masters_client_cert_from_the_client_ca(regs):
    csr = _raw(regs["dc-identity-admin-csr"])
    assert csr["subject"] == {"commonName": "fleetform-admin", "organization": "system:masters"}
    cert = _raw(regs["dc-identity-admin-cert"])
    assert cert["caCertPem"] == placeholder_certificate("dc-identity-client-ca")
    assert "client_auth" in cert["allowedUses"] and "server_auth" not in cert["allowedUses"]
    probe = _raw(regs["dc-identity-probe-csr"])
    assert "organization" not in probe["subject"]  # the probe belongs to no group
    for token in ("dc-identity-server-token", "dc-identity-agent-token"):
        assert _raw(regs[token])["length"] >= 32 and regs[token].type == "random:index/randomPassword:RandomPassword"


def test_provider_waits_for_the_readiness_gate_which_waits_for_the_masters(regs):
    gate, provider = regs["dc-api-ready"], regs["dc-k8s"]
    assert gate.type == "command:local:Command"
    assert gate.urn in provider.dependencies
    for m in ("dc-m1", "dc-m2", "dc-m3"):
        assert regs[f"dc-master-{m}"].urn in gate.dependencies
    create = _raw(gate)["create"]
    assert f"{URL}/readyz" in create and "--cacert" in create and "--cert" in create
    env = _raw(gate)["environment"]
    assert env["FLEETFORM_API_CA"] == placeholder_certificate("dc-identity-server-ca")
    assert env["FLEETFORM_API_KEY"] == placeholder_private_key("dc-identity-probe-key")
    assert plain(gate.inputs, mask=True)["environment"] == SECRET
    assert _raw(provider)["clusterIdentifier"] == "dc"
    assert plain(provider.inputs, mask=True)["kubeconfig"] == SECRET
    # Workloads go through this provider, hence after the gate.
    assert regs["dc-web-deployment"].provider.startswith(provider.urn)


def test_servicelb_stays_on_and_metallb_turns_it_off(regs):
    assert "--disable=servicelb" not in installer_args(_raw(regs["dc-master-dc-m1"])["stdin"])
    cfg = _config()
    cfg["fleetform:clusters"][0]["loadBalancer"] = {"provider": "metallb", "publicPool": "dc-public"}
    metallb = {r.name: r for r in plan("onprem-metallb", config=cfg).capture.registrations}
    args = installer_args(_raw(metallb["dc-master-dc-m1"])["stdin"])
    assert "--disable=servicelb" in args
    psa = yaml.safe_load(files_of(_raw(metallb["dc-master-dc-m1"])["stdin"])["/var/lib/rancher/k3s/server/psa.yaml"])
    assert "metallb-system" in psa["plugins"][0]["configuration"]["exemptions"]["namespaces"]
    service = next(r for r in metallb.values() if r.name == "dc-web-service")
    assert _raw(service)["metadata"]["annotations"]["metallb.io/address-pool"] == "dc-public"


def test_one_master_registers_at_its_own_address():
    cfg = _config()
    cluster = cfg["fleetform:clusters"][0]
    cluster["hosts"] = [h for h in cluster["hosts"] if h["name"] in ("dc-m1", "dc-w1")]
    cluster["controlPlane"] = {"count": 1}
    del cluster["vip"]
    res = plan("onprem-single", config=cfg)
    assert res.exit_code == 0
    regs = {r.name: r for r in res.capture.registrations}
    args = installer_args(_raw(regs["dc-master-dc-m1"])["stdin"])
    assert "--tls-san=192.0.2.11" in args
    assert installer_args(_raw(regs["dc-worker-dc-w1"])["stdin"])[2] == "--server=https://192.0.2.11:6443"
    assert not any(n.startswith("dc-master-") and n.endswith("-drain") for n in regs)


# ------------------------------------------------------------------------------ host removal


def test_removing_a_worker_removes_exactly_that_workers_resources(result):
    after = plan("onprem", config=_without_host(_config(), "dc-w2"))
    before_urns = {r.urn: r for r in result.capture.registrations}
    after_urns = {r.urn: r for r in after.capture.registrations}
    removed = {before_urns[u].name for u in set(before_urns) - set(after_urns)}
    assert removed == {"dc-worker-dc-w2", "dc-worker-dc-w2-drain"}
    assert set(after_urns) <= set(before_urns)
    # Nothing else changes: every remaining resource has the same inputs, so only the removed
    # worker's delete commands run (drain through the first master, then uninstall on the host).
    for urn, reg in after_urns.items():
        assert plain(reg.inputs, mask=False) == plain(before_urns[urn].inputs, mask=False), reg.name
    drain = _raw(before_urns[next(u for u in before_urns if u.endswith("::dc-worker-dc-w2-drain"))])
    assert "k3s kubectl drain \"$node\"" in drain["delete"] and "node=dc-w2" in drain["delete"]
    assert drain["connection"]["host"] == "192.0.2.11"  # through the first master
    uninstall = _raw(before_urns[next(u for u in before_urns if u.endswith("::dc-worker-dc-w2"))])["delete"]
    assert "/usr/local/bin/k3s-agent-uninstall.sh" in uninstall


def test_an_unchanged_host_keeps_identical_inputs_across_plans(result):
    again = {r.urn: plain(r.inputs, mask=False) for r in plan("onprem", config=_config()).capture.registrations}
    for r in result.capture.registrations:
        assert again[r.urn] == plain(r.inputs, mask=False), r.name


def test_upgrading_kubernetes_updates_the_host_commands_in_place(result):
    cfg = _config()
    cfg["fleetform:kubernetesVersion"] = "1.36"
    after = {r.name: r for r in plan("onprem", config=cfg).capture.registrations}
    before = {r.name: r for r in result.capture.registrations}
    assert set(after) == set(before)  # same URNs: updated, not replaced
    create = _raw(after["dc-master-dc-m1"])["create"]
    assert f"k3s={K3S_RELEASES['1.36']}" in create and create != _raw(before["dc-master-dc-m1"])["create"]
    assert "triggers" not in _raw(after["dc-master-dc-m1"])  # triggers would replace, i.e. uninstall
    assert _raw(after["dc-api-ready"])["triggers"] != _raw(before["dc-api-ready"])["triggers"]


# ------------------------------------------------------------------------------ secrets


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("onprem-cli")
    stack = tmp / "Pulumi.onprem-secrets.yaml"
    # The key is encrypted in the stack file, as Pulumi requires; the plan cannot decrypt it, so
    # this run stands in for the engine: it hands the program the decrypted key, marked secret.
    cfg = _config()
    cfg["fleetform:sshPrivateKey"] = {"secure": "v1:c2FsdA==:cGxhbnRlZA=="}
    stack.write_text(yaml.safe_dump({"config": cfg}))
    decrypting = (
        "import sys\n"
        "import fleetform.plan.engine as engine\n"
        "read = engine.read_stack_config\n"
        "def decrypted(path):\n"
        "    config, secret_keys = read(path)\n"
        "    assert secret_keys == ('fleetform:sshPrivateKey',)\n"
        f"    config['fleetform:sshPrivateKey'] = {PLANTED_SSH_KEY!r}\n"
        "    return config, secret_keys\n"
        "engine.read_stack_config = decrypted\n"
        "from fleetform.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    out_json, out_md, out_dir = tmp / "plan.json", tmp / "plan.md", tmp / "manifests"
    proc = subprocess.run(
        [sys.executable, "-c", decrypting, "plan", str(stack), "--json", str(out_json), "--markdown", str(out_md),
         "--manifests", str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    texts = {"stdout": proc.stdout, "stderr": proc.stderr, "json": out_json.read_text(), "markdown": out_md.read_text()}
    texts.update({str(p): p.read_text() for p in out_dir.rglob("*.yaml")})
    return texts


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_no_secret_in_any_plan_output(cli_outputs, result):
    kubeconfig = result.capture.outputs_raw["kubeconfigs"]["dc"]
    admin_key = placeholder_private_key("dc-identity-admin-key")
    secrets = {
        "ssh key": "planted-ssh-key-5b9e1c7d3f2a4e6b8d0c",
        "server token password": placeholder_password("dc-identity-server-token"),
        "agent token password": placeholder_password("dc-identity-agent-token"),
        "admin key": admin_key.splitlines()[1],
        "admin key in kubeconfig": _b64(admin_key)[:40],
        "server CA key": placeholder_private_key("dc-identity-server-ca-key").splitlines()[1],
        "kubeconfig": kubeconfig[:60],
    }
    assert len(cli_outputs) > 4
    for where, text in cli_outputs.items():
        for what, secret in secrets.items():
            assert secret not in text, f"{what} in {where}"
    doc = json.loads(cli_outputs["json"])
    assert doc["outputs"]["kubeconfigs"] == SECRET
    # The report does describe the hosts' commands: the masking is not an empty report.
    names = {r["name"]: r for r in doc["resources"]}
    assert names["dc-master-dc-m1"]["inputs"]["stdin"] == SECRET
    assert names["dc-master-dc-m1"]["inputs"]["connection"] == SECRET
    assert "dc-master-dc-m1" in cli_outputs["stdout"]


# ------------------------------------------------------------------------------ config errors

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMgKCvDeCFjbxSWnegh4QZ9OtMRv5xD8Iy7tzTeyKNib"
# Real public keys (ssh-keygen -t ecdsa -b 256/384/521, -t rsa -b 2048; private halves discarded).
ECDSA_HOST_KEYS = (
    "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIGm94w369NxnQlzg1J5fRvaffmVltK2O4kYdeEL"
    "+O/6/segzj5Wgd874guaRwTusNznI1hlZrV8Dfq6epk1KUk=",
    "ecdsa-sha2-nistp384 AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBBHly+87CXJlXwEUEeuw5C8PZmP271gOR+4wlHIb"
    "bNre6XZqxq7RvMXbDNBGJHfWo7dGi/ly+hP6bT/7WcAcOKoFJI2sUcutqu/TGYXAR3o9WV90PWuRl157cXxhf3AEBg==",
    "ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAFfSX2RN9mEq4isef2pnMmarUJ2iGZm/4Y6Cer0"
    "qoCFbQtzIQrUb2SlrDMN0fi6WHdpxA8YYOh4lMr6bHvAh1bo4ACqLihjRkhZC8cBWJ61cJfMYhQzlrUO2Q664AvfKz7m1e/DsdgcGU/5hpmBfMFxB"
    "ZnXykxPMhi9/b2M5g2cJXoCcQ==",
)
RSA_HOST_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCcKUYblOwNiWv2wo7tdKnB6oD1voI3zLHzhLo+P9q4C+eTjPL86zJA1Ho2iL2uTeLqKlHn4t2W"
    "up40chl5D/+DlrJraXvYZSp3fuCny1X1HwEy05en7+CCrNdNleoJnHeJD/SylzpGKx0V7fGYw85v7S/KMM9kvtN907tibb6KuWvexsGH0hAL3YgZS"
    "KDrzo1N+ETaWPzC/eOGQrj05ty/tzbudqn6ccEtVhhLplLQ0EEvhJA4LVdAZ1jWfwmH2W7TzKqrr4lJOiJLYgru3wzWFXNYL6YovsjkrfeOlCyBRbe"
    "B7dXwHmnWz39kXcwbH32lrhjucNZQO5paGSB4fiC1"
)


def _host(name, address, role="master", **extra):
    return {"name": name, "address": address, "role": role, "hostKey": HOST_KEY, **extra}


def _onprem(**overrides):
    base = {"name": "dc", "target": "onprem", "hosts": [_host("m1", "192.0.2.11")]}
    base.update(overrides)
    return {"fleetform:clusters": [base], "fleetform:sshPrivateKey": "[secret]"}


THREE = [_host("m1", "192.0.2.11"), _host("m2", "192.0.2.12"), _host("m3", "192.0.2.13")]

ERRORS = [
    ("no hosts", _onprem(hosts=None),
     "fleetform:clusters[0].hosts: got null; allowed: the cluster's existing machines, at least one with role master "
     "(required for target onprem)"),
    ("empty hosts", _onprem(hosts=[]),
     "fleetform:clusters[0].hosts: got []; allowed: the cluster's existing machines, at least one with role master "
     "(required for target onprem)"),
    ("duplicate address", _onprem(hosts=[_host("m1", "192.0.2.11"), _host("w1", "192.0.2.11", "worker")]),
     'fleetform:clusters[0].hosts[1].address: got "192.0.2.11"; allowed: an address not used by another host of this cluster'),
    ("duplicate name", _onprem(hosts=[_host("m1", "192.0.2.11"), _host("m1", "192.0.2.12", "worker")]),
     'fleetform:clusters[0].hosts[1].name: got "m1"; allowed: a name not used by another host of this cluster'),
    ("missing ssh key", {"fleetform:clusters": _onprem()["fleetform:clusters"]},
     "fleetform:sshPrivateKey: got null; allowed: an SSH private key for the hosts of dc, set as a secret "
     "(pulumi config set --secret fleetform:sshPrivateKey < key)"),
    ("masters do not match count", _onprem(controlPlane={"count": 3}),
     "fleetform:clusters[0].controlPlane.count: got 3; allowed: the number of hosts with role master (1 listed)"),
    ("two masters", _onprem(hosts=THREE[:2]),
     'fleetform:clusters[0].hosts: got "2 masters"; allowed: 1 or 3 hosts with role master (embedded etcd needs an odd quorum)'),
    ("no master", _onprem(hosts=[_host("w1", "192.0.2.21", "worker")]),
     'fleetform:clusters[0].hosts: got "0 masters"; allowed: 1 or 3 hosts with role master (embedded etcd needs an odd quorum)'),
    ("three masters without vip", _onprem(hosts=THREE),
     "fleetform:clusters[0].vip: got null; allowed: the API's fixed registration address: a virtual IP or load balancer "
     "forwarding TCP 6443 to the masters (required with 3 masters)"),
    ("vip is a master", _onprem(hosts=THREE, vip="192.0.2.12"),
     'fleetform:clusters[0].vip: got "192.0.2.12"; allowed: an address of no host (with 3 masters the API address '
     "must outlive any one master)"),
    ("missing host key", _onprem(hosts=[{"name": "m1", "address": "192.0.2.11", "role": "master"}]),
     "fleetform:clusters[0].hosts[0].hostKey: got null; allowed: the host's SSH public key (ssh-keyscan -t ed25519 "
     "<address>), or ssh.verifyHostKeys: false"),
    ("bad host key", _onprem(hosts=[_host("m1", "192.0.2.11", hostKey="AAAA not a key")]),
     'fleetform:clusters[0].hosts[0].hostKey: got "AAAA not a key"; allowed: an SSH public key line such as '
     "'ssh-ed25519 AAAA...' (ssh-keyscan output without the address)"),
    ("bad address", _onprem(hosts=[_host("m1", "192.0.2.300")]),
     'fleetform:clusters[0].hosts[0].address: got "192.0.2.300"; allowed: an IPv4 address such as 192.0.2.10'),
    ("bad role", _onprem(hosts=[_host("m1", "192.0.2.11", "server")]),
     'fleetform:clusters[0].hosts[0].role: got "server"; allowed: one of master, worker'),
    ("node pools on onprem", _onprem(nodePools=[{"name": "g", "size": "x", "min": 3, "max": 1}]),
     "fleetform:clusters[0].nodePools[0].min: got 3; allowed: at most max (1)"),
    ("node pools instead of hosts", _onprem(nodePools=[{"name": "g", "size": "x"}]),
     'fleetform:clusters[0].nodePools: got "[...]"; allowed: nothing for target onprem (list the workers in hosts)'),
    ("plain http install script", _onprem(install={"scriptUrl": "http://get.k3s.io"}),
     'fleetform:clusters[0].install.scriptUrl: got "http://get.k3s.io"; allowed: an https:// URL of letters, digits '
     "and . - _ ~ % / + (no query, credentials or spaces)"),
    ("air gap with a download mirror", _onprem(install={"airgapDir": "/opt/k3s", "releaseUrl": "https://m.example/r"}),
     'fleetform:clusters[0].install.releaseUrl: got "https://m.example/r"; allowed: nothing with airgapDir (an '
     "air-gapped install downloads nothing)"),
    ("relative air gap dir", _onprem(install={"airgapDir": "k3s; rm -rf /"}),
     'fleetform:clusters[0].install.airgapDir: got "k3s; rm -rf /"; allowed: an absolute path of letters, digits, '
     "'.', '_' and '-', such as /opt/k3s-airgap"),
    ("bad ssh user", _onprem(ssh={"user": "Root User"}),
     'fleetform:clusters[0].ssh.user: got "Root User"; allowed: a Unix user name: lower-case letters, digits, \'_\' '
     "and '-', at most 32 characters"),
    ("hosts on a cloud", {"fleetform:clusters": [{"name": "c1", "target": "aws", "region": "us-east-1",
                                                  "hosts": [_host("m1", "192.0.2.11")]}]},
     'fleetform:clusters[0].hosts: got "[...]"; allowed: only for target onprem'),
    ("vip on existing", {"fleetform:clusters": [{"name": "c1", "target": "existing", "vip": VIP}]},
     'fleetform:clusters[0].vip: got "192.0.2.10"; allowed: only for target onprem'),
    ("loopback node address", _onprem(hosts=[_host("m1", "127.0.0.1")]),
     'fleetform:clusters[0].hosts[0].address: got "127.0.0.1"; allowed: a unicast IPv4 address of the host: not '
     "loopback, 0.0.0.0, link-local, multicast or reserved"),
    ("node address in k3s' pod network", _onprem(hosts=[_host("m1", "10.42.0.5")]),
     'fleetform:clusters[0].hosts[0].address: got "10.42.0.5"; allowed: an address outside k3s\' pod and service '
     "networks, 10.42.0.0/16 and 10.43.0.0/16"),
    ("node label the kubelet refuses", _onprem(hosts=[_host("m1", "192.0.2.11", labels={"node-role.kubernetes.io/worker": ""})]),
     'fleetform:clusters[0].hosts[0].labels.node-role.kubernetes.io/worker: got ""; allowed: a node label outside the '
     "kubernetes.io and k8s.io namespaces, or one the kubelet may set (node.kubernetes.io/..., "
     "kubelet.kubernetes.io/..., topology.kubernetes.io/zone, ...)"),
    ("taint value with a space", _onprem(hosts=[_host("m1", "192.0.2.11", taints=[{"key": "k", "value": "x y", "effect": "NoSchedule"}])]),
     'fleetform:clusters[0].hosts[0].taints[0].value: got "x y"; allowed: a Kubernetes label value: at most 63 letters, '
     "digits, '-', '_', '.', starting and ending with a letter or digit"),
    ("public API on onprem", _onprem(controlPlane={"count": 1, "publicAccess": True, "apiAllowedCidrs": ["203.0.113.0/24"]}), (
     "fleetform:clusters[0].controlPlane.publicAccess: got true; allowed: nothing for target onprem (a cloud setting: "
     "the hosts are yours)",
     'fleetform:clusters[0].controlPlane.apiAllowedCidrs: got "[...]"; allowed: nothing for target onprem (a cloud '
     "setting: the hosts are yours)")),
    ("tags on onprem", _onprem(tags={"team": "a"}),
     'fleetform:clusters[0].tags: got "{...}"; allowed: nothing for target onprem (a cloud setting: the hosts are yours)'),
    ("network on onprem", _onprem(network={"zones": 2}),
     'fleetform:clusters[0].network: got "{...}"; allowed: nothing for target onprem (a cloud setting: the hosts are yours)'),
    ("vip loopback", _onprem(hosts=THREE, vip="127.0.0.1"),
     'fleetform:clusters[0].vip: got "127.0.0.1"; allowed: a unicast IPv4 address for the API: not loopback, 0.0.0.0, '
     "link-local, multicast or reserved"),
    ("vip is k3s' kubernetes Service", _onprem(hosts=THREE, vip="10.43.0.1"),
     'fleetform:clusters[0].vip: got "10.43.0.1"; allowed: an address outside k3s\' pod and service networks, '
     "10.42.0.0/16 and 10.43.0.0/16"),
    ("address as a bare number", _onprem(hosts=[_host("m1", 3221226123)]),
     "fleetform:clusters[0].hosts[0].address: got 3221226123; allowed: an IPv4 address such as 192.0.2.10"),
    ("instance-type label outside the kubelet's list", _onprem(hosts=[_host("m1", "192.0.2.11", labels={"kubernetes.io/instance-type": "m6i"})]),
     'fleetform:clusters[0].hosts[0].labels.kubernetes.io/instance-type: got "m6i"; allowed: a node label outside the '
     "kubernetes.io and k8s.io namespaces, or one the kubelet may set (node.kubernetes.io/..., "
     "kubelet.kubernetes.io/..., topology.kubernetes.io/zone, ...)"),
    ("control plane count true", _onprem(controlPlane={"count": True}),
     "fleetform:clusters[0].controlPlane.count: got true; allowed: a whole number"),
    ("ssh-rsa host key", _onprem(hosts=[_host("m1", "192.0.2.11", hostKey=RSA_HOST_KEY)]),
     'fleetform:clusters[0].hosts[0].hostKey: got "ssh-rsa AAAAB3NzaC1yc2EAAAADA...wbH32lrhjucNZQO5paGSB4fiC1"; '
     "allowed: an ssh-ed25519 or "
     "ecdsa-sha2-nistp256/384/521 host key, not ssh-rsa: with an RSA host key the SSH client of pulumi-command offers "
     "only the SHA-1 'ssh-rsa' signature, which OpenSSH 8.8 and later refuse; take the host's ed25519 key with "
     "ssh-keyscan -t ed25519 <address>"),
    ("host key whose blob is another type", _onprem(hosts=[_host("m1", "192.0.2.11", hostKey="ssh-ed25519 " + ECDSA_HOST_KEYS[0].split()[1])]),
     'fleetform:clusters[0].hosts[0].hostKey: got "ssh-ed25519 AAAAE2VjZHNhLXNoY...TusNznI1hlZrV8Dfq6epk1KUk="; '
     "allowed: an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan output without the address)"),
]


@pytest.mark.parametrize("key", [HOST_KEY, *ECDSA_HOST_KEYS, ECDSA_HOST_KEYS[0] + " root@dc-m1"],
                         ids=["ed25519", "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "with-comment"])
def test_ed25519_and_ecdsa_host_keys_are_accepted_and_reach_the_connection(key):
    """Both kinds are verified without SHA-1 (ed25519: RFC 8709; ECDSA: RFC 5656 with SHA-2); the
    key is kept as written, without surrounding white space (the connection gets it as is)."""
    hosts = load_spec(_onprem(hosts=[_host("m1", "192.0.2.11", hostKey="  " + key + "\n")])).clusters[0].hosts
    assert hosts is not None and hosts[0].host_key == key


def test_rsa_host_key_is_refused_even_when_host_keys_are_not_verified():
    """The key would be passed on only with verifyHostKeys; a config naming one is refused all the
    same, so turning verification back on never meets it."""
    with pytest.raises(FleetConfigError) as info:
        load_spec(_onprem(hosts=[_host("m1", "192.0.2.11", hostKey=RSA_HOST_KEY)], ssh={"verifyHostKeys": False}))
    (line,) = info.value.problems
    assert line.startswith("fleetform:clusters[0].hosts[0].hostKey: ") and "ssh-keyscan -t ed25519" in line


def test_node_labels_the_kubelet_may_set_are_accepted():
    labels = {"node.kubernetes.io/pool": "edge", "topology.kubernetes.io/zone": "rack-1", "example.com/team": "a",
              "sub.kubelet.kubernetes.io/x": "y"}
    hosts = load_spec(_onprem(hosts=[_host("m1", "192.0.2.11", labels=labels)])).clusters[0].hosts
    assert hosts is not None and dict(hosts[0].labels) == labels


@pytest.mark.parametrize("config,expected", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_bad_onprem_config_gives_exactly_one_clear_line(config, expected):
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    assert info.value.problems == ([expected] if isinstance(expected, str) else list(expected))


def test_valid_minimal_onprem_config_and_its_registration_address():
    spec = load_spec(_onprem())
    assert spec.clusters[0].effective_mode == "self-managed"
    assert spec.clusters[0].registration_address == "192.0.2.11"
    three = load_spec(_onprem(hosts=THREE, vip=VIP, ssh={"verifyHostKeys": False}))
    assert three.clusters[0].registration_address == VIP
    assert [h.name for h in three.clusters[0].masters] == ["m1", "m2", "m3"]


def test_ssh_key_is_not_shown_by_the_spec():
    spec = load_spec(_config())
    assert PLANTED_SSH_KEY not in repr(spec) and "planted-ssh-key" not in str(spec.model_dump())
