"""The policy pack's wiring: importable rules, a valid PulumiPolicy.yaml, the plan runs them."""

from __future__ import annotations

import pytest
import yaml

from fleetform.plan.engine import plan
from fleetform_policies.rules import Rule
from tests.conftest import ROOT


def test_pulumipolicy_yaml():
    doc = yaml.safe_load((ROOT / "policies" / "PulumiPolicy.yaml").read_text())
    assert doc["runtime"]["name"] == "python" and doc["version"] and doc["description"]
    # Without a virtualenv option the CLI runs the pack with whatever python is on PATH.
    assert doc["runtime"]["options"] == {"toolchain": "pip", "virtualenv": "venv"}
    reqs = (ROOT / "policies" / "requirements.txt").read_text()
    assert "pulumi-policy" in reqs


def test_plan_runs_rules_over_every_custom_resource(monkeypatch):
    seen = []

    def check(resource_type, props, _config):
        seen.append(resource_type)
        if resource_type == "kubernetes:apps/v1:Deployment":
            yield f"saw {props['metadata']['name']}"

    probe = Rule("probe", "test rule", "low", "test", "mandatory", check, types=("kubernetes:",))
    monkeypatch.setattr("fleetform_policies.rules.RULES", [probe])
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
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "plan", str(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml"),
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
    import hashlib
    import json
    import subprocess
    import sys

    cfg = tmp_path / "policy.json"
    cfg.write_text(json.dumps({"k8s-replicas": "advisory", "k8s-no-secrets-in-env": {"enforcementLevel": "disabled"}}))
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "plan", str(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml"),
                           "--policy-config", str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "advisory k8s-replicas" in proc.stdout
    assert not [line for line in proc.stdout.splitlines() if line.startswith(("mandatory k8s-no-secrets-in-env",
                                                                            "advisory k8s-no-secrets-in-env"))]
    # The report says which policy config it ran with, and what it changed.
    digest = hashlib.sha256(cfg.read_bytes()).hexdigest()
    assert f"policy config {cfg} (sha256 {digest[:12]}):" in proc.stdout
    assert "levels changed from the defaults: k8s-no-secrets-in-env=disabled, k8s-replicas=advisory" in proc.stdout
    cfg.write_text("[1, 2]")
    proc = subprocess.run([sys.executable, "-m", "fleetform.cli", "plan", "--policy-config", str(cfg)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 2 and "--policy-config" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("config,problems", [
    ({"k8s-replicas": "sometimes"}, ['k8s-replicas: enforcement level "sometimes"; allowed: advisory, mandatory, disabled']),
    ({"k8s-replicas": {"enforcementLevel": "remediate"}}, ['k8s-replicas: enforcement level "remediate"; allowed: advisory, mandatory, disabled']),
    ({"all": 5}, ["all: got 5; allowed: an enforcement level (advisory, mandatory, disabled)"]),
    ({"all": {"enforcementLevel": "advisory"}}, ['all: got {"enforcementLevel": "advisory"}; allowed: an enforcement level (advisory, mandatory, disabled)']),
    ({"k8s-replicas": 1}, ['k8s-replicas: got 1; allowed: an enforcement level (advisory, mandatory, disabled), or an object {"enforcementLevel": ..., <settings>}']),
    ({"k8s-replica": "advisory"}, ["k8s-replica: no such policy; allowed: all, or one of "]),
    ({"k8s-image-pinned": {"requireDigest": "yes"}}, ["k8s-image-pinned.requireDigest: got \"yes\"; 'yes' is not of type 'boolean'"]),
    ({"k8s-image-pinned": {"requireDigests": True}}, ["k8s-image-pinned.requireDigests: no such setting; allowed: requireDigest"]),
    ({"k8s-replicas": {"x": 1}}, ["k8s-replicas.x: no such setting; allowed: "]),
])
def test_bad_policy_config_is_one_line_per_problem_and_exit_2(tmp_path, capsys, monkeypatch, config, problems):
    """As `pulumi preview --policy-pack-config` rejects a value that is neither a level nor an
    object, an unknown level and a setting of the wrong type, so does the offline plan (before
    planning); it also names unknown policies and settings, which the engine would ignore."""
    import json

    import fleetform.plan.engine as engine
    from fleetform.cli import main
    from fleetform_policies.rules import RULES

    monkeypatch.setattr(engine, "plan", lambda *a, **k: pytest.fail("planned despite a bad policy config"))
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(config))
    assert main(["plan", "--policy-config", str(path)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == len(problems)
    for line, expected in zip(lines, problems):
        assert line.startswith(f"--policy-config {path}: {expected}"), line
    if "no such policy" in problems[0]:
        assert lines[0].endswith(", ".join(sorted(r.name for r in RULES)))


def test_every_rule_setting_default_passes_its_own_schema():
    """The defaults the rules run with are values a user could write (else the config check above
    would reject a config that only restates them)."""
    from fleetform_policies.rules import RULES, config_problems

    restated = {r.name: {k: v["default"] for k, v in r.config.items()} for r in RULES if r.config}
    assert restated and config_problems(restated) == []


