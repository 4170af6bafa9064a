"""The pack as the Pulumi engine runs it: pulumi_policy's analyzer entry point, its gRPC server,
and a virtualenv built from policies/requirements.txt alone."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer

from fleetform_policies.pack import PACK_NAME, policies
from fleetform_policies.rules import RULES
from tests.conftest import ROOT

UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


def servicer() -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.ADVISORY,
                                   None, None, None, None, None, None, None)


def analyze(svc, rtype: str, props: dict) -> analyzer_pb2.AnalyzeResponse:
    struct = struct_pb2.Struct()
    struct.update(props)
    request = analyzer_pb2.AnalyzeRequest(type=rtype, properties=struct, urn=f"urn:pulumi:s::p::{rtype}::r", name="r")
    return svc.Analyze(request, None)


DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w", "namespace": "a"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "w"}}, "template": {
        "metadata": {"labels": {"app": "w"}},
        "spec": {"serviceAccountName": "w", "automountServiceAccountToken": False,
                 "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                                "whenUnsatisfiable": "DoNotSchedule"}],
                 "containers": [{"name": "w", "image": "r/w:1.0",
                                 "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
                                 "readinessProbe": {"httpGet": {"path": "/r", "port": 80}},
                                 "livenessProbe": {"httpGet": {"path": "/l", "port": 80}},
                                 "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "readOnlyRootFilesystem": True,
                                                     "allowPrivilegeEscalation": False, "privileged": True,
                                                     "capabilities": {"drop": ["ALL"]},
                                                     "seccompProfile": {"type": "RuntimeDefault"}}}]}}},
}


def test_analyze_reports_violation_with_enforcement_level():
    response = analyze(servicer(), "kubernetes:apps/v1:Deployment", DEPLOYMENT)
    found = [(d.policyName, d.message.splitlines()[-1], d.enforcementLevel) for d in response.diagnostics]
    # (pulumi_policy puts the policy's description on the message's first line.)
    assert found == [("k8s-no-privilege", "container 'w' is privileged", analyzer_pb2.MANDATORY)]
    # Rules for other resource types answer "not applicable", as the engine expects.
    not_applicable = {n.policy_name for n in response.not_applicable}
    assert "imdsv2-required" in not_applicable and "k8s-no-privilege" not in not_applicable


def test_analyze_configured_enforcement_level():
    svc = servicer()
    config = analyzer_pb2.ConfigureAnalyzerRequest()
    config.policyConfig["k8s-no-privilege"].enforcementLevel = analyzer_pb2.ADVISORY
    svc.Configure(config, None)
    response = analyze(svc, "kubernetes:apps/v1:Deployment", DEPLOYMENT)
    assert [(d.policyName, d.enforcementLevel) for d in response.diagnostics] == [("k8s-no-privilege", analyzer_pb2.ADVISORY)]


def test_analyze_unknown_value_is_cannot_judge_not_violation():
    props = {"vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": UNKNOWN_BOOL},
             "version": "1.35", "enabledClusterLogTypes": ["api", "audit", "authenticator", "controllerManager", "scheduler"],
             "encryptionConfig": {"provider": {"keyArn": "k"}, "resources": ["secrets"]}}
    response = analyze(servicer(), "aws:eks/cluster:Cluster", props)
    (diag,) = response.diagnostics
    assert diag.policyName == "api-endpoint-private"
    assert diag.enforcementLevel == analyzer_pb2.ADVISORY
    assert "can't run policy 'api-endpoint-private'" in diag.message and "during preview" in diag.message


def _start_pack(python: str, cwd: Path, env: dict) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([python, "-u", str(cwd / "__main__.py")], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    port_line = proc.stdout.readline().strip()
    if not port_line.isdigit():
        proc.kill()
        raise AssertionError(f"pack did not print its port: {port_line!r} {proc.stderr.read()[-2000:]}")
    return proc, int(port_line)


def _analyzer_info(port: int):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        return analyzer_pb2_grpc.AnalyzerStub(channel).GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)


def test_pack_subprocess_serves_analyzer_info():
    proc, port = _start_pack(sys.executable, ROOT / "policies", dict(os.environ))
    try:
        info = _analyzer_info(port)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert info.name == PACK_NAME
    assert sorted(p.name for p in info.policies) == sorted(r.name for r in RULES)


@pytest.mark.skipif(os.environ.get("FLEETFORM_SKIP_PACK_VENV") == "1", reason="FLEETFORM_SKIP_PACK_VENV=1")
def test_pack_runs_in_its_own_venv_built_from_requirements(tmp_path):
    """As `pulumi preview --policy-pack policies` does: a venv from policies/requirements.txt
    only (never the project's), then the pack program started in it, from a copy of the folder
    outside the repository (what `pulumi policy publish` uploads is that folder alone). uv builds
    the venv (pip took 25 s of the suite for the same install): it resolves the same requirements
    from the same index, and the venv holds only what they name."""
    venv = tmp_path / "venv"
    made = subprocess.run([sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, str(venv)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr[-2000:]
    pip = subprocess.run([sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"),
                          "-r", str(ROOT / "policies" / "requirements.txt")],
                         capture_output=True, text=True, timeout=600)
    if pip.returncode != 0 and ("Failed to fetch" in pip.stderr or "dns error" in pip.stderr):
        pytest.skip(f"package index unreachable: {pip.stderr[-300:]}")
    assert pip.returncode == 0, pip.stderr[-2000:]
    installed = subprocess.run([sys.executable, "-m", "uv", "pip", "freeze", "--python", str(venv / "bin" / "python")],
                               capture_output=True, text=True, timeout=60).stdout
    assert "pulumi-policy==" in installed and "fleetform" not in installed and "pulumi-aws" not in installed, installed
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    pack = tmp_path / "pack"
    shutil.copytree(ROOT / "policies", pack, ignore=shutil.ignore_patterns("__pycache__"))
    proc, port = _start_pack(str(venv / "bin" / "python"), pack, env)
    try:
        info = _analyzer_info(port)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert len(info.policies) == len(RULES)
    shutil.rmtree(venv, ignore_errors=True)
