"""``fleetform:extends``: a stack built on another stack's services, the same under the plan (which
reads the files) and under ``pulumi up`` (the program gets its own config from the engine and reads
the base stack's file from the project's stackConfigDir)."""

from __future__ import annotations

import pytest
import yaml

from fleetform.config import FleetConfigError
from fleetform.config.extends import resolve_extends
from fleetform.plan.engine import plan
from tests.conftest import DIGEST, cluster, service

EX = {"name": "kind", "target": "existing", "loadBalancer": {"provider": "servicelb"}}
BASE = {
    "fleetform:namespace": "shop",
    "fleetform:clusters": [{**EX, "name": "prod"}],
    "fleetform:services": [
        service("web", replicas=3, resources={"cpu": "250m", "memory": "256Mi"}),
        service("api", port=9090, expose="cluster", health={"path": "/ready", "livenessPath": "/live"}),
        service("worker", expose="cluster"),
    ],
}
STAGING = {
    "fleetform:extends": "prod",
    "fleetform:clusters": [{**EX, "name": "staging"}],
    "fleetform:services": [
        {"name": "web", "replicas": 1, "resources": {"memory": "128Mi"}},   # override, deep-merged
        {"name": "api", "health": {"livenessPath": None}},                  # null: back to the default
        {"name": "worker", "remove": True},                                 # dropped
        service("admin", expose="cluster"),                                 # added
    ],
}


def _write(folder, name, config):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


def _check_merged(spec):
    by_name = {s.name: s for s in spec.services}
    assert list(by_name) == ["web", "api", "admin"]  # base order, overrides in place, new ones after
    assert by_name["web"].replicas == 1
    assert by_name["web"].resources.memory == "128Mi" and by_name["web"].resources.cpu == "250m"
    assert by_name["web"].image == f"registry.example.com/acme/web{DIGEST}"  # the rest from the base
    assert by_name["api"].port == 9090 and by_name["api"].health.path == "/ready"
    assert by_name["api"].health.liveness_path != "/live"
    assert [c.name for c in spec.clusters] == ["staging"]  # clusters are not inherited
    assert spec.namespace == "shop"  # other keys: the base's unless this stack sets them


def test_plan_merges_the_base_stacks_services(tmp_path):
    _write(tmp_path, "prod", BASE)
    path = _write(tmp_path, "staging", STAGING)
    result = plan(str(path))
    assert result.spec is not None
    _check_merged(result.spec)
    deployments = {m.name: m.object for m in result.manifests if m.kind == "Deployment"}
    assert set(deployments) == {"web", "api", "admin"}
    assert deployments["web"]["spec"]["replicas"] == 1
    assert all(m.cluster == "staging" for m in result.manifests)


def test_a_relative_path_and_a_chain_of_bases(tmp_path):
    _write(tmp_path / "shared", "base", {**BASE, "fleetform:namespace": "fleetform"})
    _write(tmp_path, "prod", {"fleetform:extends": "shared/Pulumi.base.yaml", "fleetform:namespace": "shop",
                              "fleetform:clusters": BASE["fleetform:clusters"]})
    path = _write(tmp_path, "staging", STAGING)
    spec = plan(str(path)).spec
    assert spec is not None
    _check_merged(spec)


def test_the_program_under_the_engine_reads_the_base_from_the_stack_config_dir(tmp_path, monkeypatch):
    """As under `pulumi up`: the engine hands the program its own config (JSON strings, project
    defaults filled in); the base comes from Pulumi.yaml's stackConfigDir."""
    from fleetform.fleet import load_spec_from_pulumi_config, program
    from fleetform.plan.runner import config_strings, run_under_mocks

    (tmp_path / "Pulumi.yaml").write_text("name: fleetform\nruntime: python\nstackConfigDir: stacks\n")
    _write(tmp_path / "stacks", "prod", BASE)
    own = {**STAGING, "fleetform:namespace": "fleetform", "fleetform:kubernetesVersion": "1.32"}  # the defaults
    _write(tmp_path / "stacks", "staging", STAGING)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # found from a folder below the project too
    specs = []

    def run():
        specs.append(load_spec_from_pulumi_config())
        return program(skip_unimplemented=True)

    capture = run_under_mocks("staging", config_strings(own), run)
    _check_merged(specs[0])
    deployments = {r.name: r.plain_inputs(mask=False) for r in capture.registrations
                   if r.type == "kubernetes:apps/v1:Deployment"}
    assert len(deployments) == 3
    assert sorted(d["spec"]["replicas"] for d in deployments.values()) == [1, 2, 2]


