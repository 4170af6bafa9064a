"""Pins of fleetform.bootstrap.script found by mutation testing (issue 17, docs/mutation-testing.md):
behaviours of the k3s bootstrap no other test asserted where they are made.

Expected values come from the contracts, not from the code under test:

- k3s private registries: https://docs.k3s.io/installation/private-registry (``mirrors`` keyed by
  registry name, ``"*"`` for every registry, each with a list of ``endpoint`` URLs);
- k3s uninstall: https://docs.k3s.io/installation/uninstall (the install script writes
  ``/usr/local/bin/k3s-uninstall.sh`` on servers, ``/usr/local/bin/k3s-agent-uninstall.sh`` on agents);
- cloud-init ``write_files``: https://cloudinit.readthedocs.io/en/latest/reference/modules.html#write-files
  (``encoding`` b64 makes cloud-init decode ``content``; without it the base64 text itself is written);
- docs/onprem.md ("the bootstrap script is sent on SSH standard input ... and run as root";
  "Removing a host: ... the node is drained and deleted ..., then k3s is uninstalled");
  docs/configuration.md (``ssh.user``: "runs the bootstrap as root through passwordless sudo
  unless it is root"; ``install.*``).

Every test here renders or runs scripts in a temporary directory (stub ``id``/``sudo``/``sh``/``k3s``
on PATH); none plans a stack. Fixtures are function-scoped (tmp_path), so mutmut maps each test to
the functions it runs.
"""

from __future__ import annotations

import base64
import os
import posixpath
import shlex
import subprocess
from dataclasses import fields, replace
from pathlib import Path

import pytest
import yaml

from fleetform.bootstrap import InstallSource, NodeBootstrap, config_sha256, render_cloud_init, render_script
from fleetform.bootstrap.script import (
    AGENT_TOKEN_FILE,
    CLOUD_INIT_SCRIPT,
    CUSTOM_CA_FILES,
    REGISTRIES_FILE,
    STAMP_FILE,
    TOKEN_FILE,
    drain_command,
    drain_script,
    ssh_command,
    uninstall_command,
    uninstall_script,
)
from fleetform.config.onprem import InstallSpec
from tests.bootstrap_parsing import files_of
from tests.test_bootstrap import AGENT, INIT, JOIN, Sandbox

ROLES = {"init": INIT, "join": JOIN, "agent": AGENT}
MIRROR = "https://registry.example.internal"


def _stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


def _run(command: str, bin_dir: Path, stdin: str = "") -> subprocess.CompletedProcess:
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    return subprocess.run(["/bin/sh", "-c", command], input=stdin, env=env, capture_output=True, text=True, timeout=30)


# ------------------------------------------------------------------------------ InstallSource.from_spec


@pytest.mark.parametrize("spec", [
    {},
    {"scriptUrl": "https://mirror.example.internal/k3s/install.sh",
     "releaseUrl": "https://mirror.example.internal/k3s/releases", "registryMirror": MIRROR},
    {"airgapDir": "/opt/k3s-airgap", "registryMirror": MIRROR},
])
def test_install_source_takes_each_install_key_of_the_config(spec):
    """docs/configuration.md, clusters[].install: scriptUrl (default https://get.k3s.io),
    releaseUrl, airgapDir, registryMirror reach the bootstrap field of the same meaning."""
    source = InstallSource.from_spec(InstallSpec.model_validate(spec))
    assert source == InstallSource(
        script_url=spec.get("scriptUrl", "https://get.k3s.io"),
        release_url=spec.get("releaseUrl"),
        airgap_dir=spec.get("airgapDir"),
        registry_mirror=spec.get("registryMirror"),
    )


# ------------------------------------------------------------------------------ NodeBootstrap.public


