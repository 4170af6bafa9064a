"""The policy rules' helpers pinned where they are made (issue 17), from the formats they read.

Label selectors (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#resources-that-support-set-based-requirements,
meta/v1 LabelSelector): every ``matchLabels`` pair must be on the pod, and every
``matchExpressions`` requirement must hold: ``In`` (the key is present with one of the values),
``NotIn`` (the key is absent or its value is none of them), ``Exists``, ``DoesNotExist``; the
requirements are ANDed. Label values are strings (a number in props is compared as its text).
"""

from __future__ import annotations

import pytest

from fleetform_policies.rules.stack import _selects

POD = {"app": "web", "tier": "front", "v": "2"}


@pytest.mark.parametrize("selector,selected", [
    ({}, True),
    (None, True),
    ({"matchLabels": {}}, True),
    ({"matchLabels": None}, True),
    ({"matchLabels": {"app": "web"}}, True),
    ({"matchLabels": {"app": "web", "tier": "front"}}, True),
    ({"matchLabels": {"app": "api"}}, False),
    ({"matchLabels": {"app": "web", "tier": "back"}}, False),  # every pair must match
    ({"matchLabels": {"zone": "a"}}, False),  # a label the pod lacks
    # In
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["back"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["front"]}]}, False),  # absent key
    ({"matchExpressions": [{"key": "v", "operator": "In", "values": [2]}]}, True),  # compared as text
    # NotIn
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["back"]}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),  # absent key
    ({"matchExpressions": [{"key": "v", "operator": "NotIn", "values": [2]}]}, False),
    # Exists / DoesNotExist
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
    ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
    # Requirements are ANDed, with each other and with matchLabels.
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}, {"key": "app", "operator": "In", "values": ["api"]}]}, False),
    ({"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}, {"key": "tier", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}, {"key": "app", "operator": "In", "values": ["web"]}]}, True),
    ({"matchLabels": {"app": "api"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, False),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "Exists"}]}, True),
    # A lone requirement written as an object (as some provider versions model lists) counts.
    ({"matchExpressions": {"key": "tier", "operator": "In", "values": ["back"]}}, False),
])
def test_selects_follows_the_label_selector_semantics(selector, selected):
    assert _selects(selector, POD) is selected


@pytest.mark.parametrize("op,selected_when_present,selected_when_absent", [
    ("In", True, False), ("NotIn", False, True), ("Exists", True, False), ("DoesNotExist", False, True),
])
def test_each_operator_on_present_and_absent_keys(op, selected_when_present, selected_when_absent):
    expr = {"key": "k", "operator": op, "values": ["x"]}
    assert _selects({"matchExpressions": [expr]}, {"k": "x"}) is selected_when_present
    assert _selects({"matchExpressions": [expr]}, {}) is selected_when_absent
    # A present key with another value: In fails, NotIn holds.
    if op in ("In", "NotIn"):
        assert _selects({"matchExpressions": [expr]}, {"k": "y"}) is (op == "NotIn")


# ------------------------------------------------------------------------------ kubernetes rules
# Each rule function is called directly with a manifest-shaped resource (Pulumi's camelCase props).

from fleetform_policies.rules.kubernetes import _default_service_account, _nodeport, _pdb, _pod_security, _rbac, _seccomp

DEPLOY = "kubernetes:apps/v1:Deployment"


def _deployment(pod_profile=None, ctr_profile=None):
    pod_ctx = {"seccompProfile": {"type": pod_profile}} if pod_profile else {}
    ctr_ctx = {"seccompProfile": {"type": ctr_profile}} if ctr_profile else {}
    return {"spec": {"template": {"spec": {"securityContext": pod_ctx,
                                           "containers": [{"name": "web", "securityContext": ctr_ctx}]}}}}


@pytest.mark.parametrize("pod,ctr,messages", [
    # The container's own profile wins; the pod's applies to containers without one
    # (core/v1 SecurityContext.seccompProfile: "If set in both SecurityContext and
    # PodSecurityContext, the value specified in SecurityContext takes precedence").
    ("RuntimeDefault", None, []),
    (None, "RuntimeDefault", []),
    ("Localhost", None, []),
    (None, "Localhost", []),
    ("RuntimeDefault", "Unconfined", ["container 'web' has seccomp profile Unconfined"]),
    ("Unconfined", None, ["container 'web' has seccomp profile Unconfined"]),
    ("Unconfined", "RuntimeDefault", []),
    (None, None, ["container 'web' has seccomp profile unset (Unconfined)"]),
])
def test_seccomp_profile_of_each_container(pod, ctr, messages):
    assert list(_seccomp(DEPLOY, _deployment(pod, ctr), {})) == messages


def test_seccomp_on_a_patch_only_what_it_sets():
    patch = "kubernetes:apps/v1:DeploymentPatch"
    assert list(_seccomp(patch, _deployment(), {})) == []
    assert list(_seccomp(patch, _deployment(None, "Unconfined"), {})) == ["container 'web' has seccomp profile Unconfined"]


