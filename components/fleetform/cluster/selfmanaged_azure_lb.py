"""The network side of a self-managed Azure cluster (:mod:`.selfmanaged_azure`): its fixed
addresses, the node subnet's NSG rules, and its Standard load balancers (the API's and the
services'). Split from the cluster module by concern; :class:`LoadBalancing` is a mixin of
:class:`~.selfmanaged_azure.SelfManagedAzureCluster`, so every resource keeps the cluster as its
parent and its name (the URNs do not move).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence

import pulumi
from pulumi_azure_native import network

from ..bootstrap.script import API_PORT
from .base import FrontedService

if TYPE_CHECKING:
    from pulumi import Output

    from ..network.azure import AzureNetwork

# Inbound ports between k3s nodes (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes):
# etcd between servers (HA embedded etcd), the supervisor/API from agents, kubelet between all
# nodes, Flannel VXLAN between all nodes ("should not be exposed to the world").
ETCD_PORTS = "2379-2380"
KUBELET_PORT = 10250
VXLAN_PORT = 8472


# ------------------------------------------------------------------------------------ addressing


@dataclass(frozen=True)
class Addressing:
    """The fixed private addresses of a self-managed Azure cluster, all in the node subnet.

    Azure reserves the first four and the last address of a subnet
    (https://learn.microsoft.com/azure/virtual-network/virtual-networks-faq#are-there-any-restrictions-on-using-ip-addresses-within-these-subnets),
    and hands dynamic addresses out from the bottom; the fixed ones are taken from the top: the
    API load balancer's frontend is the last usable address, the masters the ones below it.
    Known before deployment, so the registration address, TLS SANs and kubeconfig never wait for
    (or change with) a cloud output.
    """

    nodes: ipaddress.IPv4Network
    api: str
    masters: tuple[str, ...]

    @classmethod
    def of(cls, nodes: ipaddress.IPv4Network, masters: int) -> "Addressing":
        last = nodes.broadcast_address - 1
        return cls(nodes, str(last), tuple(str(last - 1 - i) for i in range(masters)))


def api_dns_label(cluster: str) -> str:
    """The public API address's DNS label: stable for this project/stack/cluster and unique enough
    for Azure's per-region label namespace, so its FQDN is known before deployment."""
    digest = hashlib.sha256(f"{pulumi.get_project()}/{pulumi.get_stack()}/{cluster}".encode()).hexdigest()[:8]
    return f"api-{cluster}-{digest}"


def api_fqdn(cluster: str, region: str) -> str:
    """``<label>.<region>.cloudapp.azure.com``, the FQDN Azure gives a public IP with a DNS label
    (https://learn.microsoft.com/azure/virtual-network/ip-services/public-ip-addresses#dns-name-label)."""
    return f"{api_dns_label(cluster)}.{region}.cloudapp.azure.com"


# ------------------------------------------------------------------------------------ NSG rules


def _rule(name: str, priority: int, description: str, **kwargs) -> network.SecurityRuleArgs:
    return network.SecurityRuleArgs(
        name=name, priority=priority, description=description, direction="Inbound", source_port_range="*", **kwargs
    )


def security_rules(
    addressing: Addressing, services: Sequence[FrontedService], api_allowed_cidrs: Sequence[str] = ()
) -> list[network.SecurityRuleArgs]:
    """The node subnet's inbound rules: exactly what k3s, the load balancers and the services need,
    then deny everything else (including the VNet, whose default allow rule would let any VNet
    address reach SSH). No rule mentions port 22 or 3389.

    Azure load balancers are pass-through: a load-balanced packet reaches the VM with the
    *client's* source address and the *backend* port (the rule's backendPort, here the NodePort);
    only health probes come from the ``AzureLoadBalancer`` service tag (168.63.129.16)
    (https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview#probe-source-ip-address,
    https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview#security-rules).
    So a public service needs ``Internet`` allowed on its NodePort, and nothing else is ever
    open to the internet: the nodes have no public IPs, so only the public load balancer's
    frontends can deliver such packets. A Standard load balancer passes nothing an NSG does not
    allow (https://learn.microsoft.com/azure/load-balancer/skus).
    """
    nodes = str(addressing.nodes)
    masters = list(addressing.masters)
    public = sorted({s.node_port for s in services if s.expose == "public"})
    internal = sorted({s.node_port for s in services if s.expose == "internal"})
    rules = [
        _rule("allow-lb-health-probes", 100,
              "Azure load balancer health probes: API on the masters, NodePorts on the workers.",
              access="Allow", protocol="Tcp", source_address_prefix="AzureLoadBalancer",
              destination_address_prefix=nodes,
              destination_port_ranges=[str(p) for p in [API_PORT, *public, *internal]]),
        _rule("allow-api-from-vnet", 110,
              "Kubernetes API and k3s supervisor on the masters, from the VNet (nodes, operators).",
              access="Allow", protocol="Tcp", source_address_prefix="VirtualNetwork",
              destination_address_prefixes=masters, destination_port_range=str(API_PORT)),
        _rule("allow-etcd-between-masters", 120, "Embedded etcd client and peer traffic, masters only.",
              access="Allow", protocol="Tcp", source_address_prefixes=masters,
              destination_address_prefixes=masters, destination_port_range=ETCD_PORTS),
        _rule("allow-kubelet-between-nodes", 130, "Kubelet API between the cluster's nodes.",
              access="Allow", protocol="Tcp", source_address_prefix=nodes,
              destination_address_prefix=nodes, destination_port_range=str(KUBELET_PORT)),
        _rule("allow-flannel-vxlan-between-nodes", 140, "Pod network (Flannel VXLAN) between the cluster's nodes.",
              access="Allow", protocol="Udp", source_address_prefix=nodes,
              destination_address_prefix=nodes, destination_port_range=str(VXLAN_PORT)),
    ]
    if api_allowed_cidrs:
        rules.append(_rule(
            "allow-api-from-allowed-cidrs", 150, "controlPlane.publicAccess: the API, only from apiAllowedCidrs.",
            access="Allow", protocol="Tcp", source_address_prefixes=list(api_allowed_cidrs),
            destination_address_prefixes=masters, destination_port_range=str(API_PORT)))
    if internal:
        rules.append(_rule(
            "allow-internal-services-from-vnet", 200,
            "Internal services' NodePorts, behind the internal load balancer.",
            access="Allow", protocol="Tcp", source_address_prefix="VirtualNetwork",
            destination_address_prefix=nodes, destination_port_ranges=[str(p) for p in internal]))
    if public:
        rules.append(_rule(
            "allow-public-services-from-internet", 210,
            "Public services' NodePorts only: the public load balancer keeps the client's address.",
            access="Allow", protocol="Tcp", source_address_prefix="Internet",
            destination_address_prefix=nodes, destination_port_ranges=[str(p) for p in public]))
    rules.append(_rule(
        "deny-all-other-inbound", 4096, "Everything not allowed above, from anywhere (VNet included): no SSH, no RDP.",
        access="Deny", protocol="*", source_address_prefix="*", destination_address_prefix="*",
        destination_port_range="*"))
    return rules



# ------------------------------------------------------------------------------------ load balancers


class LoadBalancing:
    """The load balancers of :class:`~.selfmanaged_azure.SelfManagedAzureCluster` (a mixin: it
    uses the cluster's resource group, location, zones, tags, subnet and subscription)."""

    _name: str
    _rg: "Output[str]"
    _location: str
    _zones: list[str]
    _tags: dict[str, str]
    _child: pulumi.ResourceOptions
    _subnet_id: "Output[str]"
    _subscription: "Output[str]"
    network: "AzureNetwork"

    def _lb_child(self, lb_name: str, kind: str, child: str) -> pulumi.Output[str]:
        """The ARM id of a load balancer's own sub-resource (frontend, pool, probe): the rules that
        reference them are part of the same resource, so the id is spelled out."""
        return pulumi.Output.concat(
            "/subscriptions/", self._subscription, "/resourceGroups/", self.network.resource_group_name,
            "/providers/Microsoft.Network/loadBalancers/", lb_name, "/", kind, "/", child,
        )

    def _load_balancer(
        self, resource: str, lb_name: str, frontends: list[network.FrontendIPConfigurationArgs],
        rules: list[tuple[str, str, int, int, str, network.ProbeArgs]], pool: str, public: bool,
    ) -> network.LoadBalancer:
        """A Standard load balancer: ``rules`` are (rule name, frontend name, frontend port,
        backend port, probe name, probe), all into one backend pool."""
        return network.LoadBalancer(
            resource,
            network.LoadBalancerArgs(
                resource_group_name=self._rg,
                load_balancer_name=lb_name,
                location=self._location,
                sku=network.LoadBalancerSkuArgs(name="Standard", tier="Regional"),
                frontend_ip_configurations=frontends,
                backend_address_pools=[network.BackendAddressPoolArgs(name=pool)],
                probes=[probe for *_, probe in rules],
                load_balancing_rules=[
                    network.LoadBalancingRuleArgs(
                        name=rule,
                        protocol="Tcp",
                        frontend_ip_configuration=network.SubResourceArgs(
                            id=self._lb_child(lb_name, "frontendIPConfigurations", fe)
                        ),
                        frontend_port=frontend_port,
                        backend_address_pool=network.SubResourceArgs(
                            id=self._lb_child(lb_name, "backendAddressPools", pool)
                        ),
                        backend_port=backend_port,
                        probe=network.SubResourceArgs(id=self._lb_child(lb_name, "probes", probe_name)),
                        # Plain DNAT to the node's own address and the backend port (no floating IP).
                        enable_floating_ip=False,
                        enable_tcp_reset=True,
                        idle_timeout_in_minutes=30 if backend_port == API_PORT else 4,
                        load_distribution="Default",
                        # Egress is the NAT gateway's job, never a public frontend's.
                        disable_outbound_snat=True if public else None,
                    )
                    for rule, fe, frontend_port, backend_port, probe_name, _ in rules
                ],
                tags=self._tags,
            ),
            opts=self._child,
        )

    def _internal_frontend(self, fe_name: str, address: Optional[str] = None) -> network.FrontendIPConfigurationArgs:
        return network.FrontendIPConfigurationArgs(
            name=fe_name,
            subnet=network.SubnetArgs(id=self._subnet_id),
            private_ip_allocation_method="Static" if address else "Dynamic",
            private_ip_address=address,
            private_ip_address_version="IPv4",
            zones=self._zones,  # zone-redundant frontend
        )

    def _public_ip(self, resource: str, azure_name: str, dns_label: Optional[str] = None) -> network.PublicIPAddress:
        return network.PublicIPAddress(
            resource,
            network.PublicIPAddressInitArgs(
                resource_group_name=self._rg,
                public_ip_address_name=azure_name,
                location=self._location,
                sku=network.PublicIPAddressSkuArgs(name="Standard", tier="Regional"),
                public_ip_allocation_method="Static",
                public_ip_address_version="IPv4",
                zones=self._zones,
                dns_settings=network.PublicIPAddressDnsSettingsArgs(domain_name_label=dns_label) if dns_label else None,
                tags=self._tags,
            ),
            opts=self._child,
        )

    # ------------------------------------------------------------------ control plane

    def _api_load_balancers(self, addressing: Addressing, fqdn: Optional[str]):
        """The internal API load balancer (always) and, with publicAccess, a public one; returns it
        and the backend pool ids every master NIC joins."""
        name = self._name
        probe = network.ProbeArgs(
            # TCP: /readyz refuses anonymous requests (anonymous-auth=false), so an HTTPS probe
            # would never pass; the gate checks readiness with a client certificate instead.
            name="api", protocol="Tcp", port=API_PORT, interval_in_seconds=5, probe_threshold=2,
        )
        rule = [("api", "api", API_PORT, API_PORT, "api", probe)]
        internal = self._load_balancer(
            f"{name}-api-lb", f"{name}-api", [self._internal_frontend("api", addressing.api)], rule, "masters",
            public=False,
        )
        pools = [pulumi.Output.concat(internal.id, "/backendAddressPools/masters")]
        if fqdn is not None:
            # A NIC may sit in the pools of one internal and one public load balancer.
            ip = self._public_ip(f"{name}-api-public-ip", f"{name}-api", api_dns_label(name))
            public = self._load_balancer(
                f"{name}-api-public-lb", f"{name}-api-public",
                [network.FrontendIPConfigurationArgs(
                    name="api", public_ip_address=network.PublicIPAddressArgs(id=ip.id)
                )],
                rule, "masters", public=True,
            )
            pools.append(pulumi.Output.concat(public.id, "/backendAddressPools/masters"))
        return internal, pools

    def _service_load_balancers(self, services: Sequence[FrontedService]):
        """One public and one internal Standard load balancer for the exposed services, with one
        frontend, one rule ``servicePort -> NodePort`` and one HTTP probe on the health path (on
        the NodePort) per service.

        Not one load balancer per service: a scale set "can reference backend address pools of one
        public and one internal load balancer" (VirtualMachineScaleSetIPConfiguration in the
        compute API; error VMScaleSetCannotUseMultipleLoadBalancersOfSameType,
        https://learn.microsoft.com/azure/load-balancer/load-balancer-common-deployment-errors),
        so with a second public service per-service load balancers could not reach the workers.
        Each service still has its own address (frontend), rule and probe
        (https://learn.microsoft.com/azure/load-balancer/load-balancer-multivip-overview).

        Returns the load balancers by kind, the backend pool ids the workers join, and each
        service's address.
        """
        name = self._name
        lbs: dict[str, network.LoadBalancer] = {}
        pools: list[pulumi.Output[str]] = []
        addresses: dict[str, pulumi.Output[str]] = {}
        for kind in ("public", "internal"):
            chosen = sorted((s for s in services if s.expose == kind), key=lambda s: s.name)
            if not chosen:
                continue
            lb_name = f"{name}-services-{kind}"
            frontends, rules, ips = [], [], {}
            for s in chosen:
                if kind == "public":
                    ips[s.name] = self._public_ip(f"{name}-svc-{s.name}-ip", f"{name}-{s.name}")
                    frontends.append(network.FrontendIPConfigurationArgs(
                        name=s.name, public_ip_address=network.PublicIPAddressArgs(id=ips[s.name].id)
                    ))
                else:
                    frontends.append(self._internal_frontend(s.name))
                # HTTP probe: healthy on "200 OK" from the path
                # (https://learn.microsoft.com/azure/load-balancer/load-balancer-custom-probe-overview).
                # With externalTrafficPolicy Cluster every worker answers the NodePort while any
                # pod of the service is ready.
                probe_name = f"{s.name}-health"
                probe = network.ProbeArgs(
                    name=probe_name, protocol="Http", port=s.node_port, request_path=s.health_path,
                    interval_in_seconds=5, probe_threshold=2,
                )
                rules.append((s.name, s.name, s.service_port, s.node_port, probe_name, probe))
            lb = self._load_balancer(f"{name}-{kind}-lb", lb_name, frontends, rules, "workers", public=kind == "public")
            lbs[kind] = lb
            pools.append(pulumi.Output.concat(lb.id, "/backendAddressPools/workers"))
            for s in chosen:
                if kind == "public":
                    addresses[s.name] = ips[s.name].ip_address.apply(lambda ip: ip or "")
                else:
                    addresses[s.name] = lb.frontend_ip_configurations.apply(
                        lambda fes, fe=s.name: next((f.private_ip_address or "" for f in fes or [] if f.name == fe), "")
                    )
        return lbs, pools, addresses
