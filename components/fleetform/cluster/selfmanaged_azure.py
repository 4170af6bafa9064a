"""Target ``azure``, mode ``self-managed``: fleetform's own k3s masters and workers as Azure VMs.

The network is the AKS target's (:class:`fleetform.network.azure.AzureNetwork`: resource group,
VNet, one regional node subnet, NAT gateway) with an NSG rule set of this module's own. The k3s
bootstrap is the one of every self-managed cluster (:mod:`fleetform.bootstrap`), handed to each
VM as cloud-init custom data; the cluster identity (CAs, admin certificate, join tokens) is minted
by Pulumi, so the kubeconfig is assembled from Pulumi's own outputs.

Split by concern: addresses, NSG rules and load balancers in :mod:`.selfmanaged_azure_lb`; the
cloud's controllers (cloud-provider-azure, Cluster Autoscaler) and their identity in
:mod:`.selfmanaged_azure_cloud`; the machines here.

Only the azure-native submodules used here are loaded (the package loads each one lazily, on
first attribute access); no other cloud's SDK is imported.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Optional

import pulumi
import pulumi_command as command
import pulumi_tls as tls
from pulumi_azure_native import authorization, compute, managedidentity, network

from ..bootstrap import (
    InstallSource,
    NodeBootstrap,
    api_url,
    config_sha256,
    k3s_release,
    render_cloud_init,
)
from ..bootstrap.identity import ClusterIdentity, api_access
from ..config import ClusterSpec, NodePoolSpec, Taint
from ..network.azure import MAX_AZURE_ZONES, AzureNetwork, AzureNetworkArgs, network_plan, node_range
from . import selfmanaged_azure_cloud as cloud
from .base import Cluster, ClusterContext
from .selfmanaged_azure_lb import (
    ETCD_PORTS,
    KUBELET_PORT,
    VXLAN_PORT,
    Addressing,
    LoadBalancing,
    api_dns_label,
    api_fqdn,
    security_rules,
)

__all__ = [
    "ETCD_PORTS", "KUBELET_PORT", "VXLAN_PORT", "Addressing", "SelfManagedAzureCluster", "api_dns_label", "api_fqdn",
    "security_rules",
]

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

KUBELET_HEALTHZ_PORT = 10248
"""The kubelet's own health endpoint, ``http://127.0.0.1:10248/healthz`` (KubeletConfiguration
``healthzBindAddress`` default 127.0.0.1, ``healthzPort`` default 10248,
https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/)."""

HEALTH_EXTENSION = compute.VirtualMachineScaleSetExtensionArgs(
    # The Application Health extension reports each instance's health from inside it, probing a
    # local endpoint (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-health-extension):
    # here the kubelet's, so an instance whose kubelet does not answer is "Unhealthy" and a rolling
    # upgrade stops at it.
    name="kubelet-health",
    publisher="Microsoft.ManagedServices",
    type="ApplicationHealthLinux",
    type_handler_version="1.0",
    auto_upgrade_minor_version=True,
    settings={"protocol": "http", "port": KUBELET_HEALTHZ_PORT, "requestPath": "/healthz"},
)

ROLLING_UPGRADE = compute.UpgradePolicyArgs(
    # Rolling, not Manual: the scale set model holds the load balancers' backend pools, and under
    # Manual "changes made to the scale set model won't be applied automatically" to existing VMs
    # (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-upgrade-policy),
    # so a service load balancer added after the first deploy had no backends. Not Automatic: it
    # "might take down all virtual machines at the same time" (same page); a size change would
    # restart every worker at once. Rolling needs "a health probe or ... the Application Health
    # Extension" (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-configure-rolling-upgrades):
    # HEALTH_EXTENSION. Batches of at most 20 % (at least one VM); with one of three workers in
    # flight a third of the pool is unhealthy, so up to half may be before the upgrade aborts
    # (checked "prior to starting any batch"), and an upgraded VM that stays unhealthy stops it
    # (RollingUpgradePolicy, Azure compute API; maxBatchInstancePercent <= maxUnhealthyInstancePercent).
    mode=compute.UpgradeMode.ROLLING,
    rolling_upgrade_policy=compute.RollingUpgradePolicyArgs(
        max_batch_instance_percent=20,
        max_unhealthy_instance_percent=50,
        max_unhealthy_upgraded_instance_percent=20,
        pause_time_between_batches="PT30S",
        prioritize_unhealthy_instances=True,
    ),
)


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


class SelfManagedAzureCluster(LoadBalancing, Cluster):
    """A k3s cluster on Azure VMs (``target: azure``, ``mode: self-managed``).

    Builds, in the cluster's own resource group (:class:`~fleetform.network.azure.AzureNetwork`:
    VNet, regional node subnet, NAT gateway for egress, NSG with :func:`security_rules`):

    - the cluster identity (:class:`~fleetform.bootstrap.identity.ClusterIdentity`) and an
      ED25519 SSH key pair (``pulumi_tls``) whose public half Azure requires on Linux VMs;
    - two user-assigned managed identities: the workers' (``<name>-node-identity``), with **no role
      assignment at all**, and the masters' (``<name>-control-plane-identity``) with one custom role
      on the cluster's resource group (``<name>-control-plane-role``: read the VMs and scale sets,
      resize the scale sets and delete their instances, nothing else; see
      :mod:`.selfmanaged_azure_cloud`) for the controllers that run on the masters;
    - ``controlPlane.count`` master VMs (``<name>-master-<i>``), one per availability zone in
      turn, each with a NIC holding a fixed private address (:class:`Addressing`), behind an
      internal Standard load balancer on TCP 6443 (``<name>-api-lb``) whose fixed frontend
      address is the registration address workers join and the API's TLS SAN; with
      ``controlPlane.publicAccess`` also a public Standard load balancer with a static public IP
      and a DNS name, reachable only from ``apiAllowedCidrs`` (NSG). Joining masters register with
      the *first master's* address, not the internal load balancer whose pool holds their own NIC:
      an internal load balancer does not answer a backend that sends to its frontend a flow mapped
      back to itself (https://learn.microsoft.com/azure/load-balancer/load-balancer-troubleshoot-backend-traffic,
      "cause 4");
    - one VM scale set per node pool (``<name>-pool-<pool>``, Uniform orchestration, zones, spot
      where asked, Rolling upgrades with the kubelet's health, :data:`ROLLING_UPGRADE`), sized by
      the Kubernetes Cluster Autoscaler between the pool's min and max (tags, pools from 0 too);
    - for the services exposed ``public`` / ``internal``: one public and one internal Standard
      load balancer, with a frontend, a rule ``servicePort -> NodePort`` and an HTTP probe on the
      health path per service (see :meth:`_service_load_balancers` for why not one per service);
    - the ``<name>-api-ready`` gate (polls ``/readyz`` with the minted CA and probe certificate)
      and the Kubernetes provider, which waits for it;
    - on the cluster: cloud-provider-azure (cloud-controller-manager with node lifecycle only,
      cloud-node-manager on every node) and the Cluster Autoscaler (:mod:`.selfmanaged_azure_cloud`).
      k3s runs without its embedded cloud controller and every kubelet in external cloud-provider
      mode; each Node registers with its Azure providerID (instance metadata, at boot), gets its
      zone and region from the node manager, and the Node of a deleted VM is removed. fleetform
      keeps owning the load balancers (the service controller does not run).

    Secure defaults: no public IP on any VM; SSH closed (no rule opens it, the NSG denies all other
    inbound, VNet included; password authentication off); encryption at host (temp disk and caches,
    https://learn.microsoft.com/azure/virtual-machines/disk-encryption#encryption-at-host---end-to-end-encryption-for-your-vm-data)
    on top of the managed disks' default encryption at rest; Trusted Launch with Secure Boot and
    vTPM; workers' identity has no permissions and the masters' only its custom role on this
    resource group; no credential anywhere (managed identity); the k3s hardening of the bootstrap
    (secrets encrypted at rest, audit log, Pod Security "restricted", anonymous auth off).

    Operating notes: the readiness gate runs where ``pulumi up`` runs, so with a private API that
    must be inside the VNet (peering, VPN, a self-hosted runner); with ``publicAccess`` its address
    must be in ``apiAllowedCidrs``. The deployer needs ``Microsoft.Authorization/roleDefinitions/write``
    and ``roleAssignments/write`` on the resource group (Owner or User Access Administrator). A
    master's bootstrap only ever runs at its first boot (Azure refuses changes to customData), so
    changes to it do not touch running masters (see ``_masters``). A worker scale set's model
    changes (load balancer pools, size) reach running workers in rolling batches; a changed
    bootstrap reaches only workers created from then on (custom data runs at provisioning).
    """

    network: AzureNetwork
    identity: ClusterIdentity
    node_identity: managedidentity.UserAssignedIdentity
    control_plane_identity: managedidentity.UserAssignedIdentity
    control_plane_role: authorization.RoleDefinition
    control_plane_role_assignment: authorization.RoleAssignment
    api_lb: network.LoadBalancer
    masters: list[compute.VirtualMachine]
    scale_sets: dict[str, compute.VirtualMachineScaleSet]
    service_lbs: dict[str, network.LoadBalancer]
    ready: command.local.Command
    cloud_provider: cloud.CloudProviderAzure
    cluster_autoscaler: pulumi.Resource

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:SelfManagedAzureCluster", name, opts)
        self.target = "azure"
        self.self_managed = True
        self.kubernetes_version = ctx.kubernetes_version
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise pulumi.RunError(f"cluster {name}: a region is required")
        ccm_pin, cnm_pin, ca_pin = cloud.controller_pins(name, ctx.kubernetes_version)
        cloud.check_pool_labels(spec)
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
        # Workers register through the internal frontend: their traffic stays in the VNet and
        # needs no NSG rule for the NAT gateway's address. Joining masters use the first master
        # (see the class docstring).
        registration_url = api_url(addressing.api)
        join_url = api_url(addressing.masters[0])
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
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self._subscription = client.subscription_id

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
        self.control_plane_identity = managedidentity.UserAssignedIdentity(
            f"{name}-control-plane-identity",
            resource_group_name=self._rg,
            resource_name_=f"{name}-control-plane",
            location=self._location,
            tags=self._tags,
            opts=self._child,
        )
        self.control_plane_role, self.control_plane_role_assignment = cloud.control_plane_role(
            name, self.network.resource_group.id, self.control_plane_identity.principal_id, self._subscription, self._child
        )

        # What every node shares; each node is this with its role. ServiceLB is off: Services
        # are NodePorts behind fleetform's own load balancers, never type LoadBalancer. The
        # cloud's controller manager replaces k3s's embedded one, and every Node registers with
        # its Azure providerID (read from the instance metadata service at boot, formed as the
        # cloud-node-manager forms it): without one, cloud-node-lifecycle looks the instance up
        # by the Node's name, which for a worker is the computer name plus --with-node-id's
        # suffix, finds nothing (InstanceNotFound) and deletes the Node within seconds; the
        # kubelet does not register it again (pkg/provider/azure_instances_v2.go InstanceExists,
        # azure_vmss.go getNodeIdentityByNodeName; kubernetes/kubernetes#71398).
        template = NodeBootstrap(
            role="agent",
            version=version,
            install=InstallSource(),
            disable=("traefik", "servicelb"),
            cloud_provider_external=True,
            provider_id_from="azure",
        )

        self.api_lb, api_pools = self._api_load_balancers(addressing, fqdn)
        master_nodes = self._masters(addressing, api_pools, template, join_url, fqdn)
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

        on_cluster = pulumi.ResourceOptions(
            parent=self, provider=self.provider, depends_on=[self.control_plane_role_assignment]
        )
        self.cloud_provider = cloud.CloudProviderAzure(
            name, ccm=ccm_pin, cnm=cnm_pin, masters=addressing.masters, opts=on_cluster,
            config=cloud.cloud_config_json(
                tenant_id=client.tenant_id, subscription_id=client.subscription_id, resource_group=self._rg,
                location=self._location, vnet=self.network.vnet.name, subnet=self.network.node_subnet.name,
                security_group=self.network.nsg.name, identity_client_id=self.control_plane_identity.client_id,
                kubernetes_version=ctx.kubernetes_version,
            ),
        )
        self.cluster_autoscaler = cloud.cluster_autoscaler(name, cloud.cluster_autoscaler_values(
            name, ca_pin, subscription_id=client.subscription_id, tenant_id=client.tenant_id,
            resource_group=self._rg, identity_client_id=self.control_plane_identity.client_id,
        ), on_cluster)
        self.details = {
            "name": name,
            "region": spec.region,
            "resourceGroup": self.network.resource_group_name,
            "apiAddress": api_address,
            "registrationAddress": addressing.api,
            "k3sVersion": version,
            "masters": cp.count,
            "nodePools": [p.name for p in spec.effective_node_pools],
            "cloudControllerManager": ccm_pin.version,
            "clusterAutoscaler": ca_pin.version,
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

    # ------------------------------------------------------------------ control plane

    def _masters(
        self, addressing: Addressing, pools, template: NodeBootstrap, join_url: str, fqdn: Optional[str]
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
                # The first master's own address, never the API load balancer that holds this
                # master's NIC (class docstring); the bootstrap waits until it answers.
                server_url=None if i == 0 else join_url,
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
                    # The controllers on the masters (cloud-controller-manager, Cluster Autoscaler)
                    # authenticate as this identity through the metadata service.
                    identity=compute.VirtualMachineIdentityArgs(
                        type=compute.ResourceIdentityType.USER_ASSIGNED,
                        user_assigned_identities=[self.control_plane_identity.id],
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

    # ------------------------------------------------------------------ workers

    def _workers(self, template: NodeBootstrap, registration_url: str, pools: list[pulumi.Output[str]]) -> None:
        name = self._name
        self.scale_sets = {}
        pulumi.log.warn(cloud.REFRESH_WARNING.format(name=name), resource=self)
        for pool in self._spec.effective_node_pools:
            node = replace(
                template,
                role="agent",
                server_url=registration_url,
                labels=tuple(sorted(pool.labels.items())),
                taints=tuple(_taint(t) for t in pool.taints),
                # A Uniform scale set's instance ids, and with them its computer names
                # (prefix + base-36 instance id), "may be reused for new instances once old
                # instances are deleted" (https://learn.microsoft.com/azure/virtual-machine-scale-sets/virtual-machine-scale-sets-instance-ids),
                # and k3s refuses a node name it knows with another node password: a unique
                # suffix per machine lets a recycled name join. The suffix is harmless only
                # because the Node carries its providerID from registration (the template):
                # by providerID, the controllers map the instance to its computer name
                # (azure_vmss.go GetNodeNameByProviderID), never the Node's name to an instance.
                with_node_id=True,
            )
            vmss = compute.VirtualMachineScaleSet(
                f"{name}-pool-{pool.name}",
                compute.VirtualMachineScaleSetArgs(
                    resource_group_name=self._rg,
                    vm_scale_set_name=f"{name}-{pool.name}",
                    location=self._location,
                    zones=self._zones,
                    # Uniform: identical, stateless k3s agents built from one model; the Cluster
                    # Autoscaler's "vmss" mode is for Uniform scale sets (Flex needs its own switch,
                    # cloudprovider/azure/README.md, AZURE_ENABLE_VMSS_FLEX).
                    orchestration_mode="Uniform",
                    # The first capacity; the Cluster Autoscaler owns it afterwards (ignore_changes).
                    sku=compute.SkuArgs(name=pool.size, tier="Standard", capacity=pool.min),
                    # Overprovisioned extra VMs would boot, join the cluster as nodes and be deleted.
                    overprovision=False,
                    single_placement_group=False,
                    zone_balance=False,
                    upgrade_policy=ROLLING_UPGRADE,
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
                                    # The pools are part of the model: ROLLING_UPGRADE brings
                                    # running instances in and out of them.
                                    load_balancer_backend_address_pools=[compute.SubResourceArgs(id=p) for p in pools],
                                )],
                            )],
                        ),
                        extension_profile=compute.VirtualMachineScaleSetExtensionProfileArgs(
                            extensions=[HEALTH_EXTENSION]
                        ),
                        security_profile=self._trusted_launch(),
                        diagnostics_profile=compute.DiagnosticsProfileArgs(
                            boot_diagnostics=compute.BootDiagnosticsArgs(enabled=True)
                        ),
                        **_priority(pool),
                    ),
                    # The Cluster Autoscaler finds the scale set, its bounds and its nodes' labels
                    # and taints (for scaling up from 0) in these tags.
                    tags={**self._tags, **cloud.autoscaler_tags(name, pool)},
                ),
                # The autoscaler owns the instance count once the scale set exists. azure-native
                # updates with a full PUT that carries the *state's* capacity, so state must hold
                # the live one first: `pulumi up --refresh` (see cloud.REFRESH_WARNING).
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=[cloud.CAPACITY_IGNORED]),
            )
            self.scale_sets[pool.name] = vmss


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
