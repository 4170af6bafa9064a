"""The on-prem side of a cluster (target ``onprem``): SSH access, the hosts, where k3s comes from.

:class:`SshSpec` (how fleetform reaches the hosts), :class:`HostSpec` (an existing machine, master
or worker, and its address rules) and :class:`InstallSpec` (internet, mirror or air-gapped k3s).
The checks across hosts (unique names and addresses, the masters' quorum, the vip) are
:class:`~fleetform.config.cluster.ClusterSpec`'s.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from .errors import _problem, _raise_all
from .nodes import Taint, _node_labels
from .values import K3S_NETWORKS, _dns_label, _Model

SSH_PRIVATE_KEY_DESCRIPTION = (
    "SSH private key fleetform uses to reach the hosts of onprem clusters (required with one); "
    "set it as a secret: pulumi config set --secret fleetform:sshPrivateKey < key."
)

_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) ([A-Za-z0-9+/]+={0,3})( [^\s]+)?$")
_RSA_HOST_KEY = re.compile(r"^ssh-rsa [A-Za-z0-9+/]+={0,3}( [^\s]+)?$")
RSA_HOST_KEY_PROBLEM = (
    "an ssh-ed25519 or ecdsa-sha2-nistp256/384/521 host key, not ssh-rsa: with an RSA host key the "
    "SSH client of pulumi-command offers only the SHA-1 'ssh-rsa' signature, which OpenSSH 8.8 and "
    "later refuse; take the host's ed25519 key with ssh-keyscan -t ed25519 <address>"
)
"""Why: pulumi-command (provider/pkg/provider/remote/connection.go, SSHConfig) sets
``HostKeyAlgorithms = []string{publicKey.Type()}`` for a fixed host key, i.e. ``["ssh-rsa"]`` for
an RSA key; golang.org/x/crypto/ssh (ssh/handshake.go) then offers exactly that list, and
"ssh-rsa" is the SHA-1 signature algorithm (RFC 8332 names the SHA-2 ones rsa-sha2-256/512).
OpenSSH 8.8 "disables RSA signatures using the SHA-1 hash algorithm by default"
(https://www.openssh.com/txt/release-8.8). The connection offers no option to choose algorithms."""
_SAFE_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]*)?$")
_SAFE_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+/?$")
_UNIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


def _key_blob_type(blob: str) -> Optional[str]:
    """The algorithm name a public key blob starts with (RFC 4253 §6.6: a string, length-prefixed),
    which must repeat the line's first word; None if the blob is not such."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        return None
    size = int.from_bytes(raw[:4], "big")
    if len(raw) < 4 + size:
        return None
    return raw[4:4 + size].decode("ascii", "replace")


class SshSpec(_Model):
    """How fleetform reaches the hosts of an onprem cluster over SSH (the key is fleetform:sshPrivateKey)."""

    user: str = Field(
        default="fleetform",
        description="SSH user on the hosts; it runs the bootstrap as root through passwordless sudo unless it is root.",
    )
    port: int = Field(default=22, ge=1, le=65535, description="SSH port of the hosts.")
    verify_host_keys: bool = Field(
        default=True,
        description="Check every host's SSH host key against hosts[].hostKey (on by default; off only for throwaway labs).",
    )

    @field_validator("user", mode="after")
    @classmethod
    def _user(cls, v: str) -> str:
        if not _UNIX_USER.fullmatch(v):
            raise _problem("a Unix user name: lower-case letters, digits, '_' and '-', at most 32 characters")
        return v


def _dotted_address(v: Any) -> Any:
    """An address must be written as one (pydantic would read 3221226123 as 192.0.2.139)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise _problem("an IPv4 address such as 192.0.2.10")
    return v


def _usable_address(v: ipaddress.IPv4Address, what: str) -> ipaddress.IPv4Address:
    """A node's or the API's address: one the kubelet takes and k3s' own networks do not swallow."""
    if v.is_loopback or v.is_unspecified or v.is_multicast or v.is_link_local or v.is_reserved:
        raise _problem(f"a unicast IPv4 address {what}: not loopback, 0.0.0.0, link-local, multicast or reserved")
    if any(v in net for net in K3S_NETWORKS):
        raise _problem("an address outside k3s' pod and service networks, " + " and ".join(map(str, K3S_NETWORKS)))
    return v


