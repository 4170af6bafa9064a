"""The cloud's own controllers of a self-managed Azure cluster (:mod:`.selfmanaged_azure`):
cloud-provider-azure (the cloud-controller-manager on the masters, the cloud-node-manager on every
node) and the Kubernetes Cluster Autoscaler for the worker scale sets, with the one Azure identity
they use and its least-privilege role. Split from the cluster module by concern.

Who owns what (one owner per cloud object):

- **Node lifecycle**: the cloud-node-manager initialises each Node from the instance metadata
  service (providerID, ``topology.kubernetes.io/zone``/``region``, instance type) and removes the
  ``node.cloudprovider.kubernetes.io/uninitialized`` taint; the cloud-controller-manager runs only
  ``cloud-node-lifecycle`` and deletes the Node of an instance that no longer exists.
- **Load balancers**: fleetform's own (:mod:`.selfmanaged_azure_lb`), pointing at NodePorts. The
  controller manager's service controller is *not started* (``--controllers``) and its identity
  may not write a load balancer, a public IP or an NSG, so it can neither create nor touch one.
- **Routes**: none; flannel (VXLAN) carries pod traffic, so the route controller is not started
  and node CIDRs stay k3s's (``--allocate-node-cidrs=false``).
- **Worker count**: the Cluster Autoscaler, between each pool's ``min`` and ``max`` (VMSS tags).

Nothing here holds a secret: the controllers authenticate as a user-assigned managed identity
through the instance metadata service (``useManagedIdentityExtension``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_kubernetes as k8s
from pulumi_azure_native import authorization
from pulumi_kubernetes.helm.v3 import Release

from ..config import ClusterSpec, FleetConfigError, NodePoolSpec
from . import addons

SYSTEM_NAMESPACE = "kube-system"
SERVICE_PRINCIPAL = "ServicePrincipal"

CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
"""k3s labels every server ``node-role.kubernetes.io/control-plane=true`` (k3s-io/k3s
pkg/server/server.go, setNodeLabelsAndAnnotations; ``ControlPlaneRoleLabelKey``)."""
CRITICAL_ADDONS_ONLY = {"key": "CriticalAddonsOnly", "operator": "Exists"}
"""Tolerates the masters' ``CriticalAddonsOnly=true:NoExecute`` taint (any effect)."""
UNINITIALIZED = {"key": "node.cloudprovider.kubernetes.io/uninitialized", "operator": "Exists", "effect": "NoSchedule"}
"""The taint the kubelet puts on its Node in external cloud-provider mode until the cloud
initialises it (https://kubernetes.io/docs/tasks/administer-cluster/running-cloud-controller/)."""

CCM_PORT = 10258
"""The cloud-controller-manager's secure port: k8s.io/cloud-provider ports.go,
``CloudControllerManagerPort = 10258``; ``/healthz`` is always allowed
(k8s.io/apiserver DelegatingAuthorizationOptions ``AlwaysAllowPaths``)."""
CNM_PORT = 10263
"""The cloud-node-manager serves nothing unless given a secure port (its default is 0,
cmd/cloud-node-manager/app/options/options.go); any free port does, the pod has its own network."""
CLOUD_CONFIG_DIR = "/etc/kubernetes"
CLOUD_CONFIG_FILE = "azure.json"
IMDS_CIDR = "169.254.169.254/32"
"""Azure's instance metadata service (https://learn.microsoft.com/azure/virtual-machines/instance-metadata-service):
node metadata for the cloud-node-manager, managed identity tokens for the others."""

CCM_CONTROLLERS = ("cloud-node-lifecycle",)
"""The only controller the cloud-controller-manager runs. Its controllers are ``cloud-node``,
``cloud-node-lifecycle``, ``service``, ``route`` and ``node-ipam``
(cmd/cloud-controller-manager/app/controllermanager.go, newControllerInitializers;
k8s.io/cloud-provider names, CCMControllerAliases). ``cloud-node`` is the cloud-node-manager's job
(https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/: "cloud node controller should be
disabled"); ``service`` and ``route`` stay off, see the module docstring."""

