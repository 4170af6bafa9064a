"""Config helpers of ``service``, ``network``, ``nodes``, ``onprem`` and ``values`` pinned where
they are made (issue 17). Each expectation comes from the contract named beside it (the upstream
rule or docs/), not from what the code prints today. Unit-level: no stack is planned.
"""

from __future__ import annotations

import ipaddress

import pytest
from pydantic_core import PydanticCustomError

from fleetform.config.network import NetworkSpec, RouteSpec, private_access_problems
from fleetform.config.service import image_problem

# ------------------------------------------------------------------------------------ service

DIGEST = "@sha256:" + "ab" * 32


@pytest.mark.parametrize("length, ok", [(255, True), (256, False)])
def test_image_name_is_at_most_255_characters(length, ok):
    """distribution/reference (the grammar container runtimes parse): NameTotalLengthMax = 255, the
    name with its registry host (reference.go, ``len(name) > NameTotalLengthMax`` is ErrNameTooLong)."""
    host = "registry.example.com/"
    name = host + "a" * (length - len(host))
    assert len(name) == length
    problem = image_problem(name + ":1.0")
    if ok:
        assert problem is None
    else:
        assert problem is not None and "name at most 255 characters" in problem


# ------------------------------------------------------------------------------------ network

VPC = NetworkSpec.model_validate({"cidr": "10.0.0.0/16",
                                  "routes": [{"cidr": "10.200.0.0/16", "transitGatewayId": "tgw-0123456789abcdef0"}]})
BARE = NetworkSpec.model_validate({"cidr": "10.0.0.0/16"})
KEY = "controlPlane.privateAccessCidrs"
INSIDE = "a range outside the cluster's network 10.0.0.0/16 (which reaches the private endpoint already)"
UNROUTED = ("a range inside one of network.routes (on AWS the private subnets need a route back to it: add a "
            "network.routes entry)")


@pytest.mark.parametrize("cidrs, network, target, expected", [
    # Outside the VPC, routed back (a subnet of a route's range counts), once: fine.
    (["10.200.4.0/24", "10.200.0.0/16"], VPC, "aws", []),
    # Inside the VPC: refused, whatever the target.
    (["10.0.5.0/24"], BARE, "gcp", [(f"{KEY}[0]", "10.0.5.0/24", INSIDE)]),
    # Listed twice: the second is named, with its value.
    (["10.9.0.0/16", "10.9.0.0/16"], BARE, "azure", [(f"{KEY}[1]", "10.9.0.0/16", "a range not listed before")]),
    # On AWS a range with no route back is refused (a private subnet's reply takes NAT's default
    # route: https://docs.aws.amazon.com/vpc/latest/userguide/VPC_Route_Tables.html); GCP and Azure
    # peerings exchange routes themselves (docs/configuration.md, network.routes).
    (["10.9.0.0/16"], VPC, "aws", [(f"{KEY}[0]", "10.9.0.0/16", UNROUTED)]),
    (["10.9.0.0/16"], BARE, "gcp", []),
    # A route's range wider than the route's is not routed back by it.
    (["10.0.0.0/8"], VPC, "aws", [(f"{KEY}[0]", "10.0.0.0/8", INSIDE)]),
    (["10.192.0.0/10"], VPC, "aws", [(f"{KEY}[0]", "10.192.0.0/10", UNROUTED)]),
])
def test_private_access_problems(cidrs, network, target, expected):
    nets = [ipaddress.IPv4Network(c) for c in cidrs]
    assert private_access_problems(nets, network, target) == expected


@pytest.mark.parametrize("given, target", [
    # aws.ec2.RouteTableRouteArgs: a transit gateway and a peering have keys of their own; a VPN's
    # virtual private gateway goes in gateway_id (EC2 CreateRoute: GatewayId is "the ID of an
    # internet gateway or virtual private gateway attached to your VPC";
    # https://docs.aws.amazon.com/vpc/latest/userguide/route-table-options.html).
    ({"transitGatewayId": "tgw-0123456789abcdef0"}, {"transit_gateway_id": "tgw-0123456789abcdef0"}),
    ({"vpcPeeringConnectionId": "pcx-01234567"}, {"vpc_peering_connection_id": "pcx-01234567"}),
    ({"vpnGatewayId": "vgw-0123456789abcdef0"}, {"gateway_id": "vgw-0123456789abcdef0"}),
])
def test_route_target_as_the_route_table_names_it(given, target):
    assert RouteSpec.model_validate({"cidr": "10.200.0.0/16", **given}).target() == target


# -------------------------------------------------------------------------------------- nodes

# A label key is an optional prefix, a DNS subdomain of at most 253 characters, and '/', then a
# name of at most 63 characters (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set).
PREFIX_253 = ".".join(["a" * 63] * 3 + ["b" * 61])
PREFIX_254 = ".".join(["a" * 63] * 3 + ["b" * 62])
LABEL = ("a Kubernetes label: a key like team or example.com/team (prefix at most 253 characters), a value of at most "
         "63 letters, digits, '-', '_', '.'")
