"""The policy pack's skeleton: importable rules, a valid PulumiPolicy.yaml, the plan runs it."""

from __future__ import annotations

import yaml

from components.plan.engine import plan, run_policies
from policies.rules import RULES, Rule
from tests.conftest import ROOT


def test_pulumipolicy_yaml():
    doc = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"] == "python" and doc["version"] and doc["description"]
    reqs = (ROOT / "policies" / "requirements.txt").read_text()
    assert "pulumi-policy" in reqs


def test_plan_runs_every_rule_over_every_custom_resource(monkeypatch):
    seen = []

    def check(resource_type, props):
        seen.append(resource_type)
        if resource_type == "kubernetes:apps/v1:Deployment":
            yield f"saw {props['metadata']['name']}"

    monkeypatch.setattr("policies.rules.RULES", [Rule("probe", "test rule", "low", "test", "mandatory", check)])
    result = plan("local")
    assert sorted(v.message for v in result.violations) == ["saw api", "saw web"]
    assert result.exit_code == 1
    assert len(seen) == sum(1 for r in result.capture.registrations if r.custom)


def test_rules_are_well_formed():
    for rule in RULES:
        assert rule.name and rule.description and rule.source
        assert rule.enforcement in ("advisory", "mandatory", "disabled")
    assert run_policies is not None