# Azure actions, from cloud-provider-azure's list of what it needs and why
# (https://cloud-provider-azure.sigs.k8s.io/topics/azure-permissions/, site source
# content/en/topics/azure-permissions.md): only "Required to query information for VM" and "for
# vmssVM" are needed by cloud-node-lifecycle (InstanceExists/InstanceShutdown read the VM or the
# scale set instance and its instance view, pkg/provider/azure_instances_v1.go). Everything for
# load balancers, public IPs, NSGs, routes, disks and storage is left out with the controllers.
CCM_ACTIONS = (
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Compute/virtualMachineScaleSets/read",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "Microsoft.Compute/virtualMachineScaleSets/virtualmachines/instanceView/read",
)
# The Cluster Autoscaler on a VMSS: list/read the scale sets and their instances, set the capacity
# (a PUT of the scale set with its sku, cloudprovider/azure/azure_scale_set.go
# buildScaleSetCapacityUpdate) and delete chosen instances (POST .../delete,
# "Microsoft.Compute/virtualMachineScaleSets/delete/action: Deletes the instances of the Virtual
# Machine Scale Set", https://learn.microsoft.com/azure/role-based-access-control/permissions/compute).
# The instances a scale-out creates join the node subnet and the load balancers' pools and carry
# the node identity, so the writer needs the linked "join"/"assign" actions on them
# (https://cloud-provider-azure.sigs.k8s.io/topics/azure-permissions/: subnets/join/action
# "Required to add resources to subnet"). Its README asks for Contributor on the subscription
# (cloudprovider/azure/README.md, "Permissions"); this is that, cut to what it calls.
CA_ACTIONS = (
    "Microsoft.Compute/virtualMachineScaleSets/read",
    "Microsoft.Compute/virtualMachineScaleSets/write",
    "Microsoft.Compute/virtualMachineScaleSets/delete/action",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read",
    "Microsoft.Network/virtualNetworks/subnets/join/action",
    "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
    "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action",
)
CONTROL_PLANE_ACTIONS = tuple(sorted(set(CCM_ACTIONS) | set(CA_ACTIONS)))

CAPACITY_IGNORED = "sku.capacity"
"""The worker scale sets' ``ignore_changes``: the Cluster Autoscaler owns the instance count."""
REFRESH_WARNING = (
    "self-managed Azure cluster {name}: run `pulumi up --refresh` (or `pulumi refresh` first): the worker scale "
    "sets' capacity belongs to the Cluster Autoscaler, and an update without a refresh sends the capacity of the "
    "last state back to Azure (instances deleted without a drain)"
)
"""Logged on every run with a self-managed Azure cluster: :data:`CAPACITY_IGNORED` is safe only
after a refresh.

For an ignored property Pulumi "uses the serialized value from the stack state" and "will
continue to send those stale values to the provider ... unless you run a refresh"
(https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/), and azure-native updates a
scale set with a full PUT (pulumi/pulumi-azure-native#3983): any later ``pulumi up`` that changes
a scale set (a service added or removed, a pool's size, tags or bootstrap) would set the capacity
back to the one in state, and Azure would delete or create instances to match, undrained. A
refresh reads the live scale set, and azure-native's Read carries a changed output into the
state's inputs (provider/pkg/provider/provider.go, Read: "Apply this difference to the actual
inputs"), which the engine stores (pulumi/pulumi pkg/resource/deploy/step.go, RefreshStep.Apply:
``s.new.Inputs = inputs``); the update then sends the autoscaler's capacity. Pulumi.yaml does not
set ``options.refresh: always`` for every stack: a refresh of Kubernetes resources fails when the
cluster is unreachable (pulumi/pulumi-kubernetes#1522), which would break previews from outside a
private network and destroys of a cluster already gone, on every stack. What a refresh cannot
close: the autoscaler resizing between the refresh and the PUT of the same ``pulumi up``."""

