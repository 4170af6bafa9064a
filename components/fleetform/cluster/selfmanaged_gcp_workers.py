"""Target ``gcp``, mode ``self-managed``: the worker pools (split from :mod:`.selfmanaged_gcp`).

A pool is one instance template and one **zonal** managed instance group per zone it has room in.
Zonal, not regional: the Cluster Autoscaler's GCE provider addresses a node group as
``projects/<project>/zones/<zone>/instanceGroups/<name>`` and calls the zonal
``instanceGroupManagers`` API only (kubernetes/autoscaler ``cloudprovider/gce/gce_url.go``,
``ParseMigUrl``; ``autoscaling_gce_client.go``, ``ResizeMig``/``DeleteInstances`` at
cluster-autoscaler-1.35.2), so a regional group cannot be autoscaled by it. The autoscaler's FAQ
("Is Cluster Autoscaler compatible with CPU-usage-based node autoscalers? No.") rules out keeping
Compute Engine's own autoscaler beside it: the pools have none.

The pool's ``min``/``max`` are totals, split over its zones as evenly as whole VMs allow
(:func:`zone_bounds`); the autoscaler keeps each zone's group within its share and balances the
groups of a pool (``--balance-similar-node-groups``, the FAQ's advice for "separate node groups
per zone").

Scaling from zero: with no VM to look at, the autoscaler builds the node a group would add from
the group's instance template: machine type (CPU, memory), boot disk (ephemeral storage), and the
``kube-env`` metadata key's ``AUTOSCALER_ENV_VARS`` for labels, taints, OS and architecture
(``cloudprovider/gce/templates.go``, ``BuildNodeFromTemplate``, ``extractLabelsFromKubeEnv``,
``extractTaintsFromKubeEnv``, ``MigOsInfo``; ``kube_env.go``, ``ExtractKubeEnv``). Every template
carries that key (:func:`autoscaler_env`), holding the same labels and taints the bootstrap gives
the kubelet, so a pending pod that selects or tolerates them scales a ``min: 0`` pool up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import pulumi
import pulumi_gcp as gcp
import yaml

from ..bootstrap import NodeBootstrap, api_url
from ..config import NodePoolSpec, Taint
from .base import FrontedService
from .selfmanaged_gcp_boot import (
    CLOUD_PLATFORM_SCOPE,
    arch_of,
    gcp_name,
    image_for,
    instance_metadata,
    secret_cloud_init,
)

if TYPE_CHECKING:
    from .selfmanaged_gcp import SelfManagedGcpCluster

WORKER_DISK_TYPE = "pd-balanced"

KUBE_ENV_KEY = "kube-env"
"""The instance-template metadata key the autoscaler reads (``kube_env.go``, ``kubeEnvKey``)."""


@dataclass(frozen=True)
class PoolGroup:
    """One zonal managed instance group of a pool, and its share of the pool's bounds."""

    pool: str
    zone_index: int
    min: int
    max: int
    manager: gcp.compute.InstanceGroupManager


def zone_bounds(total_min: int, total_max: int, zones: int) -> list[tuple[int, int]]:
    """``(min, max)`` per zone whose sums are ``total_min`` and ``total_max``: whole VMs spread as
    evenly as they go, the first zones taking the remainder. Each zone's min stays at or below
    its max whenever ``total_min <= total_max`` (the config guarantees it)."""
    def share(total: int, i: int) -> int:
        return total // zones + (1 if i < total % zones else 0)

    return [(share(total_min, i), share(total_max, i)) for i in range(zones)]


def _taint(t: Taint) -> str:
    return f"{t.key}={t.value}:{t.effect}" if t.value else f"{t.key}:{t.effect}"


K3S_KUBE_RESERVED = "cpu=0,memory=0,ephemeral-storage=0"
"""k3s reserves nothing for the system or Kubernetes daemons: its kubelet configuration sets no
``kubeReserved``/``systemReserved`` (k3s-io/k3s pkg/daemons/agent/agent_linux.go, ``kubeletConfig``),
and fleetform's bootstrap adds none. Given as zeros because without a ``kube_reserved`` the
autoscaler skips allocatable altogether (templates.go, ``BuildAllocatableFromKubeEnv``: "could not
extract kube-reserved from kubeEnv ... setting allocatable to capacity"), eviction included."""
K3S_EVICTION_HARD = "memory.available=0,nodefs.available=5%"
"""k3s's hard eviction thresholds as the autoscaler reads them (``ParseEvictionHardOrGetDefault``
in gce_reserved.go, keys ``memory.available`` and ``nodefs.available``; a missing key means its
defaults, 100Mi and 10%). k3s sets ``evictionHard: {imagefs.available: 5%, nodefs.available: 5%}``
(agent_linux.go, ``kubeletConfig``; the ``--eviction-hard`` flag in older releases). The kubelet
fills in its defaults only when the map is unset (``SetDefaults_KubeletConfiguration``: ``if
obj.EvictionHard == nil``; ``mergeDefaultEvictionSettings`` defaults to false), so a k3s node has
no memory threshold and keeps 5% of its disk: allocatable memory is its capacity, allocatable
ephemeral storage 95% of it."""


