"""The k3s bootstrap of every self-managed node, rendered from one source.

:func:`render_script` turns a :class:`NodeBootstrap` into one POSIX ``sh`` script. Clouds hand
it to the VM as cloud-init user data (:func:`render_cloud_init`); on-prem hosts receive it on
standard input over SSH (:func:`ssh_command`), so no secret ever appears on a command line.

What the script does, in order:

1. exits early, changing nothing, when the pinned k3s release already runs with this very
   configuration (a stamp holds the configuration's SHA-256);
2. writes the kernel parameters ``--protect-kernel-defaults`` requires, the join token file(s),
   the registry mirror, and on masters the audit policy and Pod Security admission config;
3. on the first master only, writes the Pulumi-minted cluster CAs into k3s's server TLS
   directory *before k3s first starts*, never replacing files that exist (k3s owns them after
   its first start: https://docs.k3s.io/cli/certificate#using-custom-ca-certificates);
4. runs the k3s install script (downloaded over HTTPS, or from an air-gapped directory) with the
   pinned ``INSTALL_K3S_VERSION`` and the node's flags, then records the stamp.

Every path the script touches is prefixed with ``$FLEETFORM_ROOT`` (empty on a real host) so the
tests can run it in a sandbox; nothing else about its behaviour depends on that variable.
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from dataclasses import dataclass, field, replace
from typing import Literal, Optional

import yaml

from . import fragments

Role = Literal["init", "join", "agent"]
"""init: the first master (``--cluster-init``); join: another master; agent: a worker."""

ProviderIdSource = Literal["aws", "gcp", "azure"]
"""The instance metadata service a node reads its providerID from (:attr:`NodeBootstrap.provider_id_from`)."""

K3S_TLS_DIR = "/var/lib/rancher/k3s/server/tls"
CUSTOM_CA_FILES = (
    "server-ca.crt", "server-ca.key",
    "client-ca.crt", "client-ca.key",
    "request-header-ca.crt", "request-header-ca.key",
    "etcd/peer-ca.crt", "etcd/peer-ca.key",
    "etcd/server-ca.crt", "etcd/server-ca.key",
    "service.key",
)
"""The files k3s requires for custom CAs, relative to :data:`K3S_TLS_DIR`
(https://docs.k3s.io/cli/certificate#using-custom-ca-certificates)."""

TOKEN_FILE = "/etc/rancher/k3s/fleetform/token"
AGENT_TOKEN_FILE = "/etc/rancher/k3s/fleetform/agent-token"
STAMP_FILE = "/var/lib/fleetform/k3s-bootstrap.sha256"
AUDIT_POLICY_FILE = "/var/lib/rancher/k3s/server/audit.yaml"
AUDIT_LOG_FILE = "/var/lib/rancher/k3s/server/logs/audit.log"
PSA_CONFIG_FILE = "/var/lib/rancher/k3s/server/psa.yaml"
SYSCTL_FILE = "/etc/sysctl.d/90-kubelet.conf"
REGISTRIES_FILE = "/etc/rancher/k3s/registries.yaml"
CLOUD_INIT_SCRIPT = "/var/lib/fleetform/bootstrap.sh"
API_PORT = 6443
PROVIDER_ID_ARG = "--kubelet-arg=provider-id=${PROVIDER_ID}"
"""The one installer argument expanded on the node: the providerID read from instance metadata."""

# Kernel parameters the kubelet refuses to start without under --protect-kernel-defaults: the
# desired state of kubernetes/kubernetes pkg/kubelet/cm/container_manager_linux.go
# setupKernelTunables (values: k8s.io/component-helpers/node/util/sysctl). The k3s hardening guide
# (https://docs.k3s.io/security/hardening-guide#ensure-protect-kernel-defaults-is-set) lists the
# first four; the kubelet also checks the two keyring quotas, which an older kernel may hold lower.
_SYSCTLS = ("vm.panic_on_oom=0\nvm.overcommit_memory=1\nkernel.panic=10\nkernel.panic_on_oops=1\n"
            "kernel.keys.root_maxkeys=1000000\nkernel.keys.root_maxbytes=25000000\n")

# Kubelet TLS ciphers of the k3s CIS hardening guide (AEAD suites only).
_KUBELET_CIPHERS = (
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,"
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,"
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"
)

# Request metadata for every API call (who did what, when), no bodies: bodies would copy
# Secret values into the log. The hardening guide's starter policy.
_AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]}


