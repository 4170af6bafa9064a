"""Target ``gcp``, mode ``self-managed``: fleetform's own k3s masters and workers on Compute Engine.

Design notes (each setting's documentation is linked next to it):

- **APIs**: the project's Google APIs this module calls (:data:`REQUIRED_APIS`) are enabled by
  the stack with :func:`~fleetform.network.gcp.enable_apis` (never disabled on destroy), and each
  resource, and the project and zone look-ups, waits for its API, as on GKE.
- **Network**: the same :class:`~fleetform.network.gcp.GcpNetwork` as GKE (dedicated VPC,
  regional private subnet with Private Google Access, Cloud NAT for egress), plus the region's
  proxy-only subnet when the cluster fronts services. k3s uses its own pod and service CIDRs
  (10.42.0.0/16 and 10.43.0.0/16, flannel VXLAN); the subnet's secondary ranges stay unused, and
  the VPC's CIDR must not overlap those two.
- **Masters**: ``controlPlane.count`` Compute Engine instances over the first ``network.zones``
  zones of the region, each with a reserved internal address, no external address, Shielded VM,
  Ubuntu 24.04 LTS, project-wide SSH keys blocked and OS Login on (no SSH firewall rule exists at
  all), deletion protection on. Joining masters register with the *first master's* address
  instead of the load balancer: Google's guest agent routes a passthrough LB's address locally on
  its backends, so a master that is already a backend would reach only itself
  (https://cloud.google.com/load-balancing/docs/internal).
- **Bootstrap**: fetched from Secret Manager, never in instance metadata
  (:mod:`.selfmanaged_gcp_boot`). Every node starts k3s with the external cloud provider and the
  providerID ``gce://<project>/<zone>/<instance>`` it reads from the metadata server
  (``NodeBootstrap.cloud_provider_external``/``provider_id_from``); workers add ``--with-node-id``.
- **Node lifecycle and autoscaling**: cloud-provider-gcp's node controllers and the Cluster
  Autoscaler run on the masters (:mod:`.selfmanaged_gcp_addons`): Nodes get providerID, zone and
  region labels from the CCM (none come from config), Nodes of deleted VMs are removed, and each
  pool's zonal managed instance groups (:mod:`.selfmanaged_gcp_workers`) scale on pending pods
  within the pool's ``min``/``max``, from zero too. A group recreates a failed or preempted VM
  under its old name, which the CCM cannot tell from the old one: a timer on the masters deletes
  the Node such a VM leaves behind (:mod:`.selfmanaged_gcp_reaper`).
- **Load balancers and firewall**: :mod:`.selfmanaged_gcp_lb`: the internal API load balancer
  with global access (an external one with ``publicAccess``), a proxy Network Load Balancer per
  exposed service owned by fleetform alone, and firewall rules by service account.
- **Identity**: two dedicated service accounts, masters and workers, never the Compute Engine
  default one; each may read its own nodes' bootstrap secrets only. The workers' holds no project
  role; the masters' holds one custom role with the Compute Engine permissions the CCM and the
  autoscaler call (:data:`~fleetform.cluster.selfmanaged_gcp_addons.MASTER_PERMISSIONS`). A pod
  that can reach the metadata server uses its node's account, which is why masters are tainted for
  control-plane pods only and fleetform's workloads may not egress beyond DNS and configured
  destinations.
- Disks use Google-managed encryption at rest (always on:
  https://cloud.google.com/docs/security/encryption/default-encryption); Kubernetes Secrets are
  encrypted in etcd by k3s (``--secrets-encryption``).

Operating notes: the deploying identity needs to enable services, create IAM custom roles
(``roles/iam.roleAdmin``) and grant one on the project (``resourcemanager.projects.setIamPolicy``,
the masters' role member) besides the resources. The readiness gate and the Kubernetes provider
reach the API through its load balancer, so with a private API ``pulumi up`` runs from the VPC, a
network connected to it (any region: global access) listed in ``apiAllowedCidrs``. Masters are
not replaced by config changes (a new first master would initialise a new cluster); upgrade k3s
on them in place. Existing clusters are not migrated, and nothing refuses an ``up`` of one: it
deletes the regional worker groups without draining them, creates the zonal groups at their
share of ``min``, and installs the GCE CCM beside the k3s-embedded controller the old masters
still run (docs/targets.md says what to do instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Optional

import pulumi
import pulumi_command as command
import pulumi_gcp as gcp

from ..bootstrap import InstallSource, NodeBootstrap, api_url, config_sha256, k3s_release, render_script
from ..bootstrap.identity import ClusterIdentity, api_access
from ..config import ClusterSpec
from ..network.gcp import RESOURCE_MANAGER_API, GcpNetwork, enable_apis
from . import selfmanaged_gcp_addons as lifecycle
from . import selfmanaged_gcp_lb as lb
from . import selfmanaged_gcp_reaper as reaper
from .base import Cluster, ClusterContext
from .selfmanaged_gcp_boot import (
    CLOUD_PLATFORM_SCOPE,
    FETCH_BOOTSTRAP_PY,
    FETCHER_PATH,
    gcp_name,
    image_for,
    instance_metadata,
    secret_cloud_init,
)
from .selfmanaged_gcp_workers import PoolGroup, node_pool, port_name, zone_bounds

__all__ = [
    "SelfManagedGcpCluster", "REQUIRED_APIS", "FETCH_BOOTSTRAP_PY", "FETCHER_PATH", "gcp_name", "port_name",
    "secret_cloud_init", "zone_bounds",
]

DEFAULT_MASTER_SIZE = "e2-standard-4"
"""Master machine type when ``controlPlane.size`` is not set: 4 vCPU / 16 GB, the size of the
default GCP node pool; k3s's server sizing grows with the number of agents
(https://docs.k3s.io/installation/requirements#cpu-and-memory)."""
MASTER_DISK_GB = 50
MASTER_DISK_TYPE = "pd-ssd"
"""etcd fsyncs every write; k3s recommends SSDs for it (https://docs.k3s.io/installation/requirements#disks)."""

SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"

COMPUTE_API = "compute.googleapis.com"
SECRET_MANAGER_API = "secretmanager.googleapis.com"
IAM_API = "iam.googleapis.com"
REQUIRED_APIS = (
    RESOURCE_MANAGER_API,  # the project look-up and the masters' project role grant
    IAM_API,  # the two service accounts and the masters' custom role
    COMPUTE_API,  # network, VMs, instance groups, load balancers, firewall, zones
    SECRET_MANAGER_API,  # the bootstrap secrets
)
"""Google APIs this module's resources call, enabled by the stack. Logging and Monitoring are on
by default in a new project (https://cloud.google.com/service-usage/docs/enabled-service#default)
and fleetform calls neither."""

DEDICATED_MASTER_TAINT = "CriticalAddonsOnly=true:NoExecute"
"""k3s's documented taint for servers that run no workloads; cloud clusters always have workers."""

READY_TIMEOUT_SECONDS = 1500
"""VMs boot, fetch their bootstrap, install k3s and join: allow 25 minutes on a first ``up``."""


class SelfManagedGcpCluster(Cluster):
    """A k3s cluster on Compute Engine VMs that fleetform provisions (target gcp, self-managed).

    Builds: the project's :data:`REQUIRED_APIS`; a :class:`~fleetform.network.gcp.GcpNetwork`
    (with the proxy-only subnet when services are fronted); the cluster identity (CAs, admin and
    probe certificates, join tokens, :class:`~fleetform.bootstrap.identity.ClusterIdentity`);
    masters and workers service accounts, the masters' custom project role and its grant; per
    node a Secret Manager secret holding its bootstrap script, readable by its role's account
    only; ``controlPlane.count`` master instances with reserved internal addresses, in unmanaged
    instance groups per zone behind the internal passthrough API load balancer (global access;
    an external one with ``publicAccess``); per node pool an instance template and a zonal managed
    instance group per zone; per public/internal service a regional external/internal proxy
    Network Load Balancer from ``servicePort`` to the NodePort; the firewall rules; the
    ``<name>-api-ready`` gate; on the cluster, cloud-provider-gcp and the Cluster Autoscaler;
    the Kubernetes provider, which waits for the gate and the CCM.

    Secure defaults: API private unless ``controlPlane.publicAccess`` (then only
    ``apiAllowedCidrs``); no external IP on any VM; no SSH rule, OS Login on, project SSH keys
    blocked, serial port off; Shielded VM (secure boot, vTPM, integrity monitoring); dedicated
    service accounts (never the default compute account), the workers' without project roles and
    the masters' with a least-privilege custom role; bootstrap secrets in Secret Manager, not in
    metadata; nothing open to 0.0.0.0/0; k3s ports only between the cluster's own service
    accounts; secrets encryption, audit log, Pod Security ``restricted`` and anonymous auth off
    (the shared k3s bootstrap); encrypted disks.

    The Kubernetes provider is built from the cluster name, the API load balancer's address and
    the minted CA and admin certificate only, so node-pool and tag changes never replace it.
    """

    network: GcpNetwork
    identity: ClusterIdentity
    masters: list[gcp.compute.Instance]
    node_pools: dict[str, list[PoolGroup]]
    api_address: pulumi.Output[str]
    public_api_address: Optional[pulumi.Output[str]]
    load_balancer_addresses: dict[str, pulumi.Output[str]]
    ready: command.local.Command
    masters_role: lifecycle.MastersRole
    cloud_controller_manager: lifecycle.CloudControllerManager

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:SelfManagedGcpCluster", name, opts)
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {name}: a self-managed GCP cluster needs a region")
        # Refused before any resource of this cluster is registered.
        ccm_image, ca_image = lifecycle.check_kubernetes_version(name, ctx.kubernetes_version)
        self.target = "gcp"
        self.self_managed = True
        self.kubernetes_version = ctx.kubernetes_version
        self._spec = spec
        self._region = region = spec.region
        self._labels = {"fleetform-cluster": name, **spec.tags}
        version = k3s_release(ctx.kubernetes_version)
        public = spec.control_plane.public_access
        services = [s for s in ctx.services if s.expose in ("public", "internal")]
        child = pulumi.ResourceOptions(parent=self)
        gcp_project = pulumi.Config("gcp").get("project")

        # ---- the project's APIs, so a fresh project works; each resource waits for its API.
        self._apis = enable_apis(name, REQUIRED_APIS, child, project=gcp_project)
        self.compute_api: list[pulumi.Resource] = [self._apis[COMPUTE_API]]

        self.network = GcpNetwork(
            f"{name}-network", spec, opts=child, proxy_only_subnet=bool(services), depends_on=self.compute_api
        )
        self.identity = identity = ClusterIdentity(f"{name}-identity", name, opts=child)

        # The first `network.zones` zones of the region, sorted so the choice is stable.
        zones = gcp.compute.get_zones_output(
            region=region, opts=pulumi.InvokeOutputOptions(parent=self, depends_on=self.compute_api)
        )
        self._zones = zones.names.apply(self._first_zones)
        # gcp:project when set, else the provider's default project, read through the provider.
        project = gcp.organizations.get_project_output(
            project_id=gcp_project,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[self._apis[RESOURCE_MANAGER_API]]),
        )

        # ---- identities; firewall rules match them.
        self.master_account = self._account(
            f"{name}-ctrl", f"fleetform: k3s masters of cluster {name}",
            "Reads its masters' bootstrap secrets; runs cloud-provider-gcp and the Cluster Autoscaler (one custom role).",
        )
        self.worker_account = self._account(
            f"{name}-nodes", f"fleetform: k3s workers of cluster {name}",
            "No project roles: reads its nodes' bootstrap secrets and nothing else.",
        )
        self.masters_role = lifecycle.MastersRole(
            self, name, project.project_id, self.master_account.email,
            depends_on=[self._apis[IAM_API], self._apis[RESOURCE_MANAGER_API]],
        )

        # ---- addresses: the API's internal address is the registration address of every node.
        self.api_address = self._address(f"{name}-api-ip", internal=True, description=f"fleetform: Kubernetes API of cluster {name}")
        self.public_api_address = (
            self._address(f"{name}-api-public-ip", internal=False, description=f"fleetform: public Kubernetes API of cluster {name}")
            if public else None
        )
        tls_sans = [self.api_address] + ([self.public_api_address] if self.public_api_address is not None else [])
        endpoint_host = self.public_api_address if self.public_api_address is not None else self.api_address
        master_ips = [
            self._address(f"{name}-master-{i}-ip", internal=True, description=f"fleetform: master {i} of cluster {name}")
            for i in range(spec.control_plane.count)
        ]

        # What every node of the cluster shares; each node is this with its own role. fleetform
        # fronts services with its own load balancers, so k3s's ServiceLB (hostPorts on nodes for
        # LoadBalancer Services) stays off, as does the Traefik ingress. cloud-provider-gcp
        # initialises the Nodes; each registers with the providerID its metadata server gives.
        template = NodeBootstrap(
            role="agent",
            version=version,
            install=InstallSource.from_spec(spec.install),
            disable=("traefik", "servicelb"),
            cloud_provider_external=True,
            provider_id_from="gcp",
        )

        # ---- masters
        self.masters = []
        master_configs: list[pulumi.Output[str]] = []
        size = spec.control_plane.size or DEFAULT_MASTER_SIZE
        for i in range(spec.control_plane.count):
            secrets = [identity.server_token, identity.agent_password, identity.tls_files if i == 0 else {}]

            def master_node(v, i=i):
                sans = tuple(v[: len(tls_sans)])
                return replace(
                    template,
                    role="init" if i == 0 else "join",
                    server_url=None if i == 0 else api_url(v[len(tls_sans)]),
                    tls_sans=sans,
                    taints=(DEDICATED_MASTER_TAINT,),
                )

            node = pulumi.Output.all(*tls_sans, master_ips[0]).apply(master_node)
            version_name, grant, sha = self._bootstrap_secret(f"{name}-master-{i}", node, secrets, self.master_account)
            master_configs.append(sha)
            # Spread a, b, c, a, ...: master i sits in zone (i mod network.zones), the zone of
            # instance group i mod network.zones.
            zone = self._zones.apply(lambda z, i=i: self._zone_of(z, i))
            # Every master also gets the stale-Node reaper's timer (selfmanaged_gcp_reaper).
            user_data = pulumi.Output.all(version_name, node).apply(
                lambda v: secret_cloud_init(v[0], v[1], reaper.cloud_init_files(), [reaper.ENABLE_COMMAND])
            )
            instance = gcp.compute.Instance(
                f"{name}-master-{i}",
                gcp.compute.InstanceArgs(
                    zone=zone,
                    machine_type=size,
                    description=f"fleetform: k3s master {i} of cluster {name}",
                    boot_disk=gcp.compute.InstanceBootDiskArgs(
                        auto_delete=True,
                        # No labels here: the boot disk's initial parameters only apply at
                        # creation, so a tag change there would mean a new master.
                        initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                            image=image_for(size), size=MASTER_DISK_GB, type=MASTER_DISK_TYPE,
                        ),
                    ),
                    # No access_configs: no external address. The reserved internal address is
                    # what joining masters register with (master 0) and what etcd peers use.
                    network_interfaces=[
                        gcp.compute.InstanceNetworkInterfaceArgs(
                            subnetwork=self.network.subnetwork_self_link, network_ip=master_ips[i]
                        )
                    ],
                    service_account=gcp.compute.InstanceServiceAccountArgs(
                        email=self.master_account.email, scopes=[CLOUD_PLATFORM_SCOPE]
                    ),
                    # Shielded VM: https://cloud.google.com/compute/shielded-vm/docs/shielded-vm
                    shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(
                        enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
                    ),
                    metadata=instance_metadata(user_data),
                    # A machine type change stops and restarts the master in place.
                    allow_stopping_for_update=True,
                    # A deleted master loses its etcd member; deleting master 0 and creating it
                    # again would initialise a new cluster. Turn this off to destroy on purpose.
                    deletion_protection=True,
                    labels={**self._labels, "fleetform-role": "master"},
                ),
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # One master at a time (etcd admits one new member at a time; k3s retries).
                    depends_on=[grant, *self.masters[-1:]],
                    # A newer image in the family must never replace a master.
                    ignore_changes=["bootDisk.initializeParams.image"],
                ),
            )
            self.masters.append(instance)

        api_groups = self._master_groups(name, spec.control_plane.count)
        api_rules = [lb.api_load_balancer(self, name, internal=True, groups=api_groups)]
        if public:
            api_rules.append(lb.api_load_balancer(self, name, internal=False, groups=api_groups))

        # ---- workers: per pool a template and a zonal managed instance group per zone
        self.node_pools = {
            pool.name: node_pool(self, name, pool, template, services) for pool in spec.effective_node_pools
        }
        groups = [g for pool_groups in self.node_pools.values() for g in pool_groups]

        # ---- service load balancers
        self.load_balancer_addresses = {
            svc.name: lb.service_load_balancer(self, name, svc, [g.manager for g in groups]) for svc in services
        }
        listeners = {
            svc.name: pulumi.Output.concat(self.load_balancer_addresses[svc.name], ":", str(svc.service_port))
            for svc in services
        }

        # ---- firewall
        api_firewall = lb.firewalls(self, name, public, services)

        # ---- readiness gate, kubeconfig, provider (https://kubernetes.io/docs/reference/using-api/health-checks/)
        url = endpoint_host.apply(api_url)
        # Re-checked whenever a master's bootstrap changes.
        self.ready, self.kubeconfig = api_access(
            self, name, identity, url,
            timeout_seconds=READY_TIMEOUT_SECONDS,
            triggers=[version, *master_configs],
            depends_on=[*self.masters, *api_rules, api_firewall],
        )
        self.endpoint = url

        # ---- node lifecycle and autoscaling, on the masters
        system = lifecycle.system_provider(self, name, self.kubeconfig, self.ready)
        self.cloud_controller_manager = lifecycle.CloudControllerManager(
            self, name, ccm_image, self.network.network_self_link, self.network.subnetwork_self_link, system,
            depends_on=[self.masters_role.member],
        )
        lifecycle.cluster_autoscaler_release(
            self, name, ca_image, groups, system,
            depends_on=[self.masters_role.member, self.cloud_controller_manager.daemonset],
        )
        reaper.reaper_rbac(self, name, system)
        # No workload is created before the CCM runs: until it has initialised a Node, the Node
        # carries node.cloudprovider.kubernetes.io/uninitialized and takes no pods.
        self.provider = self._make_provider(
            kubeconfig=self.kubeconfig, depends_on=[self.ready, self.cloud_controller_manager.daemonset]
        )
        self.details = {
            "name": name,
            "region": region,
            "apiAddress": endpoint_host,
            "registrationAddress": self.api_address,
            "masters": spec.control_plane.count,
            "nodePools": [p.name for p in spec.effective_node_pools],
            "k3sVersion": version,
            "cloudControllerManager": f"{ccm_image.name}:{ccm_image.version}",
            "clusterAutoscaler": f"{ca_image.name}:{ca_image.version}",
        }
        self.service_addresses = dict(listeners)
        self.service_hosts = dict(self.load_balancer_addresses)
        self._publish()

    def _first_zones(self, names: Sequence[str]) -> list[str]:
        # As for GKE node locations: up to `network.zones` zones, fewer where the region has
        # fewer (most GCP regions have three); the subnet is regional either way.
        chosen = sorted(names)[: self._spec.network.zones]
        if not chosen:
            raise pulumi.RunError(f"cluster {self.cluster_name}: region {self._region} lists no zones")
        return chosen

    def _zone_of(self, zones: Sequence[str], index: int) -> str:
        return zones[(index % self._spec.network.zones) % len(zones)]

    # ------------------------------------------------------------------ identity and secrets

    def _account(self, account_id: str, display_name: str, description: str) -> gcp.serviceaccount.Account:
        # 6-30 characters: cluster names have at most 24, the suffixes at most 6.
        return gcp.serviceaccount.Account(
            account_id,
            gcp.serviceaccount.AccountArgs(account_id=account_id, display_name=display_name, description=description),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._apis[IAM_API]]),
        )

    def _bootstrap_secret(
        self,
        resource_name: str,
        node: pulumi.Output[NodeBootstrap],
        secrets: Sequence[pulumi.Input[Any]],
        reader: gcp.serviceaccount.Account,
    ) -> tuple[pulumi.Output[str], gcp.secretmanager.SecretIamMember, pulumi.Output[str]]:
        """The node's bootstrap script as a secret version only ``reader`` may access.

        Returns the version's resource name, the access grant (VMs wait for it) and the
        configuration hash (no secret in it)."""
        child = pulumi.ResourceOptions(parent=self)
        secret = gcp.secretmanager.Secret(
            f"{resource_name}-bootstrap",
            gcp.secretmanager.SecretArgs(
                secret_id=f"{resource_name}-bootstrap",
                # Kept in the cluster's region (the nodes' only consumers are there).
                replication=gcp.secretmanager.SecretReplicationArgs(
                    user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                        replicas=[gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location=self._region)]
                    )
                ),
                labels=self._labels,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self._apis[SECRET_MANAGER_API]]),
        )
        token, agent_password, tls_files = secrets
        script = pulumi.Output.all(node, token, agent_password, tls_files).apply(
            lambda v: render_script(
                replace(v[0], token=v[1], agent_token=v[2] or "", tls_files=tuple(sorted((v[3] or {}).items())))
            )
        )
        version = gcp.secretmanager.SecretVersion(
            f"{resource_name}-bootstrap",
            gcp.secretmanager.SecretVersionArgs(secret=secret.id, secret_data=pulumi.Output.secret(script)),
            opts=child,
        )
        grant = gcp.secretmanager.SecretIamMember(
            f"{resource_name}-bootstrap-reader",
            gcp.secretmanager.SecretIamMemberArgs(
                secret_id=secret.id,
                role=SECRET_ACCESSOR,
                member=reader.email.apply(lambda email: f"serviceAccount:{email}"),
            ),
            opts=child,
        )
        return version.name, grant, node.apply(config_sha256)

    def _address(self, resource_name: str, *, internal: bool, description: str, name: Optional[str] = None,
                 opts: Optional[pulumi.ResourceOptions] = None) -> pulumi.Output[str]:
        address = gcp.compute.Address(
            resource_name,
            gcp.compute.AddressArgs(
                name=name,
                region=self._region,
                address_type="INTERNAL" if internal else "EXTERNAL",
                subnetwork=self.network.subnetwork_self_link if internal else None,
                network_tier=None if internal else "PREMIUM",
                description=description,
                labels=self._labels,
            ),
            # An external address references no network: it waits for the Compute Engine API itself.
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, depends_on=self.compute_api), opts),
        )
        return address.address

    # ------------------------------------------------------------------ API load balancer

    def _master_groups(self, name: str, count: int) -> list[gcp.compute.InstanceGroup]:
        """One unmanaged instance group per zone that holds masters (a backend of a regional
        backend service is a zonal group)."""
        groups = []
        zone_count = self._spec.network.zones
        for j in range(min(count, zone_count)):
            members = [m for i, m in enumerate(self.masters) if i % zone_count == j]
            groups.append(
                gcp.compute.InstanceGroup(
                    f"{name}-masters-{j}",
                    gcp.compute.InstanceGroupArgs(
                        zone=self._zones.apply(lambda z, j=j: self._zone_of(z, j)),
                        network=self.network.network_self_link,
                        instances=[m.self_link for m in members],
                        description=f"fleetform: k3s masters of cluster {name}",
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
            )
        return groups
