"""How a service is exposed on a cluster: the only part of a workload that differs by target.

The table of DESIGN §4, one function per flavour. Every annotation name and value was checked
against the provider's own documentation (the links are next to each); the research notes with
quotes are in ``docs/research/lb-annotations.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Optional

from ..config import LoadBalancerSpec, ServiceSpec

FRONTED_BY_FLEETFORM = "fleetform.io/fronted-by"
"""Annotation on NodePort Services whose load balancer fleetform provisions itself (self-managed
clusters on a cloud). The policy pack accepts NodePort Services only with it."""


EXPOSE_LABEL = "fleetform.io/expose"
"""Label on externally exposed Services: the config's expose value (public or internal)."""


@dataclass(frozen=True)
class Exposure:
    """The exposure-specific part of a Kubernetes Service."""

    type: str
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    load_balancer_class: Optional[str] = None
    external_traffic_policy: Optional[str] = None
    health_check: Optional[str] = None
    """Human summary of the load balancer's health check (for plan output and docs)."""
    node_port: Optional[int] = None
    """Fixed NodePort (only where fleetform's own load balancer forwards to it)."""
    address_wait: Optional[str] = None
    """How long ``pulumi up`` waits for the Service to be ready, its load-balancer address
    included (the Service's ``customTimeouts`` create and update); None: the provider's 10 minutes."""


def _aws(service: ServiceSpec, _lb: LoadBalancerSpec) -> Exposure:
    # AWS Load Balancer Controller, Service annotations:
    # https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/annotations/
    # The class (spec.loadBalancerClass, LBC >= 2.4, https://kubernetes-sigs.github.io/aws-load-balancer-controller/latest/guide/service/nlb/)
    # hands the Service to the controller; it is immutable once created, so it is always set.
    # Target type "ip" sends traffic and health checks straight to the pods, so the NLB checks
    # the service's own health path. Values are case-sensitive ("ip", "internet-facing").
    p = "service.beta.kubernetes.io/aws-load-balancer-"
    return Exposure(
        type="LoadBalancer",
        load_balancer_class="service.k8s.aws/nlb",
        annotations={
            p + "scheme": "internet-facing" if service.expose == "public" else "internal",
            p + "nlb-target-type": "ip",
            p + "healthcheck-protocol": "http",
            p + "healthcheck-port": "traffic-port",
            p + "healthcheck-path": service.health.path,
            p + "healthcheck-healthy-threshold": "3",
            p + "healthcheck-unhealthy-threshold": "3",
            p + "healthcheck-interval": "10",
            p + "healthcheck-success-codes": "200-399",
        },
        health_check=f"NLB HTTP {service.health.path} on each pod (target type ip)",
    )


def _gcp(service: ServiceSpec, _lb: LoadBalancerSpec) -> Exposure:
    # GKE LoadBalancer Service parameters:
    # https://cloud.google.com/kubernetes-engine/docs/concepts/service-load-balancer-parameters
    # Internal passthrough NLB: networking.gke.io/load-balancer-type: "Internal".
    # External: cloud.google.com/l4-rbs: "enabled" (backend-service based; target pools are legacy).
    # GKE offers no health-check path for L4 load balancers. With externalTrafficPolicy Local the
    # per-Service health check probes healthCheckNodePort, which passes only on nodes with a
    # *ready* pod, and readiness is the probe on the service's health path.
    annotations = (
        {"cloud.google.com/l4-rbs": "enabled"}
        if service.expose == "public"
        else {"networking.gke.io/load-balancer-type": "Internal"}
    )
    return Exposure(
        type="LoadBalancer",
        annotations=annotations,
        external_traffic_policy="Local",
        health_check=f"GKE L4 HTTP check on healthCheckNodePort: nodes with a pod ready on {service.health.path}",
    )


def _azure(service: ServiceSpec, _lb: LoadBalancerSpec) -> Exposure:
    # cloud-provider-azure LoadBalancer annotations:
    # https://kubernetes-sigs.github.io/cloud-provider-azure/topics/loadbalancer/
    # Internal: service.beta.kubernetes.io/azure-load-balancer-internal: "true" (AKS:
    # https://learn.microsoft.com/azure/aks/internal-lb). Health probe per Service port:
    # service.beta.kubernetes.io/port_{port}_health-probe_protocol / _request-path. These apply
    # with externalTrafficPolicy Cluster (with Local, AKS ignores them and probes /healthz on
    # healthCheckNodePort), so Cluster is set explicitly.
    p = f"service.beta.kubernetes.io/port_{service.service_port}_health-probe_"
    annotations = {p + "protocol": "http", p + "request-path": service.health.path}
    if service.expose == "internal":
        annotations["service.beta.kubernetes.io/azure-load-balancer-internal"] = "true"
    return Exposure(
        type="LoadBalancer",
        annotations=annotations,
        external_traffic_policy="Cluster",
        health_check=f"Azure LB HTTP probe {service.health.path} on port {service.service_port}",
    )


LOCAL_ADDRESS_WAIT = "5m"
"""The bound on a self-hosted load balancer's address (ServiceLB, MetalLB, cloud-provider-kind)."""


