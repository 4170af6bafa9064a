"""Kubernetes value rules and fleet-wide constants shared by every config model.

Here: the targets, modes and exposures, the supported Kubernetes versions and other defaults;
the grammars Kubernetes applies to names and values (DNS labels, label keys and values,
environment variable names, resource quantities, container image references, HTTP paths);
and :class:`_Model`, the base of every config model (unknown keys refused, camelCase keys,
frozen, ``true`` never read as a number).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from decimal import Decimal
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from fleetform_policies.versions import ALL_MINORS

from .errors import _problem

TARGETS = ("aws", "gcp", "azure", "onprem", "existing")
CLOUD_TARGETS = ("aws", "gcp", "azure")
MODES = ("managed", "self-managed")
EXPOSURES = ("public", "internal", "cluster")

DEFAULT_NODE_SIZE = {"aws": "m6i.large", "gcp": "e2-standard-4", "azure": "Standard_D4s_v5"}
"""Node size of the default pool when a cloud cluster lists none."""

SUPPORTED_KUBERNETES_VERSIONS = ALL_MINORS
"""Kubernetes minor versions fleetform accepts at all: those some target offers, per the table in
``fleetform_policies/kubernetes_versions.json`` (each cluster is further held to its own target's
minors; upstream schemas exist for each, and tests check that)."""
DEFAULT_KUBERNETES_VERSION = "1.35"
"""A minor every target offers with standard support (EKS, GKE REGULAR, AKS Standard tier, k3s), as
of the table's check date."""

DEFAULT_DENY_POLICY = "default-deny"
"""Name of the NetworkPolicy denying all traffic in fleetform's namespace (no service may take it)."""

K3S_NETWORKS = (ipaddress.IPv4Network("10.42.0.0/16"), ipaddress.IPv4Network("10.43.0.0/16"))
"""k3s's default cluster (pod) and service CIDRs (https://docs.k3s.io/cli/server#networking)."""

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


def _quoted_version(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        raise _problem('a quoted minor version such as "1.30" (unquoted, 1.30 is the number 1.3)')
    return v


def _supported_version(v: str) -> str:
    if v not in SUPPORTED_KUBERNETES_VERSIONS:
        raise _problem("one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS) + " (a quoted minor version)")
    return v


KubernetesVersion = Annotated[str, BeforeValidator(_quoted_version), AfterValidator(_supported_version)]
"""A Kubernetes minor version fleetform supports, written quoted ("1.32"), as the fleet's default
and as a cluster's own."""

