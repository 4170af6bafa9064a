"""load_spec pinned where its mutation run found gaps (fleetform.config.loading, mutants-config-a).

The contract: load_spec's docstring (full keys of any namespace, parsed YAML or the engine's JSON
strings, other namespaces ignored, every problem listed) and docs/configuration.md "Errors" (one
line per problem, `<key path>: got <value>; allowed: <what>`, every problem in one run: each
cluster and service checked on its own, the checks across them (unique names, references) still
run on what could be read; a bad name is one line, not two). Bad input gets one clear message,
never a traceback. The expectations name key paths and what is allowed, not the exact wording.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleetform.config import FleetConfigError, load_spec
from tests.conftest import cluster, fleet, service

EX = cluster("a", "existing")
BAD_SERVICE = {"name": "api"}  # image and port missing: the entry does not validate


def _traffic(svc: str = "web", clusters: tuple[str, ...] = ("a",)) -> dict[str, Any]:
    """A traffic entry valid on its own (existing clusters need their address)."""
    return {"service": svc, "hostname": "shop.example.com", "dns": {"provider": "route53", "zone": "example.com"},
            "clusters": [{"name": c, "address": f"203.0.113.{i + 1}"} for i, c in enumerate(clusters)]}


def _problems(config: dict[str, Any]) -> list[str]:
    with pytest.raises(FleetConfigError) as info:
        load_spec(config)
    return info.value.problems


def _paths(lines: list[str]) -> list[str]:
    """Each line's key path (what comes before its first ': ')."""
    return [line.split(": ", 1)[0] for line in lines]


# --- Every fleetform key is read, whatever comes before it ---------------------------------------

def test_keys_of_other_namespaces_before_fleetforms_are_skipped_not_the_end():
    """The engine hands a program every key of the stack, other namespaces too, sorted: aws:region
    and gcp:project come before fleetform:clusters. They are ignored, and the keys after them read."""
    config = {"aws:region": "us-east-1", "gcp:project": "p", "fleetform:clusters": json.dumps([EX]),
              "fleetform:services": json.dumps([service()])}
    spec = load_spec(config)
    assert [c.name for c in spec.clusters] == ["a"] and [s.name for s in spec.services] == ["web"]


@pytest.mark.parametrize("config,paths", [
    # an unknown key, then a problem of a key after it: both lines
    ({"fleetform:aaa": 1, **fleet([EX], [], namespace="default")}, ["fleetform:aaa", "fleetform:namespace"]),
    # a structured key whose JSON text does not parse, then a problem after it: both lines
    ({"fleetform:clusters": json.dumps([EX]), "fleetform:services": "[", "fleetform:namespace": "default"},
     ["fleetform:services", "fleetform:namespace"]),
], ids=["after an unknown key", "after JSON that does not parse"])
def test_a_problem_with_one_top_level_key_hides_none_after_it(config, paths):
    """Every problem in one run: an unknown key or unreadable JSON text is one line, and the keys
    after it are still read and checked (not only the first problem reported)."""
    assert _paths(_problems(config)) == paths


def test_every_unknown_key_of_one_entry_is_a_line():
    """Two unknown keys in one cluster are two lines, each listing the allowed keys."""
    lines = _problems(fleet([{**EX, "vpc": 1, "zones": 2}], []))
    assert _paths(lines) == ["fleetform:clusters[0].vpc", "fleetform:clusters[0].zones"]
    assert all("unknown key; allowed keys: " in line and "nodePools" in line for line in lines)


# --- The checks across entries run on what could be read -----------------------------------------

def _dup_and_bad() -> list[dict[str, Any]]:
    return [service("web"), service("web"), BAD_SERVICE]


