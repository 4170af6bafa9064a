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


# ------------------------------------------------------------------------------ traffic rules
# dns-endpoints-health-checked (docs/policies.md): every answer a DNS routing policy gives is
# health-checked. Route 53: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-how-route-53-chooses-records.html;
# Cloud DNS routing policies (wrr, geo, primaryBackup with its primary targets and backupGeos):
# https://cloud.google.com/dns/docs/routing-policies-overview; Traffic Manager's monitor (protocol
# HTTP, HTTPS or TCP, a port, and a path for HTTP and HTTPS only):
# https://learn.microsoft.com/azure/traffic-manager/traffic-manager-monitoring.

from fleetform_policies.rules.traffic import (  # noqa: E402
    CLOUD_DNS_RECORD,
    ROUTE53_RECORD,
    TM_ENDPOINT,
    TM_PROFILE,
    _health_checked,
)


def test_route53_record_without_name_or_set_identifier_is_named_by_placeholders():
    props = {"weightedRoutingPolicies": [{"weight": 1}]}
    assert list(_health_checked(ROUTE53_RECORD, props, {})) == [
        "Route 53 record ? (no set identifier) is routed (weightedRoutingPolicies) without a health check: "
        "set healthCheckId, or evaluateTargetHealth on its alias"]


def _dns(policy: dict) -> dict:
    return {"name": "shop.example.com.", "routingPolicy": policy}


EXT = {"externalEndpoints": ["198.51.100.7"]}


@pytest.mark.parametrize("policy,messages", [
    # primaryBackup: the primary's targets and each backup geo are answers too.
    ({"healthCheck": "hc", "primaryBackup": {"primary": EXT, "backupGeos": [{"location": "us-east4", "healthCheckedTargets": EXT}]}}, []),
    ({"healthCheck": "hc", "primaryBackup": {"primary": {}, "backupGeos": [{"location": "us-east4", "healthCheckedTargets": EXT}]}},
     ["Cloud DNS record set shop.example.com.: a primaryBackup.primary item answers without health-checked targets"]),
    ({"healthCheck": "hc", "primaryBackup": {"primary": EXT, "backupGeos": [{"location": "us-east4", "rrdatas": ["203.0.113.80"]}]}},
     ["Cloud DNS record set shop.example.com.: a primaryBackup.backupGeos item answers without health-checked targets"]),
    # External endpoints in the primary need the policy's health check.
    ({"primaryBackup": {"primary": EXT}},
     ["Cloud DNS record set shop.example.com.: external endpoints without routingPolicy.healthCheck"]),
    # Internal load balancers are health-checked by their own backends' checks.
    ({"primaryBackup": {"primary": {"internalLoadBalancers": [{"ipAddress": "10.0.0.5"}]}}}, []),
])
def test_cloud_dns_primary_backup_answers_are_health_checked(policy, messages):
    assert list(_health_checked(CLOUD_DNS_RECORD, _dns(policy), {})) == messages


def test_cloud_dns_every_unchecked_item_is_named_and_an_unnamed_record_set_is_a_question_mark():
    policy = {"healthCheck": "hc", "wrrs": [{"weight": 1, "rrdatas": ["198.51.100.7"]}, {"weight": 1, "rrdatas": ["203.0.113.80"]},
                                             {"weight": 1, "healthCheckedTargets": EXT}]}
    assert list(_health_checked(CLOUD_DNS_RECORD, {"routingPolicy": policy}, {})) == [
        "Cloud DNS record set ?: a wrrs item answers without health-checked targets"] * 2


