"""Every rule cites what it checks, as links: each check a rule's ``source`` names resolves to the
file that implements it (``fleetform_policies.rules.sources``), Kubernetes checks are cited only by
rules that read the objects those checks read, and docs/policies.md lists every link."""

from __future__ import annotations

import re

import pytest

from fleetform_policies.rules import RULES
from fleetform_policies.rules.base import kind_of
from fleetform_policies.rules.sources import CHECKOV_CHECKS, checks_in
from tests.conftest import ROOT

# The kinds each cited checkov Kubernetes check looks at (its supported_kind / entities in
# checkov/kubernetes/checks/resource/k8s/*.py): a rule citing one must read such objects.
WORKLOAD = {"Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "ReplicationController"}
CHECKOV_K8S_KINDS = {
    "CKV_K8S_21": WORKLOAD | {"Service", "Secret", "ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Ingress"},
    "CKV_K8S_41": {"ServiceAccount"},
    "CKV_K8S_42": {"RoleBinding", "ClusterRoleBinding"},
    "CKV_K8S_49": {"Role", "ClusterRole"},
    "CKV_K8S_157": {"Role", "ClusterRole"},
    "CKV_K8S_158": {"Role", "ClusterRole"},
}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_links_its_sources(rule):
    urls = rule.urls  # KeyError: a check the table does not know
    assert urls and all(u.startswith("https://") for u in urls)
    assert len(set(urls)) == len(urls)


def test_every_checkov_id_cited_is_in_the_table_and_every_entry_is_cited():
    cited = {check for r in RULES for tool, check in checks_in(r.source) if tool == "checkov"}
    assert cited == set(CHECKOV_CHECKS)


@pytest.mark.parametrize("rule", [r for r in RULES if any(c in CHECKOV_K8S_KINDS for _, c in checks_in(r.source))],
                         ids=lambda r: r.name)
def test_kubernetes_checks_are_cited_by_rules_that_read_their_objects(rule):
    kinds = {kind_of(t) for t in rule.types}
    for _, check in checks_in(rule.source):
        if check in CHECKOV_K8S_KINDS:
            assert kinds & CHECKOV_K8S_KINDS[check], f"{rule.name} cites {check} but reads none of {CHECKOV_K8S_KINDS[check]}"
    # Checks that look at pod specs are cited by rules over workloads.
    if any(c.startswith("CKV_K8S_") and c not in CHECKOV_K8S_KINDS for _, c in checks_in(rule.source)):
        assert kinds & WORKLOAD, rule.name


def test_misattributions_the_review_found_are_gone():
    sources = {r.name: r.source for r in RULES}
    assert "CKV_K8S_155" not in " ".join(sources.values())  # admission webhooks, not cluster-admin
    assert "CKV_AZURE_4" not in sources["aks-audit-logs"]  # the oms_agent add-on, not a diagnostic setting
    assert "CKV_AWS_39" not in sources["api-endpoint-private"]  # public endpoint off; the rule allows allowed CIDRs


def test_the_policies_page_links_every_source():
    doc = (ROOT / "docs" / "policies.md").read_text()
    missing = [(r.name, u) for r in RULES for u in r.urls if u not in doc]
    assert missing == []
    for rule in RULES:
        assert re.search(rf"^- `{re.escape(rule.name)}`: ", doc, re.M), rule.name