LABELS_FROM_THE_CLOUD = frozenset({
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region", "node.kubernetes.io/instance-type",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
})
"""Labels the cloud-node-manager sets on every Node (pkg/nodemanager/nodemanager.go: zone, region
and instance type, with their beta twins): a pool may not set them itself."""

# ---------------------------------------------------------------------------- pins and config


def controller_pins(cluster: str, kubernetes_version: str) -> tuple[addons.Pin, addons.Pin, addons.Pin]:
    """The cloud-controller-manager, cloud-node-manager and Cluster Autoscaler images for the
    cluster's minor, or one config error naming the key: a self-managed Azure cluster needs all
    three, and 1.37 has no release of either yet (:mod:`.addons`)."""
    ccm = addons.AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES.get(kubernetes_version)
    cnm = addons.AZURE_CLOUD_NODE_MANAGER_IMAGES.get(kubernetes_version)
    ca = addons.cluster_autoscaler_image(kubernetes_version)
    if ccm is None or cnm is None or ca is None:
        both = sorted(set(addons.AZURE_CLOUD_CONTROLLER_MANAGER_IMAGES) & set(addons.CLUSTER_AUTOSCALER_IMAGES))
        raise FleetConfigError([
            f"cluster {cluster}: kubernetesVersion: got {kubernetes_version!r}; allowed on target azure, mode "
            f"self-managed: {', '.join(both)} (the minors with both a cloud-provider-azure and a Cluster Autoscaler "
            "release pinned in fleetform.cluster.addons)"
        ])
    return ccm, cnm, ca


def check_pool_labels(spec: ClusterSpec) -> None:
    """Refuse node labels the cloud-node-manager owns (one error line per label, naming the key)."""
    problems = [
        f"cluster {spec.name}: nodePools[{i}].labels: got {key!r}; allowed: any label but "
        f"{', '.join(sorted(LABELS_FROM_THE_CLOUD))} (the cloud-node-manager sets those from the instance metadata)"
        for i, pool in enumerate(spec.effective_node_pools) for key in pool.labels if key in LABELS_FROM_THE_CLOUD
    ]
    if problems:
        raise FleetConfigError(problems)


NEW_NODE_GRACE_SECONDS = 300
"""``nodeInstanceNotFoundGracePeriodInSeconds``: for this long after a Node is created,
cloud-node-lifecycle keeps it although its instance is "not yet visible in ARM" (it defaults to 0,
"which disables the grace period"; pkg/provider/config/azure.go, azure_instances_v2.go
tolerateInstanceNotFoundForNewNode, kubernetes-sigs/cloud-provider-azure#10604). A second net
under the providerID every node registers with. The key exists from the pinned 1.33 release on
(v1.33.17 ... v1.36.5), not in v1.32.20, so it is written only for 1.33 and later."""


def new_node_grace_seconds(kubernetes_version: str) -> Optional[int]:
    """:data:`NEW_NODE_GRACE_SECONDS` where the cluster's cloud-provider-azure release reads it."""
    major, minor = (int(p) for p in kubernetes_version.split(".")[:2])
    return NEW_NODE_GRACE_SECONDS if (major, minor) >= (1, 33) else None


