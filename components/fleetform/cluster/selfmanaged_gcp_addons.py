"""Target ``gcp``, mode ``self-managed``: what keeps the nodes in step with Compute Engine once the
cluster answers (split from :mod:`.selfmanaged_gcp`, which builds the machines).

- **cloud-provider-gcp** (the GCE cloud-controller-manager, CCM), on the masters: gives every Node
  its providerID, its ``topology.kubernetes.io/zone``/``region`` and instance-type labels and its
  addresses, and deletes the Node of an instance that no longer exists. Only its node and
  node-lifecycle controllers run: the service controller is off because fleetform provisions each
  exposed service's load balancer itself (one owner per load balancer: the CCM never sees a
  ``type: LoadBalancer`` Service of fleetform's), the route controller because flannel's VXLAN
  routes the pods, and the node-IPAM controller because k3s's controller manager already gives
  each node its pod range.
- **the Kubernetes Cluster Autoscaler**, on the masters: moves each pool's zonal groups between
  their share of ``min`` and ``max`` (:mod:`.selfmanaged_gcp_workers`).
- **their Google identity**: the masters' service account, through the metadata server (both
  read their token there: ``google.ComputeTokenSource`` in cloud-provider-gcp
  ``providers/gce/gce.go``, ``GenerateCloudConfig``; Application Default Credentials in the
  autoscaler). It holds one custom project role with exactly the Compute Engine permissions the
  two call (:data:`MASTER_PERMISSIONS`); the workers' account still holds no project role.

Both are installed through a Kubernetes provider that waits for the readiness gate, and the
workloads' provider waits for the CCM, as on AWS (:mod:`.selfmanaged_aws_addons`). The CCM is plain
Kubernetes objects (the project publishes a kustomize manifest, ``deploy/packages/default``, but
no chart), written to pass fleetform's own policy pack: no host network, a projected token
instead of an automounted one, non-root, read-only root file system. Versions are pinned per
Kubernetes minor in :mod:`.addons`.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
from pulumi_kubernetes.apps.v1 import DaemonSetSpecArgsDict
from pulumi_kubernetes.core.v1 import PodSpecArgsDict, SecurityContextArgsDict, TolerationArgsDict
from pulumi_kubernetes.helm.v3 import Release
from pulumi_kubernetes.meta.v1 import ObjectMetaArgsDict
from pulumi_kubernetes.networking.v1 import NetworkPolicySpecArgsDict
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgsDict, RoleRefArgsDict, SubjectArgsDict

from ..config import FleetConfigError
from . import addons
from .selfmanaged_gcp_workers import PoolGroup

SYSTEM_NAMESPACE = "kube-system"

CCM_NAME = "gce-cloud-controller-manager"
"""Its ServiceAccount, DaemonSet, ConfigMap and pod label value."""
CCM_CONFIG_DIR = "/etc/gce"
CCM_CONFIG_FILE = "gce.conf"
CCM_PORT = 10258
"""The CCM's secure port (k8s.io/cloud-provider ``CloudControllerManagerPort``), serving ``/healthz``."""
CCM_CONTROLLERS = ("cloud-node-controller", "cloud-node-lifecycle-controller")
"""The controllers enabled, by their canonical names (k8s.io/cloud-provider ``names/controller_names.go``):
an allow-list, so ``service-lb-controller``, ``node-route-controller`` and cloud-provider-gcp's
own ``nodeipam`` (``cmd/cloud-controller-manager/main.go``) stay off."""
CLUSTER_ID_CONFIG_MAP = "ingress-uid"
"""The kube-system ConfigMap cloud-provider-gcp watches (providers/gce/gce_clusterid.go, ``UIDConfigMapName``)."""
LEADER_LEASE = "cloud-controller-manager"
"""The leader-election Lease in kube-system (``--leader-elect-resource-name`` default, the name the
project's own role grants on: deploy/cloud-node-controller-role.yaml)."""

TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
"""Where client-go's in-cluster config reads the token, CA and namespace; the pod mounts a projected
volume there itself (as the kubelet would,
https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#bound-service-account-token-volume),
so ``automountServiceAccountToken`` stays false as the policy pack requires."""

CONTROL_PLANE_SELECTOR = {"node-role.kubernetes.io/control-plane": "true"}
"""k3s labels its servers ``node-role.kubernetes.io/control-plane: "true"`` (k3s-io/k3s
pkg/server/server.go, ``setNodeLabelsAndAnnotations``)."""
MASTER_TOLERATIONS: list[TolerationArgsDict] = [{"key": "CriticalAddonsOnly", "operator": "Exists"}]
"""The masters' own taint (``DEDICATED_MASTER_TAINT``), any effect."""
CCM_TOLERATIONS: list[TolerationArgsDict] = [
    # Every Node carries this until a CCM has initialised it, the masters included, so the CCM
    # must tolerate it (deploy/packages/default/manifest.yaml of cloud-provider-gcp does).
    {"key": "node.cloudprovider.kubernetes.io/uninitialized", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    *MASTER_TOLERATIONS,
]
LOCKED_DOWN: SecurityContextArgsDict = {"allow_privilege_escalation": False, "read_only_root_filesystem": True, "capabilities": {"drop": ["ALL"]}}
NOBODY = 65534

CA_RELEASE = "cluster-autoscaler"
CA_RESOURCES = {"requests": {"cpu": "100m", "memory": "600Mi"}, "limits": {"memory": "600Mi"}}
"""The autoscaler's own example deployment's requests (100m CPU, 600Mi); no CPU limit, never throttled."""
CA_ARGS = {
    # Zonal groups of one pool are "similar": keep them balanced (FAQ, "separate node groups per zone").
    "balance-similar-node-groups": True,
    # Raising a pool's min takes effect: the groups' sizes are the autoscaler's, not Pulumi's
    # (FAQ: --enforce-node-group-min-size, "CA will scale them up to the minimum").
    "enforce-node-group-min-size": True,
    # --skip-nodes-with-local-storage stays at its default (true): fleetform's pods name their one
    # local volume, the /tmp emptyDir, in cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes
    # (workloads/pod.py), which is all the autoscaler needs to move them (FAQ, "What types of pods
    # can prevent CA from removing a node?"); false would also let it drop any other pod's
    # emptyDir or hostPath data.
    "expander": "least-waste",
}
"""``--<flag>=<value>`` arguments through the chart's ``extraArgs`` (kubernetes/autoscaler
cluster-autoscaler/FAQ.md at cluster-autoscaler-1.35.2, "What are the parameters to CA?")."""

MASTER_PERMISSIONS = (
    # cloud-provider-gcp v36.0.7, node controllers: InstanceMetadata / InstanceExistsByProviderID
    # get the instance (providers/gce/gce_instances.go); with multizone the zones of the region
    # are listed once at start (gce.go, getZonesForRegion).
    "compute.instances.get",
    "compute.zones.list",
    # Cluster Autoscaler 1.35.2, cloudprovider/gce/autoscaling_gce_client.go: the groups
    # (instanceGroupManagers.get/list/listManagedInstances), their templates and machine types,
    # the resize / createInstances / deleteInstances writes (all compute.instanceGroupManagers.update:
    # https://cloud.google.com/compute/docs/reference/rest/v1/instanceGroupManagers/resize) and
    # the zone operations they wait on (WaitForOperation). Not compute.instances.list: only
    # FetchAllInstances calls instances.list, from bulkListMigInstances (mig_info_provider.go),
    # which runs with --bulk-mig-instances-listing-enabled only (default false,
    # config/flags/flags.go); fleetform leaves it off. Nor does the CCM list instances: with
    # every Node's providerID set at registration its node controllers call instances.get only
    # (InstanceMetadata, InstanceExistsByProviderID in providers/gce/gce_instances.go).
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.list",
    "compute.instanceGroupManagers.update",
    "compute.instanceTemplates.get",
    "compute.machineTypes.get",
    "compute.zoneOperations.get",
)
"""Everything the masters' service account may do in the project, as one custom role."""


def supported_minors() -> list[str]:
    """Kubernetes minors with both a cloud-provider-gcp and a Cluster Autoscaler image pinned."""
    return sorted(set(addons.GCP_CCM_IMAGES) & set(addons.CLUSTER_AUTOSCALER_IMAGES),
                  key=lambda v: tuple(map(int, v.split("."))))


def check_kubernetes_version(cluster: str, version: str) -> tuple[addons.Pin, addons.Pin]:
    """The CCM and autoscaler images for ``version``, or one config error naming the key.

    A 1.37 cluster is refused: no Cluster Autoscaler 1.37 was released when checked, and the
    autoscaler "internally simulates Kubernetes' scheduler and using different versions of
    scheduler code can lead to subtle issues" (kubernetes/autoscaler cluster-autoscaler/README.md,
    "Releases"), so an older one is no fallback; nor was there a cloud-provider-gcp 1.37 branch."""
    ccm, ca = addons.gcp_ccm_image(version), addons.cluster_autoscaler_image(version)
    if ccm is None or ca is None:
        raise FleetConfigError([
            f"cluster {cluster}: kubernetesVersion: got {version!r}; allowed on target gcp (self-managed): "
            f"{', '.join(supported_minors())} (the minors with both a cloud-provider-gcp and a Cluster Autoscaler "
            "release pinned in fleetform.cluster.addons)"
        ])
    return ccm, ca


def custom_role_id(cluster: str) -> str:
    """A project custom role ID for ``cluster``'s masters: letters, digits, ``_`` and ``.`` only,
    3 to 64 characters (https://cloud.google.com/iam/docs/reference/rest/v1/projects.roles/create)."""
    return f"fleetform_{cluster.replace('-', '_')}_masters"


class MastersRole:
    """The custom role with :data:`MASTER_PERMISSIONS` and its grant to the masters' account.

    Custom roles are soft-deleted for days after a destroy; creating one of the same ID undeletes
    it (terraform-provider-google ``resource_google_project_iam_custom_role.go``, Create), so a
    destroyed and recreated stack keeps working."""

    def __init__(self, parent: pulumi.Resource, cluster: str, project: pulumi.Input[str], account_email: pulumi.Input[str],
                 depends_on: list[pulumi.Resource]):
        opts = pulumi.ResourceOptions(parent=parent, depends_on=depends_on)
        self.role = gcp.projects.IAMCustomRole(
            f"{cluster}-masters-role",
            gcp.projects.IAMCustomRoleArgs(
                role_id=custom_role_id(cluster),
                project=project,
                title=f"fleetform {cluster} masters",
                description=f"k3s masters of {cluster}: cloud-provider-gcp node controllers and the Cluster Autoscaler",
                permissions=list(MASTER_PERMISSIONS),
            ),
            opts=opts,
        )
        self.member = gcp.projects.IAMMember(
            f"{cluster}-masters-role-member",
            gcp.projects.IAMMemberArgs(
                project=project,
                role=self.role.name,
                member=pulumi.Output.concat("serviceAccount:", account_email),
            ),
            opts=opts,
        )


def system_provider(parent: pulumi.Resource, cluster: str, kubeconfig: pulumi.Input[str], ready: pulumi.Resource) -> k8s.Provider:
    """The Kubernetes provider of the cluster add-ons (``<cluster>-k8s-system``, as on AWS)."""
    return k8s.Provider(
        f"{cluster}-k8s-system",
        cluster_identifier=cluster,
        kubeconfig=kubeconfig,
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[ready]),
    )


