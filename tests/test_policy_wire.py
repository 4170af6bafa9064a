"""Plan and preview cannot disagree: ``fleetform plan`` feeds the rules what the Pulumi engine feeds
the pack (every number a double, each resource with its dependencies), and a real plan's resources
run through the pack's analyzer servicer give exactly the plan's findings.

Under ``pulumi preview --policy-pack`` the engine sends properties as a protobuf ``Struct``, which
has no integers: ``maxUnavailable: 0`` arrives as ``0.0``. The plan's mocks turn doubles back into
ints, which once hid a rule that never fired under preview (k8s-pdb-allows-disruption)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from fleetform_policies.pack import PACK_NAME, policies
from fleetform_policies.rules import RULES, evaluate, on_the_wire
from tests.conftest import ROOT, planned
from tests.test_policies import BY_NAME, CASES, build, resources_of
from tests.test_policy_prop_names import RESOURCES


def _round_trip(props: dict) -> dict:
    struct = struct_pb2.Struct()
    struct.update(props)
    return json_format.MessageToDict(struct)


def test_on_the_wire_is_the_protobuf_round_trip_of_every_fixture():
    for r in RESOURCES:
        props = dict(r.props)
        assert on_the_wire(props) == _round_trip(props), r.name
        # Same values and the same types: 0 is 0.0, True stays a bool.
        assert _typed(on_the_wire(props)) == _typed(_round_trip(props)), r.name


def _typed(value):
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def test_a_zero_reaches_the_rules_as_a_double_and_still_fires():
    """Defect class 1: the PDB rule compared str(0.0) with "0" and never fired under preview."""
    pdb = build({"base": "pdb", "set": {"spec.maxUnavailable": 0}})
    wire = on_the_wire(dict(pdb.props))
    assert wire["spec"]["maxUnavailable"] == 0.0 and isinstance(wire["spec"]["maxUnavailable"], float)
    findings, _ = evaluate([replace(pdb, props=wire)], rules=[BY_NAME["k8s-pdb-allows-disruption"]])
    assert [f.message for f in findings] == ["PodDisruptionBudget allows no disruption (maxUnavailable 0): it blocks node drains"]
    # Messages print numbers as written, not "1.0 replica(s)".
    one = build({"base": "deployment", "set": {"spec.replicas": 1}})
    findings, _ = evaluate([replace(one, props=on_the_wire(dict(one.props)))], rules=[BY_NAME["k8s-replicas"]])
    assert [f.message for f in findings] == ["Deployment has 1 replica(s), fewer than 2"]


def _pack_findings(resources) -> set[tuple[str, str, str, str]]:
    """What the pack reports for ``resources``, through the real servicer: Analyze per resource,
    AnalyzeStack over all of them (with their dependencies), as the engine calls it."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.ADVISORY,
                                       None, None, None, None, None, None, None)
    levels = {analyzer_pb2.MANDATORY: "mandatory", analyzer_pb2.ADVISORY: "advisory"}
    found = set()

    def struct(props):
        s = struct_pb2.Struct()
        s.update(props)
        return s

    for r in resources:
        response = servicer.Analyze(analyzer_pb2.AnalyzeRequest(type=r.type, properties=struct(r.props), urn=r.urn, name=r.name), None)
        found |= {(d.policyName, levels[d.enforcementLevel], r.urn, d.message.split("\n", 1)[1]) for d in response.diagnostics}
    request = analyzer_pb2.AnalyzeStackRequest(resources=[
        analyzer_pb2.AnalyzerResource(type=r.type, properties=struct(r.props), urn=r.urn, name=r.name,
                                      dependencies=list(r.dependencies)) for r in resources])
    response = servicer.AnalyzeStack(request, None)
    found |= {(d.policyName, levels[d.enforcementLevel], d.urn, d.message.split("\n", 1)[1]) for d in response.diagnostics}
    return found


@pytest.mark.parametrize("stack", ["hybrid", "selfmanaged-aws", "tests/stacks/Pulumi.bad.yaml"])
def test_a_real_plan_and_the_pack_give_the_same_findings(stack):
    """Every resource of a real plan, sent to the pack as the engine sends it, is judged exactly as
    ``fleetform plan`` judged it (advisory findings included)."""
    from fleetform.plan.engine import plan
    from fleetform_policies.rules import StackResource

    result = plan(str(ROOT / stack)) if stack.endswith(".yaml") else planned(stack)
    resources = [
        StackResource(r.type, r.urn, r.name, r.plain_inputs(mask=False, unknown=UNKNOWN_STRING_VALUE), tuple(r.dependencies))
        for r in result.capture.registrations if r.custom and not r.type.startswith("pulumi:providers:")
    ]
    findings = {(v.policy, v.enforcement, v.urn, v.message) for v in result.violations}
    assert _pack_findings(resources) == findings
    # The example stacks plan clean; the deliberately bad stack shows that findings, too, agree.
    assert bool(findings) == stack.endswith("bad.yaml")


def test_every_defect_class_of_issue_19_has_a_fail_fixture():
    """Each class of defect the review found is pinned by at least one fail fixture (``defect: N``)."""
    classes = {case["defect"] for spec in CASES.values() for case in spec.get("fail", []) if "defect" in case}
    assert classes >= set(range(1, 9)), sorted(set(range(1, 9)) - classes)
    for rule_name, spec in CASES.items():
        for case in spec.get("fail", []):
            if "defect" in case:
                assert resources_of(case), rule_name
    assert {r.name for r in RULES} >= set(CASES)