@dataclass(frozen=True)
class InstallSource:
    """Where a node gets k3s: the install script over HTTPS (optionally from mirrors), or an
    air-gapped directory already on the host (https://docs.k3s.io/installation/airgap)."""

    script_url: str = "https://get.k3s.io"
    release_url: Optional[str] = None
    """Mirror of the GitHub releases page; the install script reads it as GITHUB_URL."""
    airgap_dir: Optional[str] = None
    registry_mirror: Optional[str] = None

    @classmethod
    def from_spec(cls, spec) -> "InstallSource":
        """From a :class:`fleetform.config.InstallSpec`."""
        return cls(spec.script_url, spec.release_url, spec.airgap_dir, spec.registry_mirror)


@dataclass(frozen=True)
class NodeBootstrap:
    """Everything one node's bootstrap needs. The last three fields are secrets; the rest is
    configuration whose hash decides whether a re-run changes anything."""

    role: Role
    version: str
    """The pinned k3s release (``fleetform.bootstrap.versions.K3S_RELEASES``)."""
    server_url: Optional[str] = None
    """``https://<registration address>:6443``: what join and agent nodes register with."""
    tls_sans: tuple[str, ...] = ()
    """Extra names/addresses in the API server certificate (masters): the registration address."""
    node_name: Optional[str] = None
    node_ip: Optional[str] = None
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[str, ...] = ()
    """``key=value:Effect`` strings."""
    disable: tuple[str, ...] = ("traefik",)
    """Packaged components not installed (masters). fleetform exposes services with LoadBalancer
    Services, so it needs no ingress controller."""
    pod_security_exempt_namespaces: tuple[str, ...] = ("kube-system",)
    cloud_provider_external: bool = False
    """The cloud's own cloud-controller-manager runs in the cluster: servers start without k3s's
    embedded one (``--disable-cloud-controller``) and every kubelet in external cloud-provider
    mode (``--kubelet-arg=cloud-provider=external``), so the CCM initialises each Node
    (providerID, zone and region labels) and deletes the Nodes of terminated instances. Set it
    on every node of the cluster alike. k3s's ServiceLB still runs unless ``disable`` names
    ``servicelb``."""
    provider_id_from: Optional[ProviderIdSource] = None
    """With ``cloud_provider_external``: read the node's providerID from the instance metadata
    service at boot and register the Node with it (``--kubelet-arg=provider-id=...``):
    ``aws:///<zone>/<instance id>``, ``gce://<project>/<zone>/<instance name>`` or
    ``azure://<resource id>`` (subscription and resource group in lower case, as
    cloud-provider-azure's node manager writes it). The CCMs otherwise find the instance by the
    node's *name*, which fails for host names that are not the EC2 private DNS name / GCE
    instance name / scale set computer name, and for every ``with_node_id`` name; the Azure
    cloud-node-lifecycle controller then deletes the Node (InstanceNotFound)."""
    with_node_id: bool = False
    """``--with-node-id``: k3s appends ``-<8 hex digits>``, random and kept in
    ``/etc/rancher/node/id``, to the node name, so a new machine that reuses an old host name
    (and so meets the old node's password Secret) still joins."""
    join_wait_seconds: int = 900
    """join and agent nodes: how long the bootstrap waits for ``<server_url>/ping`` to answer
    before it installs k3s, logging each attempt."""
    join_retry_seconds: int = 5
    join_wait_fatal: bool = False
    """When the wait runs out: fail, saying so (on-prem: the next ``pulumi up`` runs the
    bootstrap again), or say so and install anyway (default, for cloud-init, which runs the
    bootstrap once: an installed k3s keeps retrying its server)."""
    install: InstallSource = field(default_factory=InstallSource)
    token: str = field(default="", repr=False)
    """Secret: the join token (secure ``K10<CA hash>::<user>:<password>`` format)."""
    agent_token: str = field(default="", repr=False)
    """Secret (masters): the password agents join with (``--agent-token-file``)."""
    tls_files: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    """Secret (first master): :data:`CUSTOM_CA_FILES` -> PEM content."""

    @property
    def is_server(self) -> bool:
        return self.role in ("init", "join")

    @property
    def service(self) -> str:
        """The systemd unit the install script creates."""
        return "k3s" if self.is_server else "k3s-agent"

    def public(self) -> "NodeBootstrap":
        """The same node with every secret blanked (what the configuration hash covers)."""
        return replace(
            self,
            token="",
            agent_token="",
            tls_files=tuple((path, "") for path in CUSTOM_CA_FILES) if self.role == "init" else (),
        )