RESERVED = ("a node label outside the kubernetes.io and k8s.io namespaces, or one the kubelet may set "
            "(node.kubernetes.io/..., kubelet.kubernetes.io/..., topology.kubernetes.io/zone, ...)")


@pytest.mark.parametrize("key, value, problem", [
    ("team", "web", None),
    ("example.com/team", "web", None),
    (f"{PREFIX_253}/team", "web", None),
    (f"{PREFIX_254}/team", "web", LABEL),
    ("Team Name", "web", LABEL),
    ("team", "-web", LABEL),
    ("team", "w" * 64, LABEL),
    # The kubelet's rule (kubelet --node-labels; upstream well_known_labels.go): the kubernetes.io
    # and k8s.io namespaces are refused except the kubelet's own labels and namespaces. The
    # namespace is the prefix before '/': a key without one is in no namespace, even if it reads
    # "kubernetes.io" (the kubelet's getLabelNamespace returns "" without a '/').
    ("kubernetes.io", "x", None),
    ("kubernetes.io/role", "x", RESERVED),
    ("example.k8s.io/role", "x", RESERVED),
    ("topology.kubernetes.io/zone", "z1", None),
    ("node.kubernetes.io/pool", "x", None),
    ("x.kubelet.kubernetes.io/pool", "x", None),
])
def test_node_label_rule(key, value, problem):
    from fleetform.config.nodes import _node_label_problem

    assert _node_label_problem(key, value) == problem


@pytest.mark.parametrize("key, ok", [
    ("dedicated", True),
    ("example.com/role", True),
    (f"{PREFIX_253}/role", True),
    (f"{PREFIX_254}/role", False),
    ("bad key", False),
    ("-dedicated", False),
])
def test_taint_key_is_a_label_key(key, ok):
    """A taint's key follows the label key rule (kubectl taint: "the key must begin with a letter or
    number, and may contain letters, numbers, hyphens, dots, and underscores, up to 253 characters",
    the prefix a DNS subdomain of at most 253)."""
    from fleetform.config.nodes import Taint, _taint_key_ok

    assert _taint_key_ok(key) is ok
    if ok:
        assert Taint.model_validate(f"{key}=v:NoSchedule").key == key
    else:
        with pytest.raises(ValueError):
            Taint.model_validate(f"{key}=v:NoSchedule")


# ------------------------------------------------------------------------------------- values

@pytest.mark.parametrize("text, value", [
    # apimachinery's resource.Quantity: <signedNumber><suffix>, suffix a binary SI (Ki..Ei), a decimal
    # SI (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e/E and a signed number)
    # (https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/).
    ("1", "1"), ("+1", "1"), ("1.5", "1.5"), (".5", "0.5"), ("5.", "5"),
    ("250m", "0.25"), ("1n", "0.000000001"), ("1u", "0.000001"),
    ("1k", "1000"), ("1M", "1000000"), ("1G", "1e9"), ("1T", "1e12"), ("1P", "1e15"), ("1E", "1e18"),
    ("1Ki", "1024"), ("1Mi", "1048576"), ("128Mi", "134217728"), ("1Gi", str(2 ** 30)), ("1Ti", str(2 ** 40)),
    ("1Pi", str(2 ** 50)), ("1Ei", str(2 ** 60)),
    ("129e6", "129000000"), ("1e-3", "0.001"), ("1e+3", "1000"),
    ("", None), ("-1", None), ("1KB", None), ("one", None), ("1 Gi", None),
])
def test_quantity_values(text, value):
    from decimal import Decimal

    from fleetform.config.values import _quantity

    got = _quantity(text)
    assert got == (None if value is None else Decimal(value))


@pytest.mark.parametrize("value, max_len, ok", [
    ("a" * 40, 40, True), ("a" * 41, 40, False), ("a" * 63, 63, True), ("a" * 64, 63, False),
    ("web-1", 40, True), ("Web", 40, False), ("-web", 40, False), ("web-", 40, False),
])
def test_dns_label(value, max_len, ok):
    """A DNS-1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric, at most
    63 characters in Kubernetes, tighter where fleetform derives longer names from it (docs/configuration.md)."""
    from fleetform.config.values import _dns_label

    if ok:
        assert _dns_label(value, max_len) == value
    else:
        with pytest.raises(PydanticCustomError) as exc:
            _dns_label(value, max_len)
        assert f"at most {max_len} characters" in str(exc.value)


