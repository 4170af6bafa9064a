"""Pins for the pack's engine, ``fleetform_policies.rules`` (issue 17): ``on_the_wire``,
``config_problems``, ``evaluate`` and ``effective_levels`` called directly, with rules made here,
so that each behaviour is held where it is made rather than only through a planned program.

The contracts: the engine hands a policy pack every number as a double, through a protobuf
``Struct`` (pulumi_policy's ``PolicyResource.props``; the ``Struct`` has only ``number_value``);
Pulumi's ``--policy-pack-config`` format (``{"all": level, "<policy>": level | {"enforcementLevel":
..., <settings>}}``, https://www.pulumi.com/docs/iac/using-pulumi/crossguard/configuration/);
docs/policies.md, "Waivers" (a waived violation is reported with its reason, not as a violation).
"""

from __future__ import annotations

import pytest

from fleetform_policies.rules import LEVELS, RULES, Finding, Rule, StackResource, config_problems, effective_levels, \
    evaluate, on_the_wire

K8S = "kubernetes:apps/v1:Deployment"
OTHER = "aws:s3/bucket:Bucket"


def _urn(t: str, name: str) -> str:
    return f"urn:pulumi:dev::p::{t}::{name}"


def _res(name: str, t: str = K8S, service: str | None = None, **props) -> StackResource:
    if service is not None:
        props["metadata"] = {"labels": {"app.kubernetes.io/name": service}}
    return StackResource(t, _urn(t, name), name, props)


def _every(t, p, settings):
    yield f"bad {p.get('n', '?')}"


# ---------------------------------------------------------------------------------- on_the_wire

def test_on_the_wire_makes_every_integer_a_double_and_keeps_booleans():
    wire = on_the_wire({"i": 3, "zero": 0, "f": 1.5, "t": True, "f0": False, "n": None, "s": "x",
                        "list": [1, (2, True)], "nested": {"k": 10000}})
    assert wire == {"i": 3.0, "zero": 0.0, "f": 1.5, "t": True, "f0": False, "n": None, "s": "x",
                    "list": [1.0, [2.0, True]], "nested": {"k": 10000.0}}
    # == cannot tell 3 from 3.0 or True from 1.0: the types are the contract.
    assert type(wire["i"]) is float and type(wire["zero"]) is float and type(wire["nested"]["k"]) is float
    assert wire["t"] is True and wire["f0"] is False and wire["n"] is None
    assert type(wire["list"][0]) is float and type(wire["list"][1]) is list and wire["list"][1][1] is True
    assert on_the_wire(True) is True and on_the_wire(False) is False and type(on_the_wire(7)) is float


# ------------------------------------------------------------------------------ config_problems

LEVEL_LIST = ", ".join(LEVELS)


def test_config_problems_reports_every_bad_entry_with_its_shape():
    assert config_problems({"all": {"enforcementLevel": "advisory"}, "k8s-replicas": 3}) == [
        # "all" takes a level only: no object is offered to it.
        f'all: got {{"enforcementLevel": "advisory"}}; allowed: an enforcement level ({LEVEL_LIST})',
        f'k8s-replicas: got 3; allowed: an enforcement level ({LEVEL_LIST}), or an object '
        '{"enforcementLevel": ..., <settings>}',
    ]


def test_config_problems_names_every_unknown_setting_and_what_is_allowed():
    assert config_problems({"k8s-replicas": {"minReplica": 2, "waiver": []},
                            "k8s-run-as-non-root": {"uid": 1}}) == [
        "k8s-replicas.minReplica: no such setting; allowed: minReplicas, waivers",
        "k8s-replicas.waiver: no such setting; allowed: minReplicas, waivers",
        "k8s-run-as-non-root.uid: no such setting; allowed: minUid, waivers",
    ]


def test_config_problems_points_into_a_setting_and_shows_the_value_there():
    waivers = [{"service": "a", "reason": "r"}, {"service": 3, "reason": "r"}]
    assert config_problems({"k8s-replicas": {"waivers": waivers}}) == [
        "k8s-replicas.waivers[1].service: got 3; 3 is not of type 'string'"]
    # At a setting's top the value shown is the setting itself.
    assert config_problems({"k8s-replicas": {"minReplicas": "two"}}) == [
        "k8s-replicas.minReplicas: got \"two\"; 'two' is not of type 'integer'"]
    # A schema's default and description check nothing; a valid setting is no problem.
    assert config_problems({"k8s-replicas": {"minReplicas": 3, "enforcementLevel": "advisory"},
                            "all": "mandatory"}) == []


# ------------------------------------------------------------------------------------ evaluate