# ------------------------------------------------------------------------------ k3s flags


def k3s_args(node: NodeBootstrap) -> list[str]:
    """The k3s command and flags the install script puts in the node's systemd unit.

    Flags are from https://docs.k3s.io/cli/server and https://docs.k3s.io/cli/agent; the
    hardening ones from https://docs.k3s.io/security/hardening-guide.
    """
    args: list[str] = ["server" if node.is_server else "agent", f"--token-file={TOKEN_FILE}"]
    if node.role == "init":
        # Embedded etcd, initialised here; the other masters join it.
        args.append("--cluster-init")
    else:
        if not node.server_url:
            raise ValueError(f"a {node.role} node needs the server URL it registers with")
        args.append(f"--server={node.server_url}")
    if node.node_name:
        args.append(f"--node-name={node.node_name}")
    if node.node_ip:
        args.append(f"--node-ip={node.node_ip}")
    if node.with_node_id:
        # k3s appends "-" + an id of 4 random bytes in hex, created once in /etc/rancher/node/id,
        # to the node name (k3s-io/k3s pkg/agent/config/config.go, ensureNodeID); node password
        # Secrets are per node name (https://docs.k3s.io/architecture#how-agent-node-registration-works).
        args.append("--with-node-id")
    if node.cloud_provider_external:
        # k3s gives the kubelet cloud-provider=external only while its embedded CCM runs
        # (k3s-io/k3s pkg/daemons/agent/agent_linux.go, kubeletArgsAndConfig: `if cfg.DisableCCM`
        # sets no cloud-provider), so with --disable-cloud-controller it must be asked for, or no
        # Node waits for the cloud's CCM (node.cloudprovider.kubernetes.io/uninitialized taint).
        args.append("--kubelet-arg=cloud-provider=external")
        if node.provider_id_from:
            args.append(PROVIDER_ID_ARG)
    elif node.provider_id_from:
        raise ValueError("provider_id_from needs cloud_provider_external: k3s's embedded CCM sets its own providerID")
    args += [f"--node-label={k}={v}" for k, v in node.labels]
    args += [f"--node-taint={t}" for t in node.taints]
    # The kubelet exits rather than run with kernel parameters other than its defaults.
    args.append("--protect-kernel-defaults")
    args += [
        "--kubelet-arg=streaming-connection-idle-timeout=5m",
        f"--kubelet-arg=tls-cipher-suites={_KUBELET_CIPHERS}",
    ]
    if not node.is_server:
        return args
    args.append(f"--agent-token-file={AGENT_TOKEN_FILE}")
    # The registration address (VIP / API load balancer) must be in the serving certificate,
    # or clients and joining nodes reject it.
    args += [f"--tls-san={san}" for san in node.tls_sans]
    args += [
        # The admin kubeconfig k3s writes on the host stays root-only.
        "--write-kubeconfig-mode=0600",
        # Secrets encrypted at rest in etcd (aescbc, key generated by the cluster and kept in
        # its encrypted bootstrap data): https://docs.k3s.io/security/secrets-encryption
        "--secrets-encryption",
        # Unauthenticated requests are rejected outright (k3s also defaults to this).
        "--kube-apiserver-arg=anonymous-auth=false",
        f"--kube-apiserver-arg=audit-log-path={AUDIT_LOG_FILE}",
        f"--kube-apiserver-arg=audit-policy-file={AUDIT_POLICY_FILE}",
        "--kube-apiserver-arg=audit-log-maxage=30",
        "--kube-apiserver-arg=audit-log-maxbackup=10",
        "--kube-apiserver-arg=audit-log-maxsize=100",
        f"--kube-apiserver-arg=admission-control-config-file={PSA_CONFIG_FILE}",
        "--kube-apiserver-arg=service-account-extend-token-expiration=false",
        "--kube-controller-manager-arg=terminated-pod-gc-threshold=100",
    ]
    args += [f"--disable={component}" for component in node.disable]
    if node.cloud_provider_external:
        # "Before deploying an external CCM, you must start all K3s servers with the
        # --disable-cloud-controller flag" (https://docs.k3s.io/networking/networking-services#deploying-an-external-cloud-controller-manager).
        args.append("--disable-cloud-controller")
    return args