def gce_conf(network_url: str, subnetwork_url: str) -> str:
    """The CCM's cloud config (gcfg, section ``[Global]``; keys of ``ConfigGlobal`` in
    providers/gce/gce.go). ``network-name``/``subnetwork-name`` given as URLs are used as such
    (``GenerateCloudConfig``: a value with ``/`` is a URL); ``multizone`` manages every zone of the
    region. The project and zone are read from the metadata server (no ``project-id``/``local-zone``)."""
    return (
        "[Global]\n"
        f"network-name = {network_url}\n"
        f"subnetwork-name = {subnetwork_url}\n"
        "multizone = true\n"
    )


def ccm_args(cluster: str) -> list[str]:
    """The CCM container's arguments (the image's entrypoint is the binary: the project's manifest
    sets ``args`` only)."""
    return [
        "--cloud-provider=gce",
        f"--cloud-config={CCM_CONFIG_DIR}/{CCM_CONFIG_FILE}",
        f"--controllers={','.join(CCM_CONTROLLERS)}",
        # Belt and braces with the allow-list (k8s.io/cloud-provider options/kubecloudshared.go).
        "--allocate-node-cidrs=false",
        "--configure-cloud-routes=false",
        # Every controller runs as this pod's own ServiceAccount, with the RBAC below (the
        # project's kOps test setup runs it so too: tools/kops/pkg/kops/default_template.go).
        "--use-service-account-credentials=false",
        "--leader-elect=true",
        f"--cluster-name={cluster}",
        "--v=2",
    ]


