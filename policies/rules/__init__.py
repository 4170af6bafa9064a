"""The policy rules, as plain data + functions over Pulumi's camelCase resource properties.

``fleetform plan`` runs :data:`RULES` in-process; ``policies/__main__.py`` wraps the same rules
in ``pulumi_policy.ResourceValidationPolicy`` objects for ``pulumi preview --policy-pack``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

Enforcement = Literal["advisory", "mandatory", "disabled"]


@dataclass(frozen=True)
class Rule:
    """One policy: ``check(resource_type, props)`` yields one message per violation, and yields
    nothing for values it cannot judge yet (unknown during preview)."""

    name: str
    description: str
    severity: Literal["low", "medium", "high", "critical"]
    source: str
    enforcement: Enforcement
    check: Callable[[str, dict[str, Any]], Iterable[str]]


RULES: list[Rule] = []
"""Every rule of the pack. The foundation ships the mechanism; the checks land with the policy issue."""
