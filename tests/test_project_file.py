"""Pulumi.yaml is what the real engine accepts, and stacks match its declared types."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from fleetform.config import FleetSpec
from tests.conftest import EXAMPLE_STACKS, ROOT, SHARED_SCHEMAS

PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
SCHEMA_FILE = SHARED_SCHEMAS / "pulumi-project.schema.json"
STACK_FILES = [ROOT / "stacks" / f"Pulumi.{name}.yaml" for name in EXAMPLE_STACKS]


def test_against_pulumi_project_schema():
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"{SCHEMA_FILE} is absent (it comes with the shared/ folder beside the checkout)")
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator(schema).validate(PROJECT)


def test_the_schema_check_can_fail():
    if not SCHEMA_FILE.is_file():
        pytest.skip(f"{SCHEMA_FILE} is absent")
    schema = json.loads(SCHEMA_FILE.read_text())
    bad = {**PROJECT, "config": {"fleetform:clusters": {"type": "list"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)


def test_layout_keys():
    assert PROJECT["name"] == "fleetform"
    assert PROJECT["main"] == "stacks/"
    assert PROJECT["stackConfigDir"] == "stacks"
    assert PROJECT["runtime"]["name"] == "python"
    assert PROJECT["runtime"]["options"]["virtualenv"]


TYPE_OK = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, str) and re.fullmatch(r"-?\d+", v)),
    "boolean": lambda v: isinstance(v, bool) or v in ("true", "false"),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _matches(decl, value):
    if not TYPE_OK[decl["type"]](value):
        return False
    if decl["type"] == "array":
        return all(_matches(decl["items"], item) for item in value)
    return True


@pytest.mark.parametrize("key,decl", list(PROJECT["config"].items()))
def test_engine_rules_for_declarations(key, decl):
    namespace, _, bare = key.rpartition(":")
    # Typed declarations only in the project's own namespace.
    assert namespace in ("", PROJECT["name"]), key
    assert decl["type"] in TYPE_OK
    assert decl.get("description"), f"{key} has no description"
    if decl["type"] == "array":
        assert "items" in decl and decl["items"]["type"] in TYPE_OK
    if "default" in decl:
        assert _matches(decl, decl["default"]), f"default of {key} does not match {decl['type']}"


def test_object_types_need_a_documented_minimum_cli():
    uses_object = any(d["type"] == "object" or d.get("items", {}).get("type") == "object" for d in PROJECT["config"].values())
    if uses_object:
        readme = (ROOT / "README.md").read_text()
        assert "v3.186.0" in readme


def test_declared_keys_are_the_models_fields_with_the_same_descriptions():
    declared = {k.split(":", 1)[1]: d for k, d in PROJECT["config"].items()}
    fields = {(f.alias or n): f for n, f in FleetSpec.model_fields.items()}
    assert set(declared) == set(fields)
    for key, field in fields.items():
        assert declared[key]["description"] == field.description, key


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_stack_values_match_declared_types(stack_file):
    config = yaml.safe_load(stack_file.read_text())["config"]
    for key, value in config.items():
        if not key.startswith("fleetform:"):
            continue
        assert key in PROJECT["config"], f"{stack_file.name}: {key} is not declared in Pulumi.yaml"
        if isinstance(value, dict) and set(value) == {"secure"}:
            continue
        assert _matches(PROJECT["config"][key], value), f"{stack_file.name}: {key}"


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=[p.name for p in STACK_FILES])
def test_every_example_stack_validates(stack_file):
    from fleetform.config import load_spec

    load_spec(yaml.safe_load(stack_file.read_text())["config"])


def test_stack_names_match_files():
    names = [p.name for p in STACK_FILES]
    assert "Pulumi.local.yaml" in names
    assert {"Pulumi.staging-aws.yaml", "Pulumi.prod-aws.yaml", "Pulumi.prod-gcp.yaml", "Pulumi.prod-azure.yaml",
            "Pulumi.hybrid.yaml"} <= set(names)


def test_plan_knows_the_secret_and_array_keys_pulumi_yaml_declares():
    """The plan refuses plain-text values of secret keys and strings for array keys, as the
    engine does: its lists must be the ones Pulumi.yaml declares."""
    from fleetform.config import LIST_KEYS, SECRET_KEYS

    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert LIST_KEYS == {k for k, d in declared.items() if d.get("type") == "array"} and LIST_KEYS
    # Secret keys are declared, but not `secret: true` (the engine would demand them of every
    # stack): fleetform refuses their plain-text values itself (plan and program alike).
    assert SECRET_KEYS == {"fleetform:sshPrivateKey"} and SECRET_KEYS <= set(declared)
    assert not [k for k, d in declared.items() if d.get("secret")]


def test_every_declared_key_has_a_default():
    """The engine refuses a stack that does not set a declared project key without a default
    (pkg/workspace/config.go mergeConfig: "Stack 'x' is missing configuration value 'y'"): with a
    default on every key, any stack, a user's new one included, passes that check."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert [k for k, d in declared.items() if "default" not in d] == []


def test_program_refuses_a_plain_text_secret_key():
    """Under `pulumi up` the engine says which config values were set with --secret; a plain
    sshPrivateKey is one line naming the key, before anything is registered."""
    import pulumi

    from fleetform.fleet import program
    from fleetform.plan.runner import run_under_mocks
    from tests.conftest import cluster, fleet, service

    cfg = fleet([cluster("c", "existing")], [service()], sshPrivateKey="-----BEGIN OPENSSH PRIVATE KEY-----")
    with pytest.raises(pulumi.RunError, match=r"\n  fleetform:sshPrivateKey: set in plain text; allowed: an encrypted value"):
        run_under_mocks("s", cfg, program)
    run_under_mocks("s", cfg, program, secret_keys=("fleetform:sshPrivateKey",))  # set with --secret: fine


def test_extends_and_clusters_defaults_mean_unset():
    """The engine hands every stack Pulumi.yaml's defaults: extends "" (none) and clusters []
    (the base's, when extending)."""
    from fleetform.config import load_spec
    from fleetform.config.extends import resolve_extends
    from tests.conftest import STACKS, cluster, fleet, service

    cfg = fleet([cluster("c", "existing")], [service()], extends="")
    assert resolve_extends(cfg, STACKS) == {k: v for k, v in cfg.items() if k != "fleetform:extends"}
    load_spec(cfg)
    child = {"fleetform:extends": "local", "fleetform:clusters": "[]", "fleetform:services": "[]"}
    merged = resolve_extends(child, STACKS)
    assert [c["name"] for c in merged["fleetform:clusters"]] == ["local"]