def cloud_config(
    *, tenant_id: str, subscription_id: str, resource_group: str, location: str, vnet: str, subnet: str,
    security_group: str, identity_client_id: str, kubernetes_version: str,
) -> dict[str, Any]:
    """``azure.json`` for the cloud-controller-manager (keys: pkg/provider/config/azure.go and
    pkg/azclient/*_conf.go; meanings: https://cloud-provider-azure.sigs.k8s.io/install/configs/).
    No credential: a user-assigned managed identity via the metadata service. No route table:
    there is none (flannel VXLAN) and the route controller does not run."""
    grace = new_node_grace_seconds(kubernetes_version)
    return {
        "cloud": "AzurePublicCloud",
        "tenantId": tenant_id,
        "subscriptionId": subscription_id,
        "resourceGroup": resource_group,
        "location": location,
        "vnetName": vnet,
        "vnetResourceGroup": resource_group,
        "subnetName": subnet,
        "securityGroupName": security_group,
        "securityGroupResourceGroup": resource_group,
        # Masters are plain VMs and workers Uniform scale sets: "vmss" serves both (a node that is
        # not a scale set instance falls back to the availability-set/VM code).
        "vmType": "vmss",
        "useManagedIdentityExtension": True,
        "userAssignedIdentityID": identity_client_id,
        "useInstanceMetadata": True,
        "loadBalancerSku": "standard",
        **({"nodeInstanceNotFoundGracePeriodInSeconds": grace} if grace else {}),
    }


# ---------------------------------------------------------------------------- Azure identity


def control_plane_role_name(cluster: str, subscription_id: str) -> str:
    """The custom role's display name, which "must be unique at the scope of the Microsoft Entra
    directory" (https://learn.microsoft.com/azure/role-based-access-control/custom-roles), whatever
    its assignable scope: so it carries a digest of the Pulumi project, stack and subscription,
    and two stacks (or subscriptions) with a cluster of the same name do not collide
    (RoleDefinitionWithSameNameExists)."""
    digest = hashlib.sha256(
        f"{pulumi.get_project()}/{pulumi.get_stack()}/{subscription_id.lower()}/{cluster}".encode()
    ).hexdigest()[:8]
    return f"fleetform {cluster} control plane {digest}"


def control_plane_role(
    name: str, scope: pulumi.Input[str], principal_id: pulumi.Input[str], subscription_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> tuple[authorization.RoleDefinition, authorization.RoleAssignment]:
    """A custom role with exactly :data:`CONTROL_PLANE_ACTIONS`, assignable to and assigned on the
    cluster's own resource group only, for the masters' identity (the controllers use it; workers
    keep an identity without any role)."""
    role = authorization.RoleDefinition(
        f"{name}-control-plane-role",
        scope=scope,
        role_name=pulumi.Output.from_input(subscription_id).apply(lambda sub: control_plane_role_name(name, sub)),
        description=f"cloud-controller-manager (node lifecycle) and Cluster Autoscaler of self-managed cluster {name}",
        permissions=[authorization.PermissionArgs(actions=list(CONTROL_PLANE_ACTIONS), not_actions=[])],
        assignable_scopes=[scope],
        opts=opts,
    )
    assignment = authorization.RoleAssignment(
        f"{name}-control-plane-role-assignment",
        authorization.RoleAssignmentArgs(
            scope=scope,
            role_definition_id=role.id,
            principal_id=principal_id,
            principal_type=SERVICE_PRINCIPAL,
            description=f"fleetform {name}: the masters' controllers",
        ),
        opts=opts,
    )
    return role, assignment


# ---------------------------------------------------------------------------- autoscaler tags


def _tag_key(key: str) -> str:
    # "/" is written "_" and "_" is written "~2" (cloudprovider/azure/README.md, "Scaling a VMSS
    # node group to and from 0"; azure_template.go extractLabelsFromTags reverses both).
    return key.replace("_", "~2").replace("/", "_")


def autoscaler_tags(cluster: str, pool: NodePoolSpec) -> dict[str, str]:
    """The scale set tags the Cluster Autoscaler reads: auto-discovery and the pool's bounds
    (azure_manager.go getFilteredScaleSets: ``min``/``max`` tags; README "Auto-Discovery Setup"),
    and the labels and taints a node of the pool will have, so it can scale a pool up from 0
    (``k8s.io_cluster-autoscaler_node-template_label_<key>: <value>``,
    ``k8s.io_cluster-autoscaler_node-template_taint_<key>: <value>:<Effect>``)."""
    tags = {
        "cluster-autoscaler-enabled": "true",
        "cluster-autoscaler-name": cluster,
        "min": str(pool.min),
        "max": str(pool.max),
    }
    for key, value in pool.labels.items():
        tags[f"k8s.io_cluster-autoscaler_node-template_label_{_tag_key(key)}"] = value
    for taint in pool.taints:
        tags[f"k8s.io_cluster-autoscaler_node-template_taint_{_tag_key(taint.key)}"] = f"{taint.value or ''}:{taint.effect}"
    return tags


# ---------------------------------------------------------------------------- Kubernetes objects


def _api(fields: Any) -> Any:
    """Manifest fields as the Kubernetes API writes them (camelCase); the SDK passes them on as given."""
    return fields


def _meta(name: str, labels: Optional[Mapping[str, str]] = None) -> Any:
    return {"name": name, "namespace": SYSTEM_NAMESPACE, "labels": {"app.kubernetes.io/part-of": "fleetform", **(labels or {})}}


_TOKEN_VOLUME = {
    # automountServiceAccountToken is off; the token is projected explicitly, as the kubelet would
    # (https://kubernetes.io/docs/concepts/storage/projected-volumes/#serviceaccounttoken), where
    # client-go's in-cluster config reads it.
    "name": "kube-api-access",
    "projected": {"defaultMode": 0o444, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]},
}
_TOKEN_MOUNT = {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": True}
_POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532, "seccompProfile": {"type": "RuntimeDefault"}}
_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}


