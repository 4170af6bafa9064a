"""Target ``gcp``, mode ``managed``: a private GKE Standard cluster with its own VPC.

Design notes (each setting's documentation is linked next to it):

- Release channel REGULAR: GKE's default channel and the one Google describes for "production
  users who need features not yet offered in the Stable channel"; it gets patches quickly while
  versions have already been qualified on RAPID. ``minMasterVersion`` pins the configured minor
  as the floor; GKE upgrades within the channel.
- Control plane endpoint: the IP endpoint is private unless ``controlPlane.publicAccess``; then it
  is public only to ``apiAllowedCidrs``. Authorized networks are enforced on the private endpoint
  too and hold the VPC's range, ``privateAccessCidrs`` (VPN, peered networks, a CI runner's
  network) and ``apiAllowedCidrs``; with ``privateAccessCidrs`` the private endpoint also answers
  clients in other regions (global access). GKE also offers a DNS-based endpoint guarded by IAM
  that GKE's docs recommend; it answers from any network that reaches Google APIs, so it is not
  "private" in fleetform's sense and stays closed to user traffic (docs/targets.md weighs it as a
  first-deploy path; opening it would be an explicit config choice that does not exist yet).
- A fresh project works: the APIs the cluster uses are enabled by the stack
  (:data:`REQUIRED_APIS`, never disabled on destroy); the GKE service agent is created
  explicitly before the secrets key is granted to it; the transient default node pool runs as
  fleetform's node service account, so projects without the Compute Engine default account work.
- The kubeconfig's ``gke-gcloud-auth-plugin`` authenticates as the Pulumi gcp provider does
  (:func:`plugin_auth`): Application Default Credentials, the ``gcp:credentials`` key file, or
  the impersonated service account.
- Deletion protection is on (the provider's own default, set explicitly): a change that would
  *replace* the cluster, or ``pulumi destroy``, fails instead of deleting a cluster with
  everything on it. Destroying on purpose takes a ``pulumi up`` with it off first; there is no
  config key for that yet.
- Zones: nodes go to the first ``network.zones`` zones of the region (``getZones``, sorted); the
  subnet is regional, so zones do not change the network.
- Node disks use Google-managed encryption at rest (always on:
  https://cloud.google.com/docs/security/encryption/default-encryption); customer-managed keys
  for boot disks (``bootDiskKmsKey``) are possible but not configured.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_gcp as gcp
import yaml

from ..config import ClusterSpec, NodePoolSpec, Taint
from ..network.gcp import RESOURCE_MANAGER_API, GcpNetwork, enable_apis
from .base import Cluster, ClusterContext

RELEASE_CHANNEL = "REGULAR"
"""https://cloud.google.com/kubernetes-engine/docs/concepts/release-channels"""

KEY_ROTATION_PERIOD = "7776000s"
"""90 days: CIS Google Cloud Platform Foundation Benchmark 1.10, "Ensure KMS encryption keys are
rotated within a period of 90 days"."""

NODE_ROLES = (
    # The least-privilege role GKE documents for node service accounts: logs, metrics, metadata
    # and the autoscaling metrics the HPA performance profile writes. It replaces the former list
    # of logging.logWriter + monitoring.metricWriter + monitoring.viewer +
    # stackdriver.resourceMetadata.writer:
    # https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa
    # https://cloud.google.com/kubernetes-engine/security/configure-node-service-accounts
    "roles/container.defaultNodeServiceAccount",
    # Image pulls from Artifact Registry in the cluster's project (read-only).
    "roles/artifactregistry.reader",
)
"""Project roles of the dedicated node service account, and nothing else."""

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"

TAINT_EFFECTS = {"NoSchedule": "NO_SCHEDULE", "PreferNoSchedule": "PREFER_NO_SCHEDULE", "NoExecute": "NO_EXECUTE"}
"""Kubernetes taint effects as the GKE API spells them."""

