"""The Microservice and AppNamespace components pinned where they are made (issue 17).

The objects each component registers are compared whole (kind by kind), from what the docstrings
and DESIGN promise: children named ``<name>-<role>``; the ServiceAccount mounts no token; the
HorizontalPodAutoscaler (autoscaling/v2) scales the Deployment on CPU utilisation between the
config's bounds; the PodDisruptionBudget allows at most one pod down (maxUnavailable, which never
blocks a drain); the namespace enforces Pod Security Admission's ``restricted`` profile
(https://kubernetes.io/docs/concepts/security/pod-security-admission/) next to a default-deny
NetworkPolicy; ``address`` is the load balancer's hostname/IP, or the in-cluster DNS name
``<svc>.<namespace>.svc.cluster.local:<servicePort>`` of a ClusterIP Service.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

import pulumi
import pulumi_kubernetes as k8s
import pytest

from fleetform.config import ServiceSpec
from fleetform.workloads.exposure import Exposure
from fleetform.workloads.microservice import _address, _meta, _service_spec

SEL = {"app.kubernetes.io/name": "web", "app.kubernetes.io/part-of": "fleetform"}
META = {"name": "web", "namespace": "shop", "labels": {**SEL, "app.kubernetes.io/managed-by": "pulumi"}}


def _spec(name: str, **extra) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": name, "image": "ghcr.io/acme/web:1.2.3", "port": 8080, **extra})


# ------------------------------------------------------------------------------ helpers


def test_meta_labels_and_annotations():
    web = _spec("web")
    assert _meta("web", "shop", web) == META
    assert _meta("web", "shop", web, {}) == META  # no empty annotations key
    assert _meta("web", "shop", web, {"a": "1"}, {"x": "y"}) == {
        **META, "annotations": {"a": "1"}, "labels": {**META["labels"], "x": "y"}}


def test_service_spec_carries_only_what_the_exposure_sets():
    web = _spec("web", servicePort=8443)
    port = {"name": "http", "port": 8443, "target_port": "http", "protocol": "TCP"}
    assert _service_spec(web, Exposure(type="ClusterIP")) == {"type": "ClusterIP", "selector": SEL, "ports": [port]}
    full = Exposure(type="NodePort", node_port=31234, load_balancer_class="c", external_traffic_policy="Cluster")
    assert _service_spec(web, full) == {
        "type": "NodePort", "selector": SEL, "ports": [{**port, "node_port": 31234}],
        "load_balancer_class": "c", "external_traffic_policy": "Cluster"}


def _status(*entries):
    return NS(load_balancer=NS(ingress=[NS(hostname=h, ip=i) for h, i in entries]))


@pytest.mark.parametrize("status,address", [
    (None, "fb"),
    (NS(), "fb"),  # no load_balancer yet
    (NS(load_balancer=NS(ingress=None)), "fb"),
    (_status(), "fb"),
    (_status((None, None)), "fb"),
    (_status((None, "203.0.113.7")), "203.0.113.7"),
    (_status(("lb.example", None)), "lb.example"),
    (_status(("lb.example", "203.0.113.7")), "lb.example"),  # the hostname first
    (_status((None, None), (None, "203.0.113.8")), "203.0.113.8"),  # an empty entry is skipped
    (_status((None, "203.0.113.7"), ("lb.example", None)), "203.0.113.7"),  # the first usable entry
])
def test_address_from_a_service_status(status, address):
    assert _address(status, "fb") == address


# ------------------------------------------------------------------------------ the components


def _plan(program):
    from fleetform.testing import plan

    result = plan(program, stack="dev", project="shop")
    assert result.exit_code == 0, result.problems()
    return result


@pytest.fixture
def shop():
    # Function scope: mutmut runs, for a mutant, only the tests that executed the mutated code, and
    # a module-scoped fixture's work counts for the first test that uses it only.
    """web (public, 2-5 replicas at 60% CPU) and api (cluster) in namespace shop."""
    from fleetform import AppNamespace, Microservice

    web = _spec("web", expose="public", autoscale={"min": 2, "max": 5, "cpuPercent": 60},
                servicePort=8443)
    api = _spec("api", egress=[])

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        opts = pulumi.ResourceOptions(provider=provider)
        ns = AppNamespace("apps", "shop", opts=opts)
        pulumi.export("ns", ns.name)
        after = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns]))
        w = Microservice("w", web, namespace="shop", peers={"web": web}, opts=after)
        a = Microservice("a", api, namespace="shop", opts=after)
        pulumi.export("web", w.address)
        pulumi.export("api", a.address)
        pulumi.export("webExposure", w.exposure.type)

    return _plan(program)


def _objects(result, name):
    return {m.kind: m.object for m in result.manifests if m.name == name}


def test_child_names_and_parents(shop):
    by_name = {r.name: r for r in shop.capture.registrations}
    for role in ("sa", "deployment", "service", "hpa", "pdb", "netpol"):
        assert by_name[f"w-{role}"].parent == "urn:pulumi:dev::shop::fleetform:workloads:Microservice::w"
    assert by_name["w"].type == "fleetform:workloads:Microservice"
    assert by_name["apps"].type == "fleetform:workloads:AppNamespace"
    for role in ("ns", "default-deny"):
        assert by_name[f"apps-{role}"].parent == "urn:pulumi:dev::shop::fleetform:workloads:AppNamespace::apps"
    # The Deployment waits for its ServiceAccount, the autoscaler for its Deployment, the
    # default deny for its namespace.
    assert by_name["w-deployment"].dependencies == [by_name["w-sa"].urn]
    assert by_name["w-hpa"].dependencies == [by_name["w-deployment"].urn]
    # The Service waits for its Deployment (ready pods) too, load balanced or not: the provider's
    # Service await needs ready endpoints before the address, all within the Service's timeout
    # (pulumi-kubernetes provider/pkg/await/service.go, Await: "Endpoint objects created ... The
    # endpoints objects target some number of living objects ... External IP address is allocated").
    assert by_name["w-service"].dependencies == [by_name["w-deployment"].urn]
    assert by_name["a-service"].dependencies == [by_name["a-deployment"].urn]
    assert by_name["apps-default-deny"].dependencies == [by_name["apps-ns"].urn]
    # The component's options (the provider) reach every child.
    (provider,) = [r.urn for r in shop.capture.registrations if r.type == "pulumi:providers:kubernetes"]
    for child in ("w-sa", "w-deployment", "w-service", "w-hpa", "w-pdb", "w-netpol", "apps-ns", "apps-default-deny"):
        assert by_name[child].provider == provider + "::kind-id", child
    # ServiceLB (the default load balancer) hands out an address in seconds: the public Service
    # waits 5 minutes for it, not pulumi-kubernetes' 10 (docs/configuration.md, load balancers);
    # a ClusterIP Service has no address to wait for.
    assert by_name["w-service"].custom_timeouts == {"create": "5m", "update": "5m"}
    assert by_name["a-service"].custom_timeouts == {}
    assert all(by_name[c].custom_timeouts == {} for c in ("w-sa", "w-deployment", "w-hpa", "w-pdb", "w-netpol"))


def test_microservice_objects(shop):
    objs = _objects(shop, "web")
    meta = {"name": "web", "namespace": "shop", "labels": {**SEL, "app.kubernetes.io/managed-by": "pulumi"}}
    assert objs["ServiceAccount"] == {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta,
                                      "automountServiceAccountToken": False}
    assert objs["HorizontalPodAutoscaler"] == {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 2, "maxReplicas": 5,
            "metrics": [{"type": "Resource",
                         "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}],
        },
    }
    assert objs["PodDisruptionBudget"] == {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta,
                                           "spec": {"maxUnavailable": 1, "selector": {"matchLabels": SEL}}}
    assert objs["Deployment"]["metadata"] == meta
    assert objs["NetworkPolicy"]["metadata"] == meta
    assert objs["NetworkPolicy"]["spec"]["podSelector"] == {"matchLabels": SEL}
    service = objs["Service"]
    assert service["metadata"] == {**meta, "labels": {**meta["labels"], "fleetform.io/expose": "public"}}
    assert service["spec"] == {"type": "LoadBalancer", "selector": SEL, "externalTrafficPolicy": "Local",
                               "ports": [{"name": "http", "port": 8443, "targetPort": "http", "protocol": "TCP"}]}


def test_address_is_pending_until_the_load_balancer_has_one(monkeypatch):
    """Before its controller writes status.loadBalancer.ingress, a LoadBalancer Service's address
    reads "(pending)": the text `fleetform rollout` waits past (rollout/run.py)."""
    from fleetform import Microservice
    from fleetform.plan import mocks

    monkeypatch.setitem(mocks.OUTPUTS, "kubernetes:core/v1:Service", lambda args: {"status": {"loadBalancer": {}}})

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        w = Microservice("w", _spec("web", expose="public"), opts=pulumi.ResourceOptions(provider=provider))
        pulumi.export("web", w.address)

    assert _plan(program).capture.outputs["web"] == "(pending)"


def test_addresses(shop):
    outputs = shop.capture.outputs
    assert outputs["webExposure"] == "LoadBalancer"
    # The load balancer's address from the Service status (the plan's mocks give a canned one).
    assert outputs["web"] and outputs["web"] not in ("(pending)", "web.shop.svc.cluster.local:8443")
    assert outputs["web"].startswith("198.51.100.") or outputs["web"].endswith(".lb.plan.invalid")
    assert outputs["api"] == "api.shop.svc.cluster.local:80"
    assert outputs["ns"] == "shop"


def test_app_namespace_objects(shop):
    objs = _objects(shop, "shop")
    psa = "pod-security.kubernetes.io/"
    assert objs["Namespace"] == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {
        psa + "enforce": "restricted", psa + "enforce-version": "latest", psa + "audit": "restricted",
        psa + "warn": "restricted", "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "fleetform"}}}
    (deny,) = [m.object for m in shop.manifests if m.kind == "NetworkPolicy" and m.name == "default-deny"]
    assert deny == {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                    "metadata": {"name": "default-deny", "namespace": "shop"},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}


def test_defaults_namespace_target_and_peers():
    """Only a name, a spec and a provider: namespace fleetform, existing-cluster exposure, the
    service its own only peer."""
    from fleetform import AppNamespace, Microservice

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        opts = pulumi.ResourceOptions(provider=provider)
        ns = AppNamespace("ns", opts=opts)
        pulumi.export("ns", ns.name)
        pulumi.export("nsResource", ns.resource.urn)  # the Namespace itself, for depends_on
        m = Microservice("web", _spec("web"), opts=opts)
        pulumi.export("web", m.address)

    result = _plan(program)
    assert result.capture.outputs == {"ns": "fleetform", "web": "web.fleetform.svc.cluster.local:80",
                                      "nsResource": "urn:pulumi:dev::shop::fleetform:workloads:AppNamespace$kubernetes:core/v1:Namespace::ns-ns"}
    assert {m.namespace for m in result.manifests if m.kind != "Namespace"} == {"fleetform"}


def test_bad_arguments_register_nothing():
    from fleetform import Microservice

    def program():
        k8s.core.v1.ConfigMap("c", metadata={"name": "c"}, data={"a": "b"})
        try:
            Microservice("web", _spec("web", expose="public"), target="aws", self_managed=True)
        except ValueError as exc:
            pulumi.export("error", str(exc))

    from fleetform.testing import plan

    result = plan(program)
    assert result.capture.outputs["error"] == "service web: a self-managed cloud cluster needs its NodePort"
    assert [r.type for r in result.capture.registrations] == ["kubernetes:core/v1:ConfigMap"]


def _one(service: ServiceSpec, **kwargs):
    from fleetform import Microservice

    def program():
        provider = k8s.Provider("kind", kubeconfig="/nonexistent/kubeconfig")
        Microservice("m", service, opts=pulumi.ResourceOptions(provider=provider), **kwargs)

    return {m.kind: m.object for m in _plan(program).manifests}


def test_not_self_managed_by_default():
    """target aws alone is a managed cluster (EKS): the AWS load balancer controller's NLB."""
    svc = _one(_spec("web", expose="public"), target="aws")["Service"]
    assert svc["spec"]["type"] == "LoadBalancer" and svc["spec"]["loadBalancerClass"] == "service.k8s.aws/nlb"


def test_self_managed_cloud_gets_the_node_port_given():
    svc = _one(_spec("web", expose="public"), target="aws", self_managed=True, node_port=31234)["Service"]
    assert svc["spec"]["type"] == "NodePort" and svc["spec"]["ports"][0]["nodePort"] == 31234


def test_peers_given_replace_the_default():
    api = _spec("api", port=9090)
    netpol = _one(_spec("web", egress=[{"service": "api"}]), peers={"api": api})["NetworkPolicy"]
    assert netpol["spec"]["egress"][1] == {
        "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api", "app.kubernetes.io/part-of": "fleetform"}}}],
        "ports": [{"port": 9090, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}]}