def _probes(port: int) -> dict[str, Any]:
    return {
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": port, "scheme": "HTTPS"},
                          "initialDelaySeconds": 20, "periodSeconds": 10, "timeoutSeconds": 5},
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
    }


def _network_policy(
    resource: str, name: str, selector: Mapping[str, str], port: int, egress: list[dict[str, Any]], opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.NetworkPolicy:
    # Ingress only to the health port (the kubelet's probes); egress only where the pods must go.
    return k8s.networking.v1.NetworkPolicy(
        resource,
        metadata=_meta(name),
        spec=_api({
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [{"port": port, "protocol": "TCP"}]}],
            "egress": egress,
        }),
        opts=opts,
    )


def _api_egress(masters: Sequence[str]) -> dict[str, Any]:
    # The API through its Service is DNAT-ed to the masters' 6443 before policy applies.
    return {"to": [{"ipBlock": {"cidr": f"{m}/32"}} for m in masters], "ports": [{"port": 6443, "protocol": "TCP"}]}


_IMDS_EGRESS = {"to": [{"ipBlock": {"cidr": IMDS_CIDR}}], "ports": [{"port": 80, "protocol": "TCP"}]}


class CloudProviderAzure:
    """cloud-provider-azure on the cluster: the controller manager (Deployment, 2 replicas with
    leader election, on the masters, where the masters' identity is) and the node manager
    (DaemonSet, every node), with their RBAC, config and network policies. Objects of the
    cluster's own Kubernetes provider."""

    def __init__(
        self, name: str, *, ccm: addons.Pin, cnm: addons.Pin, config: pulumi.Input[str], masters: Sequence[str],
        opts: pulumi.ResourceOptions,
    ):
        self.objects: list[pulumi.Resource] = []
        self.controller_manager = self._controller_manager(name, ccm, config, masters, opts)
        self.node_manager = self._node_manager(name, cnm, masters, opts)

    def _add(self, resource):
        self.objects.append(resource)
        return resource

    @staticmethod
    def controller_manager_args(cluster: str) -> list[str]:
        """Flags: https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/ and the chart's
        template (helm/cloud-provider-azure/templates/cloud-provider-azure.yaml)."""
        return [
            "--cloud-provider=azure",
            f"--cloud-config={CLOUD_CONFIG_DIR}/{CLOUD_CONFIG_FILE}",
            f"--controllers={','.join(CCM_CONTROLLERS)}",
            "--configure-cloud-routes=false",
            "--allocate-node-cidrs=false",
            f"--cluster-name={cluster}",
            "--leader-elect=true",
            f"--secure-port={CCM_PORT}",
            "--v=2",
        ]

    def _controller_manager(self, name, pin, config, masters, opts) -> k8s.apps.v1.Deployment:
        app = "cloud-controller-manager"
        selector = {"app.kubernetes.io/name": app}
        self._add(k8s.core.v1.ServiceAccount(f"{name}-ccm-sa", metadata=_meta(app), automount_service_account_token=False, opts=opts))
        self._add(k8s.rbac.v1.ClusterRole(f"{name}-ccm-role", metadata=_api({"name": f"fleetform:{app}"}), rules=_api([
            # cloud-node-lifecycle: watch Nodes, taint shut-down ones, delete gone ones; events; the
            # leader-election lease. The chart's role also writes services, routes and volumes,
            # whose controllers do not run here.
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "update", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "update"]},
            {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "create", "update"]},
            # Read only: the provider starts a Services lister and an EndpointSlices informer
            # whatever controllers run (pkg/provider/azure.go SetInformers, called by
            # startControllers; azure_local_services.go setUpEndpointSlicesInformer), and without
            # list/watch their reflectors log "forbidden" on every retry. The chart grants the same
            # reads (helm/cloud-provider-azure/templates/cloud-provider-azure.yaml).
            {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["get", "list", "watch"]},
        ]), opts=opts))
        self._add(k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-ccm-binding", metadata=_api({"name": f"fleetform:{app}"}),
            role_ref=_api({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"fleetform:{app}"}),
            subjects=_api([{"kind": "ServiceAccount", "name": app, "namespace": SYSTEM_NAMESPACE}]), opts=opts))
        self._auth_reader(f"{name}-ccm-auth-reader", app, opts)
        self._add(k8s.core.v1.ConfigMap(f"{name}-ccm-config", metadata=_meta("azure-cloud-config"),
                                        data={CLOUD_CONFIG_FILE: config}, opts=opts))
        self._add(_network_policy(f"{name}-ccm-netpol", app, selector, CCM_PORT, [
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            _api_egress(masters),
            _IMDS_EGRESS,
            # Azure Resource Manager (management.azure.com) has no fixed addresses.
            {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]},
        ], opts))
        self._add(k8s.policy.v1.PodDisruptionBudget(
            f"{name}-ccm-pdb", metadata=_meta(app), spec=_api({"maxUnavailable": 1, "selector": {"matchLabels": selector}}), opts=opts))
        return self._add(k8s.apps.v1.Deployment(f"{name}-ccm", metadata=_api({**_meta(app, selector), "annotations": addons.TAG_PINNED_UPSTREAM_IMAGE}), spec=_api({
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": {**selector, "app.kubernetes.io/part-of": "fleetform"}}, "spec": {
                "serviceAccountName": app,
                "automountServiceAccountToken": False,
                "priorityClassName": "system-cluster-critical",
                "nodeSelector": {CONTROL_PLANE_LABEL: "true"},
                "tolerations": [CRITICAL_ADDONS_ONLY, UNINITIALIZED],
                "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                               "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": {"matchLabels": selector}}],
                "securityContext": _POD_SECURITY,
                "containers": [{
                    "name": app,
                    "image": f"{pin.name}:{pin.version}",
                    # A tag, not a digest (none was published where it could be checked), so
                    # the registry is asked each start which image the tag names (checkov CKV_K8S_15).
                    "imagePullPolicy": "Always",
                    "command": ["cloud-controller-manager"],
                    "args": self.controller_manager_args(name),
                    "ports": [{"name": "https", "containerPort": CCM_PORT, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                    "securityContext": _CONTAINER_SECURITY,
                    "volumeMounts": [_TOKEN_MOUNT, {"name": "cloud-config", "mountPath": CLOUD_CONFIG_DIR, "readOnly": True}],
                    **_probes(CCM_PORT),
                }],
                "volumes": [_TOKEN_VOLUME, {"name": "cloud-config", "configMap": {"name": "azure-cloud-config"}}],
            }},
        }), opts=opts))

    @staticmethod
    def node_manager_args() -> list[str]:
        """https://cloud-provider-azure.sigs.k8s.io/install/azure-ccm/ ("azure-cloud-node-manager"):
        the node name from the Downward API; ``--wait-routes`` only with cloud routes (off here).
        Instance metadata, not ARM, so the node manager needs no Azure identity at all
        (pkg/node/nodeproviderfactory.go: IMDSNodeProvider)."""
        return ["--node-name=$(NODE_NAME)", "--use-instance-metadata=true", "--wait-routes=false",
                f"--secure-port={CNM_PORT}", "--v=2"]

    def _node_manager(self, name, pin, masters, opts) -> k8s.apps.v1.DaemonSet:
        app = "cloud-node-manager"
        selector = {"app.kubernetes.io/name": app}
        self._add(k8s.core.v1.ServiceAccount(f"{name}-cnm-sa", metadata=_meta(app), automount_service_account_token=False, opts=opts))
        self._add(k8s.rbac.v1.ClusterRole(f"{name}-cnm-role", metadata=_api({"name": f"fleetform:{app}"}), rules=_api([
            # As the chart's cloud-node-manager role, plus its events.
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch", "update", "patch"]},
            {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["patch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        ]), opts=opts))
        self._add(k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-cnm-binding", metadata=_api({"name": f"fleetform:{app}"}),
            role_ref=_api({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"fleetform:{app}"}),
            subjects=_api([{"kind": "ServiceAccount", "name": app, "namespace": SYSTEM_NAMESPACE}]), opts=opts))
        self._auth_reader(f"{name}-cnm-auth-reader", app, opts)
        self._add(_network_policy(f"{name}-cnm-netpol", app, selector, CNM_PORT, [_api_egress(masters), _IMDS_EGRESS], opts))
        return self._add(k8s.apps.v1.DaemonSet(f"{name}-cnm", metadata=_api({**_meta(app, selector), "annotations": addons.TAG_PINNED_UPSTREAM_IMAGE}), spec=_api({
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": {**selector, "app.kubernetes.io/part-of": "fleetform"}}, "spec": {
                # Not hostNetwork, unlike the chart ("required to fetch correct hostname"): with
                # vmType vmss the provider takes the local name from NODE_NAME, not the host name
                # (pkg/provider/azure_instances_v1.go isCurrentInstance). Starting on the pod
                # network waits for flannel, seconds after the Node registers, and no controller
                # needs it sooner: the Node already has its providerID from the kubelet. Off the
                # host network, its NetworkPolicy applies and its port stays off the node.
                "serviceAccountName": app,
                "automountServiceAccountToken": False,
                "priorityClassName": "system-node-critical",
                "nodeSelector": {"kubernetes.io/os": "linux"},
                # Every node, whatever its taints: it is what removes the "uninitialized" one.
                "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}],
                "securityContext": _POD_SECURITY,
                "containers": [{
                    "name": app,
                    "image": f"{pin.name}:{pin.version}",
                    "imagePullPolicy": "Always",  # see the controller manager
                    "command": ["cloud-node-manager"],
                    "args": self.node_manager_args(),
                    "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "ports": [{"name": "https", "containerPort": CNM_PORT, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "50m", "memory": "50Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
                    "securityContext": _CONTAINER_SECURITY,
                    "volumeMounts": [_TOKEN_MOUNT],
                    **_probes(CNM_PORT),
                }],
                "volumes": [_TOKEN_VOLUME],
            }},
        }), opts=opts))

    def _auth_reader(self, resource: str, app: str, opts: pulumi.ResourceOptions) -> None:
        # Delegated authentication of the secure port reads kube-system's
        # extension-apiserver-authentication ConfigMap (the chart binds the same built-in Role).
        self._add(k8s.rbac.v1.RoleBinding(
            resource, metadata=_meta(f"fleetform:{app}:extension-apiserver-authentication-reader"),
            role_ref=_api({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "extension-apiserver-authentication-reader"}),
            subjects=_api([{"kind": "ServiceAccount", "name": app, "namespace": SYSTEM_NAMESPACE}]), opts=opts))


# ---------------------------------------------------------------------------- Cluster Autoscaler

CA_RELEASE = CA_SERVICE_ACCOUNT = "cluster-autoscaler"


def cluster_autoscaler_values(
    cluster: str, image: addons.Pin, *, subscription_id: pulumi.Input[str], tenant_id: pulumi.Input[str],
    resource_group: pulumi.Input[str], identity_client_id: pulumi.Input[str],
) -> dict[str, Any]:
    """Chart values (cluster-autoscaler chart, values.yaml and templates/deployment.yaml at
    cluster-autoscaler-chart-9.59.0): Azure, scale sets found by their tags
    (``autoDiscovery.clusterName`` -> ``--node-group-auto-discovery=label:cluster-autoscaler-enabled=true,cluster-autoscaler-name=<cluster>``),
    the masters' managed identity (``azureUseManagedIdentityExtension`` ->
    ``ARM_USE_MANAGED_IDENTITY_EXTENSION``, ``azureUserAssignedIdentityID`` ->
    ``ARM_USER_ASSIGNED_IDENTITY_ID``), ``azureVMType: vmss``; no client secret. Nothing here
    depends on the node pools (their bounds are scale set tags), so resizing a pool changes no
    Kubernetes object."""
    return {
        "cloudProvider": "azure",
        "autoDiscovery": {"clusterName": cluster},
        "azureSubscriptionID": subscription_id,
        "azureTenantID": tenant_id,
        "azureResourceGroup": resource_group,
        "azureVMType": "vmss",
        "azureUseManagedIdentityExtension": True,
        "azureUserAssignedIdentityID": identity_client_id,
        "image": {"repository": image.name, "tag": image.version},
        "rbac": {"serviceAccount": {"create": True, "name": CA_SERVICE_ACCOUNT}},
        # On the masters: the only VMs whose identity may resize the scale sets.
        "nodeSelector": {CONTROL_PLANE_LABEL: "true"},
        "tolerations": [CRITICAL_ADDONS_ONLY],
        "extraArgs": {"expander": "least-waste", "balance-similar-node-groups": True},
        "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"cpu": "1", "memory": "600Mi"}},
        "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "fsGroup": 65534, "seccompProfile": {"type": "RuntimeDefault"}},
        "containerSecurityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }


def cluster_autoscaler(name: str, values: Mapping[str, Any], opts: pulumi.ResourceOptions) -> Release:
    chart = addons.CLUSTER_AUTOSCALER
    return addons.helm_release(f"{name}-cluster-autoscaler", chart, CA_RELEASE, SYSTEM_NAMESPACE, dict(values), opts)


def cloud_config_json(**kwargs: Any) -> pulumi.Output[str]:
    """:func:`cloud_config` with outputs in it, as the JSON file."""
    return pulumi.Output.all(**kwargs).apply(lambda v: json.dumps(cloud_config(**v), indent=2, sort_keys=True))


__all__ = [
    "CAPACITY_IGNORED", "CA_ACTIONS", "CCM_ACTIONS", "CCM_CONTROLLERS", "CONTROL_PLANE_ACTIONS", "CloudProviderAzure",
    "NEW_NODE_GRACE_SECONDS", "REFRESH_WARNING", "autoscaler_tags", "check_pool_labels", "cloud_config",
    "cloud_config_json", "cluster_autoscaler", "cluster_autoscaler_values", "control_plane_role",
    "control_plane_role_name", "controller_pins", "new_node_grace_seconds",
]
