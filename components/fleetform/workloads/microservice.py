"""A microservice on one cluster: the same objects everywhere, exposed the cluster's way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.core.v1 import ServicePortArgsDict, ServiceSpecArgsDict
from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import NetworkPolicyEgressRuleArgsDict, NetworkPolicySpecArgsDict

from ..config import DEFAULT_DENY_POLICY, LoadBalancerSpec, ServiceSpec
from .exposure import Exposure, exposure_for
from .pod import PORT_NAME, deployment_spec, labels


def _meta(name: str, namespace: str, service: ServiceSpec, annotations: Optional[dict[str, str]] = None,
          extra_labels: Optional[dict[str, str]] = None) -> ObjectMetaArgsDict:
    meta: ObjectMetaArgsDict = {
        "name": name,
        "namespace": namespace,
        "labels": {**labels(service), "app.kubernetes.io/managed-by": "pulumi", **(extra_labels or {})},
    }
    if annotations:
        meta["annotations"] = annotations
    return meta


DEFAULT_NAMESPACE = "fleetform"
"""The namespace of a Microservice or AppNamespace when none is given (fleetform:namespace's default)."""


def _network_policy(service: ServiceSpec, peers: Mapping[str, ServiceSpec]) -> NetworkPolicySpecArgsDict:
    """Ingress only on the service's port; egress only DNS and what config allows."""
    # DNS may be kube-dns pods or a node-local cache address, so the destination is left open
    # and only the port is allowed.
    egress: list[NetworkPolicyEgressRuleArgsDict] = [
        {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
    ]
    for rule in service.egress:
        if rule.service is not None:
            peer = peers.get(rule.service)
            if peer is None:
                raise ValueError(
                    f"service {service.name}: egress to service {rule.service!r}, which is not among the peers given "
                    f"({', '.join(sorted(peers)) or 'none'}); pass its ServiceSpec in peers={{name: spec}}"
                )
            # The peer's pods on their own port (what Kubernetes' NetworkPolicy means: the port after
            # the Service's DNAT) and, when it differs, on the Service's port: the EKS VPC CNI's
            # agent matches traffic to the ClusterIP before translation and documents "the service
            # port must be the same as the container port"
            # (https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html, considerations).
            # Nothing listens on the peer's pods at the Service port, so the second entry opens nothing.
            ports = [peer.port] + ([peer.service_port] if peer.service_port != peer.port else [])
            egress.append({
                "to": [{"pod_selector": {"match_labels": labels(peer)}}],
                "ports": [{"port": p, "protocol": "TCP"} for p in ports],
            })
        else:
            egress.append({
                "to": [{"ip_block": {"cidr": str(rule.cidr)}}],
                "ports": [{"port": p, "protocol": "TCP"} for p in rule.ports],
            })
    return {
        "pod_selector": {"match_labels": labels(service)},
        "policy_types": ["Ingress", "Egress"],
        "ingress": [{"ports": [{"port": service.port, "protocol": "TCP"}]}],
        "egress": egress,
    }


def _service_spec(service: ServiceSpec, exposure: Exposure) -> ServiceSpecArgsDict:
    port: ServicePortArgsDict = {"name": PORT_NAME, "port": service.service_port, "target_port": PORT_NAME, "protocol": "TCP"}
    spec: ServiceSpecArgsDict = {"type": exposure.type, "selector": labels(service), "ports": [port]}
    if exposure.node_port is not None:
        port["node_port"] = exposure.node_port
    if exposure.load_balancer_class is not None:
        spec["load_balancer_class"] = exposure.load_balancer_class
    if exposure.external_traffic_policy is not None:
        spec["external_traffic_policy"] = exposure.external_traffic_policy
    return spec


def _address(status: Any, fallback: str) -> str:
    """The load balancer's hostname or IP from a Service status, or ``fallback`` while pending."""
    ingress = (getattr(getattr(status, "load_balancer", None), "ingress", None) or []) if status else []
    for entry in ingress:
        if entry.hostname or entry.ip:
            return entry.hostname or entry.ip
    return fallback


class Microservice(pulumi.ComponentResource):
    """One service of the fleet on one cluster.

    Usable on its own: a name, a :class:`~fleetform.config.ServiceSpec` and a Kubernetes provider
    (``opts=pulumi.ResourceOptions(provider=...)``) are enough. The rest defaults to an existing
    cluster's behaviour: ``namespace`` ``fleetform`` (create it with :class:`AppNamespace`),
    ``target`` ``existing`` (public/internal services get a LoadBalancer Service the cluster's own
    load balancer implementation serves), ``load_balancer`` k3s ServiceLB, no fixed NodePort, and
    ``peers`` holding only this service (pass the specs of the services its ``egress`` names).
    ``target``/``self_managed`` pick the exposure of DESIGN §4 (aws | gcp | azure | onprem |
    existing).

    Children (named ``<name>-<role>``): ServiceAccount (no token automount), Deployment (the
    same on every target), Service (exposure per target), HorizontalPodAutoscaler (autoscaling/v2),
    PodDisruptionBudget (at most one pod down), NetworkPolicy (ingress on the service port only,
    egress to DNS and the configured destinations).

    Outputs: ``address`` — the load balancer's hostname/IP, or the in-cluster DNS name for
    ``expose: cluster``.
    """

    address: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        service: ServiceSpec,
        *,
        namespace: str = DEFAULT_NAMESPACE,
        target: str = "existing",
        self_managed: bool = False,
        load_balancer: Optional[LoadBalancerSpec] = None,
        peers: Optional[Mapping[str, ServiceSpec]] = None,
        node_port: Optional[int] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ):
        peers = {service.name: service} if peers is None else peers
        # Checked before anything is registered: a bad argument leaves no half-built component.
        exposure = exposure_for(target, self_managed, service, load_balancer or LoadBalancerSpec(), node_port)
        netpol = _network_policy(service, peers)
        super().__init__("fleetform:workloads:Microservice", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        svc = service.name
        self.exposure = exposure

        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa",
            metadata=_meta(svc, namespace, service),
            automount_service_account_token=False,
            opts=child,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=_meta(svc, namespace, service),
            spec=deployment_spec(service),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account]),
        )
        k8s_service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=_meta(svc, namespace, service, exposure.annotations, exposure.labels),
            spec=_service_spec(service, exposure),
            # After the Deployment is ready: the provider's Service await needs no unready
            # endpoint as well as the address, within one timeout (pulumi-kubernetes
            # provider/pkg/await/service.go, checkAndLogStatus), so a short address_wait would
            # otherwise also bound the image pull and start-up.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[deployment],
                custom_timeouts=None if exposure.address_wait is None else pulumi.CustomTimeouts(
                    create=exposure.address_wait, update=exposure.address_wait)),
        )
        k8s.autoscaling.v2.HorizontalPodAutoscaler(
            f"{name}-hpa",
            metadata=_meta(svc, namespace, service),
            spec={
                "scale_target_ref": {"api_version": "apps/v1", "kind": "Deployment", "name": svc},
                "min_replicas": service.min_replicas,
                "max_replicas": service.max_replicas,
                "metrics": [{
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "average_utilization": service.autoscale.cpu_percent},
                    },
                }],
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=_meta(svc, namespace, service),
            # maxUnavailable (not minAvailable) never blocks node drains, even at one replica.
            spec={"max_unavailable": 1, "selector": {"match_labels": labels(service)}},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=_meta(svc, namespace, service),
            spec=netpol,
            opts=child,
        )

        in_cluster = f"{svc}.{namespace}.svc.cluster.local:{service.service_port}"
        if exposure.type == "LoadBalancer":
            self.address = k8s_service.status.apply(lambda s: _address(s, "(pending)"))
        else:
            self.address = pulumi.Output.from_input(in_cluster)
        self.register_outputs({"address": self.address})


class AppNamespace(pulumi.ComponentResource):
    """The namespace fleetform creates for the services on a cluster (never ``default``).

    Pod Security Admission enforces the ``restricted`` profile, and a default-deny
    NetworkPolicy makes each service's own policy the only way in or out.
    """

    name: pulumi.Output[str]

    def __init__(self, name: str, namespace: str = DEFAULT_NAMESPACE, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("fleetform:workloads:AppNamespace", name, None, opts)
        psa = "pod-security.kubernetes.io/"
        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": namespace,
                "labels": {
                    # https://kubernetes.io/docs/concepts/security/pod-security-admission/
                    psa + "enforce": "restricted",
                    psa + "enforce-version": "latest",
                    psa + "audit": "restricted",
                    psa + "warn": "restricted",
                    "app.kubernetes.io/managed-by": "pulumi",
                    "app.kubernetes.io/part-of": "fleetform",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata={"name": DEFAULT_DENY_POLICY, "namespace": namespace},
            spec={"pod_selector": {}, "policy_types": ["Ingress", "Egress"]},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )
        self.name = ns.metadata.apply(lambda m: m.name or namespace)
        self.resource = ns
        self.register_outputs({"name": self.name})
