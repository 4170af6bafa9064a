"""Rules over Kubernetes objects (Pulumi's ``kubernetes:*`` resources, whose props are manifests)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .base import (
    WORKLOAD_TYPES,
    Rule,
    all_containers,
    annotations_of,
    cname,
    dig,
    items,
    kind_of,
    labels,
    pod_spec,
)

FRONTED_BY_FLEETFORM = "fleetform.io/fronted-by"
EXPOSE_LABEL = "fleetform.io/expose"


def _containers(resource_type: str, props: Mapping[str, Any]):
    spec = pod_spec(resource_type, props)
    return spec, all_containers(spec)


# ---------------------------------------------------------------------- network


def _host_network(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec, containers = _containers(t, p)
    if dig(spec, "hostNetwork") is True:
        yield "pod uses hostNetwork"
    for c in containers:
        for port in items(dig(c, "ports")):
            if dig(port, "hostPort") not in (None, 0):
                yield f"container {cname(c)!r} binds hostPort {dig(port, 'hostPort')}"


def _nodeport(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kind = dig(p, "spec", "type", default="ClusterIP")
    if kind == "NodePort" and FRONTED_BY_FLEETFORM not in annotations_of(p):
        yield f"Service type NodePort without a fleetform-provisioned load balancer (annotation {FRONTED_BY_FLEETFORM})"
    if kind == "LoadBalancer" and labels(p).get(EXPOSE_LABEL) not in ("public", "internal"):
        yield f"Service type LoadBalancer for a service whose config does not say public or internal (label {EXPOSE_LABEL})"


# ---------------------------------------------------------------------- identity


def _service_account(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None:
        return
    if dig(spec, "serviceAccountName", default="default") == "default":
        yield "pod runs as the namespace's default ServiceAccount"
    if dig(spec, "automountServiceAccountToken") is not False:
        yield "pod mounts a ServiceAccount token (set automountServiceAccountToken: false)"


def _rbac(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kind = kind_of(t)
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        if dig(p, "roleRef", "name") == "cluster-admin":
            yield f"{kind} grants cluster-admin"
        return
    for i, rule in enumerate(items(dig(p, "rules"))):
        for key in ("verbs", "resources", "apiGroups"):
            if "*" in [str(v) for v in items(dig(rule, key))]:
                yield f"rules[{i}].{key} contains the wildcard '*'"


# ---------------------------------------------------------------------- hardening


def _non_root(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    spec, containers = _containers(t, p)
    if spec is None:
        return
    min_uid = int(c["minUid"])
    pod_ctx = dig(spec, "securityContext", default={})
    for ctr in containers:
        ctx = dig(ctr, "securityContext", default={})
        non_root = dig(ctx, "runAsNonRoot", default=dig(pod_ctx, "runAsNonRoot"))
        uid = dig(ctx, "runAsUser", default=dig(pod_ctx, "runAsUser"))
        if non_root is not True:
            yield f"container {cname(ctr)!r} may run as root (runAsNonRoot is not true)"
        if uid is None or int(uid) < min_uid:
            yield f"container {cname(ctr)!r} runs with UID {uid if uid is not None else 'from the image'}, not >= {min_uid}"


def _read_only_root(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        if dig(ctr, "securityContext", "readOnlyRootFilesystem") is not True:
            yield f"container {cname(ctr)!r} has a writable root filesystem"


def _privileged(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        if dig(ctr, "securityContext", "privileged") is True:
            yield f"container {cname(ctr)!r} is privileged"
        if dig(ctr, "securityContext", "allowPrivilegeEscalation") is not False:
            yield f"container {cname(ctr)!r} allows privilege escalation"


def _capabilities(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        drop = [str(x).upper() for x in items(dig(ctr, "securityContext", "capabilities", "drop"))]
        add = [str(x).upper() for x in items(dig(ctr, "securityContext", "capabilities", "add"))]
        if "ALL" not in drop:
            yield f"container {cname(ctr)!r} does not drop ALL capabilities"
        if add:
            yield f"container {cname(ctr)!r} adds capabilities {', '.join(add)}"


def _host_namespaces(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None:
        return
    for key in ("hostPID", "hostIPC"):
        if dig(spec, key) is True:
            yield f"pod uses {key}"
    for vol in items(dig(spec, "volumes")):
        path = dig(vol, "hostPath", "path")
        if path is not None:
            what = "the container runtime socket" if "docker.sock" in str(path) or "containerd.sock" in str(path) else "a hostPath"
            yield f"volume {dig(vol, 'name')!r} mounts {what} ({path})"


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _image_pinned(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        image = str(dig(ctr, "image", default=""))
        if _DIGEST.search(image):
            continue
        last = image.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else None
        if tag is None or tag == "latest":
            yield f"container {cname(ctr)!r} image {image!r} is not pinned (no tag, or latest)"
        elif c["requireDigest"]:
            yield f"container {cname(ctr)!r} image {image!r} is not pinned by digest"


def _seccomp(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec, containers = _containers(t, p)
    if spec is None:
        return
    pod_profile = dig(spec, "securityContext", "seccompProfile", "type")
    for ctr in containers:
        profile = dig(ctr, "securityContext", "seccompProfile", "type", default=pod_profile)
        if profile not in ("RuntimeDefault", "Localhost"):
            yield f"container {cname(ctr)!r} has seccomp profile {profile or 'unset (Unconfined)'}"


_SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.IGNORECASE)


def _env_secrets(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        for env in items(dig(ctr, "env")):
            name = str(dig(env, "name", default=""))
            if dig(env, "valueFrom", "secretKeyRef") is not None:
                yield f"container {cname(ctr)!r} reads secret into env {name} (mount secrets as files)"
            elif dig(env, "value") not in (None, "") and _SECRET_NAME.search(name):
                yield f"container {cname(ctr)!r} has a plain-text value in secret-looking env {name}"


# ---------------------------------------------------------------------- availability


def _resources(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        for section in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if dig(ctr, "resources", section, res) is None:
                    yield f"container {cname(ctr)!r} has no {res} {section[:-1]}"


def _probes(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None:
        return
    for ctr in items(dig(spec, "containers")):
        ready, live = dig(ctr, "readinessProbe"), dig(ctr, "livenessProbe")
        if ready is None:
            yield f"container {cname(ctr)!r} has no readiness probe"
        if live is None:
            yield f"container {cname(ctr)!r} has no liveness probe"
        if ready is not None and live is not None and _plain(ready) == _plain(live):
            yield f"container {cname(ctr)!r} has identical readiness and liveness probes"


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(value[k]) for k in value}
    if not isinstance(value, str) and hasattr(value, "__len__") and hasattr(value, "__getitem__"):
        return [_plain(v) for v in items(value)]
    return value


def _replicas(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    kind = kind_of(t)
    if kind == "Pod":
        yield "bare Pod: use a Deployment (or another controller) so it is rescheduled"
        return
    if kind in ("Deployment", "StatefulSet"):
        replicas = dig(p, "spec", "replicas", default=1)
        if int(replicas) < int(c["minReplicas"]):
            yield f"{kind} has {replicas} replica(s), fewer than {c['minReplicas']}"
    if kind == "HorizontalPodAutoscaler":
        low = dig(p, "spec", "minReplicas", default=1)
        if int(low) < int(c["minReplicas"]):
            yield f"HorizontalPodAutoscaler may scale down to {low} replica(s), fewer than {c['minReplicas']}"


def _pdb(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    max_unavailable = dig(p, "spec", "maxUnavailable")
    min_available = dig(p, "spec", "minAvailable")
    if max_unavailable is not None and str(max_unavailable) in ("0", "0%"):
        yield "PodDisruptionBudget allows no disruption (maxUnavailable 0): it blocks node drains"
    if min_available is not None and str(min_available) == "100%":
        yield "PodDisruptionBudget allows no disruption (minAvailable 100%): it blocks node drains"


def _spread(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None or kind_of(t) not in ("Deployment", "StatefulSet"):
        return
    if int(dig(p, "spec", "replicas", default=1)) < 2:
        return
    if not items(dig(spec, "topologySpreadConstraints")) and dig(spec, "affinity", "podAntiAffinity") is None:
        yield "replicas may all land on one node or zone (no topologySpreadConstraints or podAntiAffinity)"


K8S = "kubernetes:"
RBAC_TYPES = tuple(f"kubernetes:rbac.authorization.k8s.io/v1:{k}" for k in ("ClusterRoleBinding", "RoleBinding", "ClusterRole", "Role"))
SERVICE = ("kubernetes:core/v1:Service",)

RULES = [
    Rule("k8s-no-host-network", "Pods use neither the host network nor host ports.", "high",
         "kube-linter host-network; checkov CKV_K8S_19, CKV_K8S_26", "mandatory", _host_network, types=WORKLOAD_TYPES),
    Rule("k8s-no-unfronted-nodeport", "No NodePort Services except those fronted by a fleetform-provisioned load "
         "balancer; LoadBalancer Services only for services configured public or internal.", "medium",
         "kube-linter exposed-services", "mandatory", _nodeport, types=SERVICE),
    Rule("k8s-service-account", "Pods use a dedicated ServiceAccount and do not automount its token.", "medium",
         "checkov CKV_K8S_38, CKV_K8S_41", "mandatory", _service_account, types=WORKLOAD_TYPES),
    Rule("k8s-no-cluster-admin", "No binding to cluster-admin and no wildcard verbs, resources or API groups in roles.",
         "high", "checkov CKV_K8S_49, CKV_K8S_155", "mandatory", _rbac, types=RBAC_TYPES),
    Rule("k8s-run-as-non-root", "Containers run as non-root with a UID of at least minUid.", "high",
         "checkov CKV_K8S_23, CKV_K8S_40", "mandatory", _non_root, types=WORKLOAD_TYPES,
         config={"minUid": {"type": "integer", "default": 10000, "description": "Lowest acceptable UID."}}),
    Rule("k8s-read-only-root-filesystem", "Containers have a read-only root filesystem.", "medium",
         "checkov CKV_K8S_22", "mandatory", _read_only_root, types=WORKLOAD_TYPES),
    Rule("k8s-no-privilege", "Containers are not privileged and cannot escalate privileges.", "critical",
         "checkov CKV_K8S_16, CKV_K8S_20", "mandatory", _privileged, types=WORKLOAD_TYPES),
    Rule("k8s-drop-all-capabilities", "Containers drop ALL capabilities and add none.", "high",
         "checkov CKV_K8S_28, CKV_K8S_37", "mandatory", _capabilities, types=WORKLOAD_TYPES),
    Rule("k8s-no-host-namespaces", "Pods share no host PID/IPC namespace and mount no hostPath (docker.sock included).",
         "critical", "checkov CKV_K8S_17, CKV_K8S_18, CKV_K8S_27", "mandatory", _host_namespaces, types=WORKLOAD_TYPES),
    Rule("k8s-image-pinned", "Images are pinned: never latest or untagged (and by digest when requireDigest).", "high",
         "checkov CKV_K8S_14, CKV_K8S_43", "mandatory", _image_pinned, types=WORKLOAD_TYPES,
         config={"requireDigest": {"type": "boolean", "default": False, "description": "Require @sha256 digests."}}),
    Rule("k8s-seccomp-runtime-default", "Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
         "medium", "checkov CKV_K8S_31", "mandatory", _seccomp, types=WORKLOAD_TYPES),
    Rule("k8s-no-secrets-in-env", "No secrets in environment variables: neither plain values under secret-looking "
         "names nor secretKeyRef (mount secrets as files).", "medium", "checkov CKV_K8S_35", "mandatory",
         _env_secrets, types=WORKLOAD_TYPES),
    Rule("k8s-resources", "Containers set CPU and memory requests and limits.", "medium",
         "checkov CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13", "mandatory", _resources, types=WORKLOAD_TYPES),
    Rule("k8s-probes", "Containers have readiness and liveness probes, and they are not identical.", "medium",
         "checkov CKV_K8S_8, CKV_K8S_9; kube-score pod-probes-identical", "mandatory", _probes, types=WORKLOAD_TYPES),
    Rule("k8s-replicas", "Workloads run at least minReplicas replicas under a controller (no bare Pods).", "medium",
         "kube-score deployment-replicas; Polaris deploymentMissingReplicas", "mandatory", _replicas,
         types=(*WORKLOAD_TYPES, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"),
         config={"minReplicas": {"type": "integer", "default": 2, "description": "Fewest replicas allowed."}}),
    Rule("k8s-pdb-allows-disruption", "PodDisruptionBudgets leave room for voluntary disruption (node drains).",
         "medium", "Polaris pdbDisruptionsIsZero; kube-score poddisruptionbudget", "mandatory", _pdb,
         types=("kubernetes:policy/v1:PodDisruptionBudget",)),
    Rule("k8s-topology-spread", "Replicated workloads spread over nodes/zones (topology spread or anti-affinity).",
         "low", "Polaris topologySpreadConstraint; kube-linter no-anti-affinity", "advisory", _spread,
         types=WORKLOAD_TYPES),
]