@pytest.mark.parametrize("t,props,messages", [
    (TM_ENDPOINT, {"endpointName": "a", "alwaysServe": "Enabled"},
     ["Traffic Manager endpoint a has alwaysServe Enabled: it is never health-checked"]),
    (TM_ENDPOINT, {"alwaysServe": "Enabled"}, ["Traffic Manager endpoint ? has alwaysServe Enabled: it is never health-checked"]),
    (TM_ENDPOINT, {"endpointName": "a", "alwaysServe": "Disabled"}, []),
    (TM_ENDPOINT, {"endpointName": "a"}, []),
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"protocol": "HTTPS", "port": 443, "path": "/healthz"}}, []),
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"protocol": "https", "port": 443, "path": "/healthz"}}, []),
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"protocol": "TCP", "port": 443}}, []),
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"protocol": "HTTPS", "port": 443}},
     ["Traffic Manager profile p monitors HTTPS without a path"]),
    (TM_PROFILE, {"monitorConfig": {"protocol": "HTTP", "port": 80}}, ["Traffic Manager profile ? monitors HTTP without a path"]),
    # A monitor needs both a protocol and a port.
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"protocol": "HTTP", "path": "/healthz"}},
     ["Traffic Manager profile p has no endpoint monitor (monitorConfig protocol and port)"]),
    (TM_PROFILE, {"profileName": "p", "monitorConfig": {"port": 80, "path": "/healthz"}},
     ["Traffic Manager profile p has no endpoint monitor (monitorConfig protocol and port)"]),
    (TM_PROFILE, {}, ["Traffic Manager profile ? has no endpoint monitor (monitorConfig protocol and port)"]),
])
def test_traffic_manager_monitor_and_always_serve(t, props, messages):
    assert list(_health_checked(t, props, {})) == messages


# ------------------------------------------------------------------------------ sources

from fleetform_policies.rules.sources import url_of  # noqa: E402


@pytest.mark.parametrize("tool", ["checkov", "kube-linter", "kube-score", "Polaris"])
def test_url_of_an_unknown_check_is_a_key_error_naming_it(tool):
    """``url_of``'s contract (its docstring, and test_policy_sources.py's "KeyError: a check the
    table does not know"): the error names the check, for every tool alike, so a rule citing a typo
    fails with the typo in the message."""
    with pytest.raises(KeyError) as info:
        url_of(tool, "no-such-check")
    assert info.value.args == ("no-such-check",)


# ------------------------------------------------------------------------------ kubernetes rules (2)

from fleetform_policies.rules.kubernetes import _spread  # noqa: E402

SPREAD = "replicas may all land on one node or zone (no topologySpreadConstraints or podAntiAffinity)"


def _replicated(replicas, pod_spec):
    spec = {"replicas": replicas}
    if pod_spec is not None:
        spec["template"] = {"spec": pod_spec}
    return {"spec": spec}


@pytest.mark.parametrize("t,props,messages", [
    # k8s-topology-spread (docs/policies.md; kube-linter no-anti-affinity judges objects of more
    # than one replica): Deployments and StatefulSets alike.
    (DEPLOY, _replicated(3, {"containers": []}), [SPREAD]),
    ("kubernetes:apps/v1:StatefulSet", _replicated(3, {"containers": []}), [SPREAD]),
    ("kubernetes:apps/v1:StatefulSet", _replicated(3, {"topologySpreadConstraints": [{"maxSkew": 1}]}), []),
    ("kubernetes:apps/v1:StatefulSet", _replicated(3, {"affinity": {"podAntiAffinity": {}}}), []),
    ("kubernetes:apps/v1:StatefulSet", _replicated(1, {"containers": []}), []),
    ("kubernetes:apps/v1:StatefulSet", _replicated(2, {"containers": []}), [SPREAD]),
    # spec.replicas defaults to 1 (apps/v1 DeploymentSpec: "Defaults to 1"): one pod, nothing to spread.
    (DEPLOY, {"spec": {"template": {"spec": {"containers": []}}}}, []),
    # A patch changes only what it sets (docs/policies.md): leaving the spread out is not missing.
    (DEPLOY + "Patch", _replicated(3, {"containers": []}), []),
    # No pod template in the props: nothing to judge.
    (DEPLOY, _replicated(3, None), []),
    # Other pod owners are not replicated workloads of this rule.
    ("kubernetes:apps/v1:ReplicaSet", _replicated(3, {"containers": []}), []),
])
def test_spread_judges_replicated_deployments_and_statefulsets(t, props, messages):
    assert list(_spread(t, props, {})) == messages


from fleetform_policies.rules.kubernetes import _capabilities, _service_account  # noqa: E402

SA_DEFAULT = "pod runs as the namespace's default ServiceAccount"


@pytest.mark.parametrize("spec,messages", [
    ({"serviceAccountName": "web", "automountServiceAccountToken": False}, []),
    # serviceAccount is the deprecated alias of serviceAccountName (core/v1 PodSpec: "DeprecatedServiceAccount
    # is a deprecated alias for ServiceAccountName"): it names the account when the new field is unset.
    ({"serviceAccount": "web", "automountServiceAccountToken": False}, []),
    ({"serviceAccount": "default", "automountServiceAccountToken": False}, [SA_DEFAULT]),
    # An empty name is no name: the namespace's default ServiceAccount.
    ({"serviceAccountName": "", "automountServiceAccountToken": False}, [SA_DEFAULT]),
    ({"automountServiceAccountToken": False}, [SA_DEFAULT]),
])
def test_service_account_name_and_its_deprecated_alias(spec, messages):
    props = {"spec": {"template": {"spec": spec}}}
    assert list(_service_account(DEPLOY, props, {})) == messages