def test_kubernetes_version_is_quoted_and_supported():
    """docs/configuration.md: kubernetesVersion is a quoted minor ("1.30"): unquoted YAML 1.30 is the
    number 1.3; and it must be one of the supported minors."""
    from fleetform.config.values import (
        DEFAULT_KUBERNETES_VERSION,
        SUPPORTED_KUBERNETES_VERSIONS,
        _quoted_version,
        _supported_version,
    )

    assert _quoted_version("1.35") == "1.35"
    for number in (1.3, 1):
        with pytest.raises(PydanticCustomError, match=r"a quoted minor version such as \"1.30\""):
            _quoted_version(number)
    assert _supported_version(DEFAULT_KUBERNETES_VERSION) == DEFAULT_KUBERNETES_VERSION
    with pytest.raises(PydanticCustomError) as exc:
        _supported_version("1.2")
    assert str(exc.value).startswith("one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS))


# ------------------------------------------------------------------------------------- onprem
# docs/configuration.md, clusters[].hosts[].address: "Unicast, unique in the cluster, outside
# 10.42.0.0/16 and 10.43.0.0/16; written dotted (192.0.2.10)"; hostKey: ssh-ed25519 or ecdsa-sha2-*.

def _blob(algorithm: bytes, body: bytes = b"\x00\x00\x00\x20" + bytes(32), size: int | None = None) -> str:
    """An SSH public key blob (RFC 4253 section 6.6): uint32 length, the algorithm name, then the key."""
    import base64

    n = len(algorithm) if size is None else size
    return base64.b64encode(n.to_bytes(4, "big") + algorithm + body).decode()


@pytest.mark.parametrize("blob, algorithm", [
    (_blob(b"ssh-ed25519"), "ssh-ed25519"),
    (_blob(b"ecdsa-sha2-nistp256"), "ecdsa-sha2-nistp256"),
    # The name may fill the blob exactly (nothing after it is needed to read it).
    (_blob(b"ssh-ed25519", body=b""), "ssh-ed25519"),
    # A length prefix longer than the blob: no name can be read.
    (_blob(b"ssh-ed25519", body=b"", size=12), None),
    ("not base64!", None),
    # A character outside the base64 alphabet makes it no blob (not one to skip).
    (_blob(b"ssh-ed25519")[:8] + "*" + _blob(b"ssh-ed25519")[8:], None),
])
def test_key_blob_type(blob, algorithm):
    from fleetform.config.onprem import _key_blob_type

    assert _key_blob_type(blob) == algorithm


def test_a_host_key_whose_name_is_not_ascii_is_refused_with_the_key_rule():
    """A blob whose algorithm name is not ASCII is no SSH key (RFC 4251 section 6: algorithm names
    are printable US-ASCII): the user gets the host key rule, not a decoding error."""
    import base64

    from pydantic import ValidationError

    from fleetform.config.onprem import HostSpec

    body = base64.b64encode((11).to_bytes(4, "big") + b"ssh-ed2551\xff" + bytes(36)).decode()
    with pytest.raises(ValidationError) as exc:
        HostSpec.model_validate({"name": "n1", "address": "192.168.1.10", "role": "master",
                                 "hostKey": f"ssh-ed25519 {body}"})
    (error,) = exc.value.errors()
    assert error["loc"] == ("hostKey",)
    assert error["msg"] == "an SSH public key line such as 'ssh-ed25519 AAAA...' (ssh-keyscan output without the address)"


@pytest.mark.parametrize("value, ok", [
    ("192.0.2.10", True),
    # pydantic would read the integer 3221226123 as 192.0.2.139: an address must be written as one.
    (3221226123, False), (1.5, False),
])
def test_host_address_is_written_as_an_address(value, ok):
    from fleetform.config.onprem import _dotted_address

    if ok:
        assert _dotted_address(value) == value
    else:
        with pytest.raises(PydanticCustomError, match="an IPv4 address such as 192.0.2.10"):
            _dotted_address(value)


K3S = "an address outside k3s' pod and service networks, 10.42.0.0/16 and 10.43.0.0/16"


@pytest.mark.parametrize("address, problem", [
    ("192.168.1.10", None), ("10.44.0.1", None), ("10.41.255.255", None),
    # Addresses a node cannot have (the kubelet's node IP is a unicast address).
    ("127.0.0.1", "unicast"), ("0.0.0.0", "unicast"), ("224.0.0.1", "unicast"), ("169.254.1.1", "unicast"),
    ("240.0.0.1", "unicast"),
    # k3s' default cluster (pod) and service CIDRs, 10.42.0.0/16 and 10.43.0.0/16
    # (https://docs.k3s.io/cli/server#networking): a host there is swallowed by k3s' own routes.
    ("10.42.0.5", K3S), ("10.43.255.254", K3S),
])
def test_usable_node_address(address, problem):
    from fleetform.config.onprem import _usable_address

    ip = ipaddress.IPv4Address(address)
    if problem is None:
        assert _usable_address(ip, "of the host") == ip
        return
    with pytest.raises(PydanticCustomError) as exc:
        _usable_address(ip, "of the host")
    expected = ("a unicast IPv4 address of the host: not loopback, 0.0.0.0, link-local, multicast or reserved"
                if problem == "unicast" else problem)
    assert exc.value.message() == expected