_HostAddress = Annotated[
    ipaddress.IPv4Address, BeforeValidator(_dotted_address), AfterValidator(lambda v: _usable_address(v, "of the host"))
]
_ApiAddress = Annotated[
    ipaddress.IPv4Address, BeforeValidator(_dotted_address), AfterValidator(lambda v: _usable_address(v, "for the API"))
]


class HostSpec(_Model):
    """An existing machine of an onprem cluster, reached over SSH."""

    name: str = Field(description="Host name, a DNS-1123 label unique in the cluster; the Kubernetes node name.")
    address: _HostAddress = Field(description="IPv4 address fleetform connects to over SSH; the node's IP.")
    role: Literal["master", "worker"] = Field(description="master (k3s server, embedded etcd) or worker (k3s agent).")
    user: Optional[str] = Field(default=None, description="SSH user for this host; default: ssh.user.")
    port: Optional[int] = Field(default=None, ge=1, le=65535, description="SSH port for this host; default: ssh.port.")
    host_key: Optional[str] = Field(
        default=None,
        description="The host's SSH public host key, ssh-ed25519 or ecdsa-sha2-nistp256/384/521, e.g. from "
        "ssh-keyscan -t ed25519 <address>; required unless ssh.verifyHostKeys is false. ssh-rsa keys are refused: "
        "the SSH client would offer only SHA-1 ssh-rsa signatures, which OpenSSH 8.8 and later refuse.",
    )
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes labels put on this node.")
    taints: list[Taint] = Field(default_factory=list, description="Taints put on this node.")

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, 63)

    @field_validator("user", mode="after")
    @classmethod
    def _user(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _UNIX_USER.fullmatch(v):
            raise _problem("a Unix user name: lower-case letters, digits, '_' and '-', at most 32 characters")
        return v

    @field_validator("host_key", mode="after")
    @classmethod
    def _host_key(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        if _RSA_HOST_KEY.fullmatch(v.strip()):
            raise _problem(RSA_HOST_KEY_PROBLEM)
        m = _HOST_KEY.fullmatch(v.strip())
        if not m or _key_blob_type(m.group(3)) != m.group(1):
            raise _problem("an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan output without the address)")
        return v.strip()

    @field_validator("labels", mode="after")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return _node_labels(v)


class InstallSpec(_Model):
    """Where the self-managed bootstrap gets k3s from: the internet (default), a mirror, or files already on the hosts."""

    script_url: str = Field(
        default="https://get.k3s.io",
        description="HTTPS URL of the k3s install script (default: the upstream script; point it at a mirror).",
    )
    release_url: Optional[str] = Field(
        default=None,
        description="HTTPS URL of a mirror of https://github.com/k3s-io/k3s/releases the install script downloads "
        "the k3s binary and its checksums from.",
    )
    airgap_dir: Optional[str] = Field(
        default=None,
        description="Absolute path, on every host, of an air-gapped k3s install: install.sh, the k3s binary and the "
        "k3s-airgap-images tarball of the pinned version; nothing is downloaded.",
    )
    registry_mirror: Optional[str] = Field(
        default=None, description="HTTPS URL of a container registry mirror the nodes pull every image through."
    )

    @field_validator("script_url", "release_url", "registry_mirror", mode="after")
    @classmethod
    def _https(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _SAFE_URL.fullmatch(v):
            raise _problem("an https:// URL of letters, digits and . - _ ~ % / + (no query, credentials or spaces)")
        return v

    @field_validator("airgap_dir", mode="after")
    @classmethod
    def _path(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _SAFE_PATH.fullmatch(v):
            raise _problem("an absolute path of letters, digits, '.', '_' and '-', such as /opt/k3s-airgap")
        return v

    @model_validator(mode="after")
    def _airgap_downloads_nothing(self) -> "InstallSpec":
        if self.airgap_dir is not None:
            _raise_all([
                (key, value, "nothing with airgapDir (an air-gapped install downloads nothing)")
                for key, value, default in (("scriptUrl", self.script_url, "https://get.k3s.io"), ("releaseUrl", self.release_url, None))
                if value != default
            ])
        return self