LOGGED_COMPONENTS = ["SYSTEM_COMPONENTS", "APISERVER", "CONTROLLER_MANAGER", "SCHEDULER", "WORKLOADS"]
"""Control-plane and node logs sent to Cloud Logging
(https://cloud.google.com/kubernetes-engine/docs/concepts/about-logs). Kubernetes *audit* logs
are Cloud Audit Logs, always on for admin activity."""

REQUIRED_APIS = (
    RESOURCE_MANAGER_API,  # the project (number, IAM policy) read and written below
    "iam.googleapis.com",  # the node service account
    "compute.googleapis.com",  # VPC, subnet, router, NAT, zones
    "cloudkms.googleapis.com",  # the secrets key ring, key and its grant
    "container.googleapis.com",  # the cluster and node pools
)
"""Google APIs this module's resources call, enabled by the stack
(:func:`~fleetform.network.gcp.enable_apis`). Logging and Monitoring, where the cluster sends
logs and metrics, are on by default in a new project
(https://cloud.google.com/service-usage/docs/enabled-service#default)."""

GKE_AGENT_ROLE = "roles/container.serviceAgent"
"""The role GKE's service agent normally receives when GKE creates it. An agent created on
request (:class:`gcp.projects.ServiceIdentity`) is not granted its roles automatically, so they
must be granted (https://cloud.google.com/iam/docs/create-service-agents)."""

ADC_FLAG = "--use_application_default_credentials"
"""``gke-gcloud-auth-plugin`` flag: mint tokens from Application Default Credentials instead of
``gcloud``'s own credentials; it ignores ``--impersonate_service_account`` in that mode
(kubernetes/cloud-provider-gcp ``cmd/gke-gcloud-auth-plugin/cred.go``, ``main``)."""

CREDENTIALS_ENV = ("GOOGLE_CREDENTIALS", "GOOGLE_CLOUD_KEYFILE_JSON", "GCLOUD_KEYFILE_JSON")
"""Where the gcp provider looks for ``credentials`` when no credentials are configured, in order
(https://registry.terraform.io/providers/hashicorp/google/latest/docs/guides/provider_reference#authentication-configuration)."""

AUTH_PLUGIN_HINT = (
    "Install gke-gcloud-auth-plugin for use with kubectl by following "
    "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"
)


def gke_taint(taint: Taint) -> gcp.container.NodePoolNodeConfigTaintArgs:
    """A config taint in the GKE API's spelling."""
    return gcp.container.NodePoolNodeConfigTaintArgs(key=taint.key, value=taint.value, effect=TAINT_EFFECTS[taint.effect])


@dataclass(frozen=True)
class PluginAuth:
    """How ``gke-gcloud-auth-plugin`` gets its token: the exec block's ``args`` and ``env``."""

    args: tuple[str, ...] = (ADC_FLAG,)
    env: tuple[tuple[str, str], ...] = ()
    warning: Optional[str] = None
    """Set when the kubeconfig cannot carry the provider's identity by itself (docs/targets.md)."""


