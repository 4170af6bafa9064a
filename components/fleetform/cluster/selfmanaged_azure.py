"""Target ``azure``, mode ``self-managed``: fleetform's own k3s masters and workers as Azure VMs.

The network is the AKS target's (:class:`fleetform.network.azure.AzureNetwork`: resource group,
VNet, one regional node subnet, NAT gateway) with an NSG rule set of this module's own. The k3s
bootstrap is the one of every self-managed cluster (:mod:`fleetform.bootstrap`), handed to each
VM as cloud-init custom data; the cluster identity (CAs, admin certificate, join tokens) is minted
by Pulumi, so the kubeconfig is assembled from Pulumi's own outputs.

Only the azure-native submodules used here are loaded (the package loads each one lazily, on
first attribute access); no other cloud's SDK is imported.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import pulumi
import pulumi_command as command
import pulumi_tls as tls
from pulumi_azure_native import authorization, compute, managedidentity, monitor, network

from ..bootstrap import (
    InstallSource,
    NodeBootstrap,
    api_url,
    config_sha256,
    k3s_release,
    readiness_probe,
    render_cloud_init,
)
from ..bootstrap.identity import ClusterIdentity, api_access
from ..bootstrap.script import API_PORT
from ..config import ClusterSpec, NodePoolSpec, Taint
from ..network.azure import MAX_AZURE_ZONES, AzureNetwork, AzureNetworkArgs, network_plan, node_range
from .base import Cluster, ClusterContext, FrontedService

DEFAULT_MASTER_SIZE = "Standard_D2s_v5"
"""2 vCPU / 8 GiB: a k3s server with embedded etcd serves up to ~350 agents on 2 cores and 4 GB
(https://docs.k3s.io/installation/requirements#server-sizing-guide). An "s" size: the masters'
OS disk is Premium SSD (etcd is latency-bound)."""
MASTER_DISK_GB = 64

ADMIN_USER = "fleetform"
"""The Linux admin user Azure requires; it can only log in with the SSH key (see ``_ssh_key``)."""

# Ubuntu 24.04 LTS, Gen2 image (sku "server"; "server-gen1" is the Gen1 one): Trusted Launch
# needs Gen2. "latest" is resolved when a VM is created; k3s itself is pinned by the bootstrap.
IMAGE = compute.ImageReferenceArgs(publisher="Canonical", offer="ubuntu-24_04-lts", sku="server", version="latest")

READY_TIMEOUT_SECONDS = 1200
"""How long the readiness gate waits for the API (VM creation, cloud-init and k3s install)."""

# k3s's documented taint for servers that run no workloads; CoreDNS and metrics-server tolerate it.
DEDICATED_MASTER_TAINT = "CriticalAddonsOnly=true:NoExecute"

# Inbound ports between k3s nodes (https://docs.k3s.io/installation/requirements#inbound-rules-for-k3s-nodes):
# etcd between servers (HA embedded etcd), the supervisor/API from agents, kubelet between all
# nodes, Flannel VXLAN between all nodes ("should not be exposed to the world").
ETCD_PORTS = "2379-2380"
KUBELET_PORT = 10250
VXLAN_PORT = 8472

AUTOSCALE_CPU_OUT = 70
AUTOSCALE_CPU_IN = 25


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


# ------------------------------------------------------------------------------------ the cluster


def _taint(t: Taint) -> str:
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def _zones(spec: ClusterSpec) -> list[str]:
    if spec.network.zones > MAX_AZURE_ZONES:  # config validation rejects this first; an invariant guard
        raise pulumi.RunError(
            f"cluster {spec.name}: network.zones is {spec.network.zones}; Azure regions have at most "
            f"{MAX_AZURE_ZONES} availability zones"
        )
    return [str(z) for z in range(1, spec.network.zones + 1)]


def _custom_data(node: NodeBootstrap, token, agent_token, tls_files) -> pulumi.Output[str]:
    """The node's cloud-init, base64 as customData wants it; secret (it carries the node's secrets)."""
    rendered = pulumi.Output.all(token, agent_token, tls_files).apply(
        lambda v: base64.b64encode(render_cloud_init(replace(
            node, token=v[0], agent_token=v[1], tls_files=tuple(sorted((v[2] or {}).items()))
        )).encode()).decode()
    )
    return pulumi.Output.secret(rendered)


class SelfManagedAzureCluster(Cluster):
    """A k3s cluster on Azure VMs (``target: azure``, ``mode: self-managed``).

    Builds, in the cluster's own resource group (:class:`~fleetform.network.azure.AzureNetwork`:
    VNet, regional node subnet, NAT gateway for egress, NSG with :func:`security_rules`):

    - the cluster identity (:class:`~fleetform.bootstrap.identity.ClusterIdentity`) and an
      ED25519 SSH key pair (``pulumi_tls``) whose public half Azure requires on Linux VMs;
    - a user-assigned managed identity for every node, with **no role assignment at all**: pods
      can ask the instance metadata service for its token, which then opens nothing;
    - ``controlPlane.count`` master VMs (``<name>-master-<i>``), one per availability zone in
      turn, each with a NIC holding a fixed private address (:class:`Addressing`), behind an
      internal Standard load balancer on TCP 6443 (``<name>-api-lb``) whose fixed frontend
      address is the registration address every node joins and the API's TLS SAN; with
      ``controlPlane.publicAccess`` also a public Standard load balancer with a static public IP
      and a DNS name, reachable only from ``apiAllowedCidrs`` (NSG);
    - one VM scale set per node pool (``<name>-pool-<pool>``, Uniform orchestration, zones,
      spot where asked) with an autoscale setting between the pool's min and max;
    - for the services exposed ``public`` / ``internal``: one public and one internal Standard
      load balancer, with a frontend, a rule ``servicePort -> NodePort`` and an HTTP probe on the
      health path per service (see :meth:`_service_load_balancers` for why not one per service);
    - the ``<name>-api-ready`` gate (polls ``/readyz`` with the minted CA and probe certificate)
      and the Kubernetes provider, which waits for it.

    Secure defaults: no public IP on any VM; SSH closed (no rule opens it, the NSG denies all other
    inbound, VNet included; password authentication off); encryption at host (temp disk and caches,
    https://learn.microsoft.com/azure/virtual-machines/disk-encryption#encryption-at-host---end-to-end-encryption-for-your-vm-data)
    on top of the managed disks' default encryption at rest; Trusted Launch with Secure Boot and
    vTPM; the node identity has no permissions; the k3s hardening of the bootstrap (secrets
    encrypted at rest, audit log, Pod Security "restricted", anonymous auth off).

    Operating notes: the readiness gate runs where ``pulumi up`` runs, so with a private API that
    must be inside the VNet (peering, VPN, a self-hosted runner); with ``publicAccess`` its address
    must be in ``apiAllowedCidrs``. A master's bootstrap only ever runs at its first boot (Azure
    refuses changes to customData), so changes to it do not touch running masters (see
    ``_masters``). Scale sets use the Manual upgrade policy: new instances get the current model,
    existing ones keep running until they are reimaged or replaced on purpose.
    """

    network: AzureNetwork
    identity: ClusterIdentity
    node_identity: managedidentity.UserAssignedIdentity
    api_lb: network.LoadBalancer
    masters: list[compute.VirtualMachine]
    scale_sets: dict[str, compute.VirtualMachineScaleSet]
    autoscale: dict[str, monitor.AutoscaleSetting]
    service_lbs: dict[str, network.LoadBalancer]
    ready: command.local.Command

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:SelfManagedAzureCluster", name, opts)
        self.target = "azure"
        self.self_managed = True
        self.kubernetes_version = ctx.kubernetes_version
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise pulumi.RunError(f"cluster {name}: a region is required")
        self._name, self._spec, self._location = name, spec, spec.region
        self._zones = _zones(spec)
        self._tags = {**spec.tags, "fleetform-cluster": name}
        self._child = pulumi.ResourceOptions(parent=self)
        version = k3s_release(ctx.kubernetes_version)
        cp = spec.control_plane
        addressing = Addressing.of(node_range(network_plan(spec)), cp.count)
        public_api = cp.public_access
        fqdn = api_fqdn(name, spec.region) if public_api else None
        api_address = fqdn or addressing.api
        # Nodes always register through the internal frontend: their traffic stays in the VNet
        # and needs no NSG rule for the NAT gateway's address.
        registration_url = api_url(addressing.api)
        url = api_url(api_address)
        services = tuple(s for s in ctx.services if s.expose in ("public", "internal"))

        self.network = AzureNetwork(
            f"{name}-network",
            AzureNetworkArgs(
                spec=spec,
                tags=self._tags,
                security_rules=security_rules(
                    addressing, services, [str(c) for c in cp.api_allowed_cidrs] if public_api else ()
                ),
            ),
            opts=self._child,
        )
        self._rg = self.network.resource_group.name
        self._subnet_id = self.network.node_subnet_id
        self._subscription = authorization.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).subscription_id

        self.identity = ClusterIdentity(f"{name}-identity", name, opts=self._child)
        self._ssh_public_key = self._ssh_key()
        self.node_identity = managedidentity.UserAssignedIdentity(
            f"{name}-node-identity",
            # Keyword form: the Args-object form collides with the constructor's resource_name.
            resource_group_name=self._rg,
            resource_name_=f"{name}-nodes",
            location=self._location,
            tags=self._tags,
            opts=self._child,
        )

        # What every node shares; each node is this with its role. ServiceLB is off: Services
        # are NodePorts behind fleetform's own load balancers, never type LoadBalancer.
        template = NodeBootstrap(
            role="agent",
            version=version,
            install=InstallSource(),
            disable=("traefik", "servicelb"),
        )

        self.api_lb, api_pools = self._api_load_balancers(addressing, fqdn)
        master_nodes = self._masters(addressing, api_pools, template, registration_url, fqdn)
        self.service_lbs, service_pools, service_addresses = self._service_load_balancers(services)
        self._workers(template, registration_url, service_pools)

        # Workloads are applied only once the API answers
        # (https://kubernetes.io/docs/reference/using-api/health-checks/); the probe certificate
        # belongs to no group and can read /readyz only.
        # Re-checked when a master's configuration or the release changes.
        self.ready, self.kubeconfig = api_access(
            self, name, self.identity, url,
            timeout_seconds=READY_TIMEOUT_SECONDS,
            triggers=[version, *(config_sha256(n) for n in master_nodes)],
            depends_on=list(self.masters),
        )
        self.endpoint = pulumi.Output.from_input(url)
        self.provider = self._make_provider(kubeconfig=self.kubeconfig, depends_on=[self.ready])
        self.details = {
            "name": name,
            "region": spec.region,
            "resourceGroup": self.network.resource_group_name,
            "apiAddress": api_address,
            "registrationAddress": addressing.api,
            "k3sVersion": version,
            "masters": cp.count,
            "nodePools": [p.name for p in spec.effective_node_pools],
        }
        self.service_addresses = dict(service_addresses)
        self._publish()

    # ------------------------------------------------------------------ identity

    def _ssh_key(self) -> pulumi.Output[str]:
        # Azure requires an SSH public key for a Linux VM without a password
        # (https://learn.microsoft.com/azure/virtual-machines/linux/create-ssh-keys-detailed: RSA
        # or ED25519). fleetform opens no path to port 22, so nobody needs the private half: it
        # stays in the stack's encrypted state (pulumi_tls marks it secret) and is never exported.
        # Break-glass access goes through Azure (Bastion plus a deliberate NSG change, or a key
        # reset with the VMAccess extension), not through this key.
        key = tls.PrivateKey(f"{self._name}-ssh-key", algorithm="ED25519", opts=self._child)
        return key.public_key_openssh

    def _os_profile_linux(self) -> compute.LinuxConfigurationArgs:
        return compute.LinuxConfigurationArgs(
            disable_password_authentication=True,
            provision_vm_agent=True,
            ssh=compute.SshConfigurationArgs(public_keys=[compute.SshPublicKeyArgs(
                path=f"/home/{ADMIN_USER}/.ssh/authorized_keys", key_data=self._ssh_public_key,
            )]),
        )

    @staticmethod
    def _trusted_launch() -> compute.SecurityProfileArgs:
        # Encryption at host needs the subscription feature Microsoft.Compute/EncryptionAtHost
        # registered once (the page above). Trusted Launch: Secure Boot and vTPM on Gen2 images
        # (https://learn.microsoft.com/azure/virtual-machines/trusted-launch).
        return compute.SecurityProfileArgs(
            encryption_at_host=True,
            security_type="TrustedLaunch",
            uefi_settings=compute.UefiSettingsArgs(secure_boot_enabled=True, v_tpm_enabled=True),
        )

    # ------------------------------------------------------------------ helpers

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

    def _masters(
        self, addressing: Addressing, pools, template: NodeBootstrap, registration_url: str, fqdn: Optional[str]
    ) -> list[NodeBootstrap]:
        spec, name = self._spec, self._name
        sans = (addressing.api, fqdn) if fqdn else (addressing.api,)
        self.masters = []
        nodes: list[NodeBootstrap] = []
        for i, ip in enumerate(addressing.masters):
            vm_name = f"{name}-master-{i + 1}"
            node = replace(
                template,
                role="init" if i == 0 else "join",
                server_url=None if i == 0 else registration_url,
                tls_sans=sans,
                node_name=vm_name,
                node_ip=ip,
                # The cloud always has worker pools: masters run the control plane only.
                taints=(DEDICATED_MASTER_TAINT,),
            )
            nic = network.NetworkInterface(
                f"{vm_name}-nic",
                network.NetworkInterfaceArgs(
                    resource_group_name=self._rg,
                    network_interface_name=f"{vm_name}-nic",
                    location=self._location,
                    ip_configurations=[network.NetworkInterfaceIPConfigurationArgs(
                        name="primary",
                        primary=True,
                        subnet=network.SubnetArgs(id=self._subnet_id),
                        private_ip_allocation_method="Static",
                        private_ip_address=ip,
                        private_ip_address_version="IPv4",
                        load_balancer_backend_address_pools=[network.BackendAddressPoolArgs(id=p) for p in pools],
                    )],
                    enable_ip_forwarding=False,
                    tags=self._tags,
                ),
                opts=self._child,
            )
            ident = self.identity
            secrets = (ident.server_token, ident.agent_password, ident.tls_files if i == 0 else {})
            vm = compute.VirtualMachine(
                vm_name,
                compute.VirtualMachineArgs(
                    resource_group_name=self._rg,
                    vm_name=vm_name,
                    location=self._location,
                    zones=[self._zones[i % len(self._zones)]],
                    hardware_profile=compute.HardwareProfileArgs(
                        vm_size=spec.control_plane.size or DEFAULT_MASTER_SIZE
                    ),
                    storage_profile=compute.StorageProfileArgs(
                        image_reference=IMAGE,
                        os_disk=compute.OSDiskArgs(
                            create_option="FromImage",
                            caching=compute.CachingTypes.READ_WRITE,
                            disk_size_gb=MASTER_DISK_GB,
                            delete_option="Delete",
                            managed_disk=compute.ManagedDiskParametersArgs(storage_account_type="Premium_LRS"),
                        ),
                    ),
                    os_profile=compute.OSProfileArgs(
                        computer_name=vm_name,
                        admin_username=ADMIN_USER,
                        # customData, not userData: custom data is handed to the provisioning agent
                        # once and is not served by the instance metadata service, which every pod
                        # can reach; user data is (https://learn.microsoft.com/azure/virtual-machines/custom-data).
                        # On the VM it lands in root-only files, the script in a 0700 root file.
                        # That is why the join token and (first master) the CA keys may travel here.
                        custom_data=_custom_data(node, *secrets),
                        linux_configuration=self._os_profile_linux(),
                        # Azure's own break-glass tools (VMAccess, Run Command) are extensions;
                        # who may use them is Azure RBAC on the VM.
                        allow_extension_operations=True,
                    ),
                    network_profile=compute.NetworkProfileArgs(network_interfaces=[
                        compute.NetworkInterfaceReferenceArgs(id=nic.id, primary=True, delete_option="Detach"),
                    ]),
                    security_profile=self._trusted_launch(),
                    identity=compute.VirtualMachineIdentityArgs(
                        type=compute.ResourceIdentityType.USER_ASSIGNED,
                        user_assigned_identities=[self.node_identity.id],
                    ),
                    # Managed boot diagnostics: the serial log for troubleshooting a bootstrap.
                    diagnostics_profile=compute.DiagnosticsProfileArgs(
                        boot_diagnostics=compute.BootDiagnosticsArgs(enabled=True)
                    ),
                    tags=self._tags,
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # One master at a time: etcd admits one new member at a time.
                    depends_on=self.masters[-1:],
                    # Azure refuses changes to customData ("PropertyChangeNotAllowed"), and replacing
                    # every master at once would lose etcd's quorum: a changed bootstrap (a k3s
                    # upgrade) is rolled deliberately, one master at a time (`pulumi up --replace`),
                    # or in place by k3s's system-upgrade-controller.
                    ignore_changes=["osProfile.customData"],
                ),
            )
            self.masters.append(vm)
            nodes.append(node)
        return nodes

    # ------------------------------------------------------------------ services

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

    # ------------------------------------------------------------------ workers

    def _workers(self, template: NodeBootstrap, registration_url: str, pools: list[pulumi.Output[str]]) -> None:
        name = self._name
        self.scale_sets, self.autoscale = {}, {}
        for pool in self._spec.effective_node_pools:
            node = replace(
                template,
                role="agent",
                server_url=registration_url,
                labels=tuple(sorted(pool.labels.items())),
                taints=tuple(_taint(t) for t in pool.taints),
            )
            vmss = compute.VirtualMachineScaleSet(
                f"{name}-pool-{pool.name}",
                compute.VirtualMachineScaleSetArgs(
                    resource_group_name=self._rg,
                    vm_scale_set_name=f"{name}-{pool.name}",
                    location=self._location,
                    zones=self._zones,
                    # Uniform: identical, stateless k3s agents built from one model, the mode with
                    # the "full range" of metrics-based autoscaling and instance protection
                    # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-orchestration-modes).
                    orchestration_mode="Uniform",
                    sku=compute.SkuArgs(name=pool.size, tier="Standard", capacity=pool.min),
                    # Overprovisioned extra VMs would boot, join the cluster as nodes and be deleted.
                    overprovision=False,
                    single_placement_group=False,
                    zone_balance=False,
                    # Manual: a model change (new bootstrap, size) never restarts running nodes by
                    # itself; new instances get it, existing ones when reimaged on purpose.
                    upgrade_policy=compute.UpgradePolicyArgs(mode=compute.UpgradeMode.MANUAL),
                    identity=compute.VirtualMachineScaleSetIdentityArgs(
                        type=compute.ResourceIdentityType.USER_ASSIGNED,
                        user_assigned_identities=[self.node_identity.id],
                    ),
                    virtual_machine_profile=compute.VirtualMachineScaleSetVMProfileArgs(
                        os_profile=compute.VirtualMachineScaleSetOSProfileArgs(
                            computer_name_prefix=f"{name}-{pool.name}-",
                            admin_username=ADMIN_USER,
                            # customData: see the masters.
                            custom_data=_custom_data(node, self.identity.agent_token, "", {}),
                            linux_configuration=self._os_profile_linux(),
                            allow_extension_operations=True,
                        ),
                        storage_profile=compute.VirtualMachineScaleSetStorageProfileArgs(
                            image_reference=IMAGE,
                            os_disk=compute.VirtualMachineScaleSetOSDiskArgs(
                                create_option="FromImage",
                                caching=compute.CachingTypes.READ_WRITE,
                                disk_size_gb=pool.disk_gb,
                                # Standard SSD works on every size (Premium needs an "s" size).
                                managed_disk=compute.VirtualMachineScaleSetManagedDiskParametersArgs(
                                    storage_account_type="StandardSSD_LRS"
                                ),
                            ),
                        ),
                        network_profile=compute.VirtualMachineScaleSetNetworkProfileArgs(
                            network_interface_configurations=[compute.VirtualMachineScaleSetNetworkConfigurationArgs(
                                name="primary",
                                primary=True,
                                enable_ip_forwarding=False,
                                ip_configurations=[compute.VirtualMachineScaleSetIPConfigurationArgs(
                                    name="primary",
                                    primary=True,
                                    subnet=compute.ApiEntityReferenceArgs(id=self._subnet_id),
                                    # No publicIPAddressConfiguration: instances get no public IP.
                                    load_balancer_backend_address_pools=[compute.SubResourceArgs(id=p) for p in pools],
                                )],
                            )],
                        ),
                        security_profile=self._trusted_launch(),
                        diagnostics_profile=compute.DiagnosticsProfileArgs(
                            boot_diagnostics=compute.BootDiagnosticsArgs(enabled=True)
                        ),
                        **_priority(pool),
                    ),
                    tags=self._tags,
                ),
                # The autoscale setting owns the instance count once the scale set exists.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["sku.capacity"]),
            )
            self.scale_sets[pool.name] = vmss
            self.autoscale[pool.name] = self._autoscale(pool, vmss)

    def _autoscale(self, pool: NodePoolSpec, vmss: compute.VirtualMachineScaleSet) -> monitor.AutoscaleSetting:
        # Host-metric autoscale between the pool's bounds
        # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-autoscale-overview):
        # out by one above 70 % average CPU over 10 minutes, in by one below 25 % over 20 minutes.
        # With no instance there is no metric, and "default" is "the number of instances that will
        # be set if metrics are not available" (ScaleCapacity, Azure Monitor API): the pool's min,
        # so a pool at min 0 grows only when min is raised.
        # It sees VM load, not pending pods, and scales in without draining; the Kubernetes
        # cluster autoscaler would need a credential allowed to resize the scale set, which the
        # node identity deliberately does not have.
        def rule(
            direction: monitor.ScaleDirection, operator: monitor.ComparisonOperationType, threshold: int, window: str,
            cooldown: str,
        ) -> monitor.ScaleRuleArgs:
            return monitor.ScaleRuleArgs(
                metric_trigger=monitor.MetricTriggerArgs(
                    metric_name="Percentage CPU",
                    metric_namespace="microsoft.compute/virtualmachinescalesets",
                    metric_resource_uri=vmss.id,
                    operator=operator,
                    statistic=monitor.MetricStatisticType.AVERAGE,
                    threshold=threshold,
                    time_aggregation=monitor.TimeAggregationType.AVERAGE,
                    time_grain="PT1M",
                    time_window=window,
                ),
                scale_action=monitor.ScaleActionArgs(
                    direction=direction, type=monitor.ScaleType.CHANGE_COUNT, value="1", cooldown=cooldown
                ),
            )

        setting = f"{self._name}-{pool.name}"
        return monitor.AutoscaleSetting(
            f"{self._name}-pool-{pool.name}-autoscale",
            monitor.AutoscaleSettingArgs(
                resource_group_name=self._rg,
                autoscale_setting_name=setting,
                name=setting,
                location=self._location,
                enabled=True,
                target_resource_uri=vmss.id,
                profiles=[monitor.AutoscaleProfileArgs(
                    name="pool-bounds",
                    capacity=monitor.ScaleCapacityArgs(
                        minimum=str(pool.min), maximum=str(pool.max), default=str(pool.min)
                    ),
                    rules=[
                        rule(monitor.ScaleDirection.INCREASE, monitor.ComparisonOperationType.GREATER_THAN,
                             AUTOSCALE_CPU_OUT, "PT10M", "PT5M"),
                        rule(monitor.ScaleDirection.DECREASE, monitor.ComparisonOperationType.LESS_THAN,
                             AUTOSCALE_CPU_IN, "PT20M", "PT10M"),
                    ],
                )],
                tags=self._tags,
            ),
            opts=self._child,
        )


def _priority(pool: NodePoolSpec) -> dict:
    if not pool.spot:
        return {"priority": "Regular"}
    # Spot: evicted VMs are deleted (the scale set frees their quota and can recreate them), and
    # -1 pays up to the on-demand price, so capacity, never price, evicts
    # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/use-spot).
    return {
        "priority": "Spot",
        "eviction_policy": "Delete",
        "billing_profile": compute.BillingProfileArgs(max_price=-1),
    }
