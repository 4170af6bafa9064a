"""Wrap the plain rules as pulumi_policy policies. ``policies()`` builds them without starting
anything; only ``policies/__main__.py`` constructs the PolicyPack (which starts its gRPC server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from fleetform_policies.rules import RULES, Rule, StackResource, waiver_for

PACK_NAME = "fleetform"


def _settings(rule: Rule, config: Mapping[str, Any]) -> dict[str, Any]:
    return rule.settings(config)


def _metadata(rule: Rule) -> dict[str, Any]:
    """What a rule tells pulumi_policy about itself, the same for resource and stack policies."""
    return {
        "name": rule.name,
        "description": f"{rule.description} [{rule.source}]",
        "enforcement_level": EnforcementLevel(rule.enforcement),
        "severity": Severity(rule.severity),
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in rule.schema.items()}),
        "url": rule.urls[0] if rule.urls else None,
    }


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    check = rule.check
    assert check is not None

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not rule.applies_to(args.resource_type):
            args.not_applicable(f"{rule.name} does not look at {args.resource_type}")
        # Unknown values raise UnknownValueError from the props proxy; pulumi_policy reports that
        # as "can't run policy during preview", never as a violation.
        settings = _settings(rule, args.get_config())
        messages = list(check(args.resource_type, args.props, settings))
        waiver = waiver_for(settings.get("waivers"), StackResource(args.resource_type, args.urn, args.name, args.props)) \
            if messages else None
        if waiver is not None:
            # Not applicable, with the waiver's reason: the engine keeps it (fleetform plan lists it as waived).
            args.not_applicable(f"waived: {waiver.get('reason')}")
            return
        for message in messages:
            report(message, None)

    return ResourceValidationPolicy(validate=validate, **_metadata(rule))


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    stack_check = rule.stack_check
    assert stack_check is not None

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [StackResource(r.resource_type, r.urn, r.name, r.props, tuple(d.urn for d in r.dependencies))
                     for r in args.resources]
        by_urn = {r.urn: r for r in resources}
        settings = _settings(rule, args.get_config())
        for urn, message in stack_check(resources, settings):
            if urn in by_urn and waiver_for(settings.get("waivers"), by_urn[urn]):
                continue
            report(message, urn)

    return StackValidationPolicy(validate=validate, **_metadata(rule))


def policy(rule: Rule):
    """One rule as a pulumi_policy policy (nothing started)."""
    return _stack_policy(rule) if rule.stack_check is not None else _resource_policy(rule)


def policies() -> list:
    """Every rule as a pulumi_policy policy (nothing started)."""
    return [policy(r) for r in RULES]

