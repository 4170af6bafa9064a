"""Target ``gcp``, mode ``self-managed``: fleetform's own k3s masters and workers on Compute Engine.

Design notes (each setting's documentation is linked next to it):

- **Network**: the same :class:`~fleetform.network.gcp.GcpNetwork` as GKE (dedicated VPC,
  regional private subnet with Private Google Access, Cloud NAT for egress), plus the region's
  proxy-only subnet when the cluster fronts services. k3s uses its own pod and service CIDRs
  (10.42.0.0/16 and 10.43.0.0/16, flannel VXLAN); the subnet's secondary ranges stay unused, and
  the VPC's CIDR must not overlap those two (see the proposed config check in the report).
- **Masters**: ``controlPlane.count`` Compute Engine instances over the first ``network.zones``
  zones of the region, each with a reserved internal address, no external address, Shielded VM,
  Ubuntu 24.04 LTS (its GCE images run cloud-init and read the ``user-data`` metadata key:
  https://docs.cloud-init.io/en/latest/reference/datasources/gce.html), project-wide SSH keys
  blocked and OS Login on (no SSH firewall rule exists at all), deletion protection on.
- **Bootstrap secrets never sit in instance metadata.** Anyone with ``compute.instances.get``
  (the project Viewer role) can read a VM's metadata, and Compute Engine has no equivalent of
  AWS's IMDSv2 hop limit to keep pods off the metadata server. So each node's bootstrap script
  (join token, and on the first master the cluster CA keys) is a Secret Manager secret version,
  readable only by its node role's service account; ``user-data`` holds a small cloud-config
  that fetches that version with the VM's own token and runs it. What is left: a pod that can
  reach the metadata server can use the node's token to read its node's bootstrap, which is why
  masters are tainted for control-plane pods only and fleetform's workloads may not egress
  beyond DNS and configured destinations.
- **API load balancer**: an internal passthrough Network Load Balancer on TCP 6443 (regional
  backend service over one unmanaged instance group per zone, TCP health check): the cluster's
  fixed registration address, in every master's TLS SANs. With ``controlPlane.publicAccess``
  an external passthrough Network Load Balancer is added for clients in ``apiAllowedCidrs``
  (passthrough keeps the client address, so the firewall decides who gets in) and the
  kubeconfig points at it; the nodes keep registering through the internal one. Joining masters
  register with the *first master's* address instead of the load balancer: Google's guest
  agent routes a passthrough LB's address locally on its backends, so a master that is already
  a backend would reach only itself (https://cloud.google.com/load-balancing/docs/internal).
- **Workers**: one regional managed instance group per node pool from an instance template
  (referenced by ``selfLinkUnique``), with a regional autoscaler between the pool's min and max
  (CPU based: Compute Engine's autoscaler sees VMs, not pending pods; a pool at 0 VMs has no CPU
  to measure and stays at its minimum). Spot pools use ``provisioningModel: SPOT``; a preempted
  VM is deleted and the group recreates it, under the same VM name. k3s refuses a second node of
  a name it knows with another node password, so workers register with ``with-node-id`` (a
  unique suffix per boot disk, https://docs.k3s.io/cli/agent#node): a recreated or recycled
  worker joins as a new node. Template changes apply to VMs the group creates from then on
  (``OPPORTUNISTIC``): a tag or k3s release change never recreates every worker at once without
  a drain; roll them with ``gcloud compute instance-groups managed rolling-action replace``
  after draining.
- **Service load balancers**: per service exposed ``public`` / ``internal``, a *regional
  external* / *regional internal proxy Network Load Balancer* (Envoy, target TCP proxy). A
  passthrough load balancer cannot change the destination port, and the Kubernetes Service
  listens on ``nodePort`` (30000-32767), not on ``servicePort``; a proxy load balancer's
  forwarding rule may use one port and its backends another ("Port remapping",
  https://cloud.google.com/load-balancing/docs/proxy-network-load-balancer), here the instance
  groups' named port ``svc-<service>`` = the NodePort. The proxies, and the health checks, are
  the only sources that reach the workers: HTTP health checks on the NodePort and the service's
  health path from Google's probe ranges and the proxy-only subnet
  (https://cloud.google.com/load-balancing/docs/firewall-rules). No firewall rule opens anything
  to 0.0.0.0/0: a public service's listener is the load balancer's frontend, which firewall
  rules do not govern.
- **Firewall**: the VPC denies all ingress by default; fleetform opens only the API (6443 from
  the VPC and ``apiAllowedCidrs``), the health checks, and k3s's own ports between the cluster's
  nodes, matched by service account (https://docs.k3s.io/installation/requirements#networking):
  etcd 2379-2380 between masters, kubelet 10250 and flannel VXLAN UDP 8472 between all nodes.
- **Identity**: two dedicated service accounts, masters and workers, never the Compute Engine
  default one, with no project role at all; each may read its own bootstrap secrets only. The
  ``cloud-platform`` scope is Google's recommended setting with IAM deciding access
  (https://cloud.google.com/compute/docs/access/service-accounts#scopes_best_practice).
- Disks use Google-managed encryption at rest (always on:
  https://cloud.google.com/docs/security/encryption/default-encryption); Kubernetes Secrets are
  encrypted in etcd by k3s (``--secrets-encryption``).

Operating notes: the project needs the Compute Engine and Secret Manager APIs enabled. The
readiness gate and the Kubernetes provider reach the API through its load balancer, so with a
private API ``pulumi up`` runs from the VPC or a network in ``apiAllowedCidrs`` (as for a
private GKE endpoint). Masters are not replaced by config changes
(a new first master would initialise a new cluster); upgrade k3s on them in place. Nothing
removes the Node objects of workers the autoscaler deletes (there is no cloud controller manager).
"""

