"""The policy pack's wiring: importable rules, a valid PulumiPolicy.yaml, the plan runs them."""

from __future__ import annotations

import yaml

from components.plan.engine import plan
from policies.rules import Rule
from tests.conftest import ROOT


def test_pulumipolicy_yaml():
    doc = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"] == "python" and doc["version"] and doc["description"]
    reqs = (ROOT / "policies" / "requirements.txt").read_text()
    assert "pulumi-policy" in reqs


def test_plan_runs_rules_over_every_custom_resource(monkeypatch):
    seen = []

    def check(resource_type, props, _config):
        seen.append(resource_type)
        if resource_type == "kubernetes:apps/v1:Deployment":
            yield f"saw {props['metadata']['name']}"

    probe = Rule("probe", "test rule", "low", "test", "mandatory", check, types=("kubernetes:",))
    monkeypatch.setattr("policies.rules.RULES", [probe])
    result = plan("local")
    assert sorted(v.message for v in result.violations) == ["saw api", "saw web"]
    assert result.exit_code == 1
    k8s_objects = [r for r in result.capture.registrations if r.custom and r.type.startswith("kubernetes:")]
    assert len(seen) == len(k8s_objects) > 10


def test_policy_config_changes_enforcement():
    from tests.conftest import cluster, fleet, service

    cfg = fleet([cluster("c", "existing")], [service(replicas=1, autoscale={"min": 1, "max": 3})])
    strict = plan("bad", config=cfg)
    assert {(v.policy, v.enforcement) for v in strict.violations} == {("k8s-replicas", "mandatory")}
    relaxed = plan("bad", config=cfg, policy_config={"k8s-replicas": "advisory"})
    assert {(v.policy, v.enforcement) for v in relaxed.violations} == {("k8s-replicas", "advisory")}
    assert strict.exit_code == 1 and relaxed.exit_code == 0