# ------------------------------------------------------------------------------ files


def _psa_config(exempt: tuple[str, ...]) -> dict:
    # Cluster-wide Pod Security Admission default "restricted" (the hardening guide's psa.yaml);
    # only system namespaces that need privileges are exempt.
    level = {"enforce": "restricted", "enforce-version": "latest", "audit": "restricted",
             "audit-version": "latest", "warn": "restricted", "warn-version": "latest"}
    return {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "AdmissionConfiguration",
        "plugins": [{
            "name": "PodSecurity",
            "configuration": {
                "apiVersion": "pod-security.admission.config.k8s.io/v1",
                "kind": "PodSecurityConfiguration",
                "defaults": level,
                "exemptions": {"usernames": [], "runtimeClasses": [], "namespaces": list(exempt)},
            },
        }],
    }


def _registries(mirror: str) -> str:
    # https://docs.k3s.io/installation/private-registry: docker.io explicitly, "*" for every
    # other registry; containerd still falls back to the upstream endpoint if the mirror fails.
    doc = {"mirrors": {"docker.io": {"endpoint": [mirror]}, "*": {"endpoint": [mirror]}}}
    return "# fleetform: registry mirror\n" + yaml.safe_dump(doc, sort_keys=True)


def _files(node: NodeBootstrap) -> list[tuple[str, str, str, bool]]:
    """(path, mode, content, write only if absent) for every file the node needs."""
    files = [(SYSCTL_FILE, "0644", _SYSCTLS, False), (TOKEN_FILE, "0600", node.token, False)]
    if node.is_server:
        files += [
            (AGENT_TOKEN_FILE, "0600", node.agent_token, False),
            (AUDIT_POLICY_FILE, "0600", yaml.safe_dump(_AUDIT_POLICY, sort_keys=True), False),
            (PSA_CONFIG_FILE, "0600", yaml.safe_dump(_psa_config(node.pod_security_exempt_namespaces), sort_keys=True), False),
        ]
    if node.install.registry_mirror:
        files.append((REGISTRIES_FILE, "0600", _registries(node.install.registry_mirror), False))
    if node.role == "init":
        given = dict(node.tls_files)
        missing = [p for p in CUSTOM_CA_FILES if p not in given]
        if missing:
            raise ValueError(f"the first master needs every custom CA file; missing: {', '.join(missing)}")
        files += [(f"{K3S_TLS_DIR}/{p}", "0600", given[p], True) for p in CUSTOM_CA_FILES]
    return files


