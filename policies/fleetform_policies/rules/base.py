"""Rule model and helpers shared by the rule modules.

A rule is plain data plus a function over Pulumi's camelCase resource properties. Properties may
be a ``pulumi_policy`` unknown-checking proxy (during ``pulumi preview``): reading an unknown value
raises ``UnknownValueError``, which the pack reports as "cannot judge yet", never as a violation.
So rules read only what they need, with ``Mapping``/``Sequence`` checks (never ``dict``/``list``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

Enforcement = Literal["advisory", "mandatory", "disabled"]
Severity = Literal["low", "medium", "high", "critical"]

PropsCheck = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Iterable[str]]
"""(resource type, props, config) -> violation messages."""


@dataclass(frozen=True)
class StackResource:
    """A resource as stack rules see it."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    dependencies: tuple[str, ...] = ()
    """URNs of the resources this one depends on (its inputs' and ``depends_on``): how a stack rule
    ties a diagnostic setting or an OIDC provider to *its* cluster even while the cluster's ID is
    unknown (``pulumi_policy``'s ``PolicyResource.dependencies``; the plan's registrations)."""


StackCheck = Callable[[Sequence[StackResource], Mapping[str, Any]], Iterable[tuple[str, str]]]
"""(resources, config) -> (urn, message) per violation."""


WAIVERS_SCHEMA: Mapping[str, Any] = {
    "type": "array",
    "default": [],
    "description": "Resources this policy does not apply to, each with the reason: {\"service\": <a fleetform "
    "service>, \"reason\": ...} (every Kubernetes object of that service) or {\"resource\": <resource name or "
    "URN; * and ? match any characters>, \"reason\": ...}.",
    "items": {
        "type": "object",
        "properties": {
            "service": {"type": "string", "minLength": 1},
            "resource": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "minLength": 1},
        },
        "required": ["reason"],
        "additionalProperties": False,
        "oneOf": [{"required": ["service"]}, {"required": ["resource"]}],
    },
}
"""The ``waivers`` setting every rule takes: a violation on a waived resource is reported as
waived, with its reason, instead of as a violation (under ``fleetform plan`` and the pack alike)."""

SERVICE_LABEL = "app.kubernetes.io/name"
"""The label every Kubernetes object of a fleetform service carries with the service's name."""


def waiver_for(waivers: Any, resource: "StackResource") -> Optional[Mapping[str, Any]]:
    """The first of ``waivers`` that covers ``resource``, if any. A ``service`` waiver covers the
    Kubernetes objects labelled with that service (fleetform's objects of it on every cluster)."""
    from fnmatch import fnmatchcase

    for waiver in items(waivers):
        if not isinstance(waiver, Mapping):
            continue
        pattern = waiver.get("resource")
        if isinstance(pattern, str) and (fnmatchcase(resource.name, pattern) or fnmatchcase(resource.urn, pattern)):
            return waiver
        service = waiver.get("service")
        if isinstance(service, str) and resource.type.startswith("kubernetes:"):
            try:
                found = labels(resource.props).get(SERVICE_LABEL)
            except Exception:  # an unknown value under preview: not known to be that service
                found = None
            if found == service:
                return waiver
    return None


