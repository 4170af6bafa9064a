"""Target ``gcp``, mode ``self-managed``: the masters' stale-Node reaper (split from
:mod:`.selfmanaged_gcp`).

**Why.** A managed instance group repairs a failed VM, and recreates a preempted Spot VM, by
recreating it *under its old name* with a new boot disk ("If a VM in a MIG fails, the MIG
automatically repairs the failed VM by recreating it", https://cloud.google.com/compute/docs/instance-groups/about-repair).
k3s's ``--with-node-id`` id lives on the boot disk (``/etc/rancher/node``), so the new VM registers
a *second* Node, ``<instance>-<new id>``, with the *same* providerID ``gce://<project>/<zone>/<instance>``.
cloud-provider-gcp deletes a Node only when ``InstanceExistsByProviderID`` finds no instance, and the
instance exists again; ``InstanceShutdownByProviderID`` is ``NotImplemented``
(providers/gce/gce_instances.go at v32.2.4 ... v36.0.7). So the old Node would stay NotReady for
ever, and the Cluster Autoscaler, which maps Nodes to instances by providerID
(``GceRefFromProviderId``), could after ``--scale-down-unready-time`` (20 minutes) scale the
*old* Node down by deleting the instance that *now* backs the live one.

**What.** A systemd timer on every master runs :data:`NODE_REAPER_PY` each minute. It deletes a
Node only when both hold: another Node carries the same ``gce://`` providerID and was created
later, and the Node's ``Ready`` condition is not ``True``. A providerID names one instance, an
instance runs one kubelet, and a new node name on it means a new boot disk: the older Node's
machine is gone for good, so the rule never matches a live Node. Deleting the Node is what k3s
documents for a node that rejoins ("the node should be deleted from the cluster. This will clean
up both the old node entry, and the node password secret",
https://docs.k3s.io/architecture#how-agent-node-registration-works), and Kubernetes' pod garbage
collector then removes the pods bound to it (https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-garbage-collection).
It acts through the master's k3s admin kubeconfig *as* the user :data:`REAPER_USER`
(impersonation), which RBAC lets get, list and delete Nodes and nothing else
(:func:`reaper_rbac`), so a fault in the script cannot touch anything but Nodes.

**Why not the alternatives.** A MIG's ``instanceLifecyclePolicy.defaultActionOnFailure`` takes
``REPAIR`` (default) or ``DO_NOTHING`` in the Compute Engine v1 API and in the provider
(terraform-provider-google ``resource_compute_instance_group_manager.go``:
``validation.StringInSlice([]string{"REPAIR", "DO_NOTHING"})``; pulumi-gcp 10.2.0 documents the
same two); ``DELETE`` ("Deleting the VM decreases the target size of the MIG") exists only in the
v1beta API, which the provider refuses. ``DO_NOTHING`` is not safe either: a failed VM then stays
in the group, stopped, its instance still exists, so the CCM keeps its NotReady Node, and at the
group's ``min`` the autoscaler never removes it (capacity lost for good); what a group with repairs
off does with a Spot VM that preemption *deleted* is not documented. A CronJob would need one more
upstream image, with a shell or an interpreter besides kubectl, to pin and verify; the masters'
Ubuntu image already has python3 (cloud-init runs on it) and k3s ships kubectl (``k3s kubectl``).

The timer only exists on masters whose cloud-init ran with it, i.e. masters created from this
version on; existing clusters' masters never re-run cloud-init.
"""

from __future__ import annotations

import base64

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.rbac.v1 import PolicyRuleArgsDict

REAPER_USER = "fleetform:node-reaper"
"""The user the reaper impersonates (``kubectl --as``); only :func:`reaper_rbac`'s ClusterRole is bound to it."""
REAPER_PATH = "/var/lib/fleetform/node-reaper.py"
REAPER_UNIT = "fleetform-node-reaper"
K3S_BIN = "/usr/local/bin/k3s"
"""Where k3s's install script puts the binary (the default ``INSTALL_K3S_BIN_DIR``; the air-gapped
path of the shared bootstrap copies it there too)."""
K3S_ADMIN_KUBECONFIG = "/etc/rancher/k3s/k3s.yaml"
"""The admin kubeconfig a k3s server writes (https://docs.k3s.io/cluster-access), mode 0600 here."""
PERIOD_SECONDS = 60
"""How often each master looks: far inside the autoscaler's 20-minute ``scale-down-unready-time``."""