@pytest.mark.parametrize("role", sorted(ROLES))
def test_public_blanks_the_three_secrets_and_keeps_everything_else(role):
    """NodeBootstrap's docstring: the last three fields (token, agent_token, tls_files) are the
    secrets; public() is "the same node with every secret blanked". The first master keeps the
    list of CA file names (its bootstrap cannot render without every one) with empty contents."""
    node = ROLES[role]
    public = node.public()
    assert public.token == "" and public.agent_token == ""
    expected_tls = tuple((p, "") for p in CUSTOM_CA_FILES) if role == "init" else ()
    assert public.tls_files == expected_tls
    secret = {"token", "agent_token", "tls_files"}
    for f in fields(NodeBootstrap):
        if f.name not in secret:
            assert getattr(public, f.name) == getattr(node, f.name), f.name
    # Nothing secret is left in what the hash covers.
    rendered = render_script(public)
    for path, pem in node.tls_files:
        assert pem not in rendered
    assert node.token not in rendered


# ------------------------------------------------------------------------------ registries


def test_registry_mirror_file_routes_every_registry_through_the_mirror():
    """k3s private-registry docs: ``mirrors.docker.io.endpoint`` for Docker Hub and ``mirrors."*"``
    for every other registry (docs/configuration.md: the mirror "the nodes pull every image
    through"). Its first line marks it as fleetform's, which is what the clean-up below looks for."""
    node = replace(AGENT, install=InstallSource(registry_mirror=MIRROR))
    text = files_of(render_script(node))[REGISTRIES_FILE]
    assert text.splitlines()[0].startswith("# fleetform")
    assert yaml.safe_load(text) == {"mirrors": {"docker.io": {"endpoint": [MIRROR]}, "*": {"endpoint": [MIRROR]}}}


def test_a_dropped_mirror_removes_fleetforms_registries_file_but_never_a_users(tmp_path):
    """A mirror the config no longer names stops being used (the file k3s reads at start goes away);
    a registries.yaml fleetform did not write is the host owner's and stays."""
    box = Sandbox(tmp_path)
    mirrored = replace(AGENT, install=InstallSource(registry_mirror=MIRROR))
    assert box.run(mirrored).returncode == 0
    registries = box.file(REGISTRIES_FILE)
    assert registries.exists()
    assert box.run(AGENT).returncode == 0
    assert not registries.exists()
    own = "mirrors:\n  docker.io:\n    endpoint: [\"https://own.example\"]\n"
    registries.write_text(own)
    (box.root / "fake" / "active").unlink()  # so the next run does not stop at "nothing to do"
    assert box.run(AGENT).returncode == 0
    assert registries.read_text() == own


# ------------------------------------------------------------------------------ cloud-init


@pytest.mark.parametrize("role", sorted(ROLES))
def test_cloud_init_writes_the_script_root_only_decoded_and_runs_it(role):
    """cloud-init write_files: ``encoding: b64`` (else the base64 text itself lands in the file and
    /bin/sh runs garbage), owner root:root, permissions 0700 (the script holds the join token);
    runcmd runs that very path; the first line is exactly ``#cloud-config``."""
    from tests.test_cloud_init_schema import problems_of

    node = ROLES[role]
    text = render_cloud_init(node)
    assert text.split("\n", 1)[0] == "#cloud-config"
    doc = yaml.safe_load(text)
    (entry,) = doc["write_files"]
    assert {k: v for k, v in entry.items() if k != "content"} == {
        "path": CLOUD_INIT_SCRIPT, "owner": "root:root", "permissions": "0700", "encoding": "b64",
    }
    assert base64.b64decode(entry["content"], validate=True).decode() == render_script(node)
    assert doc["runcmd"] == [["/bin/sh", CLOUD_INIT_SCRIPT]]
    assert set(doc) == {"write_files", "runcmd"}
    assert problems_of(text.encode()) == []


# ------------------------------------------------------------------------------ running as root over SSH

# `id -u` answers FLEETFORM_TEST_UID; `sudo` records its options and runs the rest; the inner `sh`
# (found on PATH, as on a host) records what it was asked to run before running it.
ID = 'if [ "$1" = -u ]; then echo "$FLEETFORM_TEST_UID"; else exit 1; fi\n'
SUDO = 'printf "sudo %s\\n" "$1" >> "$FLEETFORM_TEST_LOG"\nshift\nexec "$@"\n'
SH = ('printf "sh %s\\n" "$1" >> "$FLEETFORM_TEST_LOG"\n'
      'if [ "$1" = -c ]; then printf "%s" "$2" > "$FLEETFORM_TEST_LOG.script"; exit 0; fi\n'
      'exec /bin/sh "$@"\n')


