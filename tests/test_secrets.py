"""Secrets planted in a kubeconfig never reach the plan's JSON, Markdown, manifests or terminal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, stack_config

TOKEN = "planted-token-7f3c9a1e5b2d4f6a8c0e"
CERT_DATA = "UExBTlRFRC1DQS1EQVRBLTk5ODg3NzY2"


def _kubeconfig(tmp_path, server="https://10.1.2.3:6443"):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dev",
        "clusters": [{"name": "dev", "cluster": {"server": server, "certificate-authority-data": CERT_DATA}}],
        "users": [{"name": "dev", "user": {"token": TOKEN}}],
        "contexts": [{"name": "dev", "context": {"cluster": "dev", "user": "dev"}}],
    }))
    return path


def test_no_secret_in_any_plan_output(tmp_path):
    kubeconfig = _kubeconfig(tmp_path)
    cfg = stack_config("local")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(kubeconfig)}
    stack = tmp_path / "Pulumi.secrets.yaml"
    stack.write_text(yaml.safe_dump({"config": cfg}))
    out_json, out_md, out_dir = tmp_path / "plan.json", tmp_path / "plan.md", tmp_path / "manifests"
    proc = subprocess.run(
        [sys.executable, "-m", "fleetform.cli", "plan", str(stack), "--json", str(out_json),
         "--markdown", str(out_md), "--manifests", str(out_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    texts = {"stdout": proc.stdout, "stderr": proc.stderr, "json": out_json.read_text(), "markdown": out_md.read_text()}
    texts.update({str(p): p.read_text() for p in out_dir.rglob("*.yaml")})
    assert len(texts) > 4
    for where, text in texts.items():
        assert TOKEN not in text, where
        assert CERT_DATA not in text, where
    doc = json.loads(texts["json"])
    # The kubeconfig output exists and is masked, and the endpoint was read from the planted file:
    # proof that the program did read the secret it must not leak.
    assert doc["outputs"]["kubeconfigs"] == "[secret]"
    assert doc["outputs"]["clusters"]["local"]["endpoint"] == "https://10.1.2.3:6443"


def test_endpoint_drops_credentials_in_the_server_url(tmp_path):
    from fleetform.plan.engine import plan

    kubeconfig = _kubeconfig(tmp_path, server="https://admin:PLANTEDPASS@10.1.2.3:6443/k8s")
    cfg = stack_config("local")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(kubeconfig)}
    result = plan("creds", config=cfg)
    assert result.capture.outputs["clusters"]["local"]["endpoint"] == "https://10.1.2.3:6443/k8s"


def test_endpoint_says_when_the_kubeconfig_or_context_is_missing(tmp_path):
    from fleetform.plan.engine import plan

    cfg = stack_config("local")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(tmp_path / "nowhere")}
    assert plan("gone", config=cfg).capture.outputs["clusters"]["local"]["endpoint"] == (
        f"(no kubeconfig at {tmp_path / 'nowhere'} here)")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(_kubeconfig(tmp_path)), "context": "prod"}
    assert plan("ctx", config=cfg).capture.outputs["clusters"]["local"]["endpoint"] == (
        f"(no context prod in {tmp_path / 'kubeconfig'})")


def test_kubeconfig_that_is_not_utf8_is_a_config_error(tmp_path, capsys):
    from fleetform.cli import main

    bad = tmp_path / "kubeconfig"
    bad.write_bytes(b"apiVersion: v1\n\xff\xfe")
    cfg = stack_config("local")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(bad)}
    stack = tmp_path / "Pulumi.badkc.yaml"
    stack.write_text(yaml.safe_dump({"config": cfg}))
    assert main(["plan", str(stack)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"invalid config for stack {stack}:",
        f"  cluster local: existing.kubeconfig {bad}: not UTF-8 text (byte offset 15); allowed: a readable UTF-8 "
        "kubeconfig file",
    ]


def test_unreadable_configured_kubeconfig_under_the_engine_is_a_run_error(tmp_path):
    """Under `pulumi up` the same problem is a RunError (printed without a traceback)."""
    import pulumi

    from fleetform.fleet import program
    from fleetform.plan.runner import run_under_mocks

    bad = tmp_path / "kubeconfig"
    bad.write_bytes(b"apiVersion: v1\n\xff\xfe")
    cfg = stack_config("local")
    cfg["fleetform:clusters"][0]["existing"] = {"kubeconfig": str(bad)}
    with pytest.raises(pulumi.RunError, match="existing.kubeconfig .*: not UTF-8 text"):
        run_under_mocks("badkc", cfg, program)


def test_unusable_kubeconfig_from_the_environment_is_not_a_config_error(tmp_path, monkeypatch):
    """$KUBECONFIG is the machine's, not the stack's: the plan says so in the endpoint and goes on."""
    from fleetform.plan.engine import plan

    bad = tmp_path / "kubeconfig"
    bad.write_bytes(b"apiVersion: v1\n\xff\xfe")
    monkeypatch.setenv("KUBECONFIG", str(bad))
    result = plan("envkc", config=stack_config("local"))
    assert result.exit_code == 0
    assert result.capture.outputs["clusters"]["local"]["endpoint"] == (
        f"(kubeconfig {bad} unusable here: not UTF-8 text (byte offset 15))")


def test_secret_inputs_are_masked_in_json_resources():
    """A secret input (any resource) is "[secret]" in the JSON report, its value elsewhere."""
    import pulumi

    from fleetform.plan.mocks import SECRET, plain
    from fleetform.plan.runner import run_under_mocks

    def prog():
        import pulumi_kubernetes as k8s

        k8s.core.v1.Secret("s", metadata={"name": "s", "namespace": "fleetform"},
                           string_data={"password": pulumi.Output.secret(TOKEN)})

    capture = run_under_mocks("t", {}, prog)
    (reg,) = capture.registrations
    assert plain(reg.inputs, mask=True)["stringData"] == SECRET
    assert plain(reg.inputs, mask=False)["stringData"] == {"password": TOKEN}
    assert TOKEN not in json.dumps(plain(reg.inputs, mask=True))


def test_shared_plain_views_keep_secrets_masked_and_unknowns_marked():
    """Registration.plain_inputs shares one walk between views only where they cannot differ."""
    from pulumi.output import Unknown
    from pulumi.runtime import rpc

    from fleetform.plan.mocks import SECRET, UNKNOWN, Registration

    secret = {rpc._special_sig_key: rpc._special_secret_sig, "value": TOKEN}
    reg = Registration("urn:a", "kubernetes:core/v1:Secret", "a", None, True, None,
                       {"stringData": {"password": secret}, "image": Unknown(), "n": 1.0})
    assert reg.plain_inputs(mask=True) == {"stringData": {"password": SECRET}, "image": UNKNOWN, "n": 1}
    assert reg.plain_inputs(mask=False) == {"stringData": {"password": TOKEN}, "image": UNKNOWN, "n": 1}
    assert reg.plain_inputs(mask=False, unknown="?")["image"] == "?"
    clean = Registration("urn:b", "kubernetes:core/v1:ConfigMap", "b", None, True, None, {"data": {"k": "v"}})
    assert clean.plain_inputs(mask=True) is clean.plain_inputs(mask=False) is clean.plain_inputs(mask=False, unknown="?")