from __future__ import annotations

import base64
import hashlib
import shlex
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Optional

import pulumi
import pulumi_command as command
import pulumi_gcp as gcp
import yaml

from ..bootstrap import InstallSource, NodeBootstrap, api_url, config_sha256, k3s_release, readiness_probe, render_script
from ..bootstrap.identity import ClusterIdentity, api_access
from ..bootstrap.script import API_PORT, CLOUD_INIT_SCRIPT
from ..config import ClusterSpec, NodePoolSpec, Taint
from ..network.gcp import GcpNetwork
from .base import Cluster, ClusterContext, FrontedService

DEFAULT_MASTER_SIZE = "e2-standard-4"
"""Master machine type when ``controlPlane.size`` is not set: 4 vCPU / 16 GB, the size of the
default GCP node pool; k3s's server sizing grows with the number of agents
(https://docs.k3s.io/installation/requirements#cpu-and-memory)."""
MASTER_DISK_GB = 50
MASTER_DISK_TYPE = "pd-ssd"
"""etcd fsyncs every write; k3s recommends SSDs for it (https://docs.k3s.io/installation/requirements#disks)."""
WORKER_DISK_TYPE = "pd-balanced"

UBUNTU_IMAGES = {
    "amd64": "ubuntu-os-cloud/ubuntu-2404-lts-amd64",
    "arm64": "ubuntu-os-cloud/ubuntu-2404-lts-arm64",
}
"""Ubuntu 24.04 LTS image families (https://cloud.google.com/compute/docs/images/os-details).
Ubuntu's GCE images run cloud-init; Container-Optimized OS's read-only root file system has no
place for the binary k3s's installer puts in /usr/local/bin."""
ARM_MACHINE_SERIES = ("t2a-", "c4a-")
"""Arm machine series (https://cloud.google.com/compute/docs/instances/arm-on-compute)."""

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"

INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "130.211.0.0/22")
"""Probe sources of internal passthrough NLB and regional proxy LB health checks
(https://cloud.google.com/load-balancing/docs/firewall-rules)."""
EXTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES: tuple[str, ...] = ("35.191.0.0/16", "209.85.152.0/22", "209.85.204.0/22")
"""Probe sources of backend-service-based external passthrough NLB health checks
(https://cloud.google.com/load-balancing/docs/health-check-concepts#ip-ranges)."""
PROXY_HEALTH_CHECK_RANGES = INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES
"""Regional proxy Network Load Balancers: Google's probe ranges, plus the proxy-only subnet."""

ETCD_PORTS = "2379-2380"
KUBELET_PORT = "10250"
FLANNEL_VXLAN_PORT = "8472"

DEDICATED_MASTER_TAINT = "CriticalAddonsOnly=true:NoExecute"
"""k3s's documented taint for servers that run no workloads; cloud clusters always have workers."""

