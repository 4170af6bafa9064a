"""Every rule of the policy pack against its pass and fail fixtures, exact messages, through both
paths the rules run on: in-process (``fleetform plan``'s :func:`evaluate`) and the Pulumi engine's
(the real ``pulumi_policy`` analyzer servicer, fed a protobuf ``Struct`` as ``pulumi preview
--policy-pack`` feeds it: every number a double, the policy config with the schema's defaults)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.policy import EnforcementLevel, _PolicyAnalyzerServicer
from pulumi_policy.proxy import unknown_checking_proxy

from fleetform_policies.pack import PACK_NAME, policy
from fleetform_policies.rules import RULES, Rule, StackResource, evaluate

FIXTURES = Path(__file__).parent / "policy_fixtures"
BASELINES = yaml.safe_load((FIXTURES / "_baselines.yaml").read_text())
CASES = yaml.safe_load((FIXTURES / "rules.yaml").read_text())
BY_NAME = {r.name: r for r in RULES}


def _set(doc: Any, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for key in parents:
        doc = doc[int(key)] if isinstance(doc, list) else doc.setdefault(key, {})
    if isinstance(doc, list):
        doc[int(last)] = value
    else:
        doc[last] = value


def _unset(doc: Any, path: str) -> None:
    *parents, last = path.split(".")
    for key in parents:
        doc = doc[int(key)] if isinstance(doc, list) else doc[key]
    del doc[last]


def _urn(rtype: str, name: str) -> str:
    return f"urn:pulumi:test::fleetform::{rtype}::{name}"


def build(case: dict[str, Any], index: int = 0, siblings: tuple[dict[str, Any], ...] = ()) -> StackResource:
    """One fixture resource: a baseline (or ``type`` + ``props``) with ``set`` and ``unset`` applied;
    ``dependsOn`` lists the indexes of ``siblings`` (the case's other resources) it depends on."""
    if "base" in case:
        base = BASELINES[case["base"]]
        rtype, props = base["type"], copy.deepcopy(base["props"])
    else:
        rtype, props = case["type"], copy.deepcopy(case["props"])
    for path in case.get("unset", []):
        _unset(props, path)
    for path, value in (case.get("set") or {}).items():
        _set(props, path, value)
    name = f"{case.get('base', 'r')}{index}"
    deps = tuple(_urn(_type_of(siblings[i]), f"{siblings[i].get('base', 'r')}{i}") for i in case.get("dependsOn", []))
    return StackResource(rtype, _urn(rtype, name), name, props, deps)


def _type_of(case: dict[str, Any]) -> str:
    return BASELINES[case["base"]]["type"] if "base" in case else case["type"]


def resources_of(case: dict[str, Any]) -> list[StackResource]:
    if "resources" in case:
        siblings = tuple(case["resources"])
        return [build(c, i, siblings) for i, c in enumerate(siblings)]
    return [build(case)]


def _struct(value: Any) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(value)
    return struct


def through_the_engine(rule: Rule, resources: list[StackResource], config: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """``rule``'s messages and "can't run" notes as ``pulumi preview --policy-pack`` gets them: the
    pack's own policy in pulumi_policy's analyzer servicer, configured and fed over protobuf."""
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", [policy(rule)], EnforcementLevel.ADVISORY,
                                       None, None, None, None, None, None, None)
    configure = analyzer_pb2.ConfigureAnalyzerRequest()
    entry = configure.policyConfig[rule.name]
    entry.enforcementLevel = analyzer_pb2.MANDATORY if rule.enforcement == "mandatory" else analyzer_pb2.ADVISORY
    # The engine sends every setting, the schema's defaults filled in (numbers as doubles).
    entry.properties.update(rule.settings(config))
    servicer.Configure(configure, None)
    if rule.stack_check is not None:
        request = analyzer_pb2.AnalyzeStackRequest(resources=[
            analyzer_pb2.AnalyzerResource(type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name,
                                          dependencies=list(r.dependencies))
            for r in resources])
        diagnostics = list(servicer.AnalyzeStack(request, None).diagnostics)
    else:
        diagnostics = []
        for r in resources:
            request = analyzer_pb2.AnalyzeRequest(type=r.type, properties=_struct(r.props), urn=r.urn, name=r.name)
            diagnostics += servicer.Analyze(request, None).diagnostics
    messages, undecided = [], []
    for d in diagnostics:
        assert d.policyName == rule.name
        if d.message.startswith(f"can't run policy '{rule.name}'"):
            undecided.append(d.message)
        else:
            # pulumi_policy puts the policy's description on the message's first line.
            messages.append(d.message.split("\n", 1)[1])
    return messages, undecided


def run(rule_name: str, case: dict[str, Any]) -> list[str]:
    rule = BY_NAME[rule_name]
    resources = resources_of(case)
    user = case.get("config")
    config = {rule.name: user} if user is not None else None
    findings, undecided = evaluate(resources, config, rules=[rule])
    assert undecided == []
    messages = [f.message for f in findings]
    # Under `pulumi preview --policy-pack` every rule reads pulumi_policy's proxies (Mapping and
    # Sequence, not dict and list): the same fixture must give the same verdict through them.
    proxied = [StackResource(r.type, r.urn, r.name, unknown_checking_proxy(copy.deepcopy(dict(r.props))), r.dependencies)
               for r in resources]
    through_proxy, undecided = evaluate(proxied, config, rules=[rule])
    assert undecided == [] and [f.message for f in through_proxy] == messages
    # ... and the engine's wire form: the very pack policy, over protobuf (0 arrives as 0.0).
    over_the_wire, undecided = through_the_engine(rule, resources, user)
    assert undecided == [] and over_the_wire == messages
    return messages


def _cases(kind: str):
    for rule_name, spec in CASES.items():
        for i, case in enumerate(spec.get(kind, [])):
            yield pytest.param(rule_name, case, id=f"{rule_name}-{kind}{i}")


@pytest.mark.parametrize("rule_name,case", list(_cases("pass")))
def test_pass_fixture(rule_name, case):
    assert run(rule_name, case) == []


@pytest.mark.parametrize("rule_name,case", list(_cases("fail")))
def test_fail_fixture(rule_name, case):
    assert run(rule_name, case) == case["messages"]


def test_every_rule_has_pass_and_fail_fixtures():
    missing = [r.name for r in RULES if not CASES.get(r.name, {}).get("pass") or not CASES.get(r.name, {}).get("fail")]
    assert missing == []
    assert set(CASES) <= set(BY_NAME), set(CASES) - set(BY_NAME)


def test_pack_size_and_metadata():
    assert len(RULES) >= 29
    assert len(BY_NAME) == len(RULES)
    for r in RULES:
        assert r.description and r.source and r.severity in ("low", "medium", "high", "critical")
        assert r.enforcement in ("advisory", "mandatory", "disabled")
        assert (r.check is None) != (r.stack_check is None)
        assert r.types, r.name


def test_enforcement_is_configurable():
    resource = build({"base": "deployment", "set": {"spec.template.spec.containers.0.securityContext.privileged": True}})
    rule = BY_NAME["k8s-no-privilege"]
    findings, _ = evaluate([resource], {"k8s-no-privilege": "advisory"}, rules=[rule])
    assert [f.enforcement for f in findings] == ["advisory"]
    findings, _ = evaluate([resource], {"k8s-no-privilege": {"enforcementLevel": "disabled"}}, rules=[rule])
    assert findings == []
    findings, _ = evaluate([resource], {"all": "advisory"}, rules=[rule])
    assert [f.enforcement for f in findings] == ["advisory"]


UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
UNKNOWN_BOOL = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"


@pytest.mark.parametrize("rule_name,base,path,value", [
    ("k8s-image-pinned", "deployment", "spec.template.spec.containers.0.image", UNKNOWN_STRING),
    ("k8s-no-privilege", "deployment", "spec.template.spec.containers.0.securityContext.privileged", UNKNOWN_BOOL),
    ("api-endpoint-private", "eks", "vpcConfig.endpointPublicAccess", UNKNOWN_BOOL),
    ("imdsv2-required", "launch-template", "metadataOptions.httpTokens", UNKNOWN_STRING),
    ("secrets-envelope-encryption", "gke", "databaseEncryption.keyName", UNKNOWN_STRING),
])
def test_unknown_values_are_not_violations(rule_name, base, path, value):
    resource = build({"base": base, "set": {path: value}})
    findings, undecided = evaluate([resource], rules=[BY_NAME[rule_name]])
    assert findings == []
    assert len(undecided) == 1 and "can't be known during preview" in undecided[0]


@pytest.mark.parametrize("stack,masters", [("onprem", 3), ("selfmanaged-aws", 3), ("selfmanaged-gcp", 3), ("selfmanaged-azure", 3)])
def test_k3s_rule_reads_the_real_bootstrap_carriers(monkeypatch, stack, masters):
    """Dropping --secrets-encryption from the real bootstrap is caught on every master, whether the
    script travels as SSH stdin, gzip+base64 EC2 user data, a Secret Manager secret or Azure customData."""
    import fleetform.bootstrap.script as script
    from fleetform.plan.engine import plan

    original = script.k3s_args
    monkeypatch.setattr(script, "k3s_args", lambda node: [a for a in original(node) if a != "--secrets-encryption"])
    result = plan(stack)
    hits = [v for v in result.violations if v.policy == "k3s-secrets-encryption"]
    assert len(hits) == masters and result.exit_code == 1


def test_plan_hands_unknown_inputs_to_the_rules_as_unknown():
    """`fleetform plan` turns an unknown input into pulumi_policy's own sentinel: the rule cannot
    judge it (no violation), while the same resource with a known unpinned image is reported."""
    from pulumi.output import Unknown

    from fleetform.plan.engine import run_policies
    from fleetform.plan.mocks import Registration
    from fleetform.plan.runner import Capture

    def violations(image: Any) -> list[str]:
        resource = build({"base": "deployment", "set": {"spec.template.spec.containers.0.image": image}})
        registration = Registration(resource.urn, resource.type, resource.name, None, True, None, dict(resource.props))
        found, undecided = run_policies(Capture("test", [registration], {}))
        notes.extend(undecided)
        return [v.message for v in found if v.policy == "k8s-image-pinned"]

    notes: list[str] = []
    assert violations(Unknown()) == []
    assert len(notes) == 1 and notes[0].startswith("k8s-image-pinned: ") and "can't be known during preview" in notes[0]
    assert len(violations("nginx:latest")) == 1


def test_known_props_reach_rules_unwrapped_and_unknown_ones_behind_the_proxy():
    """Only resources holding an unknown value pay for pulumi_policy's proxy."""
    seen: dict[str, type] = {}
    probe = BY_NAME["k8s-image-pinned"]

    def check(rtype, props, settings):
        seen[props["metadata"]["name"]] = type(props)
        return []

    rule = type(probe)(**{**probe.__dict__, "check": check})
    known = build({"base": "deployment", "set": {"metadata.name": "known"}})
    unknown = build({"base": "deployment", "set": {"metadata.name": "unknown",
                                                    "spec.template.spec.containers.0.args": [UNKNOWN_STRING]}})
    evaluate([known, unknown], rules=[rule])
    assert seen["known"] is dict
    assert seen["unknown"].__name__ == "_DictProxy"


def test_rules_never_test_props_for_dict_or_list():
    """pulumi_policy hands rules Mapping/Sequence proxies: an ``isinstance(x, dict)`` on props
    would pass every in-process test and never match under the real pack. Allowed: the unknown
    scan over plain data before any proxy, and parsed cloud-init YAML in the k3s rule."""
    import ast

    allowed = {("__init__.py", "_has_unknown"), ("__init__.py", "_guarded"), ("k3s.py", "_decoded")}
    found = []
    paths = sorted((Path(__file__).parents[1] / "policies" / "fleetform_policies" / "rules").glob("*.py"))
    assert len(paths) >= 5  # the rules are where this test looks
    for path in paths:
        tree = ast.parse(path.read_text())
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]:
            for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
                if isinstance(call.func, ast.Name) and call.func.id == "isinstance" and len(call.args) == 2:
                    kinds = call.args[1].elts if isinstance(call.args[1], ast.Tuple) else [call.args[1]]
                    if any(isinstance(k, ast.Name) and k.id in ("dict", "list") for k in kinds):
                        if (path.name, func.name) not in allowed:
                            found.append(f"{path.name}:{call.lineno} in {func.name}")
    assert found == []