def plugin_auth(config: Callable[[str], Optional[str]], environ: Mapping[str, str]) -> PluginAuth:
    """The plugin settings that authenticate as the Pulumi gcp provider does.

    ``config``: reads a ``gcp:`` config key; ``environ``: the environment ``pulumi up`` runs in
    (the Kubernetes provider runs the plugin with it). The provider's order
    (terraform-provider-google ``google/provider/provider.go``, ``providerConfigure``; its
    ``transport/config.go``, ``GetCredentials``): ``accessToken`` before ``credentials``, both from
    config or else from the environment (:data:`CREDENTIALS_ENV`, ``GOOGLE_OAUTH_ACCESS_TOKEN``),
    else Application Default Credentials; ``impersonateServiceAccount`` (or
    ``GOOGLE_IMPERSONATE_SERVICE_ACCOUNT``) on top of any of them. The plugin
    (``cmd/gke-gcloud-auth-plugin/cred.go``) has three modes: ADC (``--use_application_default_credentials``),
    gcloud's credentials with ``--impersonate_service_account``, and gcloud mode returning
    ``CLOUDSDK_AUTH_ACCESS_TOKEN`` as is (``gcloud_token_provider.go``).
    """
    token, credentials = config("accessToken"), config("credentials")
    if not token and not credentials:
        credentials = next((environ[k] for k in CREDENTIALS_ENV if environ.get(k)), None)
        token = environ.get("GOOGLE_OAUTH_ACCESS_TOKEN")
    impersonate = config("impersonateServiceAccount") or environ.get("GOOGLE_IMPERSONATE_SERVICE_ACCOUNT")
    impersonation = (f"--impersonate_service_account={impersonate}",) if impersonate else ()
    if token:
        return PluginAuth(
            args=impersonation,
            warning="the gcp provider uses an OAuth access token: gke-gcloud-auth-plugin needs the same token in "
            "CLOUDSDK_AUTH_ACCESS_TOKEN" + (" (minted for the impersonated account)" if impersonate else ""),
        )
    if impersonate:
        return PluginAuth(
            args=impersonation,
            warning="the provider's credentials key is not what gcloud impersonates from: gcloud's own account "
            "must be allowed to impersonate the service account" if credentials else None,
        )
    if credentials and credentials.lstrip().startswith("{"):
        # A key's JSON itself: carrying it into the kubeconfig would put a long-lived key in state.
        return PluginAuth(warning="gcp:credentials holds a key's JSON: point GOOGLE_APPLICATION_CREDENTIALS at "
                          "the same key file for the kubeconfig")
    if credentials:
        # A path (the provider reads paths and expands ~): ADC reads the same file from this variable
        # (https://cloud.google.com/docs/authentication/application-default-credentials#GAC).
        return PluginAuth(env=(("GOOGLE_APPLICATION_CREDENTIALS", os.path.expanduser(credentials)),))
    return PluginAuth()


