"""`fleetform check`: a team's own stacks checked the way a pipeline needs, apart from the
project's own tests of its example stacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import yaml

from tests.conftest import EXAMPLE_STACKS, ROOT, cluster, fleet, service


def _check(*args: str, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "fleetform.cli", "check", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _stack(folder, name, config):
    (folder / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))


def test_check_plans_every_stack_of_a_folder_and_the_worst_decides(tmp_path):
    shutil.copy(ROOT / "stacks" / "Pulumi.local.yaml", tmp_path / "Pulumi.dev.yaml")
    proc = _check(str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[1:2]] == ["dev"] and "clean" in proc.stdout
    shutil.copy(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml", tmp_path / "Pulumi.bad.yaml")
    proc = _check(str(tmp_path), "--reports", str(tmp_path / "reports"))
    assert proc.returncode == 1
    rows = {line.split()[0]: line.strip() for line in proc.stdout.splitlines()[1:3]}
    assert rows["bad"].endswith("not clean (1)") and rows["dev"].endswith("clean")
    assert "k8s-replicas (mandatory): Deployment has 1 replica(s)" in proc.stderr
    assert json.loads((tmp_path / "reports" / "bad.json").read_text())["summary"]["exitCode"] == 1
    assert (tmp_path / "reports" / "dev.md").read_text().startswith("## fleetform plan: `dev`")
    _stack(tmp_path, "broken", fleet([cluster("x", "nowhere")], [service()]))
    proc = _check(str(tmp_path))
    assert proc.returncode == 2
    assert f"{tmp_path / 'Pulumi.broken.yaml'}: fleetform:clusters[0].target: got \"nowhere\"" in proc.stderr


def test_check_takes_the_policy_config_and_says_so(tmp_path):
    shutil.copy(ROOT / "tests" / "stacks" / "Pulumi.bad.yaml", tmp_path / "Pulumi.bad.yaml")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"k8s-replicas": {"waivers": [{"service": "solo", "reason": "cache"}]},
                                  "k8s-no-secrets-in-env": "advisory"}))
    proc = _check(str(tmp_path / "Pulumi.bad.yaml"), "--policy-config", str(policy))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"policy config {policy} (sha256 " in proc.stdout
    row = proc.stdout.splitlines()[1].split()
    assert row[0] == "bad" and row[3:6] == ["0", "1", "2"]  # mandatory, advisory, waived


def test_check_refuses_paths_that_name_no_stack(tmp_path):
    proc = _check(str(tmp_path / "nope"), str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"{tmp_path / 'nope'}: no such file or folder; allowed: stack files or folders of them",
        f"{tmp_path}: no stack files (Pulumi.<name>.yaml) in this folder",
    ]


def test_the_projects_tests_cover_the_shipped_examples_only():
    """A stack a user adds to stacks/ is checked by `fleetform check`, not by the project's URN
    snapshots or checkov run: the example list is fixed, and each example has its snapshot."""
    assert all((ROOT / "stacks" / f"Pulumi.{s}.yaml").is_file() for s in EXAMPLE_STACKS)
    assert sorted(p.stem for p in (ROOT / "tests" / "snapshots").glob("*.urns")) == sorted(EXAMPLE_STACKS)
