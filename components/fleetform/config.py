"""The fleet's typed configuration: what users write under ``fleetform:`` in ``Pulumi.<stack>.yaml``.

Every model here is the single source of the config keys' meaning: ``Pulumi.yaml``'s config
declarations and the README's config reference use the same words as the field descriptions.

Invalid config never reaches a resource: :func:`load_spec` turns every problem into one line
``<key path>: got <value>; allowed: <what is allowed>`` and raises :class:`FleetConfigError`
carrying all of them.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import zlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

NAMESPACE = "fleetform"
"""The Pulumi config namespace (the project name)."""

TARGETS = ("aws", "gcp", "azure", "onprem", "existing")
CLOUD_TARGETS = ("aws", "gcp", "azure")
MODES = ("managed", "self-managed")
EXPOSURES = ("public", "internal", "cluster")

DEFAULT_NODE_SIZE = {"aws": "m6i.large", "gcp": "e2-standard-4", "azure": "Standard_D4s_v5"}
"""Node size of the default pool when a cloud cluster lists none."""

SUPPORTED_KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34")
"""Kubernetes minor versions fleetform plans and validates against (upstream schemas exist for each)."""
DEFAULT_KUBERNETES_VERSION = "1.32"

DEFAULT_DENY_POLICY = "default-deny"
"""Name of the NetworkPolicy denying all traffic in fleetform's namespace (no service may take it)."""

SSH_PRIVATE_KEY_DESCRIPTION = (
    "SSH private key fleetform uses to reach the hosts of onprem clusters (required with one); "
    "set it as a secret: pulumi config set --secret fleetform:sshPrivateKey < key."
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_QUANTITY = re.compile(r"\+?(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][-+]?[0-9]{1,3})?")
"""A non-negative Kubernetes resource quantity (apimachinery's resource.Quantity grammar)."""
_QUANTITY_SCALE = {
    "Ki": Decimal(2) ** 10, "Mi": Decimal(2) ** 20, "Gi": Decimal(2) ** 30, "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50, "Ei": Decimal(2) ** 60, "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"),
    "k": Decimal("1e3"), "M": Decimal("1e6"), "G": Decimal("1e9"), "T": Decimal("1e12"), "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def _quantity(text: str) -> Optional[Decimal]:
    """The value of a Kubernetes quantity such as 250m, 1.5, 128Mi or 129e6, or None if it is not one."""
    m = _QUANTITY.fullmatch(text)
    if m is None:
        return None
    suffix = m["suffix"] or ""
    if suffix in _QUANTITY_SCALE:
        scale = _QUANTITY_SCALE[suffix]
    elif suffix:  # an exponent, e.g. 129e6 (at most three digits: the grammar's numbers are bounded)
        scale = Decimal(10) ** int(suffix[1:])
    else:
        scale = Decimal(1)
    return Decimal(m["number"]) * scale
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
# The image reference grammar of distribution/reference (the one container runtimes parse):
# an optional registry host (any case, or an [IPv6] address) and port, lower-case path components
# joined by '.', '_', '__' or dashes, a tag, a digest.
_IMAGE_HOST = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])"
_IMAGE_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE = re.compile(
    rf"(?P<repo>(?:{_IMAGE_HOST}(?::[0-9]+)?/)?{_IMAGE_PATH}(?:/{_IMAGE_PATH})*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?P<digest>@sha256:[0-9a-f]{64})?"
)
_IMAGE_NAME_MAX = 255
_HTTP_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_REGIONS = {
    # Region name shapes as the clouds spell them (aws: us-east-1, us-gov-west-1; gcp: europe-west4;
    # azure: westeurope, eastus2). Shape, not membership: new regions keep working.
    "aws": (re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"), "an AWS region such as us-east-1"),
    "gcp": (re.compile(r"^[a-z]+-[a-z]+[0-9]$"), "a GCP region such as europe-west4"),
    "azure": (re.compile(r"^[a-z]+[a-z0-9]*$"), "an Azure region such as westeurope"),
}


def _problem(allowed: str, *, key: Optional[str] = None, got: Any = None, hide: bool = False,
             entry: Optional[str] = None, shown: Optional[str] = None) -> PydanticCustomError:
    """A config problem: ``allowed`` says what is accepted; ``key`` narrows the path below the
    model being validated (for checks that span several fields) and ``entry`` names a mapping's
    key below that, as it is; ``hide`` keeps the value given out of the message (it may hold
    credentials); ``shown`` is what the message says was given instead of the value."""
    ctx: dict[str, Any] = {"allowed": allowed}
    if key is not None:
        ctx["key"] = key
        ctx["got"] = got
    if entry is not None:
        ctx["entry"] = entry
        ctx["got"] = got
    if hide:
        ctx["hide"] = True
    if shown is not None:
        ctx["shown"] = shown
    return PydanticCustomError("fleetform", "{allowed}", ctx)


def _problems(found: list[tuple[str, Any, str]]) -> PydanticCustomError:
    """Several problems found by one check, as (key below the model, value given, allowed)."""
    key, got, allowed = found[0]
    return PydanticCustomError("fleetform", "{allowed}", {"allowed": allowed, "key": key, "got": got, "more": found[1:]})


KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch",
})
"""The kubernetes.io labels a kubelet may set on its own node (upstream
staging/src/k8s.io/kubelet/pkg/apis/well_known_labels.go); besides these, only the
kubelet.kubernetes.io and node.kubernetes.io namespaces. A kubelet given any other kubernetes.io
or k8s.io label with --node-labels refuses to start."""


def _node_label_problem(key: str, value: str) -> Optional[str]:
    """What Kubernetes refuses in a node's label, the kubelet's own rule included, or None."""
    prefix = key.split("/", 1)[0] if "/" in key else ""
    if not _LABEL_KEY.fullmatch(key) or len(prefix) > 253 or not _LABEL_VALUE.fullmatch(value):
        return ("a Kubernetes label: a key like team or example.com/team (prefix at most 253 characters), a value of "
                "at most 63 letters, digits, '-', '_', '.'")
    reserved = any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubernetes.io", "k8s.io"))
    kubelet_ns = any(prefix == ns or prefix.endswith("." + ns) for ns in ("kubelet.kubernetes.io", "node.kubernetes.io"))
    if reserved and key not in KUBELET_LABELS and not kubelet_ns:
        return ("a node label outside the kubernetes.io and k8s.io namespaces, or one the kubelet may set "
                "(node.kubernetes.io/..., kubelet.kubernetes.io/..., topology.kubernetes.io/zone, ...)")
    return None


