"""The Service exposure of each target pinned where it is made, ``exposure_for`` (issue 17).

The whole :class:`~fleetform.workloads.exposure.Exposure` is compared, so an annotation, a label, a
traffic policy or a class that appears, goes or changes is caught. Expected values come from the
providers' documentation (``docs/research/lb-annotations.md``) and DESIGN §4:
- AWS LBC NLB: ``spec.loadBalancerClass: service.k8s.aws/nlb``; scheme ``internet-facing`` or
  ``internal`` (case-sensitive); target type ``ip``; HTTP health check on ``traffic-port`` at the
  service's path, thresholds 3/3, interval 10, codes 200-399 (the controller's documented values,
  set explicitly because ip targets default to TCP);
- GKE: ``cloud.google.com/l4-rbs: enabled`` (public) or ``networking.gke.io/load-balancer-type:
  Internal``; externalTrafficPolicy Local (the per-Service check follows pod readiness only so);
- AKS: ``service.beta.kubernetes.io/port_<servicePort>_health-probe_protocol/_request-path`` and
  ``azure-load-balancer-internal: "true"`` for internal; externalTrafficPolicy Cluster (the probe
  annotations are ignored under Local);
- MetalLB: ``metallb.io/address-pool``; ServiceLB: nothing; both Local, and ``pulumi up`` waits 5
  minutes for their address instead of pulumi-kubernetes' 10 (they hand one out in seconds; a
  cloud's controller keeps the 10);
- self-managed cloud clusters: a NodePort fronted by fleetform's own load balancer.
Every exposed Service carries ``fleetform.io/expose: <public|internal>`` (the policy pack accepts
LoadBalancer/NodePort Services only with it); ``expose: cluster`` is a plain ClusterIP.
"""

from __future__ import annotations

import pytest

from fleetform.config import LoadBalancerSpec, ServiceSpec
from fleetform.workloads.exposure import EXPOSE_LABEL, FRONTED_BY_FLEETFORM, Exposure, exposure_for

A = "service.beta.kubernetes.io/aws-load-balancer-"
LB = LoadBalancerSpec()  # servicelb
METALLB = LoadBalancerSpec(provider="metallb", public_pool="pub", internal_pool="priv")


def svc(expose: str, path: str = "/ready", service_port: int = 8443) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": "api", "image": "ghcr.io/acme/api:1.2.3", "port": 9090,
                                       "servicePort": service_port, "expose": expose, "health": {"path": path}})


def test_constants_are_the_names_the_policy_pack_reads():
    assert FRONTED_BY_FLEETFORM == "fleetform.io/fronted-by"
    assert EXPOSE_LABEL == "fleetform.io/expose"


def test_exposure_defaults_are_empty():
    e = Exposure(type="ClusterIP")
    assert (e.annotations, e.labels, e.load_balancer_class, e.external_traffic_policy, e.health_check, e.node_port) == (
        {}, {}, None, None, None, None)


@pytest.mark.parametrize("target", ["aws", "gcp", "azure", "onprem", "existing"])
@pytest.mark.parametrize("self_managed", [False, True])
def test_cluster_exposure_is_a_bare_clusterip(target, self_managed):
    e = exposure_for(target, self_managed, svc("cluster"), LB)
    assert e == Exposure(type="ClusterIP", health_check="none (in-cluster only; readiness probe gates endpoints)")


@pytest.mark.parametrize("expose,scheme", [("public", "internet-facing"), ("internal", "internal")])
def test_aws_nlb(expose, scheme):
    e = exposure_for("aws", False, svc(expose, "/ready"), LB)
    assert e == Exposure(
        type="LoadBalancer",
        load_balancer_class="service.k8s.aws/nlb",
        annotations={
            A + "scheme": scheme,
            A + "nlb-target-type": "ip",
            A + "healthcheck-protocol": "http",
            A + "healthcheck-port": "traffic-port",
            A + "healthcheck-path": "/ready",
            A + "healthcheck-healthy-threshold": "3",
            A + "healthcheck-unhealthy-threshold": "3",
            A + "healthcheck-interval": "10",
            A + "healthcheck-success-codes": "200-399",
        },
        labels={EXPOSE_LABEL: expose},
        health_check="NLB HTTP /ready on each pod (target type ip)",
    )


@pytest.mark.parametrize("expose,annotations", [
    ("public", {"cloud.google.com/l4-rbs": "enabled"}),
    ("internal", {"networking.gke.io/load-balancer-type": "Internal"}),
])
def test_gcp_l4(expose, annotations):
    e = exposure_for("gcp", False, svc(expose, "/ready"), LB)
    assert e == Exposure(
        type="LoadBalancer",
        annotations=annotations,
        labels={EXPOSE_LABEL: expose},
        external_traffic_policy="Local",
        health_check="GKE L4 HTTP check on healthCheckNodePort: nodes with a pod ready on /ready",
    )


@pytest.mark.parametrize("expose", ["public", "internal"])
def test_azure_probe_on_the_service_port(expose):
    e = exposure_for("azure", False, svc(expose, "/ready", 8443), LB)
    annotations = {
        "service.beta.kubernetes.io/port_8443_health-probe_protocol": "http",
        "service.beta.kubernetes.io/port_8443_health-probe_request-path": "/ready",
    }
    if expose == "internal":
        annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
    assert e == Exposure(
        type="LoadBalancer",
        annotations=annotations,
        labels={EXPOSE_LABEL: expose},
        external_traffic_policy="Cluster",
        health_check="Azure LB HTTP probe /ready on port 8443",
    )


