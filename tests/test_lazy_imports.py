"""A stack imports exactly the cloud SDKs its clusters' targets need (DESIGN §3): `local` none, a
one-cloud stack only its own cloud's, the hybrid stack its three. Checked in a fresh process per
example stack."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import EXAMPLE_STACKS, ROOT

PROBE = """
import json, sys
from fleetform.plan.engine import plan
result = plan(sys.argv[1])
clouds = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")
print(json.dumps({"loaded": sorted({m.split(".")[0] for m in sys.modules if m.split(".")[0] in clouds}),
                  "exit": result.exit_code, "resources": len(result.capture.registrations)}))
"""
SDK = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure": "pulumi_azure_native"}
STACKS = EXAMPLE_STACKS


def _expected(stack: str) -> list[str]:
    clusters = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["fleetform:clusters"]
    return sorted({SDK[c["target"]] for c in clusters if c["target"] in SDK})


@pytest.mark.parametrize("stack", STACKS)
def test_stack_imports_only_its_clouds_sdks(stack):
    proc = subprocess.run([sys.executable, "-c", PROBE, stack], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["exit"] == 0 and report["resources"] > 10  # the plan really ran
    assert report["loaded"] == _expected(stack)


def test_local_and_one_cloud_stacks_are_covered():
    assert _expected("local") == [] and _expected("staging-aws") == ["pulumi_aws"]
    assert _expected("hybrid") == ["pulumi_aws", "pulumi_azure_native", "pulumi_gcp"]


def test_probe_would_see_a_cloud_import():
    """The probe is not blind: importing a cloud SDK in the same process shows up."""
    code = "import pulumi_aws.ec2, sys; print(sorted(m for m in sys.modules if m.startswith('pulumi_aws'))[:1])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert "pulumi_aws" in proc.stdout