@pytest.mark.parametrize("rule_name,other", [
    ("k8s-workload-network-policy", {"base": "netpol", "set": {"metadata.namespace": "other", "spec.podSelector.matchLabels": UNKNOWN_STRING}}),
    ("k8s-pdb-per-workload", {"base": "pdb", "set": {"metadata.namespace": "other", "spec.selector.matchLabels": UNKNOWN_STRING}}),
])
def test_stack_rules_judge_a_workload_by_its_own_namespace_despite_unknowns_elsewhere(rule_name, other):
    """An unknown selector in another namespace does not leave a covered workload undecided (the
    rules read only what the workload's own namespace holds); the same unknown in the workload's
    namespace, with nothing else covering it, does."""
    own = {"base": "netpol" if "network" in rule_name else "pdb"}
    findings, undecided = evaluate([build({"base": "deployment"}, 0), build(own, 1), build(other, 2)], rules=[BY_NAME[rule_name]])
    assert findings == [] and undecided == []
    same_namespace = copy.deepcopy(other)
    del same_namespace["set"]["metadata.namespace"]
    findings, undecided = evaluate([build({"base": "deployment"}, 0), build(same_namespace, 2)], rules=[BY_NAME[rule_name]])
    assert findings == [] and len(undecided) == 1 and "can't be known during preview" in undecided[0]