@pytest.mark.parametrize("t,caps,messages", [
    (DEPLOY, {"drop": ["ALL"]}, []),
    (DEPLOY, None, ["container 'web' does not drop ALL capabilities"]),
    (DEPLOY, {"drop": ["all"], "add": ["NET_ADMIN", "sys_time"]}, ["container 'web' adds capabilities NET_ADMIN, SYS_TIME"]),
    # A patch changes only what it sets (docs/policies.md): no capabilities, or only an add, leaves
    # the drop list as it was; a drop list it sets without ALL is reported.
    (DEPLOY + "Patch", None, []),
    (DEPLOY + "Patch", {"add": ["NET_ADMIN"]}, ["container 'web' adds capabilities NET_ADMIN"]),
    (DEPLOY + "Patch", {"drop": ["NET_RAW"]}, ["container 'web' does not drop ALL capabilities"]),
    (DEPLOY + "Patch", {"drop": ["ALL"]}, []),
])
def test_capabilities_on_objects_and_patches(t, caps, messages):
    ctx = {} if caps is None else {"capabilities": caps}
    assert list(_capabilities(t, _one_container({"securityContext": ctx}), {})) == messages


from fleetform_policies.rules.kubernetes import _host_namespaces, _host_network  # noqa: E402


@pytest.mark.parametrize("ports,messages", [
    # core/v1 ContainerPort.hostPort: "If specified, must be a valid port number, 0 < x < 65536"; a
    # port without one (or 0, as some renderers write "unset") binds nothing on the node.
    ([{"containerPort": 8080}], []),
    ([{"containerPort": 8080, "hostPort": 0}], []),
    ([{"containerPort": 8080, "hostPort": 8080}], ["container 'web' binds hostPort 8080"]),
])
def test_host_network_host_ports(ports, messages):
    assert list(_host_network(DEPLOY, _one_container({"ports": ports}), {})) == messages


@pytest.mark.parametrize("path,what", [
    ("/var/log", "a hostPath"),
    ("/var/run/docker.sock", "the container runtime socket"),
    ("/run/containerd/containerd.sock", "the container runtime socket"),
])
def test_host_namespaces_names_a_runtime_socket_apart_from_other_host_paths(path, what):
    props = {"spec": {"template": {"spec": {"containers": [], "volumes": [{"name": "v", "hostPath": {"path": path}}]}}}}
    assert list(_host_namespaces(DEPLOY, props, {})) == [f"volume 'v' mounts {what} ({path})"]


from fleetform_policies.rules.kubernetes import _default_namespace, _env_secrets, _probes_distinct  # noqa: E402


def _probed(ready, live):
    return _one_container({"readinessProbe": ready, "livenessProbe": live})


SAME = "container 'web' has identical readiness and liveness probes ({}): a dependency that fails readiness restarts the container"


