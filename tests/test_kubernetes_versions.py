"""The Kubernetes version table (issue 13 item 11): data with sources and a check date, one
table for the config and the policy pack, and every minor in it usable end to end.

The facts in the table were read on its ``checked`` date from the sources it lists per target
(EKS: https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html, GKE:
https://cloud.google.com/kubernetes-engine/docs/release-schedule, AKS:
https://learn.microsoft.com/azure/aks/supported-kubernetes-versions, k3s:
https://docs.k3s.io/release-notes/v1.37.X); the dates asserted below are the ones those pages
give, written here by hand.
"""

from __future__ import annotations

import datetime
import json
import re

import kubernetes_validate
import pytest

from fleetform.bootstrap.versions import K3S_RELEASES
from fleetform.config import DEFAULT_KUBERNETES_VERSION, SUPPORTED_KUBERNETES_VERSIONS, FleetConfigError, load_spec
from fleetform_policies import versions
from tests.conftest import ROOT, stack_config

TABLE = json.loads((ROOT / "policies" / "fleetform_policies" / "kubernetes_versions.json").read_text())


def test_the_table_is_dated_and_sourced():
    checked = datetime.date.fromisoformat(TABLE["checked"])
    assert checked >= datetime.date(2026, 12, 2)
    assert set(TABLE["targets"]) == {"eks", "gke", "aks", "k3s"}
    for key, target in TABLE["targets"].items():
        assert target["sources"] and all(s.startswith("https://") for s in target["sources"]), key
        assert target["minors"], key
        for minor, entry in target["minors"].items():
            assert re.fullmatch(r"1\.[0-9]{2}", minor)
            assert entry["support"] in ("standard", "extended", "end-of-life"), (key, minor)
            for field in ("endOfStandardSupport", "endOfSupport"):
                if field in entry:
                    datetime.date.fromisoformat(entry[field])


def test_dates_the_sources_give():
    """Spot checks, by hand from the sources: EKS 1.34 standard support ends 2026-12-02 (so it is in
    extended support today); AKS 1.34 reached end of life in November 2026 (not offered); k3s
    follows upstream 1.37 (released 2026-08-26, end of life 2027-10-28)."""
    eks = TABLE["targets"]["eks"]["minors"]
    assert eks["1.34"] == {"support": "extended", "endOfStandardSupport": "2026-12-02", "endOfSupport": "2027-12-02"}
    assert "1.34" not in TABLE["targets"]["aks"]["minors"]
    assert "1.31" not in eks  # extended support ended 2026-11-26
    assert TABLE["targets"]["k3s"]["minors"]["1.37"]["endOfSupport"] == "2027-10-28"


def test_the_default_is_offered_with_standard_support_on_every_target():
    assert DEFAULT_KUBERNETES_VERSION == "1.35"
    for key in TABLE["targets"]:
        assert versions.support_of(key, DEFAULT_KUBERNETES_VERSION) == "standard", key


def test_every_offered_minor_before_its_end_of_support_on_the_check_date():
    checked = datetime.date.fromisoformat(TABLE["checked"])
    for key, target in TABLE["targets"].items():
        for minor, entry in target["minors"].items():
            if entry["support"] == "end-of-life":
                continue
            assert datetime.date.fromisoformat(entry.get("endOfSupport", entry.get("endOfStandardSupport"))) >= checked, (key, minor)


def test_1_36_accepted_everywhere_and_1_37_where_a_source_confirms_it():
    for key in TABLE["targets"]:
        assert versions.support_of(key, "1.36") == "standard"
    assert versions.support_of("k3s", "1.37") == "standard"


@pytest.mark.parametrize("minor", SUPPORTED_KUBERNETES_VERSIONS)
def test_every_accepted_minor_has_strict_schemas(minor):
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}}, minor, strict=True
    )


def test_every_k3s_minor_has_a_pinned_release():
    for minor in versions.offered("k3s"):
        assert re.fullmatch(rf"v{re.escape(minor)}\.[0-9]+\+k3s[0-9]+", K3S_RELEASES[minor]), minor
    assert set(K3S_RELEASES) == set(versions.offered("k3s"))


def test_config_and_policy_pack_read_the_same_table():
    from fleetform_policies.rules import cloud

    assert cloud.SUPPORTED_VERSIONS == versions.offered("eks")
    assert set(SUPPORTED_KUBERNETES_VERSIONS) == {m for t in TABLE["targets"].values() for m in t["minors"]}


@pytest.mark.parametrize("target,region,minor,offer", [
    ("azure", "westeurope", "1.34", "1.35, 1.36"),
    ("gcp", "europe-west4", "1.37", "1.35, 1.36"),
    ("aws", "us-east-1", "1.37", "1.35, 1.36"),
])
def test_a_minor_the_target_does_not_offer_is_one_clear_error(target, region, minor, offer):
    config = {"fleetform:clusters": [{"name": "c", "target": target, "region": region, "kubernetesVersion": minor}]}
    with pytest.raises(FleetConfigError) as err:
        load_spec(config)
    (line,) = err.value.problems
    assert line.startswith(f'fleetform:clusters[0].kubernetesVersion: got "{minor}"; allowed: a minor ')
    assert offer in line and TABLE["checked"] in line


def test_the_fleet_default_is_checked_per_cluster_and_named():
    config = {"fleetform:kubernetesVersion": "1.37",
              "fleetform:clusters": [{"name": "eu", "target": "azure", "region": "westeurope"},
                                     {"name": "us", "target": "aws", "region": "us-east-1", "kubernetesVersion": "1.36"},
                                     {"name": "sm", "target": "aws", "region": "us-east-1", "mode": "self-managed",
                                      "network": {"cidr": "10.20.0.0/16"}}]}
    with pytest.raises(FleetConfigError) as err:
        load_spec(config)
    problems = [p for p in err.value.problems if "kubernetesVersion" in p]
    assert problems == [
        'fleetform:kubernetesVersion: got "1.37"; allowed: a minor AKS (Standard tier) offers (the default, for cluster eu): '
        f'1.35, 1.36 (as of {TABLE["checked"]})'
    ]


def test_k3s_and_existing_take_what_they_support():
    spec = load_spec({**stack_config("hybrid")})
    assert {c.name: spec.version_of(c) for c in spec.clusters}["hy-dc"] == "1.34"  # existing: any accepted minor
    onprem = stack_config("onprem")
    spec = load_spec({**onprem, "fleetform:kubernetesVersion": "1.37"})
    assert all(spec.version_of(c) == "1.37" for c in spec.clusters)