SERVICE = "kubernetes:core/v1:Service"


@pytest.mark.parametrize("props,messages", [
    ({"spec": {}}, []),  # type defaults to ClusterIP
    ({"spec": {"type": "ClusterIP"}}, []),
    ({"metadata": {"labels": {"fleetform.io/expose": "internal"}}, "spec": {"type": "LoadBalancer"}}, []),
    ({"metadata": {"labels": {"fleetform.io/expose": "public"}}, "spec": {"type": "LoadBalancer"}}, []),
    ({"metadata": {"labels": {"fleetform.io/expose": "cluster"}}, "spec": {"type": "LoadBalancer"}},
     ["Service type LoadBalancer for a service whose config does not say public or internal (label fleetform.io/expose)"]),
])
def test_nodeport_rule_load_balancers_need_the_expose_label(props, messages):
    assert list(_nodeport(SERVICE, props, {})) == messages


RB = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"


@pytest.mark.parametrize("subject,flagged", [
    ({"kind": "ServiceAccount", "name": "default"}, True),
    ({"kind": "ServiceAccount", "name": "web"}, False),
    ({"kind": "User", "name": "default"}, False),  # a user called default is not the ServiceAccount
    ({"kind": "Group", "name": "default"}, False),
])
def test_default_service_account_binding_needs_both_kind_and_name(subject, flagged):
    found = list(_default_service_account(RB, {"roleRef": {"name": "view"}, "subjects": [subject]}, {}))
    assert bool(found) is flagged


ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"