ACROSS = [
    # A top-level list given as a mapping (a YAML `- ` forgotten) is one line; the other lists are
    # still checked entry by entry and across entries (the duplicate name), without a traceback.
    ("clusters a mapping, services duplicated", {**fleet([], _dup_and_bad()), "fleetform:clusters": EX},
     ["fleetform:clusters", "fleetform:services[1].name", "fleetform:services[2].image", "fleetform:services[2].port"]),
    ("services a mapping, a bad cluster", {**fleet([EX, {"name": "b"}], []), "fleetform:services": service()},
     ["fleetform:clusters[1].target", "fleetform:services"]),
    ("services a mapping, a bad traffic entry",
     {**fleet([EX], []), "fleetform:services": service(), "fleetform:traffic": [{"service": "web"}]},
     ["fleetform:services", "fleetform:traffic[0].hostname", "fleetform:traffic[0].dns"]),
    ("traffic a mapping, a bad service", fleet([EX], [BAD_SERVICE], traffic=_traffic()),
     ["fleetform:services[0].image", "fleetform:services[0].port", "fleetform:traffic"]),
    # A wrong reference is reported next to another entry's own problems.
    ("a wrong cluster reference and a bad service", fleet([EX], [service(clusters=["zz"]), BAD_SERVICE]),
     ["fleetform:services[0].clusters[0]", "fleetform:services[1].image", "fleetform:services[1].port"]),
    # A traffic entry's problem (its service is not public) is reported next to a bad service.
    ("a traffic problem and a bad service",
     fleet([EX], [service(expose="cluster"), {**BAD_SERVICE, "port": 0}], traffic=[_traffic()]),
     ["fleetform:services[1].image", "fleetform:services[1].port", "fleetform:traffic[0].service"]),
    # Valid traffic over valid clusters and services gets no line because another service is bad.
    ("valid traffic and another bad service", fleet([EX], [service(), BAD_SERVICE], traffic=[_traffic()]),
     ["fleetform:services[1].image", "fleetform:services[1].port"]),
    # Traffic naming a service that did not validate is left to that service's own lines: web is
    # a public service of this stack, only an invalid one (no "not a public service" line).
    ("traffic naming a service that did not validate", fleet([EX], [service(port=0)], traffic=[_traffic()]),
     ["fleetform:services[0].port"]),
    # Likewise a cluster that did not validate: no traffic line calling it "not a cluster of this stack".
    ("traffic naming a cluster that did not validate",
     fleet([EX, {"name": "b"}], [service()], traffic=[_traffic(clusters=("a", "b"))]),
     ["fleetform:clusters[1].target"]),
    # Keys are case-sensitive: a service keyed NAME has no name, so traffic naming "web" names no
    # service of this stack, and that is a problem of its own.
    ("a service keyed NAME has no name",
     fleet([EX], [{("NAME" if k == "name" else k): v for k, v in service().items()}], traffic=[_traffic()]),
     ["fleetform:services[0].name", "fleetform:services[0].NAME", "fleetform:traffic[0].service"]),
    # A name that is both invalid and a duplicate is one line, not two.
    ("an invalid name twice", fleet([EX], [{**service(), "name": "Web!"}, {**service(), "name": "Web!"}]),
     ["fleetform:services[0].name", "fleetform:services[1].name"]),
]


@pytest.mark.parametrize("config,paths", [c[1:] for c in ACROSS], ids=[c[0] for c in ACROSS])
def test_the_checks_across_entries_run_on_what_could_be_read(config, paths):
    """docs/configuration.md "Errors": each entry is checked on its own and the checks across them
    still run on what could be read; one line per problem, sorted by key path, never a traceback."""
    assert _paths(_problems(config)) == paths


def test_the_lines_across_entries_say_what_is_allowed():
    """The duplicate, the wrong reference and the traffic line name what is allowed."""
    lines = _problems({**fleet([], _dup_and_bad()), "fleetform:clusters": EX})
    assert "allowed: a name not used by another entry of services" in lines[1]
    lines = _problems(fleet([EX], [service(clusters=["zz"]), BAD_SERVICE]))
    assert lines[0].endswith('got "zz"; allowed: a cluster of this stack: a')
    lines = _problems(fleet([EX], [service(expose="cluster"), {**BAD_SERVICE, "port": 0}], traffic=[_traffic()]))
    assert 'got "web"; allowed: a service with expose: public' in lines[-1]


# --- An empty list the user gave keeps its line next to a bad entry elsewhere ----------------------

@pytest.mark.parametrize("config, line", [
    # clusters empty, one service bad: both are the user's problems (found by review of the loader).
    ({"fleetform:clusters": [], "fleetform:services": [BAD_SERVICE]}, "fleetform:clusters"),
    ({"fleetform:clusters": "[]", "fleetform:services": json.dumps([BAD_SERVICE])}, "fleetform:clusters"),
])
def test_an_empty_clusters_list_is_a_line_when_another_entry_is_bad_too(config, line):
    """docs/configuration.md: clusters is a list of at least one cluster, and every problem is
    listed in one run. The entries of a list that has some stand in as [] for the checks across
    keys; a list given empty is not a stand-in, so its own line is kept."""
    lines = _problems(config)
    assert line in _paths(lines), lines
    assert "fleetform:services[0].image" in _paths(lines), lines
    assert [x for x in lines if x.startswith(line + ":")][0].count("at least 1") == 1


def test_a_list_with_entries_gets_no_line_of_its_own_when_an_entry_is_bad():
    """The stand-in [] of a list whose entries failed is not reported as an empty list."""
    lines = _problems({"fleetform:clusters": [{"name": "a"}], "fleetform:services": [service()]})
    assert "fleetform:clusters" not in _paths(lines), lines
    assert "fleetform:clusters[0].target" in _paths(lines), lines