@dataclass(frozen=True)
class Rule:
    """One policy of the pack.

    ``types``: resource types the rule looks at (exact tokens, or prefixes ending with ``:``).
    ``config``: configurable values with their defaults (JSON-schema-ish ``{"type", "default",
    "description"}``), merged with the user's policy-pack config before each check.
    """

    name: str
    description: str
    severity: Severity
    source: str
    enforcement: Enforcement
    check: Optional[PropsCheck] = None
    stack_check: Optional[StackCheck] = None
    types: tuple[str, ...] = ()
    config: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    refs: tuple[str, ...] = ()
    """URLs of the sources ``source`` names that :mod:`.sources` cannot derive from an id (CIS
    items, provider and cloud documentation)."""

    @property
    def urls(self) -> tuple[str, ...]:
        """Every source as a URL: the checkov / kube-linter / kube-score / Polaris checks named in
        ``source`` (from :mod:`.sources`), then ``refs``."""
        from .sources import urls_in

        return (*urls_in(self.source), *self.refs)

    def applies_to(self, resource_type: str) -> bool:
        return any(resource_type == t or (t.endswith(":") and resource_type.startswith(t)) for t in self.types)

    @property
    def schema(self) -> dict[str, Mapping[str, Any]]:
        """Every setting the rule takes: its own ``config`` and the ``waivers`` all rules take."""
        return {**self.config, "waivers": WAIVERS_SCHEMA}

    def settings(self, user: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
        schema = self.schema
        merged = {k: v.get("default") for k, v in schema.items()}
        merged.update({k: v for k, v in (user or {}).items() if k in schema})
        return merged


# ------------------------------------------------------------------------------ prop access


def dig(props: Any, *path: Any, default: Any = None) -> Any:
    """``props[path[0]][path[1]]...`` or ``default`` where a level is missing (unknown values
    still raise through the policy proxy)."""
    current = props
    for key in path:
        if isinstance(key, int):
            if not isinstance(current, Sequence) or isinstance(current, str) or key >= len(current):
                return default
            current = current[key]
        else:
            if not isinstance(current, Mapping) or key not in current:
                return default
            current = current[key]
        if current is None:
            return default
    return current


def items(value: Any) -> list[Any]:
    """A list from a sequence property (empty when absent); a lone mapping counts as one item
    (some provider versions model single blocks as objects, others as lists)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [value[i] for i in range(len(value))]
    return []


# What "the internet" is written as, besides CIDRs: Azure's service tag and wildcards (compared
# case-insensitively, as checkov CKV_AZURE_9/10 do:
# https://github.com/bridgecrewio/checkov/blob/main/checkov/terraform/checks/resource/azure/NSGRulePortAccessRestricted.py).
INTERNET_TAGS = frozenset({"*", "internet", "any", "<nw>/0", "/0", "0.0.0.0"})
_WHOLE = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


def network(value: Any) -> Optional[IPNetwork]:
    """``value`` as an IP network (host bits ignored, IPv6 in any spelling), or None."""
    try:
        return ipaddress.ip_network(str(value).strip(), strict=False)
    except ValueError:
        return None


def internet_in(sources: Iterable[Any]) -> Optional[str]:
    """How ``sources`` (CIDRs, and Azure tags) let in the whole internet, or None: an Azure tag
    (``Internet``, ``*``, ``Any`` in any case), a /0 in any spelling, or CIDRs that together
    cover all of IPv4 or IPv6 (``0.0.0.0/1`` + ``128.0.0.0/1``). Address space, not strings."""
    texts = [str(s).strip() for s in sources if s is not None]
    for text in texts:
        if text.lower() in INTERNET_TAGS:
            return text
    parsed = [(t, network(t)) for t in texts]
    for whole in _WHOLE:
        same = [(t, n) for t, n in parsed if n is not None and n.version == whole.version]
        zero = [t for t, n in same if n.prefixlen == 0]
        if zero:
            return zero[0]
        if same and list(ipaddress.collapse_addresses([n for _, n in same])) == [whole]:  # type: ignore[arg-type]
            return f"{' + '.join(t for t, _ in same)} (together {whole})"
    return None


def num(value: Any) -> str:
    """A number as the user wrote it: the engine sends every number as a double (a protobuf
    Struct has no integers), so ``1`` arrives as ``1.0``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_zero(value: Any) -> bool:
    """An int-or-string quantity (``maxUnavailable``) that is zero: ``0``, ``0.0`` (the wire's
    double), ``"0"`` or ``"0%"``."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value == 0
    return str(value).strip() in ("0", "0%")


def truthy(value: Any) -> bool:
    """A boolean that some providers model as a string (``"true"`` in EC2 launch templates)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def port_in(port: int, from_port: Any, to_port: Any) -> bool:
    try:
        lo, hi = int(from_port), int(to_port)
    except (TypeError, ValueError):
        return False
    if lo == -1 or (lo == 0 and hi in (0, 65535, -1)):
        return True
    return lo <= port <= hi


def port_range_includes(spec: Any, port: int) -> bool:
    """Azure/GCP port specs: "22", "20-30", "*", or a list of them."""
    for entry in items(spec) if not isinstance(spec, str) else [spec]:
        text = num(entry).strip()
        if text in ("*", ""):
            return True
        if "-" in text:
            lo, _, hi = text.partition("-")
            if lo.isdigit() and hi.isdigit() and int(lo) <= port <= int(hi):
                return True
        elif text.isdigit() and int(text) == port:
            return True
    return False


# ------------------------------------------------------------------------------ kubernetes

WORKLOAD_KINDS = ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController",
                  "PodTemplate")