def test_a_stack_without_extends_is_unchanged(tmp_path):
    config = {"fleetform:clusters": [EX], "fleetform:services": [service()]}
    assert resolve_extends(config, tmp_path) == config


def test_base_secrets_are_not_inherited(tmp_path):
    base = dict(BASE)
    path = _write(tmp_path, "prod", base)
    text = path.read_text() + "  fleetform:sshPrivateKey:\n    secure: v1:c2FsdA==:cGxhbnRlZA==\n"
    path.write_text(text)
    merged = resolve_extends(STAGING, tmp_path)
    assert "fleetform:sshPrivateKey" not in merged and "fleetform:extends" not in merged


def _problems(config, folder):
    with pytest.raises(FleetConfigError) as info:
        resolve_extends(config, folder)
    return info.value.problems


def test_an_unknown_base_is_one_line(tmp_path):
    _write(tmp_path, "prod", BASE)
    lines = _problems({**STAGING, "fleetform:extends": "prdo"}, tmp_path)
    assert len(lines) == 1
    assert lines[0].startswith('fleetform:extends: got "prdo", but there is no ')
    assert "(stacks in " in lines[0] and "prod" in lines[0]


@pytest.mark.parametrize("given", ["  ", "two words", 3, "/etc/Pulumi.prod.yaml"])  # "": the default, no base
def test_a_value_that_names_no_stack_is_one_line(tmp_path, given):
    lines = _problems({**STAGING, "fleetform:extends": given}, tmp_path)
    assert len(lines) == 1 and lines[0].startswith("fleetform:extends: got ")
    assert "allowed: a stack name in the same folder" in lines[0]


def test_a_cycle_is_refused(tmp_path):
    _write(tmp_path, "prod", {**BASE, "fleetform:extends": "staging"})
    path = _write(tmp_path, "staging", STAGING)
    with pytest.raises(FleetConfigError) as info:
        plan(str(path))
    assert info.value.problems == [
        "fleetform:extends: a cycle, staging -> prod -> staging; allowed: a base that does not extend this "
        "stack, directly or through others"
    ]


def test_a_stack_extending_itself_is_a_cycle(tmp_path):
    path = _write(tmp_path, "staging", {**STAGING, "fleetform:extends": "staging"})
    with pytest.raises(FleetConfigError) as info:
        plan(str(path))
    assert info.value.problems[0].startswith("fleetform:extends: a cycle, staging -> staging")


def test_a_base_with_invalid_config_names_the_base(tmp_path):
    bad = {**BASE, "fleetform:services": [service("web", port=0)]}
    _write(tmp_path, "prod", bad)
    lines = _problems(STAGING, tmp_path)
    assert lines and all(line.startswith(f"fleetform:extends: base stack prod ({tmp_path / 'Pulumi.prod.yaml'}): ")
                         for line in lines)
    assert any("fleetform:services[0].port: got 0" in line for line in lines)


def test_a_base_that_is_no_stack_file_names_the_key(tmp_path):
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  fleetform:clusters: [\n")
    lines = _problems(STAGING, tmp_path)
    assert len(lines) == 1
    assert lines[0].startswith("fleetform:extends: base stack prod (") and "is not a valid stack file: " in lines[0]


def test_removing_a_service_the_base_does_not_have_is_one_line(tmp_path):
    _write(tmp_path, "prod", BASE)
    lines = _problems({**STAGING, "fleetform:services": [{"name": "nope", "remove": True}]}, tmp_path)
    assert lines == ['fleetform:services[0].remove: got true for "nope"; allowed: only on a service base stack '
                     "prod defines (web, api, worker) [fleetform:extends]"]


def test_a_stack_without_clusters_takes_the_bases(tmp_path):
    _write(tmp_path, "prod", BASE)
    merged = resolve_extends({"fleetform:extends": "prod"}, tmp_path)
    assert merged["fleetform:clusters"] == BASE["fleetform:clusters"]
    assert merged["fleetform:services"] == BASE["fleetform:services"]


def test_the_example_cluster_helper_still_validates_with_extends(tmp_path):
    """A managed cluster in the stack over an existing-cluster base: clusters are the stack's own."""
    _write(tmp_path, "prod", BASE)
    own = {**STAGING, "fleetform:clusters": [cluster("staging-aws", "aws")]}
    merged = resolve_extends(own, tmp_path)
    assert [c["name"] for c in merged["fleetform:clusters"]] == ["staging-aws"]