# ------------------------------------------------------------------------------ the script


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _body(node: NodeBootstrap, config_sha256: str) -> str:
    q = shlex.quote
    src = node.install
    out = [
        "#!/bin/sh",
        "# fleetform k3s bootstrap (generated by components/fleetform/bootstrap; do not edit).",
        f"# role: {node.role}; k3s: {node.version}; node: {node.node_name or '(host name)'}",
        "# Idempotent: with this k3s release running this configuration it changes nothing.",
        "set -eu",
        "umask 077",
        "",
        "# Runs as root (cloud-init, or sudo over SSH). FLEETFORM_ROOT prefixes every path below and",
        "# is used for nothing else; it is empty on a real host (the tests run the script in a sandbox).",
        'ROOT="${FLEETFORM_ROOT:-}"',
        f"K3S_VERSION={q(node.version)}",
        f"CONFIG_SHA256={q(config_sha256)}",
        f"SERVICE={q(node.service)}",
        f'STAMP="$ROOT"{q(STAMP_FILE)}',
        "",
        "log() {",
        "  printf 'fleetform-bootstrap: %s\\n' \"$*\"",
        "}",
        "",
        "installed_version() {",
        "  if command -v k3s >/dev/null 2>&1; then",
        "    k3s --version 2>/dev/null | awk 'NR == 1 { print $3 }'",
        "  fi",
        "}",
        "",
        'if [ "$(installed_version)" = "$K3S_VERSION" ] && [ -f "$STAMP" ] \\',
        '  && [ "$(cat "$STAMP")" = "$CONFIG_SHA256" ] && systemctl is-active --quiet "$SERVICE"; then',
        '  log "k3s $K3S_VERSION already runs this configuration; nothing to do"',
        "  exit 0",
        "fi",
        "",
        "# put_file PATH MODE BASE64: (re)write PATH atomically, readable by root only unless MODE says so.",
        "put_file() {",
        '  dest="$ROOT$1"',
        '  mkdir -p "$(dirname "$dest")"',
        '  printf \'%s\' "$3" | base64 -d > "$dest.fleetform-new"',
        '  chmod "$2" "$dest.fleetform-new"',
        '  mv -f "$dest.fleetform-new" "$dest"',
        "}",
        "",
        "# put_file_once: the same, but a file that exists is k3s's own and is never replaced.",
        "put_file_once() {",
        '  if [ ! -e "$ROOT$1" ]; then',
        '    put_file "$@"',
        "  fi",
        "}",
        "",
    ]
    for path, mode, content, once in _files(node):
        out.append(f"{'put_file_once' if once else 'put_file'} {q(path)} {mode} {q(_b64(content))}")
    if not node.install.registry_mirror:
        out += [
            "# A mirror fleetform configured earlier and the config no longer names goes away.",
            f'if [ -f "$ROOT"{q(REGISTRIES_FILE)} ] && grep -q \'^# fleetform\' "$ROOT"{q(REGISTRIES_FILE)}; then',
            f'  rm -f "$ROOT"{q(REGISTRIES_FILE)}',
            "fi",
        ]
    out += [
        f'sysctl -p "$ROOT"{q(SYSCTL_FILE)} >/dev/null',
        "",
    ]
    if node.is_server:
        # The audit log directory is created root-only before the API server starts (hardening guide).
        out += ['mkdir -p "$ROOT/var/lib/rancher/k3s/server/logs"', 'chmod 0700 "$ROOT/var/lib/rancher/k3s/server/logs"', ""]
    if node.role != "init":
        out += fragments.join_wait(node.server_url or "", node.join_wait_seconds, node.join_retry_seconds,
                                   node.join_wait_fatal)
    if node.cloud_provider_external and node.provider_id_from:
        out += fragments.provider_id(node.provider_id_from)
    if src.airgap_dir:
        # https://docs.k3s.io/installation/airgap: images tarball in agent/images, the binary in
        # /usr/local/bin, then the install script with INSTALL_K3S_SKIP_DOWNLOAD.
        out += [
            f'AIRGAP="$ROOT"{q(src.airgap_dir)}',
            'for f in install.sh k3s; do',
            '  if [ ! -f "$AIRGAP/$f" ]; then',
            '    log "air-gapped install: $AIRGAP/$f is missing"',
            "    exit 1",
            "  fi",
            "done",
            'mkdir -p "$ROOT/var/lib/rancher/k3s/agent/images"',
            'found=""',
            'for image in "$AIRGAP"/k3s-airgap-images-*; do',
            '  if [ -f "$image" ]; then',
            '    cp "$image" "$ROOT/var/lib/rancher/k3s/agent/images/"',
            "    found=yes",
            "  fi",
            "done",
            'if [ -z "$found" ]; then',
            '  log "air-gapped install: no k3s-airgap-images-* tarball in $AIRGAP"',
            "  exit 1",
            "fi",
            'mkdir -p "$ROOT/usr/local/bin"',
            'cp "$AIRGAP/k3s" "$ROOT/usr/local/bin/k3s"',
            'chmod 0755 "$ROOT/usr/local/bin/k3s"',
            'INSTALLER="$AIRGAP/install.sh"',
            "export INSTALL_K3S_SKIP_DOWNLOAD=true",
        ]
    else:
        out += [
            'WORK="$(mktemp -d)"',
            "trap 'rm -rf \"$WORK\"' EXIT",
            # The script verifies the binary it downloads against the release's sha256sum file.
            f'curl --proto \'=https\' --tlsv1.2 -sSfL --retry 3 -o "$WORK/install.sh" {q(src.script_url)}',
            'INSTALLER="$WORK/install.sh"',
        ]
        if src.release_url:
            out.append(f"export GITHUB_URL={q(src.release_url)}")
    out += [
        'export INSTALL_K3S_VERSION="$K3S_VERSION"',
        f'log "installing k3s $K3S_VERSION ({"server" if node.is_server else "agent"})"',
        'sh "$INSTALLER" \\',
    ]
    # Every argument is a literal but the providerID, which the node read from its metadata.
    args = [f'"{a}"' if a == PROVIDER_ID_ARG else q(a) for a in k3s_args(node)]
    out += [f"  {a} \\" for a in args[:-1]] + [f"  {args[-1]}"]
    out += [
        'mkdir -p "$(dirname "$STAMP")"',
        'printf \'%s\\n\' "$CONFIG_SHA256" > "$STAMP"',
        'log "k3s $K3S_VERSION installed; $SERVICE running"',
        "",
    ]
    return "\n".join(out)