WORKLOAD_OBJECTS = tuple(
    f"kubernetes:{gv}:{kind}"
    for gv, kind in (
        ("core/v1", "Pod"),
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ReplicaSet"),
        ("batch/v1", "Job"),
        ("batch/v1", "CronJob"),
        ("core/v1", "ReplicationController"),
        ("core/v1", "PodTemplate"),
    )
)
"""Kubernetes objects that carry a pod spec."""

POD_OWNERS = tuple(t for t in WORKLOAD_OBJECTS if not t.endswith(":PodTemplate"))
"""The objects that run pods (what stack rules match NetworkPolicies against): neither a
PodTemplate nor a ``*Patch`` creates pods of its own."""


def with_patches(types: Iterable[str]) -> tuple[str, ...]:
    """``types`` and their server-side-apply patch resources (``kubernetes:apps/v1:DeploymentPatch``):
    a patch that sets a forbidden value changes the live object as much as the object would."""
    return tuple(t for base in types for t in (base, base + "Patch"))


WORKLOAD_TYPES = with_patches(WORKLOAD_OBJECTS)
"""Every resource that sets a pod spec: the objects and their ``*Patch`` resources."""


def is_patch(resource_type: str) -> bool:
    """A server-side-apply patch: it changes only what it sets, so what it leaves out is not
    missing (rules report only values it sets)."""
    return resource_type.endswith("Patch")


def kind_of(resource_type: str) -> str:
    kind = resource_type.rsplit(":", 1)[-1]
    return kind[: -len("Patch")] if kind.endswith("Patch") else kind


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Optional[Mapping[str, Any]]:
    kind = kind_of(resource_type)
    if kind == "Pod":
        return dig(props, "spec")
    if kind == "PodTemplate":
        return dig(props, "template", "spec")
    if kind == "CronJob":
        return dig(props, "spec", "jobTemplate", "spec", "template", "spec")
    return dig(props, "spec", "template", "spec")


def pod_metadata(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = kind_of(resource_type)
    if kind == "Pod":
        return dig(props, "metadata", default={})
    if kind == "PodTemplate":
        return dig(props, "template", "metadata", default={})
    if kind == "CronJob":
        return dig(props, "spec", "jobTemplate", "spec", "template", "metadata", default={})
    return dig(props, "spec", "template", "metadata", default={})


def all_containers(spec: Optional[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    if spec is None:
        return []
    return [*items(dig(spec, "initContainers")), *items(dig(spec, "containers")), *items(dig(spec, "ephemeralContainers"))]


def cname(container: Mapping[str, Any]) -> str:
    return str(dig(container, "name", default="?"))


def annotations_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return dig(props, "metadata", "annotations", default={})


def labels(props: Mapping[str, Any]) -> Mapping[str, Any]:
    return dig(props, "metadata", "labels", default={})