@pytest.mark.parametrize("ready,live,found", [
    # What a probe asks, as kube-score's areProbesIdentical compares it (score/probes/probes.go):
    # an HTTP GET's path and port (a GET of an empty path requests "/", RFC 9110 section 4.2.3 /
    # 7.1 origin-form), a TCP socket's port, an exec command, a gRPC port and service.
    ({"httpGet": {"port": 8080}}, {"httpGet": {"path": "/", "port": 8080}}, SAME.format("httpGet / 8080")),
    ({"httpGet": {"path": "/a", "port": 8080}}, {"httpGet": {"path": "/a", "port": 9090}}, None),
    ({"tcpSocket": {"port": 8080}}, {"tcpSocket": {"port": 8080.0}}, SAME.format("tcpSocket 8080")),
    ({"tcpSocket": {"port": 8080}}, {"tcpSocket": {"port": 9090}}, None),
    ({"tcpSocket": {"port": 8080}}, {"grpc": {"port": 8080}}, None),
    ({"exec": {"command": ["cat", "/tmp/ready"]}}, {"exec": {"command": ["cat", "/tmp/ready"]}}, "exec"),
    ({"exec": {"command": ["cat", "/tmp/ready"]}}, {"exec": {"command": ["cat", "/tmp/live"]}}, None),
    ({"exec": {"command": ["true"]}}, {"tcpSocket": {"port": 8080}}, None),
    ({"grpc": {"port": 9000}}, {"grpc": {"port": 9000.0, "service": ""}}, "grpc 9000"),
    ({"grpc": {"port": 9000, "service": "ready"}}, {"grpc": {"port": 9000, "service": "live"}}, None),
    ({"grpc": {"port": 9000}}, {"grpc": {"port": 9001}}, None),
    # Only timings differ: the same question.
    ({"httpGet": {"path": "/h", "port": "http"}, "periodSeconds": 5}, {"httpGet": {"path": "/h", "port": "http"}, "periodSeconds": 10},
     SAME.format("httpGet /h http")),
])
def test_probes_distinct_compares_what_each_probe_asks(ready, live, found):
    messages = list(_probes_distinct(DEPLOY, _probed(ready, live), {}))
    if found is None:
        assert messages == []
    elif found.startswith("container"):
        assert messages == [found]
    else:  # exec and gRPC: the kind and what is asked are named
        assert len(messages) == 1 and f"identical readiness and liveness probes ({found}" in messages[0]