def kubeconfig_yaml(cluster_name: str, server: str, ca_data: str, auth: PluginAuth = PluginAuth()) -> str:
    """A kubeconfig for a GKE cluster that authenticates with ``gke-gcloud-auth-plugin``.

    Only the cluster's name, API server URL and CA (base64 PEM) go in: no token, no client
    certificate. The plugin mints short-lived tokens from the caller's Google credentials
    (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl), chosen
    by ``auth`` (:func:`plugin_auth`); ``env`` entries are the exec block's name/value pairs
    (kubeconfig ``ExecConfig.env``, https://kubernetes.io/docs/reference/config-api/kubeconfig.v1/#ExecConfig).
    Otherwise the exec block is the one ``gcloud container clusters get-credentials`` writes.
    """
    exec_: dict[str, Any] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": "gke-gcloud-auth-plugin",
        "args": list(auth.args),
        "installHint": AUTH_PLUGIN_HINT,
        "provideClusterInfo": True,
        "interactiveMode": "IfAvailable",
    }
    if auth.env:
        exec_["env"] = [{"name": k, "value": v} for k, v in auth.env]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [
            {
                "name": cluster_name,
                "user": {"exec": exec_},
            }
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def authorized_networks(spec: ClusterSpec) -> list[tuple[str, str]]:
    """(label, CIDR) pairs allowed to the API endpoints, each CIDR once, in this order: the VPC's
    range (nodes, Pods, Services and every other subnet fleetform carves from it), then
    ``controlPlane.privateAccessCidrs``, then, only with a public endpoint, ``controlPlane.apiAllowedCidrs``
    (a private endpoint refuses public ranges: "is not a reserved network, which is required for
    private endpoints", terraform-google-kubernetes-engine docs/private_clusters.md; the config keeps
    privateAccessCidrs private). The label is the config key the CIDR came from, shown in GKE as the
    block's display name."""
    plane = spec.control_plane
    candidates = [("network.cidr", spec.network.cidr)]
    candidates += [(f"privateAccessCidrs[{i}]", c) for i, c in enumerate(plane.private_access_cidrs)]
    if plane.public_access:
        candidates += [(f"apiAllowedCidrs[{i}]", c) for i, c in enumerate(plane.api_allowed_cidrs)]
    seen: set[str] = set()
    out = []
    for label, cidr in candidates:
        if str(cidr) not in seen:
            seen.add(str(cidr))
            out.append((label, str(cidr)))
    return out


class GkeCluster(Cluster):
    """A private GKE Standard cluster, its VPC, secrets key and node pools.

    Builds: the project's :data:`REQUIRED_APIS`; a :class:`~fleetform.network.gcp.GcpNetwork`;
    a Cloud KMS key ring and key (90-day rotation) that encrypts Kubernetes Secrets in etcd, with
    the GKE service agent (created explicitly) allowed to use it; a dedicated node service
    account with only :data:`NODE_ROLES`, also used by the transient default node pool; a
    regional cluster with the default node pool removed; one autoscaled node pool per configured
    pool.

    Secure defaults: private nodes (no public IPs) and a private API endpoint unless
    ``controlPlane.publicAccess`` (then only ``apiAllowedCidrs``), authorized networks enforced on
    the private endpoint (the VPC, ``privateAccessCidrs``), DNS endpoint closed to user
    traffic; application-layer secrets encryption with the stack's key; control-plane logs;
    Workload Identity with the GKE metadata server on every node; no legacy ABAC, no client
    certificate; Dataplane V2 (NetworkPolicy enforced); Shielded nodes with secure boot and
    integrity monitoring; kubelet read-only port off; auto-repair and auto-upgrade; release
    channel REGULAR; deletion protection.

    The Kubernetes provider is built from the cluster's name, endpoint and CA only, so node pool
    and label changes never replace it (or the workloads on it).
    """

    network: GcpNetwork
    cluster: gcp.container.Cluster
    node_pools: dict[str, gcp.container.NodePool]
    node_service_account: gcp.serviceaccount.Account
    secrets_key: gcp.kms.CryptoKey
    workload_pool: pulumi.Output[str]
    node_locations: pulumi.Output[list[str]]

    def __init__(
        self, name: str, spec: ClusterSpec, ctx: ClusterContext, opts: Optional[pulumi.ResourceOptions] = None
    ):
        super().__init__("fleetform:cluster:GkeCluster", name, opts)
        if spec.region is None:  # unreachable: config validation requires a region on clouds
            raise ValueError(f"cluster {name}: GKE needs a region")
        region = spec.region
        self.target = "gcp"
        self.self_managed = False
        self.kubernetes_version = ctx.kubernetes_version
        child = pulumi.ResourceOptions(parent=self)
        labels = {"fleetform-cluster": name, **spec.tags}
        gcp_config = pulumi.Config("gcp")

        # ---- the project's APIs, so a fresh project works; each resource waits for its API.
        apis = enable_apis(name, REQUIRED_APIS, child, project=gcp_config.get("project"))

        def after(*services: str) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=[apis[s] for s in services])

        self.network = GcpNetwork(f"{name}-network", spec, opts=child, depends_on=[apis["compute.googleapis.com"]])

        # ---- node identity: a dedicated service account, never the Compute Engine default one
        # (https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa).
        self.node_service_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            gcp.serviceaccount.AccountArgs(
                account_id=f"{name}-nodes",
                display_name=f"fleetform: GKE nodes of cluster {name}",
                description="Node identity: logging, monitoring, image pulls. Workloads use Workload Identity.",
            ),
            opts=after("iam.googleapis.com"),
        )
        node_sa_member = self.node_service_account.email.apply(lambda email: f"serviceAccount:{email}")

        # The project: gcp:project when set, else the provider's default project, read through the
        # provider (never a made-up id). Its *number* names the GKE service agent:
        # https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets#grant_permission
        project = gcp.organizations.get_project_output(
            project_id=gcp_config.get("project"),
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[apis[RESOURCE_MANAGER_API]]),
        )
        project_id = project.project_id.apply(self._required("project id"))
        gke_agent = project.number.apply(
            lambda number: f"serviceAccount:service-{number}@container-engine-robot.iam.gserviceaccount.com"
        )
        node_grants = [
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                gcp.projects.IAMMemberArgs(project=project_id, role=role, member=node_sa_member),
                opts=after(RESOURCE_MANAGER_API),
            )
            for role in NODE_ROLES
        ]

        # ---- the GKE service agent exists only once GKE creates it, which may be as late as the
        # first cluster; a role cannot be granted to an agent that does not exist yet, so it is
        # created here (https://cloud.google.com/iam/docs/create-service-agents). An agent created
        # on request gets no roles automatically: its usual role is granted too, and kept on
        # destroy, because GKE needs it for every cluster in the project, not only this one.
        agent_identity = gcp.projects.ServiceIdentity(
            f"{name}-gke-agent",
            gcp.projects.ServiceIdentityArgs(service="container.googleapis.com", project=gcp_config.get("project")),
            opts=after("container.googleapis.com"),
        )
        agent_role = gcp.projects.IAMMember(
            f"{name}-gke-agent-role",
            gcp.projects.IAMMemberArgs(project=project_id, role=GKE_AGENT_ROLE, member=gke_agent),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[agent_identity], retain_on_delete=True),
        )

        # ---- application-layer secrets encryption (https://cloud.google.com/kubernetes-engine/docs/how-to/encrypting-secrets)
        # The key must be in the cluster's location. Key rings cannot be deleted in GCP, so the
        # ring is auto-named (random suffix): re-creating a cluster never collides with the old ring.
        key_ring = gcp.kms.KeyRing(
            f"{name}-keyring", gcp.kms.KeyRingArgs(location=region), opts=after("cloudkms.googleapis.com")
        )
        self.secrets_key = gcp.kms.CryptoKey(
            f"{name}-secrets-key",
            gcp.kms.CryptoKeyArgs(
                key_ring=key_ring.id,
                purpose="ENCRYPT_DECRYPT",
                rotation_period=KEY_ROTATION_PERIOD,
                labels=labels,
            ),
            opts=after("cloudkms.googleapis.com"),
        )
        key_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-secrets-key-gke",
            gcp.kms.CryptoKeyIAMMemberArgs(
                crypto_key_id=self.secrets_key.id,
                role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member=gke_agent,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[agent_identity]),
        )

        # Nodes in the first `network.zones` zones of the region, sorted so the choice is stable;
        # the control plane is regional either way.
        zones = gcp.compute.get_zones_output(
            region=region,
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[apis["compute.googleapis.com"]]),
        )
        self.node_locations = zones.names.apply(lambda names: sorted(names)[: spec.network.zones])
        self.workload_pool = project_id.apply(lambda p: f"{p}.svc.id.goog")
        public = spec.control_plane.public_access
        authorized = authorized_networks(spec)

        self.cluster = gcp.container.Cluster(
            f"{name}-cluster",
            gcp.container.ClusterArgs(
                name=name,
                description=f"fleetform cluster {name}",
                # Regional: the control plane is replicated across the region's zones
                # (https://cloud.google.com/kubernetes-engine/docs/concepts/regional-clusters);
                # node pools use the cluster's node locations.
                location=region,
                node_locations=self.node_locations,
                network=self.network.network_self_link,
                subnetwork=self.network.subnetwork_self_link,
                networking_mode="VPC_NATIVE",
                ip_allocation_policy=gcp.container.ClusterIpAllocationPolicyArgs(
                    cluster_secondary_range_name=self.network.pods_range_name,
                    services_secondary_range_name=self.network.services_range_name,
                ),
                min_master_version=ctx.kubernetes_version,
                release_channel=gcp.container.ClusterReleaseChannelArgs(channel=RELEASE_CHANNEL),
                # Node pools are separate resources; GKE still needs one node for the default
                # pool at creation, which is then removed.
                remove_default_node_pool=True,
                initial_node_count=1,
                node_config=self._default_pool_node_config(),
                # Network isolation: https://cloud.google.com/kubernetes-engine/docs/concepts/network-isolation
                # Global access, only with privateAccessCidrs: the private endpoint then also
                # answers "sources in other regions" (GKE API, IPEndpointsConfig.global_access,
                # https://cloud.google.com/php/docs/reference/cloud-container/latest/V1.ControlPlaneEndpointsConfig.IPEndpointsConfig),
                # e.g. a VPN tunnel or peered VM outside the cluster's region.
                private_cluster_config=gcp.container.ClusterPrivateClusterConfigArgs(
                    enable_private_nodes=True,
                    enable_private_endpoint=not public,
                    master_global_access_config=gcp.container.ClusterPrivateClusterConfigMasterGlobalAccessConfigArgs(
                        enabled=bool(spec.control_plane.private_access_cidrs)
                    ),
                ),
                # Authorized networks on, and Google Cloud's own public IPs not let in (CIS GKE
                # 5.6.3); enforced on the private endpoint too, which the provider leaves off by
                # default ("Whether authorized networks is enforced on the private endpoint or
                # not. Defaults to false.", resource_container_cluster.go). What may connect:
                # :func:`authorized_networks`
                # (https://cloud.google.com/kubernetes-engine/docs/how-to/authorized-networks).
                master_authorized_networks_config=gcp.container.ClusterMasterAuthorizedNetworksConfigArgs(
                    cidr_blocks=[
                        gcp.container.ClusterMasterAuthorizedNetworksConfigCidrBlockArgs(cidr_block=cidr, display_name=label)
                        for label, cidr in authorized
                    ],
                    gcp_public_cidrs_access_enabled=False,
                    private_endpoint_enforcement_enabled=True,
                ),
                control_plane_endpoints_config=gcp.container.ClusterControlPlaneEndpointsConfigArgs(
                    dns_endpoint_config=gcp.container.ClusterControlPlaneEndpointsConfigDnsEndpointConfigArgs(
                        allow_external_traffic=False,
                    ),
                ),
                database_encryption=gcp.container.ClusterDatabaseEncryptionArgs(
                    state="ENCRYPTED", key_name=self.secrets_key.id
                ),
                logging_config=gcp.container.ClusterLoggingConfigArgs(enable_components=LOGGED_COMPONENTS),
                # Workload Identity: https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
                workload_identity_config=gcp.container.ClusterWorkloadIdentityConfigArgs(workload_pool=self.workload_pool),
                enable_legacy_abac=False,
                # No client certificate (basic auth no longer exists on GKE):
                # https://cloud.google.com/kubernetes-engine/docs/how-to/api-server-authentication#legacy-auth
                master_auth=gcp.container.ClusterMasterAuthArgs(
                    client_certificate_config=gcp.container.ClusterMasterAuthClientCertificateConfigArgs(
                        issue_client_certificate=False
                    )
                ),
                # Dataplane V2 enforces NetworkPolicy itself (no Calico add-on):
                # https://cloud.google.com/kubernetes-engine/docs/concepts/dataplane-v2
                datapath_provider="ADVANCED_DATAPATH",
                enable_shielded_nodes=True,
                # LoadBalancer Services (components/fleetform/workloads/exposure.py): the external
                # backend-service-based NLB (cloud.google.com/l4-rbs) needs the HttpLoadBalancing
                # add-on, on by default and pinned here
                # (https://cloud.google.com/kubernetes-engine/docs/how-to/backend-service-based-external-load-balancer#requirements).
                # Internal LBs: GKE subsetting (GCE_VM_IP NEGs) lifts the 250-node backend limit
                # (https://cloud.google.com/kubernetes-engine/docs/internal-load-balancing, "Using GKE subsetting").
                addons_config=gcp.container.ClusterAddonsConfigArgs(
                    http_load_balancing=gcp.container.ClusterAddonsConfigHttpLoadBalancingArgs(disabled=False),
                ),
                enable_l4_ilb_subsetting=True,
                deletion_protection=True,
                resource_labels=labels,
            ),
            # GKE checks the key grant (to an agent that exists and holds its role) and starts the
            # default pool's nodes as the node account at creation. nodeConfig only shapes that
            # transient pool: GKE reports the first remaining pool's config in its place afterwards,
            # and every field of it forces replacement, so later differences are ignored
            # (hashicorp/terraform-provider-google#12070, #17511; the Cluster.nodeConfig field,
            # https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters#Cluster).
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[key_grant, agent_role, *node_grants, apis["container.googleapis.com"]],
                ignore_changes=["nodeConfig"],
            ),
        )

        self.node_pools = {
            pool.name: self._node_pool(name, region, pool, labels, depends_on=[self.network, *node_grants])
            for pool in spec.effective_node_pools
        }

        # ---- the cluster face: built from name, endpoint and CA only.
        # With a private endpoint, `endpoint` may still report the (closed) public address, so the
        # private one is read explicitly (terraform-google-kubernetes-engine #2070, #2189).
        host = (
            self.cluster.endpoint
            if public
            else self.cluster.private_cluster_config.apply(lambda c: (c.private_endpoint if c else None) or "")
        )
        self.endpoint = pulumi.Output.concat("https://", host.apply(self._required("API endpoint")))
        ca = self.cluster.master_auth.apply(lambda auth: auth.cluster_ca_certificate or "")
        # The kubeconfig signs in as the gcp provider does; what it cannot carry is reported.
        exec_auth = plugin_auth(gcp_config.get, os.environ)
        if exec_auth.warning:
            pulumi.log.warn(f"cluster {name}: {exec_auth.warning} (docs/targets.md, GKE)", resource=self)
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.name, self.endpoint, ca.apply(self._required("cluster CA"))).apply(
                lambda args: kubeconfig_yaml(*args, auth=exec_auth)
            )
        )
        self.provider = self._make_provider(kubeconfig=self.kubeconfig)
        self.details = {
            "name": self.cluster.name,
            "region": region,
            "workloadPool": self.workload_pool,
            "nodePools": [np.name for np in self.node_pools.values()],
            "nodeServiceAccount": self.node_service_account.email,
        }
        self._publish()

    def _default_pool_node_config(self) -> gcp.container.ClusterNodeConfigArgs:
        """The transient default pool's nodes, set up as :meth:`_node_pool` sets up the real ones.

        Without it they run as the Compute Engine default service account, and cluster creation
        fails where that account is deleted or disabled (hashicorp/terraform-provider-google#4435);
        GKE's hardening guide wants a least-privilege account on every node
        (https://cloud.google.com/kubernetes-engine/docs/how-to/hardening-your-cluster#use_least_privilege_sa);
        the provider documents ``node_config`` as the default pool's settings
        (https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/container_cluster#node_config).
        """
        return gcp.container.ClusterNodeConfigArgs(
            service_account=self.node_service_account.email,
            oauth_scopes=[CLOUD_PLATFORM_SCOPE],
            image_type="COS_CONTAINERD",
            workload_metadata_config=gcp.container.ClusterNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
            shielded_instance_config=gcp.container.ClusterNodeConfigShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_integrity_monitoring=True
            ),
            kubelet_config=gcp.container.ClusterNodeConfigKubeletConfigArgs(insecure_kubelet_readonly_port_enabled="FALSE"),
            metadata={"disable-legacy-endpoints": "true"},
        )

    def _node_pool(
        self,
        cluster_name: str,
        region: str,
        pool: NodePoolSpec,
        labels: dict[str, str],
        depends_on: list[pulumi.Resource],
    ) -> gcp.container.NodePool:
        """One autoscaled pool: total min/max over all zones, private nodes, hardened node config."""
        return gcp.container.NodePool(
            f"{cluster_name}-{pool.name}",
            gcp.container.NodePoolArgs(
                # Named after the config (unique in the cluster). A change GKE cannot apply in
                # place (e.g. spot) deletes the pool before re-creating it; to move workloads
                # without a gap, add a pool under a new name and remove the old one.
                name=pool.name,
                cluster=self.cluster.id,
                location=region,
                # Start at the pool's minimum (the count is per zone); the autoscaler owns the
                # size afterwards, so later changes of min are ignored instead of replacing the
                # pool (the field forces replacement).
                initial_node_count=self.node_locations.apply(lambda zones: -(-pool.min // max(len(zones), 1))),
                # Total bounds over all the pool's zones (the config's min/max are per pool), not
                # per zone: https://cloud.google.com/kubernetes-engine/docs/concepts/cluster-autoscaler#minimum_and_maximum_node_pool_size
                autoscaling=gcp.container.NodePoolAutoscalingArgs(
                    total_min_node_count=pool.min,
                    total_max_node_count=pool.max,
                    # ANY lowers preemption risk for Spot VMs; BALANCED spreads zones evenly.
                    location_policy="ANY" if pool.spot else "BALANCED",
                ),
                management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
                upgrade_settings=gcp.container.NodePoolUpgradeSettingsArgs(strategy="SURGE", max_surge=1, max_unavailable=0),
                network_config=gcp.container.NodePoolNetworkConfigArgs(enable_private_nodes=True),
                node_config=gcp.container.NodePoolNodeConfigArgs(
                    machine_type=pool.size,
                    disk_size_gb=pool.disk_gb,
                    disk_type="pd-balanced",
                    image_type="COS_CONTAINERD",
                    labels=dict(pool.labels),
                    taints=[gke_taint(t) for t in pool.taints],
                    spot=pool.spot,
                    service_account=self.node_service_account.email,
                    # Access is decided by the service account's IAM roles; the broad scope is
                    # what Google recommends with a least-privilege account
                    # (https://cloud.google.com/compute/docs/access/service-accounts#scopes_best_practice).
                    oauth_scopes=[CLOUD_PLATFORM_SCOPE],
                    # Pods see the GKE metadata server, never the node's credentials:
                    # https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
                    workload_metadata_config=gcp.container.NodePoolNodeConfigWorkloadMetadataConfigArgs(mode="GKE_METADATA"),
                    shielded_instance_config=gcp.container.NodePoolNodeConfigShieldedInstanceConfigArgs(
                        enable_secure_boot=True, enable_integrity_monitoring=True
                    ),
                    # https://cloud.google.com/kubernetes-engine/docs/how-to/disable-kubelet-readonly-port
                    kubelet_config=gcp.container.NodePoolNodeConfigKubeletConfigArgs(
                        insecure_kubelet_readonly_port_enabled="FALSE"
                    ),
                    metadata={"disable-legacy-endpoints": "true"},
                    resource_labels=labels,
                ),
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=depends_on, delete_before_replace=True, ignore_changes=["initialNodeCount"]
            ),
        )

    def _required(self, what: str):
        """An ``apply`` callback that fails the deployment with a one-line message (``RunError``
        prints no traceback; the Python SDK has no ``ResourceError``) on an empty value."""

        def check(value: Any) -> Any:
            if value in (None, ""):
                raise pulumi.RunError(f"cluster {self.cluster_name}: GCP returned no {what}")
            return value

        return check