def test_k3s_rule_reads_only_the_script_carriers():
    """An unknown value where no script travels (a subnet ID during preview) leaves the verdict
    decided; an unknown script is "cannot judge yet"."""
    rule = BY_NAME["k3s-secrets-encryption"]
    for path in ("subnetId", "tags.Name", "ami"):
        findings, undecided = evaluate([build({"base": "k3s-ec2", "set": {path: UNKNOWN_STRING}})], rules=[rule])
        assert findings == [] and undecided == [], path
    findings, undecided = evaluate([build({"base": "k3s-ec2", "set": {"userDataBase64": UNKNOWN_STRING}})], rules=[rule])
    assert findings == [] and len(undecided) == 1 and "userDataBase64" in undecided[0]


@pytest.mark.parametrize("rule_name,case", [
    # The setting takes resourceUri from the cluster: tied by the dependency, not the (unknown) value.
    ("aks-audit-logs", {"resources": [{"base": "aks"}, {"base": "aks-diagnostics", "set": {"resourceUri": UNKNOWN_STRING},
                                                         "dependsOn": [0]}]}),
    ("eks-irsa", {"resources": [{"base": "eks"}, {"base": "oidc", "set": {"url": UNKNOWN_STRING}, "dependsOn": [0]}]}),
    ("flow-logs", {"resources": [{"base": "vpc"}, {"base": "flow-log", "set": {"vpcId": UNKNOWN_STRING}, "dependsOn": [0]}]}),
])
def test_cross_resource_rules_tie_by_dependency_while_ids_are_unknown(rule_name, case):
    findings, undecided = evaluate(resources_of(case), rules=[BY_NAME[rule_name]])
    assert findings == [] and undecided == []