@pytest.mark.parametrize("env,messages", [
    # k8s-no-secrets-in-env (docs/policies.md): plain values under secret-looking names and
    # secretKeyRef are reported; a ConfigMap or field reference is neither, nor is an empty value.
    ([{"name": "API_TOKEN", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}], []),
    ([{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}], []),
    ([{"name": "PASSWORD", "value": ""}], []),
    ([{"name": "PASSWORD", "value": "hunter2"}], ["container 'web' has a plain-text value in secret-looking env PASSWORD"]),
    ([{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
     ["container 'web' reads secret into env DB (mount secrets as files)"]),
])
def test_env_secrets_only_secret_sources_and_plain_secret_values(env, messages):
    assert list(_env_secrets(DEPLOY, _one_container({"env": env}), {})) == messages


NO_NS = "in no namespace (the provider's default: default unless it sets one)"


@pytest.mark.parametrize("t,metadata,messages", [
    # An empty namespace is no namespace (the provider's default applies).
    ("kubernetes:core/v1:ConfigMap", {"name": "c", "namespace": ""}, [f"ConfigMap c is {NO_NS}"]),
    ("kubernetes:core/v1:ConfigMap", {}, [f"ConfigMap ? is {NO_NS}"]),
    ("kubernetes:core/v1:ConfigMap", {"name": "c", "namespace": "apps"}, []),
    # What Kubernetes itself puts in default: the API server's Service `kubernetes`
    # (https://kubernetes.io/docs/tasks/run-application/access-api-from-pod/) and the ServiceAccount `default`.
    ("kubernetes:core/v1:Service", {"name": "kubernetes", "namespace": "default"}, []),
    ("kubernetes:core/v1:ServiceAccount", {"name": "default", "namespace": "default"}, []),
    ("kubernetes:core/v1:Service", {"name": "web", "namespace": "default"}, ["Service web is in the default namespace"]),
])
def test_default_namespace_and_what_kubernetes_puts_there(t, metadata, messages):
    assert list(_default_namespace(t, {"metadata": metadata}, {})) == messages


from fleetform_policies.rules.kubernetes import _image_pinned, _non_root, _replicas  # noqa: E402

ROOT_MSG = "container 'web' may run as root (runAsNonRoot is not true)"


def _uid_msg(uid):
    return f"container 'web' runs with UID {uid}, not >= 10000"


@pytest.mark.parametrize("t,pod_ctx,ctr_ctx,messages", [
    # checkov CKV_K8S_23/40; the container's securityContext wins over the pod's, which applies to
    # containers that leave a field unset (core/v1 SecurityContext: "If set in both SecurityContext
    # and PodSecurityContext, the value specified in SecurityContext takes precedence").
    (DEPLOY, {"runAsNonRoot": True, "runAsUser": 10001}, None, []),
    (DEPLOY, {"runAsNonRoot": True, "runAsUser": 10001}, {}, []),
    (DEPLOY, None, {"runAsNonRoot": True, "runAsUser": 10001}, []),
    (DEPLOY, {"runAsNonRoot": True, "runAsUser": 10001}, {"runAsNonRoot": False}, [ROOT_MSG]),
    (DEPLOY, {"runAsNonRoot": True, "runAsUser": 1000}, {"runAsUser": 20000}, []),
    (DEPLOY, {"runAsNonRoot": True}, {"runAsUser": 10000}, []),  # minUid itself is allowed
    (DEPLOY, {"runAsNonRoot": True}, {"runAsUser": 9999}, [_uid_msg(9999)]),
    (DEPLOY, {"runAsNonRoot": True}, {"runAsUser": 9999.0}, [_uid_msg(9999)]),  # the wire's double
    (DEPLOY, None, None, [ROOT_MSG, _uid_msg("from the image")]),
    # A patch changes only what it sets (docs/policies.md).
    (DEPLOY + "Patch", None, {}, []),
    (DEPLOY + "Patch", None, {"runAsNonRoot": False}, [ROOT_MSG]),
    (DEPLOY + "Patch", None, {"runAsUser": 0}, [_uid_msg(0)]),
])
def test_non_root_container_overrides_pod_and_patches(t, pod_ctx, ctr_ctx, messages):
    ctr = {"name": "web"} if ctr_ctx is None else {"name": "web", "securityContext": ctr_ctx}
    spec = {"containers": [ctr]} if pod_ctx is None else {"containers": [ctr], "securityContext": pod_ctx}
    assert list(_non_root(t, {"spec": {"template": {"spec": spec}}}, {"minUid": 10000})) == messages


DIGEST = "@sha256:" + "0" * 64


@pytest.mark.parametrize("t,image,require_digest,messages", [
    # checkov CKV_K8S_14 (a tag other than latest), CKV_K8S_43 (a digest) with requireDigest. A
    # registry's port is not a tag (https://docs.docker.com/reference/cli/docker/image/tag/).
    (DEPLOY, "nginx", False, ["container 'web' image 'nginx' is not pinned (no tag, or latest)"]),
    (DEPLOY, "nginx:latest", False, ["container 'web' image 'nginx:latest' is not pinned (no tag, or latest)"]),
    (DEPLOY, "registry:5000/nginx", False, ["container 'web' image 'registry:5000/nginx' is not pinned (no tag, or latest)"]),
    (DEPLOY, "registry:5000/team/nginx:1.25", False, []),
    (DEPLOY, "nginx:1.25", False, []),
    (DEPLOY, "nginx:1.25", True, ["container 'web' image 'nginx:1.25' is not pinned by digest"]),
    (DEPLOY, "nginx" + DIGEST, True, []),
    (DEPLOY, "nginx:1.25" + DIGEST, True, []),
    (DEPLOY, None, False, ["container 'web' image '' is not pinned (no tag, or latest)"]),
    (DEPLOY + "Patch", None, True, []),  # a patch that sets no image changes none
    (DEPLOY + "Patch", "nginx:latest", False, ["container 'web' image 'nginx:latest' is not pinned (no tag, or latest)"]),
])
def test_image_pinned_tags_digests_and_patches(t, image, require_digest, messages):
    ctr = {} if image is None else {"image": image}
    assert list(_image_pinned(t, _one_container(ctr), {"requireDigest": require_digest})) == messages


HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"


@pytest.mark.parametrize("t,spec,low,messages", [
    # k8s-replicas (docs/policies.md). spec.replicas and an HPA's minReplicas default to 1
    # (apps/v1 DeploymentSpec, autoscaling/v2 HorizontalPodAutoscalerSpec).
    (DEPLOY, {"replicas": 1}, 2, ["Deployment has 1 replica(s), fewer than 2"]),
    (DEPLOY, {}, 2, ["Deployment has 1 replica(s), fewer than 2"]),
    (DEPLOY, {"replicas": 2.0}, 2, []),
    (DEPLOY, {"replicas": 2}, 3, ["Deployment has 2 replica(s), fewer than 3"]),
    ("kubernetes:apps/v1:StatefulSet", {"replicas": 1}, 2, ["StatefulSet has 1 replica(s), fewer than 2"]),
    (DEPLOY + "Patch", {}, 2, []),
    (DEPLOY + "Patch", {"replicas": 1}, 2, ["Deployment has 1 replica(s), fewer than 2"]),
    (HPA, {}, 2, ["HorizontalPodAutoscaler may scale down to 1 replica(s), fewer than 2"]),
    (HPA, {"minReplicas": 2}, 2, []),
    (HPA + "Patch", {}, 2, []),
    (HPA + "Patch", {"minReplicas": 1.0}, 2, ["HorizontalPodAutoscaler may scale down to 1 replica(s), fewer than 2"]),
    ("kubernetes:core/v1:Pod", {}, 2, ["bare Pod: use a Deployment (or another controller) so it is rescheduled"]),
    ("kubernetes:core/v1:PodPatch", {}, 2, []),
    ("kubernetes:apps/v1:DaemonSet", {}, 2, []),
])
def test_replicas_defaults_patches_and_the_configured_floor(t, spec, low, messages):
    assert list(_replicas(t, {"spec": spec}, {"minReplicas": low})) == messages


from fleetform_policies.rules.kubernetes import _probes  # noqa: E402


def test_probes_a_patch_and_run_to_completion_pods_need_none():
    """k8s-probes / k8s-probes-distinct (docs/policies.md): a patch changes only what it sets; Jobs
    and CronJobs run to completion (checkov CKV_K8S_8/9 and kube-score skip them)."""
    bare = {"spec": {"template": {"spec": {"containers": [{"name": "web"}]}}}}
    assert list(_probes(DEPLOY + "Patch", bare, {})) == []
    assert list(_probes(DEPLOY, bare, {})) == ["container 'web' has no readiness probe", "container 'web' has no liveness probe"]
    same = {"tcpSocket": {"port": 8080}}
    job = {"spec": {"template": {"spec": {"containers": [{"name": "web", "readinessProbe": same, "livenessProbe": same}]}}}}
    assert list(_probes_distinct("kubernetes:batch/v1:Job", job, {})) == []
    assert list(_probes_distinct(DEPLOY, job, {})) == [SAME.format("tcpSocket 8080")]


def test_probes_distinct_judges_every_container():
    same = {"tcpSocket": {"port": 8080}}
    props = {"spec": {"template": {"spec": {"containers": [
        {"name": "first", "readinessProbe": same},  # no liveness probe: nothing to compare
        {"name": "web", "readinessProbe": same, "livenessProbe": same},
    ]}}}}
    assert list(_probes_distinct(DEPLOY, props, {})) == [SAME.format("tcpSocket 8080")]


# ------------------------------------------------------------------------------ base helpers

from fleetform_policies.rules.base import (  # noqa: E402
    is_zero,
    pod_metadata,
    port_in,
    port_range_includes,
    truthy,
    with_patches,
)


def test_with_patches_adds_each_types_server_side_apply_patch():
    # pulumi-kubernetes names the patch resource of every kind <kind>Patch
    # (https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/).
    assert with_patches(["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:Service"]) == (
        "kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:DeploymentPatch",
        "kubernetes:core/v1:Service", "kubernetes:core/v1:ServicePatch")


@pytest.mark.parametrize("value,zero", [
    (0, True), (0.0, True), ("0", True), (" 0 ", True), ("0%", True),
    (1, False), ("1", False), ("10%", False), (False, False), (True, False),  # a boolean is no quantity
])
def test_is_zero_int_or_string_quantities(value, zero):
    assert is_zero(value) is zero


@pytest.mark.parametrize("value,result", [
    (True, True), ("true", True), (" TRUE ", True), (False, False), ("false", False), (None, False), (1, False),
])
def test_truthy_boolean_or_its_string(value, result):
    assert truthy(value) is result


@pytest.mark.parametrize("lo,hi,port,inside", [
    (22, 22, 22, True), (20, 30, 20, True), (20, 30, 30, True), (20, 30, 31, False), ("22", "22", 22, True),
    # -1, and 0 to 0 (the all-traffic rule: "protocol -1 ... from_port and to_port must be 0",
    # https://registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/security_group), mean every port.
    (-1, -1, 22, True), (0, 0, 22, True), (0, 65535, 22, True),
    (0, 10, 22, False),  # from 0 to a port below it is a range, not every port
    ("x", 22, 22, False), (None, None, 22, False),
])
def test_port_in(lo, hi, port, inside):
    assert port_in(port, lo, hi) is inside


@pytest.mark.parametrize("spec,port,inside", [
    # Azure NSG destinationPortRange(s) and GCP firewall ports: "22", "20-30", "*", or a list.
    ("22", 22, True), ("22", 23, False), ("20-30", 20, True), ("20-30", 30, True), ("20-30", 31, False),
    ("*", 22, True), (["80", "443"], 22, False), (["80", "20-25"], 22, True), ([22.0], 22, True),
])
def test_port_range_includes(spec, port, inside):
    assert port_range_includes(spec, port) is inside


@pytest.mark.parametrize("t,props", [
    ("kubernetes:core/v1:Pod", {"metadata": {"labels": {"app": "web"}}}),
    ("kubernetes:core/v1:PodTemplate", {"template": {"metadata": {"labels": {"app": "web"}}}}),
    ("kubernetes:batch/v1:CronJob", {"spec": {"jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}}}),
    ("kubernetes:apps/v1:DeploymentPatch", {"spec": {"template": {"metadata": {"labels": {"app": "web"}}}}}),
])
def test_pod_metadata_where_each_kind_keeps_its_pods_metadata(t, props):
    assert pod_metadata(t, props) == {"labels": {"app": "web"}}
    assert pod_metadata(t, {}) == {}


from fleetform_policies.rules.base import all_containers, cname, internet_in, network  # noqa: E402


def test_all_containers_counts_init_and_ephemeral_containers():
    """core/v1 PodSpec runs initContainers, containers and ephemeralContainers: a rule over
    containers judges all three (a privileged init container is as privileged)."""
    spec = {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}], "ephemeralContainers": [{"name": "debug"}]}
    assert [cname(c) for c in all_containers(spec)] == ["init", "app", "debug"]
    assert all_containers(None) == []
    assert cname({}) == "?"  # a container without a name, in a message


@pytest.mark.parametrize("value,expected", [
    ("10.0.0.1/8", "10.0.0.0/8"),  # host bits ignored (network's docstring)
    (" 0.0.0.0/0 ", "0.0.0.0/0"),
    ("2001:DB8::1/32", "2001:db8::/32"),
    ("sg-123", None),
    (None, None),
])
def test_network_ignores_host_bits(value, expected):
    found = network(value)
    assert (str(found) if found is not None else None) == expected


def test_internet_in_skips_what_is_no_network():
    # Security group ids and other non-CIDR sources sit next to CIDRs in the same lists.
    assert internet_in(["sg-123", "10.0.0.0/8"]) is None
    assert internet_in(["sg-123", "0.0.0.0/0"]) == "0.0.0.0/0"


from fleetform_policies.rules.base import pod_spec  # noqa: E402


@pytest.mark.parametrize("t,props", [
    # Where each object keeps its pod spec (core/v1 Pod.spec, PodTemplate.template.spec,
    # batch/v1 CronJob.spec.jobTemplate.spec.template.spec, the controllers' spec.template.spec).
    ("kubernetes:core/v1:Pod", {"spec": {"hostPID": True}}),
    ("kubernetes:core/v1:PodPatch", {"spec": {"hostPID": True}}),
    ("kubernetes:core/v1:PodTemplate", {"template": {"spec": {"hostPID": True}}}),
    ("kubernetes:batch/v1:CronJob", {"spec": {"jobTemplate": {"spec": {"template": {"spec": {"hostPID": True}}}}}}),
    ("kubernetes:batch/v1:Job", {"spec": {"template": {"spec": {"hostPID": True}}}}),
    ("kubernetes:apps/v1:DaemonSet", {"spec": {"template": {"spec": {"hostPID": True}}}}),
])
def test_pod_spec_where_each_kind_keeps_its_pod_spec(t, props):
    assert pod_spec(t, props) == {"hostPID": True}
    assert pod_spec(t, {}) is None


# ---- judged 2026-12-03 (second pass): pins for the kubernetes.py and base.py survivors left open.

from fleetform_policies.rules.base import Rule, dig, waiver_for  # noqa: E402
from fleetform_policies.rules.kubernetes import _probe_target  # noqa: E402


def test_image_pinned_judges_every_container_after_a_skipped_one():
    """checkov CKV_K8S_14/43 judge each container: a container skipped (a patch that sets no image,
    or one pinned by digest) does not end the check for the containers after it."""
    unpinned = {"name": "app", "image": "nginx:latest"}
    msg = ["container 'app' image 'nginx:latest' is not pinned (no tag, or latest)"]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web"}, unpinned]}}}}
    assert list(_image_pinned(DEPLOY + "Patch", patch, {"requireDigest": False})) == msg
    pinned = {"name": "web", "image": "nginx" + DIGEST}
    obj = {"spec": {"template": {"spec": {"containers": [pinned, unpinned]}}}}
    assert list(_image_pinned(DEPLOY, obj, {"requireDigest": True})) == msg


@pytest.mark.parametrize("probe,target", [
    # What a probe asks (kube-score areProbesIdentical, cited in _probe_target): an exec's command
    # itself; a gRPC port and service (core/v1 GRPCAction, service defaults to ""); a probe with
    # no handler (core/v1 Probe: exactly one of exec, httpGet, tcpSocket, grpc) asks nothing.
    ({"exec": {"command": ["cat", "/tmp/healthy"]}}, ("exec", ("cat", "/tmp/healthy"))),
    ({"grpc": {"port": 9090}}, ("grpc", "9090", "")),
    ({"periodSeconds": 10}, None),
    ({}, None),
])
def test_probe_target_is_the_handler_and_what_it_asks(probe, target):
    assert _probe_target(probe) == target


def test_spread_node_affinity_is_not_anti_affinity():
    """Polaris topologySpreadConstraint / kube-linter no-anti-affinity: only topologySpreadConstraints
    or podAntiAffinity spread replicas; a nodeAffinity alone places them, it does not spread them."""
    spec = {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}}, "containers": []}
    props = {"spec": {"replicas": 3, "template": {"spec": spec}}}
    assert list(_spread(DEPLOY, props, {})) == [
        "replicas may all land on one node or zone (no topologySpreadConstraints or podAntiAffinity)"]


@pytest.mark.parametrize("path,found", [
    # dig's docstring: props[path[0]][path[1]]... or the default where a level is missing.
    (("a", 1), 2), (("a", 0), 1),
    (("a", 2), None), (("a", 5), None),  # past the end of a list
    (("s", 0), None),  # a string is not a list of levels
    (("m", 0), None),  # an int key on a mapping
])
def test_dig_list_indexes(path, found):
    assert dig({"a": [1, 2], "s": "xyz", "m": {0: "x"}}, *path) == found


def _rule(*types):
    return Rule("r", "d", "low", "s", "advisory", check=lambda t, p, c: [], types=types)


@pytest.mark.parametrize("types,resource_type,applies", [
    # Rule.types: exact tokens, or prefixes ending with ":" (base.Rule's docstring).
    (("kubernetes:",), "kubernetes:apps/v1:Deployment", True),
    (("kubernetes:",), "aws:ec2/instance:Instance", False),
    (("aws:ec2/securityGroup:SecurityGroup",), "aws:ec2/securityGroup:SecurityGroup", True),
    (("aws:ec2/securityGroup:SecurityGroup",), "aws:ec2/securityGroup:SecurityGroupRule", False),
])
def test_rule_applies_to_exact_tokens_and_prefixes(types, resource_type, applies):
    assert _rule(*types).applies_to(resource_type) is applies


def _waived_res(t="kubernetes:apps/v1:Deployment", name="web", service=None):
    props = {"metadata": {"labels": {"app.kubernetes.io/name": service}}} if service else {"metadata": {}}
    return StackResource(t, f"urn:pulumi:prod::fleetform::{t}::{name}", name, props)


def test_waiver_for_name_or_urn_glob_and_service_label():
    """docs/policies.md "Waivers": `resource` is a Pulumi resource name or URN (globs); `service`
    covers the Kubernetes objects labelled app.kubernetes.io/name: <service>; the first waiver that
    covers the resource is the one."""
    by_urn = {"resource": "urn:pulumi:prod::*::web", "reason": "r"}
    assert waiver_for([by_urn], _waived_res()) is by_urn
    assert waiver_for([{"resource": "urn:pulumi:dev::*", "reason": "r"}], _waived_res()) is None
    later = {"resource": "web", "reason": "r"}
    assert waiver_for(["not a waiver", later], _waived_res()) is later  # a malformed entry is skipped
    # a resource waiver that does not match an unlabelled Kubernetes object does not cover it
    assert waiver_for([{"resource": "db", "reason": "r"}], _waived_res()) is None
    cache = {"service": "cache", "reason": "r"}
    assert waiver_for([cache], _waived_res(service="cache")) is cache
    assert waiver_for([cache], _waived_res(service="web")) is None


def test_port_in_a_range_from_zero_is_every_port_only_when_it_ends_at_65535():
    # From 0 to 1 is ports 0 and 1 (the EC2 API's FromPort/ToPort range), not every port.
    assert port_in(22, 0, 1) is False
    assert port_in(1, 0, 1) is True
