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


def test_deliberately_bad_stack_reports_exactly_the_expected_violations(tmp_path):
    import json
    import subprocess
    import sys

    out = tmp_path / "bad.json"
    proc = subprocess.run([sys.executable, "-m", "components.cli", "plan", str(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml"),
                           "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1, proc.stderr
    found = sorted((v["policy"], v["enforcement"], v["urn"].rsplit("::", 1)[-1], v["message"])
                   for v in json.loads(out.read_text())["violations"])
    assert found == [
        ("k8s-no-secrets-in-env", "mandatory", "bad-solo-deployment", "container 'solo' has a plain-text value in secret-looking env API_TOKEN"),
        ("k8s-replicas", "mandatory", "bad-solo-deployment", "Deployment has 1 replica(s), fewer than 2"),
        ("k8s-replicas", "mandatory", "bad-solo-hpa", "HorizontalPodAutoscaler may scale down to 1 replica(s), fewer than 2"),
    ]
    # The plain-text value reached the plan as a workload input (no secret was marked): that is
    # what the policy exists for.


def test_policy_config_file_in_cli(tmp_path):
    import json
    import subprocess
    import sys

    cfg = tmp_path / "policy.json"
    cfg.write_text(json.dumps({"k8s-replicas": "advisory", "k8s-no-secrets-in-env": {"enforcementLevel": "disabled"}}))
    proc = subprocess.run([sys.executable, "-m", "components.cli", "plan", str(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml"),
                           "--policy-config", str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "advisory k8s-replicas" in proc.stdout and "k8s-no-secrets-in-env" not in proc.stdout
    cfg.write_text("[1, 2]")
    proc = subprocess.run([sys.executable, "-m", "components.cli", "plan", "--policy-config", str(cfg)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and "--policy-config" in proc.stderr and "Traceback" not in proc.stderr


def test_readme_lists_every_rule_with_its_source_and_enforcement():
    from policies.rules import RULES

    readme = (ROOT / "README.md").read_text()
    for rule in RULES:
        row = next((line for line in readme.splitlines() if line.startswith(f"| `{rule.name}` |")), None)
        assert row is not None, rule.name
        assert rule.source in row and f"| {rule.enforcement} |" in row