AUTOSCALER_CPU_TARGET = 0.6
AUTOSCALER_COOLDOWN_SECONDS = 300
"""A new worker downloads and starts k3s before its CPU means anything."""
READY_TIMEOUT_SECONDS = 1500
"""VMs boot, fetch their bootstrap, install k3s and join: allow 25 minutes on a first ``up``."""

FETCHER_PATH = "/var/lib/fleetform/fetch-bootstrap.py"

FETCH_BOOTSTRAP_PY = '''\
"""fleetform: fetch this node's k3s bootstrap from Secret Manager and write it root-only.

Usage: fetch-bootstrap.py SECRET_VERSION DEST. The VM's own service account may read this
secret (and nothing else); its access token comes from the metadata server. IAM grants take
minutes to propagate, so failures are retried until a deadline.
"""
import base64
import json
import os
import sys
import time
import urllib.request

METADATA = os.environ.get("FLEETFORM_METADATA_URL", "http://metadata.google.internal/computeMetadata/v1")
SECRET_MANAGER = os.environ.get("FLEETFORM_SECRET_MANAGER_URL", "https://secretmanager.googleapis.com/v1")
DEADLINE_SECONDS = float(os.environ.get("FLEETFORM_FETCH_DEADLINE", "900"))
RETRY_SECONDS = float(os.environ.get("FLEETFORM_FETCH_RETRY", "10"))


def get_json(url, headers):
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def fetch(version):
    token = get_json(METADATA + "/instance/service-accounts/default/token", {"Metadata-Flavor": "Google"})
    answer = get_json(SECRET_MANAGER + "/" + version + ":access", {"Authorization": "Bearer " + token["access_token"]})
    return base64.b64decode(answer["payload"]["data"])


def main(version, dest):
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            data = fetch(version)
            break
        except Exception as exc:
            if time.monotonic() >= deadline:
                print("fleetform-bootstrap: giving up on " + version + ": " + str(exc), file=sys.stderr)
                return 1
            print("fleetform-bootstrap: waiting for " + version + ": " + str(exc), file=sys.stderr)
            time.sleep(RETRY_SECONDS)
    os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
    partial = dest + ".fleetform-new"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(partial, dest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
'''
"""The fetcher cloud-init writes and runs (python3 is on every image that runs cloud-init)."""


K3S_CONFIG_FILE = "/etc/rancher/k3s/config.yaml"
"""k3s reads its flags from this file too (https://docs.k3s.io/installation/configuration#configuration-file);
the shared bootstrap leaves it alone."""
WORKER_K3S_CONFIG = (
    "# fleetform: managed instance groups recreate VMs under their old names; a unique node\n"
    "# name per boot disk lets such a VM join again (k3s agent --with-node-id).\n"
    "with-node-id: true\n"
)


def secret_cloud_init(secret_version: str, node: NodeBootstrap) -> str:
    """The node's ``user-data``: fetch ``secret_version`` (the rendered bootstrap script) and run it.

    Holds no secret. Its header names the role, k3s release and configuration hash, so a plan
    shows *that* a node's bootstrap changes although the script itself is secret. Workers (k3s
    agents in managed instance groups) also get :data:`WORKER_K3S_CONFIG`.
    """
    files = [{
        "path": FETCHER_PATH,
        "owner": "root:root",
        "permissions": "0700",
        "encoding": "b64",
        "content": base64.b64encode(FETCH_BOOTSTRAP_PY.encode()).decode(),
    }]
    if not node.is_server:
        files.append({"path": K3S_CONFIG_FILE, "owner": "root:root", "permissions": "0600", "content": WORKER_K3S_CONFIG})
    doc = {
        "write_files": files,
        "runcmd": [[
            "/bin/sh", "-c",
            f"python3 {FETCHER_PATH} {shlex.quote(secret_version)} {CLOUD_INIT_SCRIPT} && exec /bin/sh {CLOUD_INIT_SCRIPT}",
        ]],
    }
    header = f"# fleetform k3s bootstrap: role={node.role} k3s={node.version} config={config_sha256(node)}\n"
    return "#cloud-config\n" + header + yaml.safe_dump(doc, sort_keys=False, width=1 << 30)