CCM_ANNOTATIONS = {
    **addons.TAG_PINNED_UPSTREAM_IMAGE,
    # checkov reads every checkov.io/skip<n> annotation
    # (https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html, "Kubernetes").
    "checkov.io/skip2": "CKV_K8S_15=IfNotPresent on purpose: the CCM must restart on a master that cannot reach "
    "registry.k8s.io; its tag is a promoted release, mapped to one digest in the promoter's manifest "
    "(cluster/addons.py GCP_CCM_PROMOTED)",
}
"""The CCM DaemonSet's annotations: the shared tag-pinned-image skip (CKV_K8S_43) and, for its pull
policy, CKV_K8S_15 ("Image Pull Policy should be Always")."""


CCM_CLUSTER_RULES: list[PolicyRuleArgsDict] = [
    # node_controller.go: initialise (Update, taint removal by Patch/Get) and PatchNodeStatus.
    # node_lifecycle_controller.go: Delete the Node of a vanished instance. Informers list/watch.
    {"api_groups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "update", "patch", "delete"]},
    {"api_groups": [""], "resources": ["nodes/status"], "verbs": ["patch", "update"]},
    {"api_groups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    # Delegated authentication and authorisation of its secure port.
    {"api_groups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"api_groups": ["authorization.k8s.io"], "resources": ["subjectaccessreviews"], "verbs": ["create"]},
]
CCM_NAMESPACE_RULES: list[PolicyRuleArgsDict] = [
    # Leader election on a Lease (client-go leaderelection, "leases" lock).
    {"api_groups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    {"api_groups": ["coordination.k8s.io"], "resources": ["leases"], "resource_names": [LEADER_LEASE], "verbs": ["get", "update"]},
    # The GCE provider watches its cluster-ID ConfigMap, ingress-uid, through a single-object
    # lister-watcher that lists and watches with fieldSelector metadata.name=ingress-uid
    # (providers/gce/gce_clusterid.go, newSingleObjectListerWatcher, v32.2.4 to v36.0.7), so a
    # rule by name admits it ("If you restrict list or watch by resourceName, clients must include
    # a metadata.name field selector", https://kubernetes.io/docs/reference/access-authn-authz/rbac/#referring-to-resources).
    # Creating it (getOrInitialize) is only for the load-balancer code paths, which do not run.
    {"api_groups": [""], "resources": ["configmaps"], "resource_names": [CLUSTER_ID_CONFIG_MAP],
     "verbs": ["get", "list", "watch"]},
]


class CloudControllerManager:
    """cloud-provider-gcp as a DaemonSet on the masters, with its RBAC, config and NetworkPolicy."""

    def __init__(self, parent: pulumi.Resource, cluster: str, image: addons.Pin, network_url: pulumi.Input[str],
                 subnetwork_url: pulumi.Input[str], provider: k8s.Provider, depends_on: list[pulumi.Resource]):
        opts = pulumi.ResourceOptions(parent=parent, provider=provider)
        labels = {"app.kubernetes.io/name": CCM_NAME, "app.kubernetes.io/part-of": "fleetform"}

        def meta(name: str, namespaced: bool = True) -> ObjectMetaArgsDict:
            if namespaced:
                return {"name": name, "labels": labels, "namespace": SYSTEM_NAMESPACE}
            return {"name": name, "labels": labels}

        def ref(kind: str, name: str) -> RoleRefArgsDict:
            return {"api_group": "rbac.authorization.k8s.io", "kind": kind, "name": name}

        subject: list[SubjectArgsDict] = [{"kind": "ServiceAccount", "name": CCM_NAME, "namespace": SYSTEM_NAMESPACE}]
        account = k8s.core.v1.ServiceAccount(
            f"{cluster}-ccm-sa", metadata=meta(CCM_NAME), automount_service_account_token=False, opts=opts
        )
        role_name = f"fleetform:{CCM_NAME}"
        cluster_role = k8s.rbac.v1.ClusterRole(f"{cluster}-ccm-clusterrole", metadata=meta(role_name, False),
                                               rules=CCM_CLUSTER_RULES, opts=opts)
        bindings: list[pulumi.Resource] = [
            k8s.rbac.v1.ClusterRoleBinding(
                f"{cluster}-ccm-clusterrolebinding", metadata=meta(role_name, False), subjects=subject,
                role_ref=ref("ClusterRole", role_name),
                opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[cluster_role])),
            )
        ]
        role = k8s.rbac.v1.Role(f"{cluster}-ccm-role", metadata=meta(role_name), rules=CCM_NAMESPACE_RULES, opts=opts)
        bindings.append(k8s.rbac.v1.RoleBinding(
            f"{cluster}-ccm-rolebinding", metadata=meta(role_name), subjects=subject,
            role_ref=ref("Role", role_name),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
        ))
        # The client CA of delegated authentication (the built-in Role, as the project's manifest binds it).
        bindings.append(k8s.rbac.v1.RoleBinding(
            f"{cluster}-ccm-auth-reader", metadata=meta(f"{CCM_NAME}:apiserver-authentication-reader"), subjects=subject,
            role_ref=ref("Role", "extension-apiserver-authentication-reader"),
            opts=opts,
        ))
        self.config = k8s.core.v1.ConfigMap(
            f"{cluster}-ccm-config", metadata=meta(CCM_NAME),
            data={CCM_CONFIG_FILE: pulumi.Output.all(network_url, subnetwork_url).apply(lambda v: gce_conf(v[0], v[1]))},
            opts=opts,
        )
        # Only the kubelet's probes need to reach it; it calls out to the API server, the
        # metadata server and Google's APIs (egress is left open: Google's addresses vary).
        netpol: NetworkPolicySpecArgsDict = {
            "pod_selector": {"match_labels": labels},
            "policy_types": ["Ingress"],
            "ingress": [{"ports": [{"port": CCM_PORT, "protocol": "TCP"}]}],
        }
        k8s.networking.v1.NetworkPolicy(f"{cluster}-ccm-netpol", metadata=meta(CCM_NAME), spec=netpol, opts=opts)
        ds: DaemonSetSpecArgsDict = {
            "selector": {"match_labels": labels},
            "update_strategy": {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": labels}, "spec": _ccm_pod(cluster, image)},
        }
        self.daemonset = k8s.apps.v1.DaemonSet(
            f"{cluster}-ccm",
            metadata={**meta(CCM_NAME), "annotations": CCM_ANNOTATIONS},
            spec=ds,
            opts=pulumi.ResourceOptions.merge(
                opts, pulumi.ResourceOptions(depends_on=[account, *bindings, self.config, *depends_on])
            ),
        )


def _ccm_pod(cluster: str, image: addons.Pin) -> PodSpecArgsDict:
    return {
        "service_account_name": CCM_NAME,
        "automount_service_account_token": False,
        "priority_class_name": "system-cluster-critical",
        "node_selector": CONTROL_PLANE_SELECTOR,
        "tolerations": CCM_TOLERATIONS,
        # The node's resolver: CoreDNS cannot run before the CCM has initialised a node
        # (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-s-dns-policy).
        "dns_policy": "Default",
        "security_context": {"run_as_non_root": True, "run_as_user": NOBODY, "run_as_group": NOBODY,
                             "seccomp_profile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "cloud-controller-manager",
            "image": f"{image.name}:{image.version}",
            # IfNotPresent: a master that restarts while registry.k8s.io or the NAT is unreachable
            # still starts the CCM from its cached image, so new nodes keep being initialised
            # (https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy). The tag
            # is a promoted release; see CCM_ANNOTATIONS.
            "image_pull_policy": "IfNotPresent",
            "args": ccm_args(cluster),
            "ports": [{"name": "https", "container_port": CCM_PORT, "protocol": "TCP"}],
            # The project's manifest requests 200m CPU; memory and limits are fleetform's.
            "resources": {"requests": {"cpu": "200m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            # The project's liveness probe; readiness is the secure port answering.
            "liveness_probe": {"http_get": {"path": "/healthz", "port": CCM_PORT, "scheme": "HTTPS"},
                               "initial_delay_seconds": 15, "timeout_seconds": 15, "period_seconds": 10},
            "readiness_probe": {"tcp_socket": {"port": CCM_PORT}, "period_seconds": 10},
            "security_context": LOCKED_DOWN,
            "volume_mounts": [
                {"name": "config", "mount_path": CCM_CONFIG_DIR, "read_only": True},
                {"name": "token", "mount_path": TOKEN_DIR, "read_only": True},
            ],
        }],
        "volumes": [
            {"name": "config", "config_map": {"name": CCM_NAME}},
            {"name": "token", "projected": {"sources": [
                {"service_account_token": {"path": "token", "expiration_seconds": 3600}},
                {"config_map": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downward_api": {"items": [{"path": "namespace", "field_ref": {"field_path": "metadata.namespace"}}]}},
            ]}},
        ],
    }


def cluster_autoscaler_release(
    parent: pulumi.Resource, cluster: str, image: addons.Pin, groups: list[PoolGroup], provider: k8s.Provider,
    depends_on: list[pulumi.Resource],
) -> Release:
    """The Cluster Autoscaler from its pinned chart, one ``--nodes=<min>:<max>:<group URL>`` per
    zonal group (the chart README's GCE "explicitly specify MIGs" form: ``autoscalingGroups[n]``
    with the group's ``.../zones/<zone>/instanceGroups/<name>`` URL, rendered as ``--nodes`` by
    templates/deployment.yaml at cluster-autoscaler-chart-9.59.0). Explicit groups, not
    ``mig:namePrefix=`` discovery: discovery lists every instance group of the zones whose name
    starts with the prefix (``FetchMigsWithName``), the masters' unmanaged groups included.

    It runs on the masters (selector, toleration) and so uses the masters' service account from
    the metadata server; pods on a master are the cluster's own add-ons only."""
    chart = addons.CLUSTER_AUTOSCALER
    values: dict[str, Any] = {
        "cloudProvider": "gce",
        "autoscalingGroups": [{"name": g.manager.instance_group, "minSize": g.min, "maxSize": g.max} for g in groups],
        "image": {"repository": image.name, "tag": image.version},
        "rbac": {"serviceAccount": {"create": True, "name": CA_RELEASE}},
        "nodeSelector": CONTROL_PLANE_SELECTOR,
        "tolerations": MASTER_TOLERATIONS,
        "extraArgs": dict(CA_ARGS),
        "resources": CA_RESOURCES,
        "securityContext": {"runAsNonRoot": True, "runAsUser": NOBODY, "fsGroup": NOBODY, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}},
    }
    return addons.helm_release(f"{cluster}-cluster-autoscaler", chart, CA_RELEASE, SYSTEM_NAMESPACE, values, pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=depends_on))