def config_sha256(node: NodeBootstrap) -> str:
    """SHA-256 of the node's configuration without its secrets: what a re-run compares with the
    stamp on the host. Computed from plain values, so it can be shown in a plan."""
    return hashlib.sha256(_body(node.public(), "").encode()).hexdigest()


def render_script(node: NodeBootstrap) -> str:
    """The node's bootstrap script (contains the node's secrets: handle it as a secret)."""
    return _body(node, config_sha256(node))


def render_cloud_init(node: NodeBootstrap) -> str:
    """The same script as cloud-init user data: written root-only to disk, run once at first boot."""
    doc = {
        "write_files": [{
            "path": CLOUD_INIT_SCRIPT,
            "owner": "root:root",
            "permissions": "0700",
            "encoding": "b64",
            "content": _b64(render_script(node)),
        }],
        "runcmd": [["/bin/sh", CLOUD_INIT_SCRIPT]],
    }
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False, width=1 << 30)


# ------------------------------------------------------------------------------ over SSH


def _as_root(script: str) -> str:
    """A command that runs ``script`` (no standard input) as root: directly when the SSH user is
    root, else through passwordless sudo."""
    return "\n".join([
        "# shellcheck disable=SC2016  # the script is literal on purpose: it expands as root, not here",
        f"s={shlex.quote(script)}",
        'if [ "$(id -u)" -eq 0 ]; then sh -c "$s"; else sudo -n sh -c "$s"; fi',
    ])


def ssh_command(node: NodeBootstrap) -> str:
    """The remote command that runs the bootstrap fed on its standard input, as root.

    Its first line names the role, release and configuration hash, so a plan shows *that* a
    host's bootstrap changes although the script itself is secret.
    """
    return "\n".join([
        f"# fleetform k3s bootstrap: role={node.role} node={node.node_name} k3s={node.version} config={config_sha256(node)}",
        'if [ "$(id -u)" -eq 0 ]; then exec sh -s; fi',
        "exec sudo -n sh -s",
    ])