def _node_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        problem = _node_label_problem(key, value)
        if problem:
            raise _problem(problem, entry=key, got=value)
    return labels


def _dns_label(value: str, max_len: int = 40) -> str:
    if len(value) > max_len or not _DNS_LABEL.fullmatch(value):
        raise _problem(
            f"a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
            f"letter or digit, at most {max_len} characters"
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_as_numbers(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic reads true as 1: `count: true` would quietly mean one master.
        if isinstance(v, bool) and info.field_name in _number_fields(cls):
            raise _problem("a whole number")
        return v


@functools.cache
def _number_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` that hold a number (int or float, optional or not)."""
    return frozenset(
        name for name, f in model.model_fields.items()
        if f.annotation in (int, float) or set(getattr(f.annotation, "__args__", ())) & {int, float} and
        set(getattr(f.annotation, "__args__", ())) <= {int, float, type(None)}
    )


# ---------------------------------------------------------------------------------- clusters


class NetworkSpec(_Model):
    """The cluster's own network (clouds only): a dedicated VPC/VNet."""

    cidr: ipaddress.IPv4Network = Field(
        default=ipaddress.IPv4Network("10.0.0.0/16"),
        description="IPv4 CIDR of the cluster's VPC/VNet; private subnets are carved from it.",
    )
    zones: int = Field(default=3, ge=2, le=6, description="Availability zones to spread subnets and nodes over (2-6).")

    @field_validator("cidr", mode="after")
    @classmethod
    def _private_and_big_enough(cls, v: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
        if not v.is_private or v.prefixlen > 20 or v.prefixlen < 8:
            raise _problem("a private IPv4 CIDR (RFC 1918) with a prefix from /8 to /20, e.g. 10.10.0.0/16")
        return v


class ControlPlaneSpec(_Model):
    """The Kubernetes API: masters for self-managed clusters, endpoint access for all."""

    count: int = Field(default=3, description="Masters of a self-managed cluster: 1, or 3 for HA (etcd needs an odd quorum).")
    size: Optional[str] = Field(default=None, description="Master machine size (self-managed), e.g. m6i.large.")
    public_access: bool = Field(
        default=False,
        description="Expose the API endpoint publicly, only to apiAllowedCidrs. Off by default: the API is private.",
    )
    api_allowed_cidrs: list[ipaddress.IPv4Network] = Field(
        default_factory=list,
        description="CIDRs allowed to reach the API: a public endpoint's only sources; on self-managed clusters "
        "also admitted to the internal API load balancer (e.g. VPN ranges).",
    )

    @field_validator("api_allowed_cidrs", mode="after")
    @classmethod
    def _not_everyone(cls, v: list[ipaddress.IPv4Network]) -> list[ipaddress.IPv4Network]:
        if any(c.prefixlen == 0 for c in v):
            raise _problem("CIDRs narrower than 0.0.0.0/0 (the API is never open to everyone)")
        return v

    @field_validator("count", mode="after")
    @classmethod
    def _odd_quorum(cls, v: int) -> int:
        if v not in (1, 3):
            raise _problem("1 or 3 (embedded etcd needs an odd quorum; 2 masters tolerate no more failures than 1)")
        return v

    @model_validator(mode="after")
    def _public_needs_cidrs(self) -> "ControlPlaneSpec":
        if self.public_access and not self.api_allowed_cidrs:
            raise _problem(
                "at least one CIDR when publicAccess is true (the public endpoint is never open to all by default)",
                key="apiAllowedCidrs",
                got=[],
            )
        return self


class Taint(_Model):
    """A node taint."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    @field_validator("key", mode="after")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _LABEL_KEY.fullmatch(v) or len(v.split("/", 1)[0]) > 253:
            raise _problem("a Kubernetes label key such as dedicated or example.com/role")
        return v

    @field_validator("value", mode="after")
    @classmethod
    def _value(cls, v: str) -> str:
        if not _LABEL_VALUE.fullmatch(v):
            raise _problem("a Kubernetes label value: at most 63 letters, digits, '-', '_', '.', starting and ending "
                           "with a letter or digit")
        return v


class NodePoolSpec(_Model):
    """A group of worker nodes sharing size, labels and taints, autoscaled between min and max."""

    name: str = Field(description="Pool name, a DNS-1123 label unique within the cluster.")
    size: str = Field(min_length=1, description="Instance/machine/VM size, e.g. m6i.large, e2-standard-4, Standard_D4s_v5.")
    min: int = Field(default=2, ge=0, le=1000, description="Fewest nodes the autoscaler keeps.")
    max: int = Field(default=6, ge=1, le=1000, description="Most nodes the autoscaler adds.")
    labels: dict[str, str] = Field(default_factory=dict, description="Kubernetes labels put on the pool's nodes.")
    taints: list[Taint] = Field(default_factory=list, description="Taints put on the pool's nodes.")
    spot: bool = Field(default=False, description="Use spot/preemptible capacity.")
    disk_gb: int = Field(default=50, ge=20, le=4096, description="Encrypted root disk size in GiB.")

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, 24)

    @field_validator("labels", mode="after")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        return _node_labels(v)

    @model_validator(mode="after")
    def _bounds(self) -> "NodePoolSpec":
        if self.min > self.max:
            raise _problem(f"at most max ({self.max})", key="min", got=self.min)
        return self


class ExistingSpec(_Model):
    """How to reach a cluster fleetform does not provision (target ``existing``)."""

    kubeconfig: Optional[str] = Field(
        default=None,
        description="Path to a kubeconfig file; default: $KUBECONFIG, else ~/.kube/config.",
    )
    context: Optional[str] = Field(default=None, description="Context in the kubeconfig; default: its current context.")

    @field_validator("kubeconfig", mode="after")
    @classmethod
    def _a_path(cls, v: Optional[str]) -> Optional[str]:
        # The Kubernetes provider also takes a kubeconfig's content here; fleetform does not: the
        # content would sit in plain text in the stack file and in the provider's inputs.
        if v is not None and ("\n" in v or v.lstrip().startswith(("apiVersion", "{")) or not v.strip()):
            raise _problem(
                "a path to a kubeconfig file, not its content (point $KUBECONFIG or this key at a file)",
                hide=True,
            )
        return v


class LoadBalancerSpec(_Model):
    """Where LoadBalancer Services get their addresses on clusters without a cloud LB (onprem, existing)."""

    provider: Literal["servicelb", "metallb"] = Field(
        default="servicelb", description="servicelb (k3s' built-in ServiceLB) or metallb (an installed MetalLB)."
    )
    public_pool: Optional[str] = Field(default=None, description="MetalLB address pool for public services.")
    internal_pool: Optional[str] = Field(default=None, description="MetalLB address pool for internal services.")

    @model_validator(mode="after")
    def _pools_need_metallb(self) -> "LoadBalancerSpec":
        for key, pool in (("publicPool", self.public_pool), ("internalPool", self.internal_pool)):
            if pool is not None:
                if self.provider != "metallb":
                    raise _problem("only with provider: metallb (ServiceLB has no address pools)", key=key, got=pool)
                if not _DNS_LABEL.fullmatch(pool):
                    raise _problem("a MetalLB IPAddressPool name (DNS-1123 label)", key=key, got=pool)
        return self


# ------------------------------------------------------------------ self-managed / on-prem

_HOST_KEY = re.compile(r"^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/]+={0,3}( [^\s]+)?$")
_SAFE_URL = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/+-]*)?$")
_SAFE_PATH = re.compile(r"^(/[A-Za-z0-9._-]+)+/?$")
_UNIX_USER = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


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


def _quoted_version(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise _problem('a quoted minor version such as "1.30" (unquoted, 1.30 is the number 1.3)')
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
        description="The host's SSH public host key, e.g. from ssh-keyscan -t ed25519 <address>; required unless ssh.verifyHostKeys is false.",
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
        if v is not None and not _HOST_KEY.fullmatch(v.strip()):
            raise _problem("an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan output without the address)")
        return v.strip() if v is not None else v

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
            for key, value, default in (("scriptUrl", self.script_url, "https://get.k3s.io"), ("releaseUrl", self.release_url, None)):
                if value != default:
                    raise _problem("nothing with airgapDir (an air-gapped install downloads nothing)", key=key, got=value)
        return self


class ClusterSpec(_Model):
    """One Kubernetes cluster of the fleet."""

    name: str = Field(description="Cluster name, a DNS-1123 label unique in the fleet; prefixes its resources' names.")
    target: Literal["aws", "gcp", "azure", "onprem", "existing"] = Field(
        description="Where it runs: aws | gcp | azure | onprem | existing."
    )
    mode: Optional[Literal["managed", "self-managed"]] = Field(
        default=None,
        description="managed (EKS/GKE/AKS) or self-managed (fleetform's own masters and workers). "
        "Default: managed on clouds, self-managed on onprem; none for existing.",
    )
    region: Optional[str] = Field(default=None, description="Cloud region (required on aws, gcp, azure).")
    kubernetes_version: Optional[str] = Field(
        default=None, description="Kubernetes minor version, e.g. \"1.32\"; default: fleetform:kubernetesVersion."
    )
    network: NetworkSpec = Field(default_factory=NetworkSpec, description="The cluster's network (clouds).")
    control_plane: ControlPlaneSpec = Field(default_factory=ControlPlaneSpec, description="API endpoint and masters.")
    node_pools: Optional[list[NodePoolSpec]] = Field(
        default=None, description="Worker pools (clouds); default: one pool named general."
    )
    existing: Optional[ExistingSpec] = Field(default=None, description="Connection to an existing cluster (target existing).")
    load_balancer: LoadBalancerSpec = Field(
        default_factory=LoadBalancerSpec, description="LoadBalancer address source on onprem/existing clusters."
    )
    tags: dict[str, str] = Field(default_factory=dict, description="Tags/labels put on the cluster's cloud resources.")
    hosts: Optional[list[HostSpec]] = Field(
        default=None, description="The existing machines of an onprem cluster: its masters and workers (target onprem)."
    )
    ssh: SshSpec = Field(default_factory=SshSpec, description="How fleetform reaches the hosts over SSH (target onprem).")
    install: InstallSpec = Field(
        default_factory=InstallSpec, description="Where the hosts get k3s from: internet, mirror or air-gapped files (target onprem)."
    )
    vip: Optional[_ApiAddress] = Field(
        default=None,
        description="Fixed registration address of the API (target onprem): a virtual IP or load balancer forwarding "
        "TCP 6443 to the masters. Required with 3 masters; default with 1 master: its address.",
    )

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        return _dns_label(v, 24)

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _quoted_version(cls, v: Any) -> Any:
        return _quoted_version(v)

    @field_validator("kubernetes_version", mode="after")
    @classmethod
    def _version(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise _problem("one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS) + " (a quoted minor version)")
        return v

    @model_validator(mode="after")
    def _target_rules(self) -> "ClusterSpec":
        t = self.target
        if t == "existing":
            if self.mode is not None:
                raise _problem("no mode for target existing (fleetform provisions nothing there)", key="mode", got=self.mode)
            for key, value in (("region", self.region), ("nodePools", self.node_pools)):
                if value is not None:
                    raise _problem("nothing for target existing (fleetform provisions nothing there)", key=key,
                                   got=value if isinstance(value, str) else "[...]")
        else:
            if self.existing is not None:
                raise _problem("only for target existing", key="existing", got="{...}")
        if t == "onprem" and self.mode == "managed":
            raise _problem("self-managed for target onprem (there is no managed Kubernetes on your hosts)", key="mode", got="managed")
        if t in CLOUD_TARGETS:
            if self.region is None:
                raise _problem(_REGIONS[t][1] + " (required for target " + t + ")", key="region", got=None)
            pattern, what = _REGIONS[t]
            if not pattern.fullmatch(self.region):
                raise _problem(what, key="region", got=self.region)
        elif self.region is not None and t == "onprem":
            raise _problem("nothing for target onprem", key="region", got=self.region)
        if t in ("onprem", "existing"):
            # Cloud-only settings would be silently ignored on hosts fleetform did not create.
            unused = [("network", self.network != NetworkSpec(), "{...}"), ("tags", bool(self.tags), "{...}")]
            plane = self.control_plane
            if t == "existing":
                unused.append(("controlPlane", plane != ControlPlaneSpec(), "{...}"))
            else:
                unused += [("controlPlane.size", plane.size is not None, plane.size),
                           ("controlPlane.publicAccess", plane.public_access, True),
                           ("controlPlane.apiAllowedCidrs", bool(plane.api_allowed_cidrs), "[...]")]
            for key, is_set, shown in unused:
                if is_set:
                    why = "fleetform provisions nothing there" if t == "existing" else "a cloud setting: the hosts are yours"
                    raise _problem(f"nothing for target {t} ({why})", key=key, got=shown)
        if t not in ("onprem", "existing") and self.load_balancer != LoadBalancerSpec():
            raise _problem("only for targets onprem and existing (clouds use their own load balancers)", key="loadBalancer", got="{...}")
        if self.node_pools is not None:
            if t in CLOUD_TARGETS and not self.node_pools:
                raise _problem("at least one node pool", key="nodePools", got=[])
            seen: set[str] = set()
            for i, pool in enumerate(self.node_pools):
                if pool.name in seen:
                    raise _problem("a name not used by another pool of this cluster", key=f"nodePools[{i}].name", got=pool.name)
                seen.add(pool.name)
        cloud_problem = _cloud_naming_problem(self)
        if cloud_problem is not None:
            key, got, allowed = cloud_problem
            if isinstance(key, tuple):  # a tag: its name goes into the path as it is
                raise _problem(allowed, key=key[0], entry=key[1], got=got)
            raise _problem(allowed, key=key, got=got)
        if t in CLOUD_TARGETS and self.effective_mode == "self-managed":
            for k3s_net in K3S_NETWORKS:
                if self.network.cidr.overlaps(k3s_net):
                    raise _problem(
                        "a CIDR that does not overlap k3s's pod and service networks (10.42.0.0/16, 10.43.0.0/16)",
                        key="network.cidr",
                        got=str(self.network.cidr),
                    )
        if t in CLOUD_TARGETS:
            from .network.cidr import capacity_problem

            max_nodes = sum(p.max for p in self.effective_node_pools) + (
                self.control_plane.count if self.effective_mode == "self-managed" else 0
            ) + (AKS_SYSTEM_NODES if t == "azure" and self.effective_mode == "managed" else 0)
            problem = capacity_problem(t, self.network.cidr, self.network.zones, max_nodes)
            if problem:
                raise _problem(problem, key="network.cidr", got=str(self.network.cidr))
        return self

    @model_validator(mode="after")
    def _onprem_rules(self) -> "ClusterSpec":
        if self.target != "onprem":
            for key, value, default in (("hosts", self.hosts, None), ("vip", self.vip, None),
                                        ("ssh", self.ssh, SshSpec()), ("install", self.install, InstallSpec())):
                if value != default:
                    shown = str(value) if key == "vip" else "[...]" if key == "hosts" else "{...}"
                    raise _problem("only for target onprem", key=key, got=shown)
            return self
        if self.node_pools is not None:
            raise _problem("nothing for target onprem (list the workers in hosts)", key="nodePools", got="[...]")
        if not self.hosts:
            raise _problem(
                "the cluster's existing machines, at least one with role master (required for target onprem)",
                key="hosts", got=self.hosts,
            )
        names: set[str] = set()
        addresses: set[ipaddress.IPv4Address] = set()
        for i, host in enumerate(self.hosts):
            if host.name in names:
                raise _problem("a name not used by another host of this cluster", key=f"hosts[{i}].name", got=host.name)
            if host.address in addresses:
                raise _problem("an address not used by another host of this cluster", key=f"hosts[{i}].address", got=str(host.address))
            names.add(host.name)
            addresses.add(host.address)
            if self.ssh.verify_host_keys and host.host_key is None:
                raise _problem(
                    "the host's SSH public key (ssh-keyscan -t ed25519 <address>), or ssh.verifyHostKeys: false",
                    key=f"hosts[{i}].hostKey", got=None,
                )
        masters = [h for h in self.hosts if h.role == "master"]
        if "count" in self.control_plane.model_fields_set:
            if len(masters) != self.control_plane.count:
                raise _problem(
                    f"the number of hosts with role master ({len(masters)} listed)", key="controlPlane.count",
                    got=self.control_plane.count,
                )
        elif len(masters) not in (1, 3):
            raise _problem(
                "1 or 3 hosts with role master (embedded etcd needs an odd quorum)", key="hosts", got=f"{len(masters)} masters"
            )
        if len(masters) > 1:
            if self.vip is None:
                raise _problem(
                    "the API's fixed registration address: a virtual IP or load balancer forwarding TCP 6443 to the "
                    "masters (required with 3 masters)", key="vip", got=None,
                )
            if self.vip in addresses:
                raise _problem(
                    "an address of no host (with 3 masters the API address must outlive any one master)", key="vip",
                    got=str(self.vip),
                )
        return self

    @property
    def masters(self) -> list[HostSpec]:
        """The onprem hosts with role master, in config order (the first one initialises etcd)."""
        return [h for h in self.hosts or [] if h.role == "master"]

    @property
    def workers(self) -> list[HostSpec]:
        """The onprem hosts with role worker, in config order."""
        return [h for h in self.hosts or [] if h.role == "worker"]

    @property
    def registration_address(self) -> Optional[str]:
        """The onprem API address: the vip, else the only master's address (None off onprem)."""
        if self.vip is not None:
            return str(self.vip)
        masters = self.masters
        return str(masters[0].address) if len(masters) == 1 else None

    @property
    def effective_node_pools(self) -> list[NodePoolSpec]:
        """The node pools after defaults: one pool named general on clouds when none is given."""
        if self.node_pools is not None:
            return list(self.node_pools)
        if self.target in CLOUD_TARGETS:
            return [NodePoolSpec(name="general", size=DEFAULT_NODE_SIZE[self.target])]
        return []

    @property
    def effective_mode(self) -> Optional[str]:
        """The mode after defaults: managed on clouds, self-managed on onprem, None for existing."""
        if self.target == "existing":
            return None
        if self.mode is not None:
            return self.mode
        return "self-managed" if self.target == "onprem" else "managed"


_AWS_TAG_TEXT = re.compile(r"^[\w .:/=+\-@]*$")
_GCP_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_GCP_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_AKS_POOL = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_AZURE_TAG_NAME_FORBIDDEN = "<>%&\\?/"
MAX_AZURE_ZONES = 3
K3S_NETWORKS = (ipaddress.IPv4Network("10.42.0.0/16"), ipaddress.IPv4Network("10.43.0.0/16"))
"""k3s's default cluster (pod) and service CIDRs (https://docs.k3s.io/cli/server#networking)."""
AKS_SYSTEM_NODES = 3
"""Nodes of the system pool fleetform adds to every AKS cluster (components/fleetform/cluster/aks.py)."""


def _cloud_naming_problem(spec: "ClusterSpec") -> Optional[tuple[Any, Any, str]]:
    """What each cloud refuses in names and tags, caught before any resource exists:
    (key below the cluster, value given, what is allowed) or None."""
    t = spec.target
    if t == "aws":
        # https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html (50 per resource;
        # fleetform adds up to 5 of its own).
        if len(spec.tags) > 45:
            return "tags", f"{len(spec.tags)} tags", "at most 45 tags on aws (AWS allows 50 per resource; fleetform adds up to 5)"
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= 127 or k.lower().startswith("aws:") or not _AWS_TAG_TEXT.fullmatch(k) \
                    or len(v) > 255 or not _AWS_TAG_TEXT.fullmatch(v):
                return (("tags", k), v, "AWS tags: keys of 1-127 and values of at most 255 letters, digits, spaces and "
                        "_ . : / = + - @; keys must not start with aws:")
    elif t == "gcp":
        # https://cloud.google.com/resource-manager/docs/labels-overview#requirements
        if not spec.name[0].isalpha():
            return "name", spec.name, "a name starting with a letter (GKE cluster and service account names must)"
        if len(spec.tags) > 63:
            return "tags", f"{len(spec.tags)} labels", "at most 63 labels on gcp (GCP allows 64 per resource; fleetform adds 1)"
        for k, v in spec.tags.items():
            if not _GCP_LABEL_KEY.fullmatch(k) or not _GCP_LABEL_VALUE.fullmatch(v):
                return (("tags", k), v, "GCP labels: keys of 1-63 lower-case letters, digits, '_' or '-' starting with "
                        "a letter; values of at most 63 of those")
        # Node pools (GKE) and instance templates (self-managed) are GCP resource names:
        # https://cloud.google.com/compute/docs/naming-resources#resource-name-format
        for i, pool in enumerate(spec.node_pools or []):
            if not pool.name[0].isalpha():
                return f"nodePools[{i}].name", pool.name, "on gcp, a name starting with a letter (GCP resource names must)"
    elif t == "azure":
        # https://learn.microsoft.com/azure/azure-resource-manager/management/tag-resources#limitations
        if len(spec.tags) > 49:
            return "tags", f"{len(spec.tags)} tags", "at most 49 tags on azure (Azure allows 50 per resource; fleetform adds 1)"
        for k, v in spec.tags.items():
            if not 1 <= len(k) <= 512 or len(v) > 256 or any(c in k for c in _AZURE_TAG_NAME_FORBIDDEN):
                return (("tags", k), v, "Azure tags: names of 1-512 characters without < > % & \\ ? /, values of at "
                        "most 256 characters")
        if spec.network.zones > MAX_AZURE_ZONES:
            return "network.zones", spec.network.zones, f"at most {MAX_AZURE_ZONES} (Azure regions have 3 availability zones)"
        if spec.effective_mode == "managed":
            # AKS Linux pool names: lower-case letters and digits, starting with a letter, 1-12
            # (https://learn.microsoft.com/azure/aks/create-node-pools); fleetform drops '-'.
            seen = {"system"}
            for i, pool in enumerate(spec.effective_node_pools):
                aks = re.sub(r"[^a-z0-9]", "", pool.name)
                if not _AKS_POOL.fullmatch(aks) or aks in seen:
                    return (f"nodePools[{i}].name", pool.name, "on AKS, a name that is 1-12 lower-case letters and digits "
                            "once '-' is dropped, starts with a letter, is not system and differs from the other pools")
                seen.add(aks)
    return None


# ---------------------------------------------------------------------------------- services


class AutoscaleSpec(_Model):
    """Horizontal pod autoscaling bounds (autoscaling/v2 on CPU)."""

    min: Optional[int] = Field(default=None, ge=1, le=1000, description="Fewest replicas; default: replicas.")
    max: Optional[int] = Field(default=None, ge=1, le=1000, description="Most replicas; default: 3 x replicas.")
    cpu_percent: int = Field(default=70, ge=1, le=100, description="Target average CPU utilisation, in percent of requests.")


class HealthSpec(_Model):
    """The service's HTTP health endpoint: probes and load balancer health checks use it."""

    path: str = Field(default="/healthz", description="Absolute URL path answering 2xx when the service can take traffic.")
    liveness_path: Optional[str] = Field(default=None, description="Path for the liveness probe; default: path.")

    @field_validator("path", "liveness_path", mode="after")
    @classmethod
    def _absolute(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and (len(v) > 1024 or not _HTTP_PATH.fullmatch(v)):
            raise _problem("an absolute URL path such as /healthz (starts with '/', no spaces, query or fragment)")
        return v


class ResourcesSpec(_Model):
    """Container resources: requests are what the scheduler reserves, limits the ceiling."""

    cpu: str = Field(default="100m", description="CPU request, e.g. 250m.")
    memory: str = Field(default="128Mi", description="Memory request, e.g. 256Mi.")
    cpu_limit: str = Field(default="1", description="CPU limit.")
    memory_limit: Optional[str] = Field(default=None, description="Memory limit; default: the memory request.")

    @field_validator("cpu", "cpu_limit", "memory", "memory_limit", mode="before")
    @classmethod
    def _numbers_as_text(cls, v: Any) -> Any:
        # Kubernetes takes a plain number too (cpu: 2, memory: 134217728).
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("cpu", "cpu_limit", mode="after")
    @classmethod
    def _cpu(cls, v: str) -> str:
        amount = _quantity(v)
        if amount is None or amount < Decimal("0.001"):
            raise _problem("a CPU quantity of at least 1m, such as 250m, 1 or 1.5")
        return v

    @field_validator("memory", "memory_limit", mode="after")
    @classmethod
    def _memory(cls, v: Optional[str]) -> Optional[str]:
        if v is None:
            return v
        amount = _quantity(v)
        # A lower-case m means milli: 128m is an eighth of a byte, a classic slip for 128Mi.
        if amount is None or v.endswith(("m", "u", "n")) or amount < 1024 * 1024:
            raise _problem("a memory quantity of at least 1Mi, such as 256Mi, 1Gi or 500M (m would mean thousandths of a byte)")
        return v

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "ResourcesSpec":
        # The API server refuses a request above its limit (pod validation).
        if (_quantity(self.cpu) or 0) > (_quantity(self.cpu_limit) or 0):
            default = "" if "cpu_limit" in self.model_fields_set else ", the default: set cpuLimit to raise it"
            raise _problem(f"at most the CPU limit, cpuLimit ({self.cpu_limit}{default})", key="cpu", got=self.cpu)
        if self.memory_limit is not None and (_quantity(self.memory) or 0) > (_quantity(self.memory_limit) or 0):
            raise _problem(f"at most the memory limit, memoryLimit ({self.memory_limit})", key="memory", got=self.memory)
        return self


class EgressRule(_Model):
    """One allowed egress destination beyond DNS: another fleet service, or a CIDR and ports."""

    service: Optional[str] = Field(default=None, description="Name of a fleet service this one calls.")
    cidr: Optional[ipaddress.IPv4Network] = Field(default=None, description="Destination CIDR.")
    ports: list[int] = Field(default_factory=list, description="Destination TCP ports (required with cidr).")

    @field_validator("ports", mode="after")
    @classmethod
    def _ports(cls, v: list[int]) -> list[int]:
        if any(p < 1 or p > 65535 for p in v):
            raise _problem("TCP ports from 1 to 65535")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> "EgressRule":
        if (self.service is None) == (self.cidr is None):
            raise _problem("exactly one of service or cidr", key="service", got=self.service)
        if self.cidr is not None and not self.ports:
            raise _problem("at least one port with cidr (no all-ports egress)", key="ports", got=[])
        return self


class ServiceSpec(_Model):
    """A containerized microservice fleetform deploys, the same way, on every cluster."""

    name: str = Field(description="Service name, a DNS-1123 label unique in the fleet.")
    image: str = Field(description="Container image pinned by digest (@sha256:...) or by a tag other than latest.")
    port: int = Field(description="Container port the service listens on (1024-65535: it runs as non-root).")
    service_port: int = Field(default=80, ge=1, le=65535, description="Port the Service and load balancer listen on.")
    replicas: int = Field(default=2, ge=1, le=1000, description="Initial replicas; within the autoscale bounds.")
    autoscale: AutoscaleSpec = Field(default_factory=AutoscaleSpec, description="Autoscaling bounds.")
    health: HealthSpec = Field(default_factory=HealthSpec, description="HTTP health endpoint.")
    expose: Literal["public", "internal", "cluster"] = Field(
        default="cluster",
        description="public (internet-facing load balancer), internal (private load balancer) or cluster (ClusterIP only).",
    )
    resources: ResourcesSpec = Field(default_factory=ResourcesSpec, description="CPU and memory requests and limits.")
    env: dict[str, str] = Field(default_factory=dict, description="Plain environment variables (no secrets here).")
    egress: list[EgressRule] = Field(default_factory=list, description="Allowed egress beyond DNS.")
    clusters: Optional[list[str]] = Field(default=None, min_length=1, description="Clusters to deploy on; default: all.")
    node_port: Optional[int] = Field(
        default=None,
        ge=30000,
        le=32767,
        description="NodePort on self-managed cloud clusters, where fleetform's own load balancer forwards to it; "
        "default: derived from the service name.",
    )

    @field_validator("name", mode="after")
    @classmethod
    def _name(cls, v: str) -> str:
        if v[:1].isdigit():
            # Its Kubernetes Service is named after it, and a Service name is a DNS-1035 label.
            raise _problem("a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and "
                           "ending with a letter or digit, at most 40 characters")
        if v == DEFAULT_DENY_POLICY:
            # A service's objects are named after it: its NetworkPolicy would replace the namespace's.
            raise _problem(f"a DNS-1123 label other than {DEFAULT_DENY_POLICY} (the name of the namespace's "
                           "default-deny NetworkPolicy)")
        return _dns_label(v, 40)

    @field_validator("image", mode="after")
    @classmethod
    def _pinned(cls, v: str) -> str:
        m = _IMAGE.fullmatch(v)
        if not m or len(m.group("repo")) > _IMAGE_NAME_MAX:
            raise _problem("an image reference like registry/repo:1.2.3 or registry/repo@sha256:<64 hex> "
                           f"(name at most {_IMAGE_NAME_MAX} characters)")
        if m.group("digest") is None and (m.group("tag") is None or m.group("tag") == "latest"):
            raise _problem("a pinned image: a digest (@sha256:...) or a tag other than latest")
        return v

    @field_validator("port", mode="after")
    @classmethod
    def _port(cls, v: int) -> int:
        if not 1024 <= v <= 65535:
            raise _problem("a port from 1024 to 65535 (the container runs as non-root with no capabilities)")
        return v

    @field_validator("env", mode="after")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [key for key in v if not _ENV_NAME.fullmatch(key) or key in (".", "..") or key.startswith("..")]
        if bad:  # the names are the problem (a value may be a credential: never shown)
            raise _problem("environment variable names of letters, digits, '_', '-', '.', not starting with a digit "
                           "or '..'",
                           key=None, got=None, shown=", ".join(json.dumps(k) for k in bad) + " (names)")
        return v

    @model_validator(mode="after")
    def _replica_bounds(self) -> "ServiceSpec":
        lo, hi = self.min_replicas, self.max_replicas
        if lo > hi:
            # autoscale.min defaults to replicas: name the key the user actually set.
            key = "autoscale.min" if self.autoscale.min is not None else "replicas"
            raise _problem(f"at most autoscale.max ({hi})", key=key, got=lo)
        if not lo <= self.replicas <= hi:
            raise _problem(f"from autoscale.min ({lo}) to autoscale.max ({hi})", key="replicas", got=self.replicas)
        return self

    @property
    def min_replicas(self) -> int:
        return self.autoscale.min if self.autoscale.min is not None else self.replicas

    @property
    def max_replicas(self) -> int:
        return self.autoscale.max if self.autoscale.max is not None else max(self.min_replicas, 3 * self.replicas)

    @property
    def pinned_by_digest(self) -> bool:
        return bool(_DIGEST.search(self.image))


# ---------------------------------------------------------------------------------- the fleet


class FleetSpec(_Model):
    """Everything under the ``fleetform:`` config namespace."""

    clusters: list[ClusterSpec] = Field(min_length=1, description="The clusters of this stack (at least one).")
    services: list[ServiceSpec] = Field(default_factory=list, description="The microservices deployed on the clusters.")
    namespace: str = Field(default="fleetform", description="Kubernetes namespace fleetform creates for the services.")
    kubernetes_version: str = Field(
        default=DEFAULT_KUBERNETES_VERSION, description="Default Kubernetes minor version of the clusters."
    )
    ssh_private_key: Optional[SecretStr] = Field(
        default=None, description=SSH_PRIVATE_KEY_DESCRIPTION
    )

    @field_validator("namespace", mode="after")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if v in ("default", "kube-system", "kube-public", "kube-node-lease"):
            raise _problem("a namespace of fleetform's own, not default or a kube-* system namespace")
        return _dns_label(v, 63)

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _quoted_version(cls, v: Any) -> Any:
        return _quoted_version(v)

    @field_validator("kubernetes_version", mode="after")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise _problem("one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS) + " (a quoted minor version)")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "FleetSpec":
        _unique(self.clusters, "clusters")
        _unique(self.services, "services")
        cluster_names = {c.name for c in self.clusters}
        service_names = {s.name for s in self.services}
        found: list[tuple[str, Any, str]] = []  # every reference problem, not just the first
        for i, svc in enumerate(self.services):
            for j, name in enumerate(svc.clusters or []):
                if name not in cluster_names:
                    found.append((f"services[{i}].clusters[{j}]", name,
                                  "a cluster of this stack: " + ", ".join(sorted(cluster_names))))
            for j, rule in enumerate(svc.egress):
                if rule.service is not None and rule.service not in service_names:
                    found.append((f"services[{i}].egress[{j}].service", rule.service,
                                  "a service of this stack: " + ", ".join(sorted(service_names))))
        if found:
            raise _problems(found)
        # NodePorts matter only where fleetform's own load balancer forwards to them: on the
        # self-managed cloud clusters. Two exposed services sharing one there would collide.
        for cluster in self.clusters:
            if cluster.target not in CLOUD_TARGETS or cluster.effective_mode != "self-managed":
                continue
            taken: dict[int, str] = {}
            for i, svc in enumerate(self.services):
                if svc.expose == "cluster" or (svc.clusters is not None and cluster.name not in svc.clusters):
                    continue
                port = self.node_port_of(svc)
                if port in taken:
                    raise _problem(
                        f"a NodePort not used by service {taken[port]} on cluster {cluster.name} (set nodePort "
                        "explicitly, 30000-32767)",
                        key=f"services[{i}].nodePort",
                        got=port,
                    )
                taken[port] = svc.name
        return self

    @staticmethod
    def node_port_of(service: "ServiceSpec") -> int:
        """The service's NodePort on self-managed cloud clusters: configured, or derived from its
        name (stable as services come and go; a clash is a config error asking for an explicit one)."""
        if service.node_port is not None:
            return service.node_port
        return 30000 + zlib.crc32(service.name.encode()) % 2768

    @field_validator("ssh_private_key", mode="before")
    @classmethod
    def _encrypted_key(cls, v: Any) -> Any:
        # A stack file read as YAML holds the encrypted value ({secure: ...}); the engine hands
        # programs the decrypted string. Either way a key is configured.
        if isinstance(v, Mapping) and set(v) == {"secure"} and isinstance(v["secure"], str) and v["secure"]:
            return "[secret]"
        return v

    @model_validator(mode="after")
    def _onprem_needs_ssh_key(self) -> "FleetSpec":
        onprem = [c.name for c in self.clusters if c.target == "onprem"]
        key = self.ssh_private_key.get_secret_value().strip() if self.ssh_private_key is not None else ""
        if onprem and not key:
            raise _problem(
                "an SSH private key for the hosts of " + ", ".join(onprem) + ", set as a secret "
                "(pulumi config set --secret fleetform:sshPrivateKey < key)",
                key="sshPrivateKey", got=None,
            )
        return self

    def version_of(self, cluster: ClusterSpec) -> str:
        """The cluster's Kubernetes minor version after defaults."""
        return cluster.kubernetes_version or self.kubernetes_version

    def services_on(self, cluster: ClusterSpec) -> list[ServiceSpec]:
        """The services that run on ``cluster``."""
        return [s for s in self.services if s.clusters is None or cluster.name in s.clusters]


def _unique(items: list[Any], key: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.name in seen:
            raise _problem(f"a name not used by another entry of {key}", key=f"{key}[{i}].name", got=item.name)
        seen.add(item.name)


# ---------------------------------------------------------------------------------- loading


class FleetConfigError(ValueError):
    """Invalid fleet config: ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid fleetform config:\n" + "\n".join("  " + p for p in problems))


_TOP_KEYS = {f.alias or n: n for n, f in FleetSpec.model_fields.items()}
SECRET_KEYS = frozenset(
    f"{NAMESPACE}:{f.alias or n}" for n, f in FleetSpec.model_fields.items() if "SecretStr" in str(f.annotation)
)
"""Top-level keys whose value is a secret (declared ``secret: true`` in Pulumi.yaml)."""
LIST_KEYS = frozenset(
    f"{NAMESPACE}:{f.alias or n}" for n, f in FleetSpec.model_fields.items() if str(f.annotation).startswith("list[")
)
"""Top-level keys declared ``type: array`` in Pulumi.yaml."""


def load_spec(config: Mapping[str, Any]) -> FleetSpec:
    """Validate a stack's config into a :class:`FleetSpec`.

    ``config`` maps full keys (``fleetform:clusters``) to values, either as parsed YAML or as the
    JSON strings the Pulumi engine hands to programs. Keys of other namespaces are ignored.
    Raises :class:`FleetConfigError` listing every problem.
    """
    raw: dict[str, Any] = {}
    problems: list[str] = []
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if not key:
            ns, key = NAMESPACE, full_key
        if ns != NAMESPACE:
            continue
        if key not in _TOP_KEYS:
            problems.append(f"{NAMESPACE}:{key}: unknown key; allowed keys: {', '.join(sorted(_TOP_KEYS))}")
            continue
        if isinstance(value, str) and _TOP_KEYS[key] in ("clusters", "services"):
            try:
                value = json.loads(value)
            except ValueError:
                problems.append(f"{NAMESPACE}:{key}: got {_shown(value)}; allowed: a list of mappings")
                continue
        raw[key] = value
    if "clusters" not in raw and not problems:
        problems.append(f"{NAMESPACE}:clusters: missing; allowed: a list of at least one cluster")
    if problems:
        raise FleetConfigError(problems)
    try:
        return FleetSpec.model_validate(raw)
    except ValidationError as exc:
        raise FleetConfigError(_format_errors(exc)) from None


_HIDDEN = object()
"""Stands for a value a config error must not print (a secret, or what may hold credentials)."""
_USERINFO = re.compile(r"(?<=//)[^/@\s]*@")


class _Shown(str):
    """Text a config error shows as it is, in place of the value given."""


def _shown(value: Any) -> str:
    """A value as a config error shows it: JSON-like, shortened, credentials in URLs masked."""
    if value is _HIDDEN:
        return "(not shown)"
    if isinstance(value, _Shown):
        return str(value)
    if isinstance(value, (dict, list)):
        try:
            text = json.dumps(value, default=str, sort_keys=True)
        except (ValueError, TypeError):  # a structure that contains itself, or mixed-type keys
            text = "(a " + type(value).__name__ + ")"
    elif isinstance(value, str):
        text = json.dumps(value)
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = _USERINFO.sub("***@", text)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(loc: tuple[Any, ...]) -> str:
    out = NAMESPACE + ":"
    first = True
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(str(part)):
            out += ("" if first else ".") + str(part)
        else:  # a user's key with spaces, newlines or quotes in it: quoted, so the line stays one line
            out += f"[{json.dumps(str(part))}]"
        first = False
    return out


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_./:-]+")


def _model_at(loc: tuple[Any, ...]) -> Optional[type[BaseModel]]:
    """The model class that a location inside FleetSpec points into (for 'allowed keys')."""
    model: Any = FleetSpec
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        model = _inner_model(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


_ALLOWED = {
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a mapping of key: value",
    "model_type": "a mapping of key: value",
    "model_attributes_type": "a mapping of key: value",
    "ip_v4_network": "an IPv4 CIDR such as 10.0.0.0/16",
    "ip_v4_address": "an IPv4 address such as 192.0.2.10",
    "missing": "required",
    "finite_number": "a finite number",
}


def _format_errors(exc: ValidationError) -> list[str]:
    lines: list[str] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        etype = err["type"]
        ctx = err.get("ctx") or {}
        given = err.get("input")
        if etype == "fleetform":
            if "key" in ctx:
                loc = loc + tuple(_split_key(ctx["key"]))
                given = ctx["got"]
            if "entry" in ctx:
                loc = loc + (ctx["entry"],)
                given = ctx["got"]
            if ctx.get("hide"):
                given = _HIDDEN
            if "shown" in ctx:
                given = _Shown(ctx["shown"])
            allowed = ctx["allowed"]
        elif etype == "extra_forbidden":
            model = _model_at(loc[:-1])
            keys = sorted((f.alias or n) for n, f in model.model_fields.items()) if model else []
            lines.append(f"{_path(loc)}: unknown key; allowed keys: {', '.join(keys)}")
            continue
        elif etype == "missing":
            lines.append(f"{_path(loc)}: missing; required")
            continue
        elif etype == "literal_error":
            allowed = "one of " + str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        elif etype in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            op = {"greater_than_equal": ">=", "less_than_equal": "<=", "greater_than": ">", "less_than": "<"}[etype]
            bound = next(iter(ctx.values()))
            allowed = f"a whole number {op} {bound}"
        elif etype in ("too_short", "string_too_short"):
            allowed = f"at least {ctx.get('min_length')} {'item' if etype == 'too_short' else 'character'}(s)"
        elif etype in ("too_long", "string_too_long"):
            allowed = f"at most {ctx.get('max_length')} {'item' if etype == 'too_long' else 'character'}(s)"
        else:
            allowed = _ALLOWED.get(etype, err["msg"])
        if given is not None and f"{NAMESPACE}:{loc[0] if loc else ''}" in SECRET_KEYS:
            given = _HIDDEN
        if etype != "fleetform" and "env" in loc[:-1]:  # an env value of the wrong type: it may be a credential
            given = _HIDDEN
        # pydantic reports unions per branch; keep the first line for a location.
        line = f"{_path(loc)}: got {_shown(given)}; allowed: {allowed}"
        if not any(existing.startswith(_path(loc) + ":") for existing in lines):
            lines.append(line)
        base = tuple(err["loc"])
        for key, got, more_allowed in ctx.get("more", ()) if etype == "fleetform" else ():
            lines.append(f"{_path(base + tuple(_split_key(key)))}: got {_shown(got)}; allowed: {more_allowed}")
    return lines


def _split_key(key: str) -> list[Any]:
    """``a.b[2].c`` -> ["a", "b", 2, "c"]; a bracket that holds no index stays part of its name."""
    parts: list[Any] = []
    for piece in key.split("."):
        m = re.fullmatch(r"(.*?)((?:\[[0-9]+\])+)", piece)
        name, indexes = (m.group(1), re.findall(r"[0-9]+", m.group(2))) if m else (piece, [])
        if name:
            parts.append(name)
        parts.extend(int(ix) for ix in indexes)
    return parts
