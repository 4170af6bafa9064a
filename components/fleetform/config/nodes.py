"""What fleetform puts on Kubernetes nodes: labels (with the kubelet's own rule) and taints.

Shared by the node pools of cloud clusters (:mod:`.cluster`) and the hosts of onprem clusters
(:mod:`.onprem`). A taint is written as a mapping ``{key, value, effect}`` or in kubectl's string
form, ``key=value:Effect`` or ``key:Effect``; either way consumers read ``Taint.key``, ``.value``
and ``.effect``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Optional

from pydantic import BaseModel, field_validator, model_validator

from .errors import _problem
from .values import _LABEL_KEY, _LABEL_VALUE, _Model

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


_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_TAINT_TEXT = re.compile(r"(?P<key>[^=:]*)(=(?P<value>[^=:]*))?:(?P<effect>[^=:]*)")
"""kubectl taint's form: key=value:Effect, or key:Effect for an empty value."""
_TAINT_FORMS = (
    "key=value:Effect or key:Effect (kubectl taint's form), or a mapping of key, value and effect; Effect one of "
    "NoSchedule, PreferNoSchedule, NoExecute; key a label key such as dedicated or example.com/role; value at most "
    "63 letters, digits, '-', '_', '.'"
)


def _taint_key_ok(key: str) -> bool:
    return bool(_LABEL_KEY.fullmatch(key)) and len(key.split("/", 1)[0]) <= 253


class Taint(_Model):
    """A node taint, written ``{key, value, effect}`` or as kubectl writes it: ``key=value:Effect``, ``key:Effect``."""

    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    @model_validator(mode="before")
    @classmethod
    def _kubectl_form(cls, data: Any) -> Any:
        # A string is checked whole: its parts have no key path of their own to name.
        if isinstance(data, str):
            m = _TAINT_TEXT.fullmatch(data)
            value = (m["value"] or "") if m else ""
            if m is None or not _taint_key_ok(m["key"]) or not _LABEL_VALUE.fullmatch(value) \
                    or m["effect"] not in _TAINT_EFFECTS:
                raise _problem(_TAINT_FORMS)
            return {"key": m["key"], "value": value, "effect": m["effect"]}
        if not isinstance(data, (Mapping, BaseModel)):
            raise _problem(_TAINT_FORMS)
        return data

    @field_validator("key", mode="after")
    @classmethod
    def _key(cls, v: str) -> str:
        if not _taint_key_ok(v):
            raise _problem("a Kubernetes label key such as dedicated or example.com/role")
        return v

    @field_validator("value", mode="after")
    @classmethod
    def _value(cls, v: str) -> str:
        if not _LABEL_VALUE.fullmatch(v):
            raise _problem("a Kubernetes label value: at most 63 letters, digits, '-', '_', '.', starting and ending "
                           "with a letter or digit")
        return v