def _root_box(tmp_path: Path) -> tuple[Path, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, body in (("id", ID), ("sudo", SUDO), ("sh", SH)):
        _stub(bin_dir, name, body)
    return bin_dir, log


def _run_as(command: str, tmp_path: Path, uid: int, stdin: str = "") -> tuple[subprocess.CompletedProcess, list[str], str]:
    bin_dir, log = _root_box(tmp_path)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "FLEETFORM_TEST_UID": str(uid),
           "FLEETFORM_TEST_LOG": str(log)}
    proc = subprocess.run(["/bin/sh", "-c", command], input=stdin, env=env, capture_output=True, text=True, timeout=30)
    script = Path(f"{log}.script")
    return proc, log.read_text().splitlines() if log.exists() else [], script.read_text() if script.exists() else ""


@pytest.mark.parametrize("uid, via_sudo", [(0, False), (1000, True)])
def test_ssh_command_runs_its_standard_input_as_root(tmp_path, uid, via_sudo):
    """docs/onprem.md: the script arrives on standard input and runs as root: directly for root,
    else through passwordless sudo (``-n``: fail rather than prompt)."""
    proc, calls, _ = _run_as(ssh_command(AGENT), tmp_path, uid, stdin="echo ran-from-stdin\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ran-from-stdin\n"
    assert calls == (["sudo -n", "sh -s"] if via_sudo else ["sh -s"])


@pytest.mark.parametrize("role", sorted(ROLES))
def test_ssh_command_names_role_node_release_and_configuration_hash(role):
    """ssh_command's docstring: its first line names the role, release and configuration hash, so a
    plan shows that a host's bootstrap changes although the script is secret."""
    node = ROLES[role]
    first = ssh_command(node).splitlines()[0]
    assert first.startswith("# ")
    words = dict(w.split("=", 1) for w in first[2:].split() if "=" in w)
    assert words == {"role": role, "node": node.node_name, "k3s": node.version, "config": config_sha256(node)}


@pytest.mark.parametrize("uid, via_sudo", [(0, False), (1000, True)])
@pytest.mark.parametrize("role", sorted(ROLES))
def test_uninstall_command_runs_the_uninstall_script_as_root(tmp_path, role, uid, via_sudo):
    proc, calls, script = _run_as(uninstall_command(ROLES[role]), tmp_path, uid)
    assert proc.returncode == 0, proc.stderr
    assert calls == (["sudo -n", "sh -c"] if via_sudo else ["sh -c"])
    assert script == uninstall_script(ROLES[role])


@pytest.mark.parametrize("role, uninstaller", [
    ("init", "/usr/local/bin/k3s-uninstall.sh"),
    ("join", "/usr/local/bin/k3s-uninstall.sh"),
    ("agent", "/usr/local/bin/k3s-agent-uninstall.sh"),
])
def test_uninstall_script_runs_k3s_own_uninstaller_then_removes_fleetforms_files(role, uninstaller):
    """k3s uninstall docs: servers have k3s-uninstall.sh, agents k3s-agent-uninstall.sh. Then
    fleetform's own files go: the join token directory and the configuration stamp (else a host
    that comes back would skip its bootstrap as "already runs this configuration")."""
    lines = uninstall_script(ROLES[role]).splitlines()
    assert "set -eu" in lines
    assert f"uninstall={uninstaller}" in lines
    assert 'if [ -x "$uninstall" ]; then "$uninstall"; fi' in lines
    (rm,) = [shlex.split(line) for line in lines if line.startswith("rm ")]
    token_dir = posixpath.dirname(TOKEN_FILE)
    assert posixpath.dirname(AGENT_TOKEN_FILE) == token_dir
    assert rm == ["rm", "-rf", token_dir, STAMP_FILE]


# ------------------------------------------------------------------------------ drain


@pytest.mark.parametrize("uid, via_sudo", [(0, False), (1000, True)])
def test_drain_command_runs_the_drain_script_as_root(tmp_path, uid, via_sudo):
    proc, calls, script = _run_as(drain_command("w1", 42), tmp_path, uid)
    assert proc.returncode == 0, proc.stderr
    assert calls == (["sudo -n", "sh -c"] if via_sudo else ["sh -c"])
    assert script == drain_script("w1", 42)


def test_drain_script_reports_nothing_but_an_unfinished_drain(tmp_path):
    """The drain's only message is the one saying it did not finish (then the Node is deleted
    anyway): the script runs strict (set -eu) and cleanly, with nothing else on stderr."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "k3s.log"
    _stub(bin_dir, "k3s", f'printf "%s\\n" "$*" >> {shlex.quote(str(log))}\n[ "$2" != drain ]\n')
    proc = _run(drain_script("w1", 42), bin_dir)
    assert proc.returncode == 0
    assert proc.stderr == "fleetform: drain of w1 did not finish; removing the node anyway\n"


def test_drain_command_defaults_to_drain_scripts_bound():
    """onprem.py calls drain_command(name) without a bound: it is drain_script's, run as root."""
    from fleetform.bootstrap.script import _as_root

    assert drain_command("w1") == _as_root(drain_script("w1"))


# ------------------------------------------------------------------------------ a clean run


@pytest.mark.parametrize("role, service", [("init", "k3s"), ("join", "k3s"), ("agent", "k3s-agent")])
def test_a_bootstrap_run_is_silent_on_stderr_and_logs_what_it_installs(tmp_path, role, service):
    """What an operator reads in the cloud-init log or the SSH output: nothing on stderr (every line
    of the script, comments included, is valid sh), and the release, the role's k3s command and the
    systemd unit the install script creates (k3s on servers, k3s-agent on agents:
    https://docs.k3s.io/reference/env-variables, INSTALL_K3S_NAME: "k3s" as a server, "k3s-agent"
    as an agent)."""
    node = ROLES[role]
    proc = Sandbox(tmp_path).run(node)
    assert proc.returncode == 0 and proc.stderr == ""
    kind = "agent" if role == "agent" else "server"
    assert proc.stdout.splitlines()[-2:] == [
        f"fleetform-bootstrap: installing k3s {node.version} ({kind})",
        f"fleetform-bootstrap: k3s {node.version} installed; {service} running",
    ]


# ------------------------------------------------------------------------------ re-runs


def test_a_changed_configuration_rewrites_fleetforms_files_and_reinstalls(tmp_path):
    """The module docstring: the bootstrap exits early only when the pinned release already runs
    *this very configuration* (the stamp holds its SHA-256); otherwise it (re)writes its files
    (``put_file``: "(re)write PATH atomically") and reinstalls. Only the CA files are written once:
    after k3s's first start they are k3s's own (https://docs.k3s.io/cli/certificate#using-custom-ca-certificates)."""
    from fleetform.bootstrap.script import K3S_TLS_DIR

    box = Sandbox(tmp_path)
    first = replace(INIT, install=InstallSource(registry_mirror=MIRROR))
    assert box.run(first).returncode == 0
    stamp = box.file(STAMP_FILE)
    assert stamp.read_text().strip() == config_sha256(first)
    written = files_of(render_script(first))
    ca = {p for p in written if p.startswith(K3S_TLS_DIR + "/")}
    assert len(ca) == len(CUSTOM_CA_FILES)
    for path in written:
        box.file(path).write_text("stale or k3s's own\n")
    changed = replace(first, labels=(("topology.kubernetes.io/zone", "rack-b"),))
    assert box.run(changed).returncode == 0
    assert len(box.installs()) == 2
    assert stamp.read_text().strip() == config_sha256(changed)
    for path, content in files_of(render_script(changed)).items():
        expected = "stale or k3s's own\n" if path in ca else content
        assert box.file(path).read_text() == expected, path


def test_a_first_master_without_every_ca_file_names_each_missing_one():
    """A render error, not a half-written bootstrap: every missing CA file is named, one per
    comma-separated item."""
    missing = ("etcd/server-ca.key", "service.key")
    node = replace(INIT, tls_files=tuple((p, pem) for p, pem in INIT.tls_files if p not in missing))
    with pytest.raises(ValueError) as err:
        render_script(node)
    assert str(err.value).split("missing: ", 1)[1].split(", ") == list(missing)


# ------------------------------------------------------------------------------ k3s flags

# The k3s CIS hardening guide's configuration for the Kubernetes components
# (https://docs.k3s.io/security/hardening-guide, "Configuration for Kubernetes Components"; k3s-io/docs
# docs/security/hardening-guide.md after k3s-io/docs#497, which set terminated-pod-gc-threshold=100),
# with fleetform's file locations (the guide's own paths).
GUIDE_KUBELET = [
    "--kubelet-arg=streaming-connection-idle-timeout=5m",
    "--kubelet-arg=tls-cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
    "--protect-kernel-defaults",
]
GUIDE_SERVER = [
    "--secrets-encryption",
    "--kube-apiserver-arg=admission-control-config-file=/var/lib/rancher/k3s/server/psa.yaml",
    "--kube-apiserver-arg=audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log",
    "--kube-apiserver-arg=audit-policy-file=/var/lib/rancher/k3s/server/audit.yaml",
    "--kube-apiserver-arg=audit-log-maxage=30",
    "--kube-apiserver-arg=audit-log-maxbackup=10",
    "--kube-apiserver-arg=audit-log-maxsize=100",
    "--kube-apiserver-arg=service-account-extend-token-expiration=false",
    "--kube-controller-manager-arg=terminated-pod-gc-threshold=100",
    # docs/onprem.md, "Hardening": anonymous API access off, root-only kubeconfig, no Traefik.
    "--kube-apiserver-arg=anonymous-auth=false",
    "--write-kubeconfig-mode=0600",
    "--disable=traefik",
]


@pytest.mark.parametrize("role", sorted(ROLES))
def test_k3s_flags_are_the_hardening_guides_and_the_nodes_own(role):
    """https://docs.k3s.io/cli/server and /cli/agent for the node's own flags; every flag once."""
    from fleetform.bootstrap.script import k3s_args

    node = replace(ROLES[role], labels=(("topology.kubernetes.io/zone", "rack-a"), ("tier", "gold")),
                   taints=("dedicated=batch:NoSchedule", "CriticalAddonsOnly=true:NoExecute"),
                   tls_sans=("192.0.2.10", "api.example.internal") if role != "agent" else ())
    args = k3s_args(node)
    assert len(args) == len(set(args))
    assert args[0] == ("agent" if role == "agent" else "server")
    own = [f"--token-file={TOKEN_FILE}", f"--node-name={node.node_name}", f"--node-ip={node.node_ip}",
           "--node-label=topology.kubernetes.io/zone=rack-a", "--node-label=tier=gold",
           "--node-taint=dedicated=batch:NoSchedule", "--node-taint=CriticalAddonsOnly=true:NoExecute"]
    own.append("--cluster-init" if role == "init" else f"--server={node.server_url}")
    server = []
    if role != "agent":
        server = GUIDE_SERVER + [f"--agent-token-file={AGENT_TOKEN_FILE}",
                                 "--tls-san=192.0.2.10", "--tls-san=api.example.internal"]
    assert sorted(args[1:]) == sorted(own + GUIDE_KUBELET + server)


@pytest.mark.parametrize("role", ["join", "agent"])
def test_a_joining_node_without_a_server_url_is_refused_naming_its_role(role):
    from fleetform.bootstrap.script import k3s_args

    with pytest.raises(ValueError, match=f"^a {role} node needs the server URL it registers with$"):
        k3s_args(replace(ROLES[role], server_url=None))