def autoscaler_env(pool: NodePoolSpec) -> str:
    """The ``kube-env`` value for ``pool``'s template: YAML with one key, ``AUTOSCALER_ENV_VARS``,
    ``;``-separated ``name=value`` pairs (``extractAutoscalerVarFromKubeEnv``): ``node_labels`` and
    ``node_taints`` as ``,``-separated ``key=value`` and ``key=value:Effect`` lists
    (``parseKeyValueListToMap``, ``buildTaints``), ``os=linux``, ``os_distribution=ubuntu``
    (the image; the default would be ``cos``), ``arch`` (amd64/arm64), and what the kubelet keeps
    back from pods (:data:`K3S_KUBE_RESERVED`, :data:`K3S_EVICTION_HARD`), so a node built from the
    template has a k3s node's allocatable. No secret: pods that reach the metadata server can read it."""
    pairs = [
        "os=linux", "os_distribution=ubuntu", f"arch={arch_of(pool.size)}",
        f"kube_reserved={K3S_KUBE_RESERVED}", f"evictionHard={K3S_EVICTION_HARD}",
    ]
    if pool.labels:
        pairs.append("node_labels=" + ",".join(f"{k}={v}" for k, v in sorted(pool.labels.items())))
    if pool.taints:
        pairs.append("node_taints=" + ",".join(f"{t.key}={t.value or ''}:{t.effect}" for t in pool.taints))
    return yaml.safe_dump({"AUTOSCALER_ENV_VARS": ";".join(pairs)}, sort_keys=True)


def node_pool(
    c: SelfManagedGcpCluster, name: str, pool: NodePoolSpec, template: NodeBootstrap, services: list[FrontedService]
) -> list[PoolGroup]:
    """``pool``'s bootstrap secret, instance template and zonal groups (children of ``c``)."""
    node = c.api_address.apply(
        lambda address: replace(
            template,
            role="agent",
            server_url=api_url(address),
            labels=tuple(sorted(pool.labels.items())),
            taints=tuple(_taint(t) for t in pool.taints),
            # A managed instance group recreates a VM (Spot preemption, repair) under its old
            # name, and k3s refuses a second node password for a name it knows: a unique node
            # name per boot disk lets it join. The CCM finds the instance by the providerID the
            # node registers with, not by this name (template.provider_id_from). The old Node,
            # which holds the same providerID, is the masters' reaper's to delete
            # (selfmanaged_gcp_reaper): the CCM sees its instance exist again.
            with_node_id=True,
        )
    )
    # "pool-" keeps a pool's secret apart from the masters' ("master-<i>") whatever its name.
    version_name, grant, _sha = c._bootstrap_secret(
        f"{name}-pool-{pool.name}", node, [c.identity.agent_token, "", {}], c.worker_account
    )
    user_data = pulumi.Output.all(version_name, node).apply(lambda v: secret_cloud_init(v[0], v[1]))
    # Spot: https://cloud.google.com/compute/docs/instances/create-use-spot. Deleted on
    # preemption; the group recreates the VM under its name when capacity returns (a repair:
    # the groups keep the default defaultActionOnFailure REPAIR, selfmanaged_gcp_reaper says why).
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
                    source_image=image_for(pool.size),
                    disk_size_gb=pool.disk_gb,
                    disk_type=WORKER_DISK_TYPE,
                    labels=c._labels,
                )
            ],
            network_interfaces=[
                gcp.compute.InstanceTemplateNetworkInterfaceArgs(subnetwork=c.network.subnetwork_self_link)
            ],
            service_account=gcp.compute.InstanceTemplateServiceAccountArgs(
                email=c.worker_account.email, scopes=[CLOUD_PLATFORM_SCOPE]
            ),
            shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(
                enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
            ),
            scheduling=scheduling,
            metadata=instance_metadata(user_data, **{KUBE_ENV_KEY: autoscaler_env(pool)}),
            labels={**c._labels, "fleetform-role": "worker", "fleetform-pool": pool.name},
        ),
        opts=pulumi.ResourceOptions(parent=c),
    )
    groups = []
    for j, (low, high) in enumerate(zone_bounds(pool.min, pool.max, c._spec.network.zones)):
        if high == 0:
            continue  # a zone the pool's max leaves no VM for gets no group
        manager = gcp.compute.InstanceGroupManager(
            f"{name}-{pool.name}-mig-{j}",
            gcp.compute.InstanceGroupManagerArgs(
                # Explicit (kept within 63 characters): the autoscaler's --nodes names the group.
                name=gcp_name(name, pool.name, str(j)),
                zone=c._zones.apply(lambda z, j=j: c._zone_of(z, j)),
                base_instance_name=f"{name}-{pool.name}",
                description=f"fleetform: k3s workers of pool {pool.name} of cluster {name}",
                # selfLinkUnique pins the exact template version (no time-of-check/time-of-use gap).
                versions=[
                    gcp.compute.InstanceGroupManagerVersionArgs(
                        name="primary", instance_template=instance_template.self_link_unique
                    )
                ],
                named_ports=[
                    gcp.compute.InstanceGroupManagerNamedPortArgs(name=port_name(s), port=s.node_port)
                    for s in services
                ],
                # The first size is the zone's share of min; from then on the autoscaler owns it.
                target_size=low,
                # Template changes reach VMs the group creates from then on: Compute Engine does
                # not drain Kubernetes nodes, so nothing is replaced behind the cluster's back.
                update_policy=gcp.compute.InstanceGroupManagerUpdatePolicyArgs(
                    type="OPPORTUNISTIC", minimal_action="REPLACE", max_surge_fixed=1, max_unavailable_fixed=0,
                ),
                wait_for_instances=False,
            ),
            opts=pulumi.ResourceOptions(
                parent=c, depends_on=[grant], ignore_changes=["targetSize"], delete_before_replace=True
            ),
        )
        groups.append(PoolGroup(pool.name, j, low, high, manager))
    return groups


def port_name(service: FrontedService) -> str:
    """The instance groups' named port that carries ``service``'s NodePort."""
    return f"svc-{service.name}"
