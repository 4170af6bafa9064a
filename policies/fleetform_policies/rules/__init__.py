"""The policy rules, as plain data + functions over Pulumi's camelCase resource properties.

``fleetform plan`` runs :data:`RULES` in-process (:func:`evaluate`); ``policies/__main__.py``
wraps the same rules in ``pulumi_policy`` policies for ``pulumi preview --policy-pack policies``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, get_args

from . import cloud, k3s, kubernetes, stack, traffic
from .base import Enforcement, Rule, StackResource, waiver_for

RULES: list[Rule] = [*kubernetes.RULES, *cloud.RULES, *k3s.RULES, *stack.RULES, *traffic.RULES]
"""Every rule of the pack, in the order the README lists them."""


@dataclass(frozen=True)
class Finding:
    policy: str
    enforcement: str
    urn: str
    message: str
    waived: Optional[str] = None
    """The reason of the waiver that covers the resource (then it is no violation), else None."""


def on_the_wire(value: Any) -> Any:
    """``value`` as the Pulumi engine hands it to a policy pack: through a protobuf ``Struct``, whose
    only number is a double, so every integer arrives as a float (``0`` as ``0.0``) and tuples as
    lists. ``fleetform plan`` feeds the rules this, so that it judges what ``pulumi preview
    --policy-pack`` judges (the plan's own mocks turn the engine's floats back into integers)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, Mapping):
        return {k: on_the_wire(v) for k, v in value.items()}
    if isinstance(value, Sequence):
        return [on_the_wire(v) for v in value]
    return value


def _has_unknown(value: Any, sentinels: frozenset[str]) -> bool:
    if isinstance(value, str):
        return value in sentinels
    if isinstance(value, dict):
        return any(_has_unknown(v, sentinels) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v, sentinels) for v in value)
    return False


def _guarded(props: Mapping[str, Any], sentinels: frozenset[str]) -> Mapping[str, Any]:
    """``props`` behind pulumi_policy's unknown-checking proxy when it holds an unknown value (as
    during ``pulumi preview``), so that a rule reading one raises ``UnknownValueError``; as they
    are otherwise (the proxy copies every nested dict and list and checks every read, which a plan
    of known values need not pay for)."""
    from pulumi_policy.proxy import unknown_checking_proxy

    if not isinstance(props, dict):
        return props  # already behind a proxy (the pack's own, or a caller's)
    return unknown_checking_proxy(dict(props)) if _has_unknown(props, sentinels) else props


def _enforcement(rule: Rule, config: Mapping[str, Any]) -> str:
    user = config.get(rule.name)
    if isinstance(user, str):
        return user
    if isinstance(user, Mapping) and "enforcementLevel" in user:
        return str(user["enforcementLevel"])
    if isinstance(config.get("all"), str):
        return str(config["all"])
    return rule.enforcement


LEVELS: tuple[str, ...] = get_args(Enforcement)
"""Enforcement levels a rule can be given (Pulumi's ``remediate`` needs a remediation, which no
rule of this pack has)."""


def config_problems(config: Mapping[str, Any]) -> list[str]:
    """What a policy-pack ``config`` (the format of ``--policy-pack-config``) gets wrong, one line
    each naming the key and what is allowed: values that are neither a level nor an object,
    unknown levels, settings of the wrong type (checked against the rule's schema, as the engine
    does). Unknown policy and setting names too, which the engine would silently ignore: here
    they are typos."""
    from jsonschema import Draft7Validator

    by_name = {r.name: r for r in RULES}
    problems: list[str] = []
    for key, value in config.items():
        rule = by_name.get(key)
        if key != "all" and rule is None:
            problems.append(f"{key}: no such policy; allowed: all, or one of {', '.join(sorted(by_name))}")
            continue
        if isinstance(value, str):
            level, settings = value, {}
        elif isinstance(value, Mapping) and rule is not None:
            level = value.get("enforcementLevel")
            settings = {k: v for k, v in value.items() if k != "enforcementLevel"}
        else:
            shape = "" if rule is None else ', or an object {"enforcementLevel": ..., <settings>}'
            problems.append(f"{key}: got {json.dumps(value)}; allowed: an enforcement level ({', '.join(LEVELS)}){shape}")
            continue
        if level is not None and level not in LEVELS:
            problems.append(f"{key}: enforcement level {json.dumps(level)}; allowed: {', '.join(LEVELS)}")
        for name, setting in settings.items():
            assert rule is not None
            schema = rule.schema.get(name)
            if schema is None:
                problems.append(f"{key}.{name}: no such setting; allowed: {', '.join(rule.schema)}")
                continue
            # "default" and "description" are annotations to a validator: they check nothing.
            for error in Draft7Validator(schema).iter_errors(setting):
                where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
                what = json.dumps(error.instance)  # the setting itself where the error is at its top
                message = error.message
                if error.validator == "oneOf":
                    message = 'exactly one of "service" or "resource"'
                problems.append(f"{key}.{name}{where}: got {what}; {message}")
    return problems


def evaluate(resources: Sequence[StackResource], config: Optional[Mapping[str, Any]] = None,
             rules: Optional[Sequence[Rule]] = None) -> tuple[list[Finding], list[str]]:
    """Run ``rules`` (default: all) over ``resources`` with a policy-pack ``config`` in Pulumi's
    format (``{"all": level, "<rule>": level | {"enforcementLevel": ..., <settings>}}``).

    Returns the findings and the "cannot judge yet" notes (unknown values), which are never
    violations.
    """
    from pulumi_policy import proxy
    from pulumi_policy.proxy import UnknownValueError

    sentinels = frozenset(
        v for k, v in vars(proxy).items() if k.startswith("UNKNOWN_") and k.endswith("_VALUE") and isinstance(v, str)
    )

    config = config or {}
    findings: list[Finding] = []
    undecided: list[str] = []
    proxied = [StackResource(r.type, r.urn, r.name, _guarded(r.props, sentinels), r.dependencies) for r in resources]
    by_urn = {r.urn: r for r in proxied}
    types = {r.type for r in resources}
    for rule in rules if rules is not None else RULES:
        level = _enforcement(rule, config)
        if level == "disabled":
            continue
        user = config.get(rule.name) if isinstance(config.get(rule.name), Mapping) else None
        settings = rule.settings(user)
        waivers = settings.get("waivers") or []

        def finding(urn: str, message: str) -> Finding:
            covered = waiver_for(waivers, by_urn[urn]) if waivers and urn in by_urn else None
            return Finding(rule.name, level, urn, message, str(covered["reason"]) if covered else None)

        try:
            if rule.stack_check is not None:
                for urn, message in rule.stack_check(proxied, settings):
                    findings.append(finding(urn, message))
            if rule.check is not None:
                applies = {t: rule.applies_to(t) for t in types}
                for r in proxied:
                    if not applies[r.type]:
                        continue
                    try:
                        for message in rule.check(r.type, r.props, settings):
                            findings.append(finding(r.urn, message))
                    except UnknownValueError as exc:
                        undecided.append(f"{rule.name}: {r.urn}: {exc.message}")
        except UnknownValueError as exc:
            undecided.append(f"{rule.name}: {exc.message}")
    return findings, undecided


def effective_levels(config: Optional[Mapping[str, Any]] = None) -> dict[str, str]:
    """Every rule's enforcement level under a policy-pack ``config``."""
    return {rule.name: _enforcement(rule, config or {}) for rule in RULES}


__all__ = ["LEVELS", "RULES", "Enforcement", "Finding", "Rule", "StackResource", "config_problems", "effective_levels",
           "evaluate", "on_the_wire", "waiver_for"]
