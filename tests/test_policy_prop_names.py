"""The policy fixtures speak the providers' language: every property name in every pass/fail
fixture (and so every path a rule reads, since each fail fixture sets what its rule checks) exists
in the provider SDK's input type at that place, and every resource type a rule names is a class
of the installed SDKs.

Without this, a rule and its fixtures could agree on a misspelt property (``endpointPublicAcess``)
and pass their tests while never matching a real resource. The SDK's own type metadata is the
reference (``pulumi._types``: the names the SDK translates to on the wire)."""

from __future__ import annotations

import collections.abc as abc
import copy
import importlib
import typing
from typing import Any

import pytest
from pulumi import _types

from fleetform_policies.rules import RULES
from tests.test_policies import BASELINES, CASES, build, resources_of

OUTPUTS_READ = {
    # Stack rules see a resource's outputs (the engine's AnalyzeStack sends "the final outputs of
    # each resource"): eks-irsa matches an OIDC provider to its cluster by the cluster's issuer.
    "aws:eks/cluster:Cluster": {"identities"},
}
"""Output-only properties fixtures may set, each checked to be an output of the SDK's resource class."""

LEGACY_TOKENS = {
    # azure-native v1/v2 token the diagnostic-settings rule still accepts; v3 registers
    # monitor:DiagnosticSetting with it as an alias.
    "azure-native:insights:DiagnosticSetting": "azure-native:monitor:DiagnosticSetting",
}
MAPPINGS = (dict, abc.Mapping, typing.Mapping)
SEQUENCES = (list, abc.Sequence, typing.Sequence)


def sdk_module(token: str):
    pkg, mod, _ = LEGACY_TOKENS.get(token, token).split(":")
    top = "pulumi_" + pkg.replace("-", "_")
    if pkg == "kubernetes":  # kubernetes:networking.k8s.io/v1:X -> pulumi_kubernetes.networking.v1
        group, version = mod.split("/")
        return importlib.import_module(f"{top}.{group.split('.')[0]}.{version}")
    group = mod.split("/")[0]
    return importlib.import_module(top if group == "index" else f"{top}.{group}")


def args_class(token: str) -> type:
    """The resource's argument type (azure-native calls it ``<Name>InitArgs`` where a nested type
    already took ``<Name>Args``)."""
    name = LEGACY_TOKENS.get(token, token).split(":")[2]
    module = sdk_module(token)
    cls = getattr(module, name + "InitArgs", None) or getattr(module, name + "Args")
    assert _types.is_input_type(cls), cls
    return cls


def unknown_names(value: Any, typ: Any, path: str) -> list[str]:
    """Paths in ``value`` whose property name the SDK type ``typ`` does not have."""
    typ = _types.unwrap_type(typ)
    if isinstance(value, dict):
        if _types.is_input_type(typ):
            types = _types.input_type_types(typ)
            problems = []
            for key, item in value.items():
                if key in types:
                    problems += unknown_names(item, types[key], f"{path}.{key}")
                else:
                    problems.append(f"{path}.{key}")
            return problems
        if typing.get_origin(typ) in MAPPINGS:  # user keys (tags, labels): only the values are typed
            args = typing.get_args(typ)
            return [p for key, item in value.items() for p in unknown_names(item, args[1] if args else Any, f"{path}[{key}]")]
        for member in typing.get_args(typ):  # Union[str, XArgs, ...]
            member = _types.unwrap_type(member)
            if _types.is_input_type(member) or typing.get_origin(member) in MAPPINGS:
                return unknown_names(value, member, path)
        return [] if typ is Any else [f"{path}: an object where the SDK has {typ}"]
    if isinstance(value, list):
        if typing.get_origin(typ) in SEQUENCES:
            (item_type,) = typing.get_args(typ)
            return [p for i, item in enumerate(value) for p in unknown_names(item, item_type, f"{path}[{i}]")]
        for member in typing.get_args(typ):
            member = _types.unwrap_type(member)
            if typing.get_origin(member) in SEQUENCES:
                return unknown_names(value, member, path)
        return [] if typ is Any else [f"{path}: a list where the SDK has {typ}"]
    return []


def fixture_resources():
    out = [build({"base": name}) for name in BASELINES]
    for cases in CASES.values():
        for case in [*cases.get("pass", []), *cases.get("fail", [])]:
            out += resources_of(case)
    return out


RESOURCES = fixture_resources()
TYPES = sorted({r.type for r in RESOURCES})


@pytest.mark.parametrize("token", TYPES)
def test_every_fixture_property_exists_in_the_sdk(token):
    cls = args_class(token)
    outputs = OUTPUTS_READ.get(token, set())
    problems = [p for r in RESOURCES if r.type == token
                for p in unknown_names({k: v for k, v in dict(r.props).items() if k not in outputs}, cls, r.name)]
    assert problems == []


@pytest.mark.parametrize("token,names", sorted(OUTPUTS_READ.items()))
def test_output_properties_fixtures_set_are_outputs_of_the_resource(token, names):
    pkg, mod, name = token.split(":")
    resource = getattr(sdk_module(token), name)
    for prop in names:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in prop)
        assert isinstance(getattr(resource, snake, None), property), f"{token} has no output {prop}"


@pytest.mark.parametrize("token", sorted({t for rule in RULES for t in rule.types if not t.endswith(":")}))
def test_every_resource_type_a_rule_names_is_an_sdk_class(token):
    assert args_class(token)


def test_the_check_catches_misspelt_names_at_every_depth():
    """Mutations of real fixtures: the walk reports each misspelling (top level, nested object,
    object inside a list) and accepts free-form map keys."""
    eks = copy.deepcopy(dict(build({"base": "eks"}).props))
    cls = args_class("aws:eks/cluster:Cluster")
    assert unknown_names(eks, cls, "eks") == []
    eks["vpcConfig"]["endpointPublicAcess"] = eks["vpcConfig"].pop("endpointPublicAccess")
    eks["enabledClusterLogTypez"] = eks.pop("enabledClusterLogTypes")
    eks["tags"] = {"Any-Key": "v", "another_key": "w"}
    assert sorted(unknown_names(eks, cls, "eks")) == ["eks.enabledClusterLogTypez", "eks.vpcConfig.endpointPublicAcess"]

    firewall = copy.deepcopy(dict(build({"base": "firewall"}).props))
    firewall["allows"][0]["portz"] = firewall["allows"][0].pop("ports")
    assert unknown_names(firewall, args_class("gcp:compute/firewall:Firewall"), "fw") == ["fw.allows[0].portz"]

    deployment = copy.deepcopy(dict(build({"base": "deployment"}).props))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["privilegd"] = True
    assert unknown_names(deployment, args_class("kubernetes:apps/v1:Deployment"), "d") == [
        "d.spec.template.spec.containers[0].securityContext.privilegd"
    ]