def test_evaluate_reports_each_resource_by_urn_and_skips_types_a_rule_does_not_take():
    rule = Rule("r1", "d", "low", "s", "advisory", check=_every, types=(K8S,))
    # the first resource is of a type the rule does not take: the ones after it are still checked
    resources = [_res("b", OTHER, n=0), _res("w", n=1), _res("v", n=2)]
    findings, undecided = evaluate(resources, {}, [rule])
    assert findings == [Finding("r1", "advisory", _urn(K8S, "w"), "bad 1"),
                        Finding("r1", "advisory", _urn(K8S, "v"), "bad 2")]
    assert undecided == []


def test_evaluate_skips_a_disabled_rule_and_runs_the_ones_after_it():
    first = Rule("r1", "d", "low", "s", "advisory", check=_every, types=(K8S,))
    second = Rule("r2", "d", "low", "s", "mandatory", check=_every, types=(K8S,))
    findings, _ = evaluate([_res("w", n=1)], {"r1": "disabled"}, [first, second])
    assert findings == [Finding("r2", "mandatory", _urn(K8S, "w"), "bad 1")]


def test_evaluate_hands_stack_checks_the_merged_settings_and_reports_their_urns():
    seen = []

    def stack(resources, settings):
        seen.append(dict(settings))
        yield resources[0].urn, f"limit {settings['limit']}"
        yield _urn("pulumi:pulumi:Stack", "p-dev"), "the stack itself"  # a URN no resource has

    rule = Rule("s1", "d", "low", "s", "advisory", stack_check=stack, config={"limit": {"type": "integer", "default": 5}})
    findings, _ = evaluate([_res("w")], {"s1": {"limit": 7}}, [rule])
    assert seen == [{"limit": 7, "waivers": []}]
    assert findings == [Finding("s1", "advisory", _urn(K8S, "w"), "limit 7"),
                        Finding("s1", "advisory", _urn("pulumi:pulumi:Stack", "p-dev"), "the stack itself")]
    # With waivers in force, a finding on a URN no resource has is still reported, unwaived.
    findings, _ = evaluate([_res("w")], {"s1": {"waivers": [{"resource": "zz*", "reason": "r"}]}}, [rule])
    assert [f.waived for f in findings] == [None, None]


def test_evaluate_moves_waived_findings_aside_with_their_reason():
    rule = Rule("r1", "d", "low", "s", "mandatory", check=_every, types=(K8S,))
    resources = [_res("web-deployment", service="web", n=1), _res("api-deployment", service="api", n=2),
                 _res("db-deployment", n=3)]
    waivers = [{"service": "web", "reason": "web is a singleton"},
               {"resource": "db-*", "reason": "by name"}]
    findings, _ = evaluate(resources, {"r1": {"waivers": waivers}}, [rule])
    assert findings == [
        Finding("r1", "mandatory", _urn(K8S, "web-deployment"), "bad 1", "web is a singleton"),
        Finding("r1", "mandatory", _urn(K8S, "api-deployment"), "bad 2", None),
        Finding("r1", "mandatory", _urn(K8S, "db-deployment"), "bad 3", "by name"),
    ]
    # by URN too, and only for the rule that names the waiver
    other = Rule("r2", "d", "low", "s", "advisory", check=_every, types=(K8S,))
    findings, _ = evaluate(resources[:1], {"r1": {"waivers": [{"resource": _urn(K8S, "web-*"), "reason": "u"}]}},
                           [rule, other])
    assert [(f.policy, f.waived) for f in findings] == [("r1", "u"), ("r2", None)]


def test_evaluate_reports_unknown_values_as_undecided_not_as_findings():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    def reads(t, p, settings):
        if p["image"]:
            yield "read"

    rule = Rule("r1", "d", "low", "s", "mandatory", check=reads, types=(K8S,))
    findings, undecided = evaluate([_res("w", image=UNKNOWN_STRING_VALUE), _res("v", image="x")], {}, [rule])
    assert findings == [Finding("r1", "mandatory", _urn(K8S, "v"), "read")]
    assert len(undecided) == 1 and undecided[0].startswith(f"r1: {_urn(K8S, 'w')}: ")


# ----------------------------------------------------------------------------- effective_levels

def test_effective_levels_follow_the_config():
    default = effective_levels()
    assert default == {r.name: r.enforcement for r in RULES} == effective_levels(None) == effective_levels({})
    first, second = RULES[0].name, RULES[1].name
    levels = effective_levels({"all": "advisory", first: "disabled", second: {"enforcementLevel": "mandatory"}})
    assert levels[first] == "disabled" and levels[second] == "mandatory"
    assert {v for k, v in levels.items() if k not in (first, second)} == {"advisory"}


@pytest.mark.parametrize("config", [{"all": "disabled"}, {RULES[2].name: "advisory"}])
def test_effective_levels_differ_from_the_defaults_where_the_config_says(config):
    levels = effective_levels(config)
    changed = {k for k, v in levels.items() if v != next(r.enforcement for r in RULES if r.name == k)}
    assert changed == ({r.name for r in RULES if r.enforcement != "disabled"} if "all" in config else {RULES[2].name})