NODE_REAPER_PY = f'''\
"""fleetform: delete the Node a recreated worker VM left behind (self-managed GCP masters).

A Node is deleted when another Node holds the same gce:// providerID and was created later, and
its own Ready condition is not True: the instance was recreated under its name with a new boot
disk, so the older Node's machine is gone. Runs as {REAPER_USER} (impersonated), which may only
get, list and delete Nodes. Every master runs it; a Node another master deleted first is ignored.
"""
import json
import os
import subprocess
import sys

K3S = os.environ.get("FLEETFORM_K3S", "{K3S_BIN}")
KUBECONFIG = os.environ.get("FLEETFORM_KUBECONFIG", "{K3S_ADMIN_KUBECONFIG}")
AS_USER = "{REAPER_USER}"
PROVIDER_ID_PREFIX = "gce://"


def kubectl(*args):
    command = [K3S, "kubectl", "--kubeconfig", KUBECONFIG, "--as", AS_USER, "--request-timeout=30s", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=90)


def created(node):
    return (node.get("metadata") or {{}}).get("creationTimestamp") or ""


def ready(node):
    for condition in (node.get("status") or {{}}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return condition.get("status") == "True"
    return False


def stale(nodes):
    """(Node, providerID, the newer Node holding it) for each Node to delete, by name."""
    holders = {{}}
    for node in nodes:
        provider_id = (node.get("spec") or {{}}).get("providerID") or ""
        # RFC 3339 UTC times ("2026-12-02T10:00:00Z") order as strings; a Node without one is left alone.
        if provider_id.startswith(PROVIDER_ID_PREFIX) and created(node):
            holders.setdefault(provider_id, []).append(node)
    found = []
    for provider_id, group in holders.items():
        newest = max(group, key=created)
        for node in group:
            if created(node) < created(newest) and not ready(node):
                found.append((node["metadata"]["name"], provider_id, newest["metadata"]["name"]))
    return sorted(found)


def main():
    listed = kubectl("get", "nodes", "-o", "json")
    if listed.returncode != 0:
        print("fleetform-node-reaper: cannot list Nodes: " + listed.stderr.strip(), file=sys.stderr)
        return 1
    status = 0
    for name, provider_id, newer in stale(json.loads(listed.stdout).get("items") or []):
        print("fleetform-node-reaper: deleting Node " + name + ": not Ready, and its providerID "
              + provider_id + " is held by the newer Node " + newer)
        deleted = kubectl("delete", "node", name, "--ignore-not-found", "--wait=false")
        if deleted.returncode != 0:
            print("fleetform-node-reaper: could not delete Node " + name + ": " + deleted.stderr.strip(), file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
'''
"""The reaper (python3 and the standard library only)."""

SERVICE_UNIT = f"""\
[Unit]
Description=fleetform: delete Nodes left behind by recreated worker VMs
After=k3s.service
# Nothing to do (and no kubeconfig to do it with) until k3s has started on this master
# (systemd.unit(5), ConditionPathExists=: the unit is skipped, not failed).
ConditionPathExists=/etc/rancher/k3s/k3s.yaml

[Service]
Type=oneshot
# kubectl keeps its discovery cache under $HOME, which systemd sets only for units with User=
# (systemd.exec(5), "Environment Variables in Spawned Processes").
Environment=HOME=/root
ExecStart=/usr/bin/python3 {REAPER_PATH}
NoNewPrivileges=yes
PrivateTmp=yes
"""

TIMER_UNIT = f"""\
[Unit]
Description=fleetform: run {REAPER_UNIT} every {PERIOD_SECONDS}s

[Timer]
OnBootSec=5min
OnUnitActiveSec={PERIOD_SECONDS}s
AccuracySec=5s

[Install]
WantedBy=timers.target
"""

ENABLE_COMMAND = f"systemctl daemon-reload && systemctl enable --now {REAPER_UNIT}.timer"
"""Run by cloud-init before the bootstrap (whose ``exec`` ends the ``runcmd`` script)."""


def cloud_init_files() -> list[dict[str, str]]:
    """The reaper's ``write_files`` entries for a master's cloud-config."""

    def entry(path: str, text: str, permissions: str) -> dict[str, str]:
        return {"path": path, "owner": "root:root", "permissions": permissions, "encoding": "b64",
                "content": base64.b64encode(text.encode()).decode()}

    return [
        entry(REAPER_PATH, NODE_REAPER_PY, "0700"),
        entry(f"/etc/systemd/system/{REAPER_UNIT}.service", SERVICE_UNIT, "0644"),
        entry(f"/etc/systemd/system/{REAPER_UNIT}.timer", TIMER_UNIT, "0644"),
    ]


REAPER_RULES: list[PolicyRuleArgsDict] = [
    # kubectl get nodes (list), kubectl delete node (get, then delete).
    {"api_groups": [""], "resources": ["nodes"], "verbs": ["get", "list", "delete"]},
]


def reaper_rbac(parent: pulumi.Resource, cluster: str, provider: k8s.Provider) -> list[pulumi.Resource]:
    """The ClusterRole the reaper's impersonated user holds, and its binding."""
    opts = pulumi.ResourceOptions(parent=parent, provider=provider)
    name = "fleetform:node-reaper"
    labels = {"app.kubernetes.io/name": "node-reaper", "app.kubernetes.io/part-of": "fleetform"}
    role = k8s.rbac.v1.ClusterRole(f"{cluster}-node-reaper-role", metadata={"name": name, "labels": labels},
                                   rules=REAPER_RULES, opts=opts)
    binding = k8s.rbac.v1.ClusterRoleBinding(
        f"{cluster}-node-reaper-binding",
        metadata={"name": name, "labels": labels},
        subjects=[{"kind": "User", "name": REAPER_USER, "api_group": "rbac.authorization.k8s.io"}],
        role_ref={"api_group": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[role])),
    )
    return [role, binding]