def uninstall_command(node: NodeBootstrap) -> str:
    """The remote command run when a host leaves the config: :func:`uninstall_script` as root.
    Reads no standard input."""
    return _as_root(uninstall_script(node))


def uninstall_script(node: NodeBootstrap) -> str:
    """k3s's own uninstall script for the node's role, then fleetform's files."""
    return "\n".join([
        f"# fleetform: remove k3s from {node.node_name} (no longer in the cluster config)",
        "set -eu",
        f"uninstall=/usr/local/bin/{node.service}-uninstall.sh",
        'if [ -x "$uninstall" ]; then "$uninstall"; fi',
        f"rm -rf /etc/rancher/k3s/fleetform {shlex.quote(STAMP_FILE)}",
    ])


def drain_command(node_name: str, timeout_seconds: int = 300) -> str:
    """The remote command, run on a master, that runs :func:`drain_script` as root."""
    return _as_root(drain_script(node_name, timeout_seconds))


def drain_script(node_name: str, timeout_seconds: int = 300) -> str:
    """Drain ``node_name`` and delete its Node object. A drain that does not finish in time (a
    PodDisruptionBudget that cannot be met) is reported and the node removed anyway: its host is
    uninstalled right after."""
    node = shlex.quote(node_name)
    return "\n".join([
        f"# fleetform: drain and remove node {node_name} (no longer in the cluster config)",
        "set -eu",
        f"node={node}",
        'if k3s kubectl get node "$node" >/dev/null 2>&1; then',
        f'  if ! k3s kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout={timeout_seconds}s; then',
        "    printf 'fleetform: drain of %s did not finish; removing the node anyway\\n' \"$node\" >&2",
        "  fi",
        '  k3s kubectl delete node "$node" --ignore-not-found',
        "fi",
    ])


# ------------------------------------------------------------------------------ readiness gate


PRIVATE_CA_PROLOGUE = (
    "set -eu",
    "umask 077",
    'd="$(mktemp -d)"',
    "trap 'rm -rf \"$d\"' EXIT",
    'printf \'%s\' "$FLEETFORM_API_CA" > "$d/ca.crt"',
)
"""The start of a local API probe: strict shell, a private temporary directory removed on exit,
and the API's CA (from FLEETFORM_API_CA) in it as ``$d/ca.crt``."""


def readiness_probe(api_url: str, timeout_seconds: int = 900, interval_seconds: int = 5) -> str:
    """A local command that waits until ``<api_url>/readyz`` answers 200, verifying the server
    with the minted CA and authenticating with a client certificate (anonymous requests are
    refused). Certificates come from the environment (FLEETFORM_API_CA, FLEETFORM_API_CERT,
    FLEETFORM_API_KEY) into a private temporary directory. Fails after ``timeout_seconds``."""
    url = shlex.quote(f"{api_url}/readyz")
    return "\n".join([
        *PRIVATE_CA_PROLOGUE,
        'printf \'%s\' "$FLEETFORM_API_CERT" > "$d/client.crt"',
        'printf \'%s\' "$FLEETFORM_API_KEY" > "$d/client.key"',
        f"deadline=$(( $(date +%s) + {int(timeout_seconds)} ))",
        f'until curl -sSf --max-time 10 --cacert "$d/ca.crt" --cert "$d/client.crt" --key "$d/client.key" {url} >/dev/null; do',
        '  if [ "$(date +%s)" -ge "$deadline" ]; then',
        f"    echo {shlex.quote(f'fleetform: {api_url} was not ready within {int(timeout_seconds)} s')} >&2",
        "    exit 1",
        "  fi",
        f"  sleep {int(interval_seconds)}",
        "done",
        "echo ready",
    ])


def api_url(address: str) -> str:
    """The API server URL for a registration address."""
    return f"https://{address}:{API_PORT}"