def test_rbac_wildcards_in_each_list_and_all_of_them_named():
    rules = [{"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]},
             {"apiGroups": [""], "resources": ["pods"], "verbs": ["*", "list*"]}]
    assert list(_rbac(ROLE, {"rules": rules}, {})) == [
        "rules[0].apiGroups contains a wildcard (*)",
        "rules[1].verbs contains a wildcard (*, list*)",
    ]


PDB = "kubernetes:policy/v1:PodDisruptionBudget"


@pytest.mark.parametrize("spec,messages", [
    ({"minAvailable": 1}, []),
    ({"minAvailable": "50%"}, []),
    ({"maxUnavailable": 1}, []),
    ({"minAvailable": "100%"}, ["PodDisruptionBudget allows no disruption (minAvailable 100%): it blocks node drains"]),
])
def test_pdb_min_available(spec, messages):
    assert list(_pdb(PDB, {"spec": spec}, {})) == messages


NS = "kubernetes:core/v1:Namespace"


@pytest.mark.parametrize("label,level,flagged", [
    ("bogus", "baseline", True),  # an unknown level enforces nothing
    ("bogus", "privileged", True),  # not even a level fleetform knows
    ("baseline", "baseline", False),
    ("restricted", "baseline", False),
    ("privileged", "baseline", True),
])
def test_pod_security_unknown_level_ranks_below_every_level(label, level, flagged):
    props = {"metadata": {"name": "apps", "labels": {"pod-security.kubernetes.io/enforce": label}}}
    assert bool(list(_pod_security(NS, props, {"level": level}))) is flagged


def test_seccomp_every_container_is_judged():
    props = {"spec": {"template": {"spec": {"containers": [
        {"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}},
        {"name": "b"},
        {"name": "c", "securityContext": {"seccompProfile": {"type": "Unconfined"}}},
    ]}}}}
    assert list(_seccomp(DEPLOY, props, {})) == ["container 'b' has seccomp profile unset (Unconfined)",
                                                 "container 'c' has seccomp profile Unconfined"]


from fleetform_policies.rules.kubernetes import _read_only_root, _resources  # noqa: E402


def _one_container(ctr):
    return {"spec": {"template": {"spec": {"containers": [{"name": "web", **ctr}]}}}}


@pytest.mark.parametrize("patch", [False, True])
@pytest.mark.parametrize("value,flagged_on_object,flagged_on_patch", [
    (True, False, False), (False, True, True), (None, True, False),  # a patch that leaves it out changes nothing
])
def test_read_only_root_filesystem(patch, value, flagged_on_object, flagged_on_patch):
    t = DEPLOY + ("Patch" if patch else "")
    ctx = {} if value is None else {"readOnlyRootFilesystem": value}
    found = list(_read_only_root(t, _one_container({"securityContext": ctx}), {}))
    assert found == (["container 'web' has a writable root filesystem"] if (flagged_on_patch if patch else flagged_on_object) else [])


def test_resources_each_request_and_limit_is_named():
    ctr = {"resources": {"requests": {"cpu": "100m"}, "limits": {"memory": "128Mi"}}}
    assert list(_resources(DEPLOY, _one_container(ctr), {})) == ["container 'web' has no memory request",
                                                                 "container 'web' has no cpu limit"]


def test_pod_security_names_an_unnamed_namespace_with_a_question_mark():
    props = {"metadata": {"labels": {}}}
    assert list(_pod_security(NS, props, {"level": "restricted"})) == [
        "namespace '?' does not enforce the restricted Pod Security Standard (label pod-security.kubernetes.io/enforce: unset)"]


# ------------------------------------------------------------------------------ stack rules

from fleetform_policies.rules.base import StackResource  # noqa: E402
from fleetform_policies.rules.stack import _pdb_per_deployment, _workload_netpol  # noqa: E402


def _res(kind_type: str, name: str, props: dict) -> StackResource:
    return StackResource(kind_type, f"urn:pulumi:t::p::{kind_type}::{name}", name, props)


def _workload(kind_type: str, name: str, labels: dict, namespace: str = "apps") -> StackResource:
    return _res(kind_type, name, {"metadata": {"name": name, "namespace": namespace},
                                  "spec": {"template": {"metadata": {"labels": labels}}}})


CONFIGMAP = _res("kubernetes:core/v1:ConfigMap", "c", {"metadata": {"name": "c", "namespace": "apps"}})


def test_pdb_rule_judges_deployments_and_statefulsets_after_other_resources():
    """A StatefulSet needs a PDB as a Deployment does; resources before it that are neither do not
    stop the rule."""
    db = _workload("kubernetes:apps/v1:StatefulSet", "db", {"app": "db"})
    web = _workload("kubernetes:apps/v1:Deployment", "web", {"app": "web"})
    pdb = _res("kubernetes:policy/v1:PodDisruptionBudget", "web",
               {"metadata": {"name": "web", "namespace": "apps"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    assert list(_pdb_per_deployment([CONFIGMAP, db, web, pdb], {})) == [(db.urn, "no PodDisruptionBudget covers StatefulSet db")]


def test_pdb_rule_matches_only_the_pdbs_of_the_workloads_namespace():
    web = _workload("kubernetes:apps/v1:Deployment", "web", {"app": "web"})
    other_ns = _res("kubernetes:policy/v1:PodDisruptionBudget", "web",
                    {"metadata": {"name": "web", "namespace": "other"}, "spec": {"selector": {"matchLabels": {"app": "web"}}}})
    assert list(_pdb_per_deployment([web, other_ns], {})) == [(web.urn, "no PodDisruptionBudget covers Deployment web")]


def _netpol(name: str, selector: dict, namespace: str = "apps") -> StackResource:
    return _res("kubernetes:networking.k8s.io/v1:NetworkPolicy", name,
                {"metadata": {"name": name, "namespace": namespace}, "spec": {"podSelector": selector}})


def test_netpol_rule_a_default_deny_alone_does_not_cover_a_workload():
    web = _workload("kubernetes:apps/v1:Deployment", "web", {"app": "web"})
    deny = _netpol("default-deny", {})
    assert list(_workload_netpol([CONFIGMAP, web, deny], {})) == [
        (web.urn, "no NetworkPolicy selects the pods of Deployment web in namespace apps")]
    own = _netpol("web", {"matchLabels": {"app": "web"}})
    assert list(_workload_netpol([CONFIGMAP, web, deny, own], {})) == []
    by_expression = _netpol("web", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]})
    assert list(_workload_netpol([web, by_expression], {})) == []


def test_netpol_rule_matches_only_the_policies_of_the_workloads_namespace_and_every_pod_owner():
    web = _workload("kubernetes:apps/v1:Deployment", "web", {"app": "web"})
    job = _workload("kubernetes:batch/v1:Job", "once", {"app": "once"})
    elsewhere = _netpol("web", {"matchLabels": {"app": "web"}}, namespace="other")
    assert list(_workload_netpol([web, job, elsewhere], {})) == [
        (web.urn, "no NetworkPolicy selects the pods of Deployment web in namespace apps"),
        (job.urn, "no NetworkPolicy selects the pods of Job once in namespace apps")]


def test_stack_rules_name_a_workload_without_metadata_name_by_its_resource_name_in_namespace_default():
    web = _res("kubernetes:apps/v1:Deployment", "res-name", {"spec": {"template": {"metadata": {"labels": {"a": "b"}}}}})
    assert list(_workload_netpol([web], {})) == [
        (web.urn, "no NetworkPolicy selects the pods of Deployment res-name in namespace default")]
    assert list(_pdb_per_deployment([web], {})) == [(web.urn, "no PodDisruptionBudget covers Deployment res-name")]


def test_netpol_rule_a_policy_for_other_pods_or_with_an_empty_selector_does_not_cover():
    web = _workload("kubernetes:apps/v1:Deployment", "web", {"app": "web"})
    flagged = [(web.urn, "no NetworkPolicy selects the pods of Deployment web in namespace apps")]
    assert list(_workload_netpol([web, _netpol("api", {"matchLabels": {"app": "api"}})], {})) == flagged
    # An empty matchLabels selects every pod, as a default deny does: no policy of the workload's own.
    assert list(_workload_netpol([web, _netpol("all", {"matchLabels": {}})], {})) == flagged
