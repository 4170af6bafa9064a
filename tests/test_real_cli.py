"""With the real Pulumi CLI: `pulumi preview` of the local stack with the policy pack.

Skipped where the `pulumi` CLI is absent (as on the development machines and CI here) or no
Kubernetes context answers; never faked. It runs on a copy of the project so `pulumi stack init`
cannot touch the checkout, with a file state backend in a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.cli


def _kube_reachable() -> bool:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return False
    return subprocess.run([kubectl, "cluster-info"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(shutil.which("pulumi") is None, reason="the Pulumi CLI is not installed here (no pulumi on PATH)")
def test_pulumi_preview_local_with_policy_pack(tmp_path):
    if not _kube_reachable():
        pytest.skip("no reachable Kubernetes context (kubectl cluster-info failed): the local stack previews against one")
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".tools", ".git", "__pycache__", ".pytest_cache"))
    os.symlink(ROOT / ".venv", project / ".venv")
    env = dict(
        os.environ,
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="fleetform-test",
        PULUMI_SKIP_UPDATE_CHECK="true",
    )
    (tmp_path / "state").mkdir()

    def pulumi(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["pulumi", *args, "--non-interactive"], cwd=project, env=env,
                              capture_output=True, text=True, timeout=900)

    init = pulumi("stack", "init", "local")
    assert init.returncode == 0, init.stderr
    preview = pulumi("preview", "--stack", "local", "--policy-pack", str(project / "policies"))
    assert preview.returncode == 0, preview.stdout[-3000:] + preview.stderr[-3000:]
    assert "fleetform" in preview.stdout