@pytest.mark.parametrize("target", ["onprem", "existing"])
@pytest.mark.parametrize("expose,pool", [("public", "pub"), ("internal", "priv")])
def test_metallb_pool_per_exposure(target, expose, pool):
    e = exposure_for(target, False, svc(expose, "/ready"), METALLB)
    assert e == Exposure(
        type="LoadBalancer",
        annotations={"metallb.io/address-pool": pool},
        labels={EXPOSE_LABEL: expose},
        external_traffic_policy="Local",
        health_check="metallb: only nodes with a pod ready on /ready serve",
        address_wait="5m",
    )


def test_metallb_without_a_public_pool_names_no_pool():
    lb = LoadBalancerSpec(provider="metallb", internal_pool="priv")
    e = exposure_for("onprem", False, svc("public"), lb)
    assert e.annotations == {} and e.external_traffic_policy == "Local" and e.type == "LoadBalancer"


def test_servicelb_public_has_no_annotations():
    e = exposure_for("existing", False, svc("public", "/ready"), LB)
    assert e == Exposure(
        type="LoadBalancer",
        labels={EXPOSE_LABEL: "public"},
        external_traffic_policy="Local",
        health_check="servicelb: only nodes with a pod ready on /ready serve",
        address_wait="5m",
    )


def test_cloud_provider_annotations_are_a_copy_of_the_config():
    lb = LoadBalancerSpec(provider="cloud", public_annotations={"a": "1"}, internal_annotations={"b": "2"})
    e = exposure_for("existing", False, svc("internal"), lb)
    assert e.annotations == {"b": "2"} and e.labels == {EXPOSE_LABEL: "internal"}
    assert e.address_wait is None  # a cloud's controller: the provider's own 10 minutes
    e.annotations["c"] = "3"
    assert lb.internal_annotations == {"b": "2"}  # the config is not changed through the exposure


def test_internal_on_a_load_balancer_without_private_addresses_is_refused_with_the_whole_message():
    with pytest.raises(ValueError) as info:
        exposure_for("existing", False, svc("internal"), LB)
    assert str(info.value) == (
        "service api: expose internal, but servicelb answers on the nodes' own addresses for public and internal "
        "Services alike; give a load_balancer with an internal pool (metallb) or internal annotations (cloud), "
        "or expose cluster")


@pytest.mark.parametrize("target", ["aws", "gcp", "azure"])
@pytest.mark.parametrize("expose", ["public", "internal"])
def test_self_managed_cloud_is_a_nodeport_fronted_by_fleetform(target, expose):
    e = exposure_for(target, True, svc(expose, "/ready"), LB, node_port=31234)
    assert e == Exposure(
        type="NodePort",
        annotations={FRONTED_BY_FLEETFORM: expose},
        labels={EXPOSE_LABEL: expose},
        external_traffic_policy="Cluster",
        health_check="fleetform-provisioned LB, HTTP /ready on NodePort 31234",
        node_port=31234,
    )


@pytest.mark.parametrize("target", ["aws", "gcp", "azure"])
def test_self_managed_cloud_without_a_node_port_is_refused(target):
    with pytest.raises(ValueError) as info:
        exposure_for(target, True, svc("public"), LB)
    assert str(info.value) == "service api: a self-managed cloud cluster needs its NodePort"


@pytest.mark.parametrize("target", ["onprem", "existing"])
def test_self_managed_off_the_clouds_is_not_fronted(target):
    """onprem/existing run their own LoadBalancer implementation: self_managed does not matter."""
    e = exposure_for(target, True, svc("public"), METALLB, node_port=31234)
    assert e.type == "LoadBalancer" and e.node_port is None and e.annotations == {"metallb.io/address-pool": "pub"}


def test_unknown_target_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError) as info:
        exposure_for("kind", False, svc("public"), LB)
    assert str(info.value) == "service api: target 'kind'; allowed: aws, gcp, azure, onprem, existing"


def test_provider_none_is_a_cluster_ip_that_waits_for_nothing():
    """loadBalancer.provider none (docs/configuration.md, load balancers): nothing hands out
    addresses, so a public service stays ClusterIP (Kubernetes' type name, case-sensitive), reached
    with kubectl port-forward, with no annotation and no wait for an address."""
    e = exposure_for("existing", False, svc("public", "/ready"), LoadBalancerSpec(provider="none"))
    assert e == Exposure(
        type="ClusterIP",
        labels={EXPOSE_LABEL: "public"},
        health_check="none: no load balancer (kubectl port-forward; readiness on /ready)",
    )


def test_cloud_provider_public_takes_the_public_annotations():
    lb = LoadBalancerSpec(provider="cloud", public_annotations={"a": "1"}, internal_annotations={"b": "2"})
    e = exposure_for("existing", False, svc("public"), lb)
    assert e.annotations == {"a": "1"} and e.labels == {EXPOSE_LABEL: "public"} and e.type == "LoadBalancer"
