"""A stack for one target imports no other cloud's SDK (DESIGN §3)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

PROBE = """
import json, sys
from components.plan.engine import plan
result = plan(sys.argv[1])
clouds = ("pulumi_aws", "pulumi_gcp", "pulumi_azure_native")
print(json.dumps({"loaded": sorted(m for m in sys.modules if m.split(".")[0] in clouds),
                  "resources": len(result.capture.registrations)}))
"""


def test_local_stack_imports_no_cloud_sdk():
    proc = subprocess.run([sys.executable, "-c", PROBE, "local"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["resources"] > 10  # the plan really ran
    assert report["loaded"] == []


def test_probe_would_see_a_cloud_import():
    """The probe is not blind: importing a cloud SDK in the same process shows up."""
    code = "import pulumi_aws.ec2, sys; print(sorted(m for m in sys.modules if m.startswith('pulumi_aws'))[:1])"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert "pulumi_aws" in proc.stdout