def _self_hosted(service: ServiceSpec, lb: LoadBalancerSpec) -> Exposure:
    # MetalLB: https://metallb.io/usage/ "add the metallb.io/address-pool annotation" (the older
    # metallb.universe.tf prefix is deprecated since 0.14.9). k3s ServiceLB has no pools or
    # health-check settings (https://docs.k3s.io/networking/networking-services). Neither has an
    # HTTP health check of its own: externalTrafficPolicy Local makes them announce/serve only
    # from nodes with a ready pod, whose readiness probe is the service's health path.
    # provider cloud (an existing cluster whose cloud controller serves LoadBalancer Services):
    # the cloud's own annotations come from config, since fleetform does not know which cloud.
    # An internal Service on a load balancer without private addresses is refused (config says
    # so first, with the key; this is the check of a Microservice used on its own).
    problem = lb.internal_problem() if service.expose == "internal" else None
    if problem is not None:
        raise ValueError(f"service {service.name}: expose internal, but {problem}; give a load_balancer with an "
                         "internal pool (metallb) or internal annotations (cloud), or expose cluster")
    if lb.provider == "none":
        # Nothing would ever give a LoadBalancer Service an address (kind without
        # cloud-provider-kind, minikube without `minikube tunnel`): the Kubernetes provider would
        # wait for one until its timeout and fail the update. ClusterIP opens nothing and waits for
        # nothing; the service is reached with kubectl port-forward (docs/targets.md).
        return Exposure(type="ClusterIP",
                        health_check=f"none: no load balancer (kubectl port-forward; readiness on {service.health.path})")
    annotations: dict[str, str] = {}
    if lb.provider == "metallb":
        pool = lb.public_pool if service.expose == "public" else lb.internal_pool
        if pool:
            annotations["metallb.io/address-pool"] = pool
    elif lb.provider == "cloud":
        annotations = dict(lb.public_annotations if service.expose == "public" else lb.internal_annotations)
    return Exposure(
        type="LoadBalancer",
        annotations=annotations,
        external_traffic_policy="Local",
        health_check=f"{lb.provider}: only nodes with a pod ready on {service.health.path} serve",
        # pulumi-kubernetes waits until a Service has no unready endpoint and, for a
        # LoadBalancer, an address (provider/pkg/await/service.go, checkAndLogStatus), 10 minutes
        # unless the resource's customTimeouts say otherwise (provider/pkg/await/await.go,
        # Creation/Update: the default when none is given). Microservice creates the Service
        # after its Deployment is ready, so this bounds the address, less any pod that turns
        # unready meanwhile (a restart, an early scale-up). ServiceLB and
        # MetalLB hand out an address within seconds of the Service (node addresses / a pool),
        # cloud-provider-kind within the minute its proxy container takes to start: when nothing
        # answers after five minutes, nothing will (no controller, an exhausted pool), so the
        # update fails then rather than at ten. A cloud's controller keeps the default.
        address_wait=None if lb.provider == "cloud" else LOCAL_ADDRESS_WAIT,
    )


def _fronted_nodeport(service: ServiceSpec, _lb: LoadBalancerSpec, node_port: Optional[int]) -> Exposure:
    # Self-managed clusters on a cloud: no cloud controller runs, so fleetform provisions the
    # cloud load balancer itself, listening on service_port and forwarding to this fixed NodePort
    # (known before the Service exists), with an HTTP health check on the health path.
    return Exposure(
        type="NodePort",
        annotations={FRONTED_BY_FLEETFORM: service.expose},
        external_traffic_policy="Cluster",
        health_check=f"fleetform-provisioned LB, HTTP {service.health.path} on NodePort {node_port}",
        node_port=node_port,
    )


_FLAVOURS: dict[str, Callable[[ServiceSpec, LoadBalancerSpec], Exposure]] = {
    "aws": _aws,
    "gcp": _gcp,
    "azure": _azure,
    "onprem": _self_hosted,
    "existing": _self_hosted,
}


def exposure_for(
    target: str, self_managed: bool, service: ServiceSpec, lb: LoadBalancerSpec, node_port: Optional[int] = None
) -> Exposure:
    """The Service exposure of ``service`` on a cluster of ``target`` (``node_port``: the fixed
    NodePort fleetform's own load balancer forwards to on self-managed cloud clusters)."""
    if target not in _FLAVOURS:
        raise ValueError(f"service {service.name}: target {target!r}; allowed: {', '.join(_FLAVOURS)}")
    if service.expose == "cluster":
        return Exposure(type="ClusterIP", health_check="none (in-cluster only; readiness probe gates endpoints)")
    if self_managed and target in ("aws", "gcp", "azure"):
        if node_port is None:
            raise ValueError(f"service {service.name}: a self-managed cloud cluster needs its NodePort")
        exposure = _fronted_nodeport(service, lb, node_port)
    else:
        exposure = _FLAVOURS[target](service, lb)
    # The policy pack accepts a LoadBalancer/NodePort Service only when config asked for it.
    return replace(exposure, labels={**exposure.labels, EXPOSE_LABEL: service.expose})
