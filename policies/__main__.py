"""The policy pack program: `pulumi preview --policy-pack policies` starts it in its own venv."""

import sys
from pathlib import Path

# The rules live in the `policies` package next to this file.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from policies.rules import RULES, Rule  # noqa: E402


def _policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for message in rule.check(args.resource_type, dict(args.props)):
            report(message)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=EnforcementLevel(rule.enforcement),
        validate=validate,
    )


PolicyPack(name="fleetform", enforcement_level=EnforcementLevel.ADVISORY, policies=[_policy(r) for r in RULES])
