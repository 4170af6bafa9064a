"""A stack imports exactly the cloud SDKs its clusters' targets need (DESIGN §3): `local` none, a
one-cloud stack only its own cloud's. Each plan runs in a process of its
own (tests/import_probe.py). The hybrid stack is not probed: it needs all three SDKs, so no import
of it could be one too many (it plans clean in tests/test_example_stacks.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import EXAMPLE_STACKS, ROOT
from tests.import_probe import ImportProbe

SDK = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure": "pulumi_azure_native"}
STACKS = [s for s in EXAMPLE_STACKS if s != "hybrid"]


def _expected(stack: str) -> list[str]:
    clusters = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["fleetform:clusters"]
    return sorted({SDK[c["target"]] for c in clusters if c["target"] in SDK})


@pytest.fixture(scope="module")
def probe():
    server = ImportProbe()
    yield server
    server.close()


@pytest.mark.parametrize("stack", STACKS)
def test_stack_imports_only_its_clouds_sdks(probe, stack):
    report = probe.plan(stack)
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


def test_each_probe_starts_clean(probe):
    """A child sees only its own plan's imports: the AWS stack's SDK does not show in the next
    child, whose stack needs none."""
    assert probe.plan("staging-aws")["loaded"] == ["pulumi_aws"]
    assert probe.plan("local")["loaded"] == []
