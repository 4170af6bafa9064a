"""The wheel: one top-level package, `fleetform`, that plans a stack file outside the repository
when installed into a fresh virtualenv."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # A copy without build leftovers, as a clean clone would be.
    src = out / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", ".tools", "*.egg-info", "build",
                                                              "__pycache__", "plan-out", ".pytest_cache",
                                                              "mutants", "mutants-*"))
    # uv builds it as pip would (the pyproject's build backend in an isolated environment), in a
    # third of pip's time.
    proc = subprocess.run([sys.executable, "-m", "uv", "build", "--wheel", "--quiet", "--out-dir", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 and ("Failed to fetch" in proc.stderr or "dns error" in proc.stderr):
        pytest.skip(f"package index unreachable for the build backend: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (found,) = out.glob("fleetform-*.whl")
    return found


def test_wheel_holds_only_the_fleetform_package(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"fleetform", "fleetform_policies"}
    assert "fleetform/cluster/eks_lbc_iam_policy.json" in names and "fleetform/py.typed" in names
    assert "fleetform_policies/rules/kubernetes.py" in names and "fleetform/testing.py" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "fleetform = fleetform.cli:run" in entry_points


def test_wheel_in_a_fresh_venv_plans_a_stack_outside_the_repository(wheel, tmp_path):
    """The wheel installed (no editable install, no checkout on the path) into a new venv whose
    dependencies come from the project's venv through a .pth line (installing the cloud SDKs anew
    takes minutes), then `fleetform plan` on a copied stack file in an unrelated directory."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
                   check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--no-deps", "--quiet",
                          "--python", str(venv / "bin" / "python"), str(wheel)], capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr[-2000:]
    work = tmp_path / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "stacks" / "Pulumi.staging-aws.yaml", work / "Pulumi.staging-aws.yaml")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import fleetform; print(fleetform.__file__)"],
                           cwd=work, capture_output=True, text=True, timeout=60, env=env)
    assert where.stdout.strip().startswith(str(site)), where.stdout + where.stderr
    proc = subprocess.run([str(venv / "bin" / "fleetform"), "plan", "Pulumi.staging-aws.yaml", "--json", "plan.json"],
                          cwd=work, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    report = json.loads((work / "plan.json").read_text())
    assert report["stack"] == "staging-aws" and report["summary"]["resources"] > 50
    assert report["summary"]["schemaErrors"] == 0