def gcp_name(*parts: str) -> str:
    """A Compute Engine resource name (at most 63 characters) from ``parts``: joined with '-',
    and when too long, cut and suffixed with a hash of the whole so names stay unique."""
    name = "-".join(parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return name[: 63 - len(digest) - 1].rstrip("-") + "-" + digest


def port_name(service: FrontedService) -> str:
    """The instance groups' named port that carries ``service``'s NodePort."""
    return f"svc-{service.name}"


def _taint(t: Taint) -> str:
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


def _image(machine_type: str) -> str:
    return UBUNTU_IMAGES["arm64" if machine_type.startswith(ARM_MACHINE_SERIES) else "amd64"]


def _metadata(user_data: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    # https://cloud.google.com/compute/docs/metadata/predefined-metadata-keys
    return {
        "user-data": user_data,
        # Only OS Login (IAM) can ever grant SSH, and project-wide metadata keys are ignored.
        # No firewall rule admits SSH in the first place.
        "enable-oslogin": "TRUE",
        "block-project-ssh-keys": "TRUE",
        "serial-port-enable": "FALSE",
    }


class SelfManagedGcpCluster(Cluster):
    """A k3s cluster on Compute Engine VMs that fleetform provisions (target gcp, self-managed).

    Builds: a :class:`~fleetform.network.gcp.GcpNetwork` (with the proxy-only subnet when
    services are fronted); the cluster identity (CAs, admin and probe certificates, join tokens,
    :class:`~fleetform.bootstrap.identity.ClusterIdentity`); masters and workers service
    accounts; per node a Secret Manager secret holding its bootstrap script, readable by its
    role's account only; ``controlPlane.count`` master instances with reserved internal
    addresses, in unmanaged instance groups per zone behind the internal passthrough API load
    balancer (and an external one with ``publicAccess``); per node pool an instance template, a
    regional managed instance group and a regional autoscaler; per public/internal service a
    regional external/internal proxy Network Load Balancer from ``servicePort`` to the NodePort;
    the firewall rules; the ``<name>-api-ready`` gate; the Kubernetes provider, which waits for it.

    Secure defaults: API private unless ``controlPlane.publicAccess`` (then only
    ``apiAllowedCidrs``); no external IP on any VM; no SSH rule, OS Login on, project SSH keys
    blocked, serial port off; Shielded VM (secure boot, vTPM, integrity monitoring); dedicated
    service accounts without project roles (never the default compute account); bootstrap
    secrets in Secret Manager, not in metadata; nothing open to 0.0.0.0/0; k3s ports only between
    the cluster's own service accounts; secrets encryption, audit log, Pod Security
    ``restricted`` and anonymous auth off (the shared k3s bootstrap); encrypted disks.

    The Kubernetes provider is built from the cluster name, the API load balancer's address and
    the minted CA and admin certificate only, so node-pool and tag changes never replace it.
    """

    network: GcpNetwork
    identity: ClusterIdentity
    masters: list[gcp.compute.Instance]
    node_pools: dict[str, gcp.compute.RegionInstanceGroupManager]
    api_address: pulumi.Output[str]
    public_api_address: Optional[pulumi.Output[str]]
    load_balancer_addresses: dict[str, pulumi.Output[str]]
    ready: command.local.Command

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:SelfManagedGcpCluster", name, opts)
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {name}: a self-managed GCP cluster needs a region")
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

        self.network = GcpNetwork(f"{name}-network", spec, opts=child, proxy_only_subnet=bool(services))
        self.identity = identity = ClusterIdentity(f"{name}-identity", name, opts=child)

        # The first `network.zones` zones of the region, sorted so the choice is stable.
        zones = gcp.compute.get_zones_output(region=region, opts=pulumi.InvokeOutputOptions(parent=self))
        self._zones = zones.names.apply(self._first_zones)

        # ---- identities: dedicated accounts without project roles; firewall rules match them.
        self.master_account = self._account(f"{name}-ctrl", f"fleetform: k3s masters of cluster {name}")
        self.worker_account = self._account(f"{name}-nodes", f"fleetform: k3s workers of cluster {name}")

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
        # LoadBalancer Services) stays off, as does the Traefik ingress.
        template = NodeBootstrap(
            role="agent",
            version=version,
            install=InstallSource.from_spec(spec.install),
            disable=("traefik", "servicelb"),
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
            user_data = pulumi.Output.all(version_name, node).apply(lambda v: secret_cloud_init(v[0], v[1]))
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
                            image=_image(size), size=MASTER_DISK_GB, type=MASTER_DISK_TYPE,
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
                    metadata=_metadata(user_data),
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
        api_rules = [self._api_load_balancer(name, internal=True, groups=api_groups)]
        if public:
            api_rules.append(self._api_load_balancer(name, internal=False, groups=api_groups))

        # ---- workers: one regional MIG per pool
        self.node_pools = {
            pool.name: self._node_pool(name, pool, template, services) for pool in spec.effective_node_pools
        }

        # ---- service load balancers
        self.load_balancer_addresses = {
            svc.name: self._service_load_balancer(name, svc, list(self.node_pools.values())) for svc in services
        }
        listeners = {
            svc.name: pulumi.Output.concat(self.load_balancer_addresses[svc.name], ":", str(svc.service_port))
            for svc in services
        }

        # ---- firewall
        api_firewall = self._firewalls(name, public, services)

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
        self.provider = self._make_provider(kubeconfig=self.kubeconfig, depends_on=[self.ready])
        self.details = {
            "name": name,
            "region": region,
            "apiAddress": endpoint_host,
            "registrationAddress": self.api_address,
            "masters": spec.control_plane.count,
            "nodePools": [p.name for p in spec.effective_node_pools],
            "k3sVersion": version,
        }
        self.service_addresses = dict(listeners)
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

    def _account(self, account_id: str, display_name: str) -> gcp.serviceaccount.Account:
        # 6-30 characters: cluster names have at most 24, the suffixes at most 6.
        return gcp.serviceaccount.Account(
            account_id,
            gcp.serviceaccount.AccountArgs(
                account_id=account_id,
                display_name=display_name,
                description="No project roles: reads its nodes' bootstrap secrets and nothing else.",
            ),
            opts=pulumi.ResourceOptions(parent=self),
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
            opts=child,
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
            opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), opts),
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

    def _api_load_balancer(self, name: str, *, internal: bool, groups: list[gcp.compute.InstanceGroup]) -> gcp.compute.ForwardingRule:
        """A passthrough Network Load Balancer on TCP 6443 in front of the masters.

        Internal: https://cloud.google.com/load-balancing/docs/internal (scheme INTERNAL).
        External: https://cloud.google.com/load-balancing/docs/network/networklb-backend-service
        (scheme EXTERNAL, backend-service based, regional health check)."""
        role = "api" if internal else "api-public"
        child = pulumi.ResourceOptions(parent=self)
        # The API server refuses anonymous requests (/readyz included), so the check is TCP.
        health_check = gcp.compute.RegionHealthCheck(
            f"{name}-{role}-hc",
            gcp.compute.RegionHealthCheckArgs(
                region=self._region,
                tcp_health_check=gcp.compute.RegionHealthCheckTcpHealthCheckArgs(port=API_PORT),
                check_interval_sec=5,
                timeout_sec=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
                description=f"fleetform: Kubernetes API of cluster {name}",
            ),
            opts=child,
        )
        backend = gcp.compute.RegionBackendService(
            f"{name}-{role}-backend",
            gcp.compute.RegionBackendServiceArgs(
                region=self._region,
                load_balancing_scheme="INTERNAL" if internal else "EXTERNAL",
                protocol="TCP",
                health_checks=health_check.id,
                backends=[
                    gcp.compute.RegionBackendServiceBackendArgs(group=g.self_link, balancing_mode="CONNECTION")
                    for g in groups
                ],
                connection_draining_timeout_sec=30,
                description=f"fleetform: k3s masters of cluster {name}",
            ),
            opts=child,
        )
        address = self.api_address if internal else self.public_api_address
        return gcp.compute.ForwardingRule(
            f"{name}-{role}-rule",
            gcp.compute.ForwardingRuleArgs(
                region=self._region,
                load_balancing_scheme="INTERNAL" if internal else "EXTERNAL",
                backend_service=backend.id,
                ip_protocol="TCP",
                ip_address=address,
                # Internal passthrough rules list ports; external ones take a range.
                ports=[str(API_PORT)] if internal else None,
                port_range=None if internal else str(API_PORT),
                network=self.network.network_self_link if internal else None,
                subnetwork=self.network.subnetwork_self_link if internal else None,
                network_tier=None if internal else "PREMIUM",
                labels=self._labels,
                description=f"fleetform: Kubernetes API of cluster {name}",
            ),
            opts=child,
        )

    # ------------------------------------------------------------------ workers

    def _node_pool(
        self, name: str, pool: NodePoolSpec, template: NodeBootstrap, services: list[FrontedService]
    ) -> gcp.compute.RegionInstanceGroupManager:
        child = pulumi.ResourceOptions(parent=self)
        node = self.api_address.apply(
            lambda address: replace(
                template,
                server_url=api_url(address),
                labels=tuple(sorted(pool.labels.items())),
                taints=tuple(_taint(t) for t in pool.taints),
            )
        )
        # "pool-" keeps a pool's secret apart from the masters' ("master-<i>") whatever its name.
        version_name, grant, _sha = self._bootstrap_secret(
            f"{name}-pool-{pool.name}", node, [self.identity.agent_token, "", {}], self.worker_account
        )
        user_data = pulumi.Output.all(version_name, node).apply(lambda v: secret_cloud_init(v[0], v[1]))
        # Spot: https://cloud.google.com/compute/docs/instances/create-use-spot. Deleted on
        # preemption; the group recreates the VM when capacity returns.
        scheduling = (
            gcp.compute.InstanceTemplateSchedulingArgs(
                provisioning_model="SPOT",
                preemptible=True,
                automatic_restart=False,
                on_host_maintenance="TERMINATE",
                instance_termination_action="DELETE",
            )
            if pool.spot
            else gcp.compute.InstanceTemplateSchedulingArgs(
                provisioning_model="STANDARD", automatic_restart=True, on_host_maintenance="MIGRATE"
            )
        )
        instance_template = gcp.compute.InstanceTemplate(
            f"{name}-{pool.name}-tpl",
            gcp.compute.InstanceTemplateArgs(
                machine_type=pool.size,
                description=f"fleetform: k3s workers of pool {pool.name} of cluster {name}",
                disks=[
                    gcp.compute.InstanceTemplateDiskArgs(
                        boot=True,
                        auto_delete=True,
                        source_image=_image(pool.size),
                        disk_size_gb=pool.disk_gb,
                        disk_type=WORKER_DISK_TYPE,
                        labels=self._labels,
                    )
                ],
                network_interfaces=[
                    gcp.compute.InstanceTemplateNetworkInterfaceArgs(subnetwork=self.network.subnetwork_self_link)
                ],
                service_account=gcp.compute.InstanceTemplateServiceAccountArgs(
                    email=self.worker_account.email, scopes=[CLOUD_PLATFORM_SCOPE]
                ),
                shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
                ),
                scheduling=scheduling,
                metadata=_metadata(user_data),
                labels={**self._labels, "fleetform-role": "worker", "fleetform-pool": pool.name},
            ),
            opts=child,
        )
        zone_count = self._spec.network.zones
        mig = gcp.compute.RegionInstanceGroupManager(
            f"{name}-{pool.name}-mig",
            gcp.compute.RegionInstanceGroupManagerArgs(
                region=self._region,
                base_instance_name=f"{name}-{pool.name}",
                description=f"fleetform: k3s workers of pool {pool.name} of cluster {name}",
                # selfLinkUnique pins the exact template version (no time-of-check/time-of-use gap).
                versions=[
                    gcp.compute.RegionInstanceGroupManagerVersionArgs(
                        name="primary", instance_template=instance_template.self_link_unique
                    )
                ],
                distribution_policy_zones=self._zones,
                # ANY lowers Spot preemption risk; BALANCED spreads zones where capacity allows
                # (https://cloud.google.com/compute/docs/instance-groups/regional-mig-distribution-shape).
                distribution_policy_target_shape="ANY" if pool.spot else "BALANCED",
                named_ports=[
                    gcp.compute.RegionInstanceGroupManagerNamedPortArgs(name=port_name(s), port=s.node_port)
                    for s in services
                ],
                # Template changes reach new VMs only; nothing moves VMs between zones behind
                # the cluster's back (Compute Engine does not drain Kubernetes nodes).
                update_policy=gcp.compute.RegionInstanceGroupManagerUpdatePolicyArgs(
                    type="OPPORTUNISTIC",
                    minimal_action="REPLACE",
                    instance_redistribution_type="NONE",
                    max_surge_fixed=zone_count,
                    max_unavailable_fixed=0,
                ),
                # The autoscaler owns the size.
                wait_for_instances=False,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
        # Autoscaling bounds are the pool's, for the whole regional group
        # (https://cloud.google.com/compute/docs/autoscaler). Scale-in removes at most one VM per
        # ten minutes, so HPA-driven pods can move before the next node goes.
        gcp.compute.RegionAutoscaler(
            f"{name}-{pool.name}-autoscaler",
            gcp.compute.RegionAutoscalerArgs(
                # Explicit: the logical name plus Pulumi's random suffix could pass 63 characters.
                name=gcp_name(name, pool.name, "autoscaler"),
                region=self._region,
                target=mig.id,
                autoscaling_policy=gcp.compute.RegionAutoscalerAutoscalingPolicyArgs(
                    min_replicas=pool.min,
                    max_replicas=pool.max,
                    cooldown_period=AUTOSCALER_COOLDOWN_SECONDS,
                    cpu_utilization=gcp.compute.RegionAutoscalerAutoscalingPolicyCpuUtilizationArgs(
                        target=AUTOSCALER_CPU_TARGET
                    ),
                    scale_in_control=gcp.compute.RegionAutoscalerAutoscalingPolicyScaleInControlArgs(
                        max_scaled_in_replicas=gcp.compute.RegionAutoscalerAutoscalingPolicyScaleInControlMaxScaledInReplicasArgs(
                            fixed=1
                        ),
                        time_window_sec=600,
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
        )
        return mig

    # ------------------------------------------------------------------ service load balancers

    def _service_load_balancer(
        self, name: str, svc: FrontedService, groups: list[gcp.compute.RegionInstanceGroupManager]
    ) -> pulumi.Output[str]:
        """A regional external (public) or internal proxy Network Load Balancer: listener on
        ``service_port``, backends on the workers' named port = NodePort, HTTP health check on
        the NodePort and the health path.

        https://cloud.google.com/load-balancing/docs/tcp (regional external proxy NLB) and
        https://cloud.google.com/load-balancing/docs/tcp/internal-proxy (regional internal).
        Names are explicit and kept within 63 characters (service names may be long), so these
        resources are deleted before they are replaced."""
        public = svc.expose == "public"
        scheme = "EXTERNAL_MANAGED" if public else "INTERNAL_MANAGED"
        opts = pulumi.ResourceOptions(parent=self, delete_before_replace=True)
        what = f"fleetform: {svc.expose} load balancer of service {svc.name} on cluster {name}"
        address = self._address(
            f"{name}-{svc.name}-lb-ip", internal=not public, description=what,
            name=gcp_name(name, svc.name, "lb"), opts=pulumi.ResourceOptions(delete_before_replace=True),
        )
        health_check = gcp.compute.RegionHealthCheck(
            f"{name}-{svc.name}-lb-hc",
            gcp.compute.RegionHealthCheckArgs(
                name=gcp_name(name, svc.name, "hc"),
                region=self._region,
                http_health_check=gcp.compute.RegionHealthCheckHttpHealthCheckArgs(
                    port=svc.node_port, request_path=svc.health_path
                ),
                check_interval_sec=5,
                timeout_sec=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
                description=what,
            ),
            opts=opts,
        )
        backend = gcp.compute.RegionBackendService(
            f"{name}-{svc.name}-lb-backend",
            gcp.compute.RegionBackendServiceArgs(
                name=gcp_name(name, svc.name, "backend"),
                region=self._region,
                load_balancing_scheme=scheme,
                protocol="TCP",
                # The proxies connect to the instance groups' named port: the NodePort.
                port_name=port_name(svc),
                health_checks=health_check.id,
                backends=[
                    gcp.compute.RegionBackendServiceBackendArgs(
                        group=g.instance_group, balancing_mode="UTILIZATION", capacity_scaler=1.0
                    )
                    for g in groups
                ],
                log_config=gcp.compute.RegionBackendServiceLogConfigArgs(enable=True, sample_rate=1.0),
                description=what,
            ),
            opts=opts,
        )
        proxy = gcp.compute.RegionTargetTcpProxy(
            f"{name}-{svc.name}-lb-proxy",
            gcp.compute.RegionTargetTcpProxyArgs(
                name=gcp_name(name, svc.name, "proxy"),
                region=self._region,
                load_balancing_scheme=scheme,
                backend_service=backend.id,
                description=what,
            ),
            opts=opts,
        )
        gcp.compute.ForwardingRule(
            f"{name}-{svc.name}-lb-rule",
            gcp.compute.ForwardingRuleArgs(
                name=gcp_name(name, svc.name, "rule"),
                region=self._region,
                load_balancing_scheme=scheme,
                ip_protocol="TCP",
                ip_address=address,
                port_range=str(svc.service_port),
                target=proxy.id,
                network=self.network.network_self_link,
                subnetwork=None if public else self.network.subnetwork_self_link,
                network_tier="PREMIUM" if public else None,
                labels=self._labels,
                description=what,
            ),
            # The proxy-only subnet must exist before an Envoy-based forwarding rule.
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[self.network.proxy_subnetwork] if self.network.proxy_subnetwork else [])
            ),
        )
        return address

    # ------------------------------------------------------------------ firewall

    def _firewalls(self, name: str, public: bool, services: list[FrontedService]) -> gcp.compute.Firewall:
        """Every ingress the cluster needs, and nothing else (the VPC denies the rest). Returns
        the API rule (the readiness gate waits for it)."""
        masters_sa = [self.master_account.email]
        all_sa = [self.master_account.email, self.worker_account.email]
        allowed = [str(c) for c in self._spec.control_plane.api_allowed_cidrs]
        api = self._firewall(
            f"{name}-allow-api",
            "the Kubernetes API from the cluster's VPC" + (" and apiAllowedCidrs" if allowed else ""),
            allows=[("tcp", [str(API_PORT)])],
            source_ranges=[str(self._spec.network.cidr), *allowed],
            targets=masters_sa,
            log=True,
        )
        hc_ranges: list[str] = list(INTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES)
        if public:
            hc_ranges += [r for r in EXTERNAL_PASSTHROUGH_HEALTH_CHECK_RANGES if r not in hc_ranges]
        self._firewall(
            f"{name}-allow-api-health-checks",
            "Google's health checks of the API load balancer" + ("s" if public else ""),
            allows=[("tcp", [str(API_PORT)])],
            source_ranges=hc_ranges,
            targets=masters_sa,
        )
        self._firewall(
            f"{name}-allow-etcd",
            "embedded etcd between masters",
            allows=[("tcp", [ETCD_PORTS])],
            source_accounts=masters_sa,
            targets=masters_sa,
        )
        self._firewall(
            f"{name}-allow-nodes",
            "kubelet and flannel VXLAN between the cluster's nodes",
            allows=[("tcp", [KUBELET_PORT]), ("udp", [FLANNEL_VXLAN_PORT])],
            source_accounts=all_sa,
            targets=all_sa,
        )
        if services:
            ports = sorted({s.node_port for s in services})
            proxy_range = self.network.proxy_only_range
            assert proxy_range is not None  # created whenever services are fronted
            self._firewall(
                f"{name}-allow-lb-nodeports",
                "the service load balancers' proxies and health checks to the workers' NodePorts",
                allows=[("tcp", [str(p) for p in ports])],
                source_ranges=[*PROXY_HEALTH_CHECK_RANGES, proxy_range],
                targets=[self.worker_account.email],
                log=True,
            )
        return api

    def _firewall(
        self,
        resource_name: str,
        what: str,
        *,
        allows: list[tuple[str, list[str]]],
        targets: list[pulumi.Output[str]],
        source_ranges: Optional[list[str]] = None,
        source_accounts: Optional[list[pulumi.Output[str]]] = None,
        log: bool = False,
    ) -> gcp.compute.Firewall:
        # Service accounts, not network tags, select the VMs: anyone who may edit an instance
        # can change its tags while it runs; its service account changes only while it is
        # stopped (https://cloud.google.com/firewall/docs/firewalls#service-accounts-vs-tags).
        return gcp.compute.Firewall(
            resource_name,
            gcp.compute.FirewallArgs(
                network=self.network.network_self_link,
                direction="INGRESS",
                priority=1000,
                allows=[gcp.compute.FirewallAllowArgs(protocol=p, ports=ports) for p, ports in allows],
                source_ranges=source_ranges,
                source_service_accounts=source_accounts,
                target_service_accounts=targets,
                log_config=gcp.compute.FirewallLogConfigArgs(metadata="INCLUDE_ALL_METADATA") if log else None,
                description=f"fleetform: {what}",
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
