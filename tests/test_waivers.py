"""Waivers scoped to a service or a resource, each with its reason; a fix-or-waive hint with every
violation; the policy config in effect stated in every report format. The same waivers hold in
the pack the engine runs (``pulumi preview --policy-pack``)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from rich.console import Console

from tests.conftest import ROOT, cluster, fleet, service

# The bad stack: one service `solo` at one replica (k8s-replicas fails on its Deployment and HPA)
# and a credential-looking env value (k8s-no-secrets-in-env fails).
SOLO_WAIVER = {"service": "solo", "reason": "single-replica cache; losing it costs a warm-up"}


@pytest.fixture(scope="module")
def bad_config():
    import yaml

    return yaml.safe_load((ROOT / "tests" / "stacks" / "Pulumi.bad.yaml").read_text())["config"]


def _plan(config, policy_config=None, source=None):
    from fleetform.plan.engine import plan

    return plan("bad", config=config, policy_config=policy_config, policy_source=source)


def test_service_waiver_moves_that_services_findings_to_waived_with_the_reason(bad_config):
    plain = _plan(bad_config)
    replicas = [v for v in plain.violations if v.policy == "k8s-replicas"]
    assert {v.urn.rsplit("::", 1)[-1] for v in replicas} == {"bad-solo-deployment", "bad-solo-hpa"}
    waived = _plan(bad_config, {"k8s-replicas": {"waivers": [SOLO_WAIVER]}})
    assert [v for v in waived.violations if v.policy == "k8s-replicas"] == []
    assert {(v.policy, v.urn.rsplit("::", 1)[-1], v.waived) for v in waived.waived} == {
        ("k8s-replicas", "bad-solo-deployment", SOLO_WAIVER["reason"]),
        ("k8s-replicas", "bad-solo-hpa", SOLO_WAIVER["reason"]),
    }
    # Scoped: the other policy's finding on the same service stays a violation.
    assert [v.policy for v in waived.violations if v.policy == "k8s-no-secrets-in-env"] == ["k8s-no-secrets-in-env"]
    assert waived.summary()["waived"] == 2 and waived.summary()["violations"] == {
        "mandatory": plain.summary()["violations"]["mandatory"] - 2, "advisory": plain.summary()["violations"]["advisory"]}


def test_service_waiver_covers_only_that_service():
    cfg = fleet([cluster("c", "existing")], [service("one", replicas=1, autoscale={"min": 1, "max": 2}),
                                             service("two", replicas=1, autoscale={"min": 1, "max": 2}, servicePort=8080)])
    result = _plan(cfg, {"k8s-replicas": {"waivers": [{"service": "one", "reason": "r"}]}})
    assert {v.urn.rsplit("::", 1)[-1] for v in result.violations if v.policy == "k8s-replicas"} == {
        "c-two-deployment", "c-two-hpa"}
    assert {v.urn.rsplit("::", 1)[-1] for v in result.waived} == {"c-one-deployment", "c-one-hpa"}


def test_resource_waiver_matches_name_or_urn_glob(bad_config):
    result = _plan(bad_config, {"k8s-replicas": {"waivers": [{"resource": "*-solo-hpa", "reason": "r"}]}})
    assert {v.urn.rsplit("::", 1)[-1] for v in result.violations if v.policy == "k8s-replicas"} == {"bad-solo-deployment"}
    by_urn = _plan(bad_config, {"k8s-replicas": {"waivers": [
        {"resource": "urn:pulumi:bad::fleetform::*::bad-solo-deployment", "reason": "r"}]}})
    assert {v.urn.rsplit("::", 1)[-1] for v in by_urn.waived} == {"bad-solo-deployment"}


def test_every_violation_says_how_to_fix_or_waive_it(bad_config):
    from fleetform_policies.rules import RULES, config_problems

    descriptions = {r.name: r.description for r in RULES}
    result = _plan(bad_config)
    assert result.violations
    for v in result.violations:
        assert v.hint.startswith(f"fix: {descriptions[v.policy]} Or waive it in the policy config (--policy-config): ")
        snippet = json.loads(v.hint.split("(--policy-config): ", 1)[1])
        # The snippet is a policy config the CLI accepts once the reason is filled in.
        assert config_problems(snippet) == []
    solo = next(v for v in result.violations if v.policy == "k8s-replicas")
    assert json.loads(solo.hint.split("(--policy-config): ", 1)[1]) == {
        "k8s-replicas": {"waivers": [{"service": "solo", "reason": "..."}]}}


@pytest.mark.parametrize("waivers,problem", [
    ([{"service": "solo"}], "k8s-replicas.waivers[0]: got {\"service\": \"solo\"}; 'reason' is a required property"),
    ([{"reason": "r"}], 'k8s-replicas.waivers[0]: got {"reason": "r"}; exactly one of "service" or "resource"'),
    ([{"service": "a", "resource": "b", "reason": "r"}],
     'k8s-replicas.waivers[0]: got {"service": "a", "resource": "b", "reason": "r"}; exactly one of "service" or "resource"'),
    ([{"service": "a", "reason": "r", "why": "x"}],
     "k8s-replicas.waivers[0]: got {\"service\": \"a\", \"reason\": \"r\", \"why\": \"x\"}; Additional properties are not "
     "allowed ('why' was unexpected)"),
    ({"service": "a"}, "k8s-replicas.waivers: got {\"service\": \"a\"}; {'service': 'a'} is not of type 'array'"),
])
def test_bad_waivers_are_config_problems(waivers, problem):
    from fleetform_policies.rules import config_problems

    assert config_problems({"k8s-replicas": {"waivers": waivers}}) == [problem]


def test_policy_config_in_effect_in_json_markdown_and_terminal(bad_config):
    from fleetform.plan.render import markdown, print_report, to_json

    policy = {"all": "mandatory", "k8s-topology-spread": "disabled", "k8s-replicas": {"waivers": [SOLO_WAIVER]}}
    data = json.dumps(policy).encode()
    source = ("policy.json", hashlib.sha256(data).hexdigest())
    result = _plan(bad_config, policy, source)
    doc = to_json(result)
    assert doc["policyConfig"]["file"] == "policy.json" and doc["policyConfig"]["sha256"] == source[1]
    assert doc["policyConfig"]["changed"]["k8s-topology-spread"] == "disabled"
    assert doc["policyConfig"]["waivers"] == [{"policy": "k8s-replicas", **SOLO_WAIVER}]
    assert [w["reason"] for w in doc["waived"]] == [SOLO_WAIVER["reason"]] * 2
    assert all(v["hint"] for v in doc["violations"])
    md = markdown(result)
    assert f"policy config policy.json (sha256 {source[1][:12]}):" in md
    assert "k8s-topology-spread=disabled" in md
    assert f"waiver: k8s-replicas for service solo: {SOLO_WAIVER['reason']}" in md
    assert "| waived findings | 2 |" in md
    out = io.StringIO()
    print_report(result, Console(file=out, width=10_000, highlight=False))
    text = out.getvalue()
    assert f"policy config policy.json (sha256 {source[1][:12]}):" in text
    assert f"waiver: k8s-replicas for service solo: {SOLO_WAIVER['reason']}" in text
    assert "waived k8s-replicas:" in text and "Or waive it in the policy config" in text


def test_reports_say_when_the_defaults_were_used(bad_config):
    from fleetform.plan.render import markdown, to_json

    result = _plan(bad_config)
    assert to_json(result)["policyConfig"] == {"file": None, "sha256": None, "changed": {}, "waivers": []}
    assert "policy config: the pack's defaults" in markdown(result)


def test_pack_honours_the_same_waivers():
    """The pulumi_policy wrapper (what `pulumi preview --policy-pack policies` runs) skips a waived
    resource and still reports the others."""
    from pulumi_policy import ResourceValidationArgs
    from pulumi_policy.policy import _NotApplicableError

    from fleetform_policies.pack import policies

    policy = next(p for p in policies() if p.name == "k8s-replicas")
    props = {"metadata": {"name": "solo", "labels": {"app.kubernetes.io/name": "solo"}},
             "spec": {"replicas": 1, "selector": {}, "template": {}}}
    reported: list[str] = []

    def run(config):
        reported.clear()
        args = ResourceValidationArgs("kubernetes:apps/v1:Deployment", props, "urn:pulumi:s::p::t::bad-solo-deployment",
                                      "bad-solo-deployment", None, None, None, None)
        args.get_config = lambda: config  # type: ignore[method-assign]
        try:
            policy.validate(args, lambda message, urn=None: reported.append(message))
        except _NotApplicableError as exc:  # what args.not_applicable raises for the engine
            return [f"not applicable: {exc.reason}"]
        return list(reported)

    assert run({"minReplicas": 2}) == ["Deployment has 1 replica(s), fewer than 2"]
    # Waived: the engine records the policy as not applicable to the resource, with the reason.
    assert run({"minReplicas": 2, "waivers": [{"service": "solo", "reason": "a cache"}]}) == [
        "not applicable: waived: a cache"]
    assert run({"minReplicas": 2, "waivers": [{"service": "other", "reason": "r"}]}) == [
        "Deployment has 1 replica(s), fewer than 2"]
    assert run({"minReplicas": 2, "waivers": [{"resource": "bad-solo-*", "reason": "r"}]}) == ["not applicable: waived: r"]


def test_testing_plan_refuses_a_policy_config_the_pack_would_not_take():
    import pulumi_kubernetes as k8s

    from fleetform.testing import plan

    with pytest.raises(ValueError, match=r"k8s-replica: no such policy") as info:
        plan(lambda: k8s.core.v1.ConfigMap("c", data={"a": "b"}),
             policy_config={"k8s-replica": "disabled", "k8s-no-privilege": {"waivers": [{"reason": "x"}]}})
    assert 'k8s-no-privilege.waivers[0]: got {"reason": "x"}; exactly one of "service" or "resource"' in str(info.value)
