"""Rules over Kubernetes objects (Pulumi's ``kubernetes:*`` resources, whose props are manifests).

Every workload rule also reads the ``*Patch`` resources (server-side apply) and PodTemplates. A
patch changes only what it sets, so on a patch a rule reports only a forbidden value the patch
sets, never a value it leaves out (``is_patch``).
"""

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
    is_patch,
    is_zero,
    items,
    kind_of,
    labels,
    num,
    pod_spec,
    with_patches,
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
            if dig(port, "hostPort") is not None and not is_zero(dig(port, "hostPort")):
                yield f"container {cname(c)!r} binds hostPort {num(dig(port, 'hostPort'))}"


def _nodeport(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kind = dig(p, "spec", "type", default=None if is_patch(t) else "ClusterIP")
    if kind == "NodePort" and FRONTED_BY_FLEETFORM not in annotations_of(p):
        yield f"Service type NodePort without a fleetform-provisioned load balancer (annotation {FRONTED_BY_FLEETFORM})"
    if kind == "LoadBalancer" and labels(p).get(EXPOSE_LABEL) not in ("public", "internal"):
        yield f"Service type LoadBalancer for a service whose config does not say public or internal (label {EXPOSE_LABEL})"


# ---------------------------------------------------------------------- identity


def _service_account(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None:
        return
    # serviceAccount is the deprecated alias the API server still honours when serviceAccountName is unset.
    name = dig(spec, "serviceAccountName", default=dig(spec, "serviceAccount"))
    if (name is None and not is_patch(t)) or name in ("", "default"):
        yield "pod runs as the namespace's default ServiceAccount"
    mount = dig(spec, "automountServiceAccountToken")
    if mount is True or (mount is None and not is_patch(t)):
        yield "pod mounts a ServiceAccount token (set automountServiceAccountToken: false)"


def _default_service_account(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kind = kind_of(t)
    if kind == "ServiceAccount":
        mount = dig(p, "automountServiceAccountToken")
        if dig(p, "metadata", "name") == "default" and (mount is True or (mount is None and not is_patch(t))):
            yield "the default ServiceAccount mounts its token into every pod that names no other (set automountServiceAccountToken: false)"
        return
    for i, subject in enumerate(items(dig(p, "subjects"))):
        if dig(subject, "kind") == "ServiceAccount" and dig(subject, "name") == "default":
            yield f"{kind} grants {dig(p, 'roleRef', 'name')!r} to the default ServiceAccount (subjects[{i}]): every pod that names no ServiceAccount gets it"


_ESCALATING_VERBS = ("escalate", "bind", "impersonate")
_READ_VERBS = ("get", "list", "watch")


def _rbac(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    kind = kind_of(t)
    if kind in ("ClusterRoleBinding", "RoleBinding"):
        if dig(p, "roleRef", "name") == "cluster-admin":
            yield f"{kind} grants cluster-admin"
        for i, subject in enumerate(items(dig(p, "subjects"))):
            if dig(subject, "kind") == "Group" and dig(subject, "name") == "system:masters":
                yield f"{kind} subjects[{i}] is the group system:masters (it bypasses RBAC)"
        return
    for i, rule in enumerate(items(dig(p, "rules"))):
        for key in ("verbs", "resources", "apiGroups"):
            wild = [str(v) for v in items(dig(rule, key)) if "*" in str(v)]
            if wild:
                yield f"rules[{i}].{key} contains a wildcard ({', '.join(wild)})"
        verbs = {str(v) for v in items(dig(rule, "verbs"))}
        for verb in _ESCALATING_VERBS:
            if verb in verbs:
                yield f"rules[{i}] grants {verb} (a way around RBAC)"
        groups = {str(g) for g in items(dig(rule, "apiGroups"))}
        resources = {str(r) for r in items(dig(rule, "resources"))}
        read = [v for v in _READ_VERBS if v in verbs]
        if "" in groups and "secrets" in resources and read:
            yield f"rules[{i}] can read Secrets ({', '.join(read)})"


# ---------------------------------------------------------------------- hardening


def _non_root(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    spec, containers = _containers(t, p)
    if spec is None:
        return
    patch = is_patch(t)
    min_uid = int(c["minUid"])
    pod_ctx = dig(spec, "securityContext", default={})
    for ctr in containers:
        ctx = dig(ctr, "securityContext", default={})
        non_root = dig(ctx, "runAsNonRoot", default=dig(pod_ctx, "runAsNonRoot"))
        uid = dig(ctx, "runAsUser", default=dig(pod_ctx, "runAsUser"))
        if non_root is False or (non_root is not True and not patch):
            yield f"container {cname(ctr)!r} may run as root (runAsNonRoot is not true)"
        if (uid is None and not patch) or (uid is not None and int(uid) < min_uid):
            yield f"container {cname(ctr)!r} runs with UID {num(uid) if uid is not None else 'from the image'}, not >= {num(min_uid)}"


def _read_only_root(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        value = dig(ctr, "securityContext", "readOnlyRootFilesystem")
        if value is False or (value is not True and not is_patch(t)):
            yield f"container {cname(ctr)!r} has a writable root filesystem"


def _privileged(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        if dig(ctr, "securityContext", "privileged") is True:
            yield f"container {cname(ctr)!r} is privileged"
        escalation = dig(ctr, "securityContext", "allowPrivilegeEscalation")
        if escalation is True or (escalation is not False and not is_patch(t)):
            yield f"container {cname(ctr)!r} allows privilege escalation"


def _capabilities(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    for ctr in _containers(t, p)[1]:
        caps = dig(ctr, "securityContext", "capabilities")
        drop = [str(x).upper() for x in items(dig(caps, "drop"))]
        add = [str(x).upper() for x in items(dig(caps, "add"))]
        if "ALL" not in drop and (not is_patch(t) or dig(caps, "drop") is not None):
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
        if is_patch(t) and dig(ctr, "image") is None:
            continue
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
        if profile in ("RuntimeDefault", "Localhost") or (profile is None and is_patch(t)):
            continue
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
        for source in items(dig(ctr, "envFrom")):
            if dig(source, "secretRef") is not None:
                yield (f"container {cname(ctr)!r} reads every key of Secret {dig(source, 'secretRef', 'name')!r} into env "
                       "(envFrom.secretRef; mount secrets as files)")


# ---------------------------------------------------------------------- availability


def _resources(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    if is_patch(t):
        return
    for ctr in _containers(t, p)[1]:
        for section in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if dig(ctr, "resources", section, res) is None:
                    yield f"container {cname(ctr)!r} has no {res} {section[:-1]}"


_RUN_TO_COMPLETION = ("Job", "CronJob")
"""Pods that run to completion need no probes (checkov CKV_K8S_8/9 and kube-score skip them)."""


def _probes(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None or is_patch(t) or kind_of(t) in _RUN_TO_COMPLETION:
        return
    for ctr in items(dig(spec, "containers")):
        if dig(ctr, "readinessProbe") is None:
            yield f"container {cname(ctr)!r} has no readiness probe"
        if dig(ctr, "livenessProbe") is None:
            yield f"container {cname(ctr)!r} has no liveness probe"


def _probe_target(probe: Any) -> Any:
    """What a probe asks, as kube-score compares it (areProbesIdentical, score/probes/probes.go):
    an HTTP GET's path and port, a TCP socket's port, an exec's command, a gRPC port and service;
    timings and thresholds are not part of it."""
    if dig(probe, "httpGet") is not None:
        return ("httpGet", str(dig(probe, "httpGet", "path", default="/")), num(dig(probe, "httpGet", "port")))
    if dig(probe, "tcpSocket") is not None:
        return ("tcpSocket", num(dig(probe, "tcpSocket", "port")))
    if dig(probe, "exec") is not None:
        return ("exec", tuple(str(x) for x in items(dig(probe, "exec", "command"))))
    if dig(probe, "grpc") is not None:
        return ("grpc", num(dig(probe, "grpc", "port")), str(dig(probe, "grpc", "service", default="")))
    return None


def _probes_distinct(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None or kind_of(t) in _RUN_TO_COMPLETION:
        return
    for ctr in items(dig(spec, "containers")):
        ready, live = dig(ctr, "readinessProbe"), dig(ctr, "livenessProbe")
        if ready is None or live is None:
            continue
        target = _probe_target(ready)
        if target is not None and target == _probe_target(live):
            yield (f"container {cname(ctr)!r} has identical readiness and liveness probes ({target[0]} "
                   f"{' '.join(str(x) for x in target[1:])}): a dependency that fails readiness restarts the container")


def _replicas(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    kind, patch = kind_of(t), is_patch(t)
    low = int(c["minReplicas"])
    if kind == "Pod":
        if not patch:
            yield "bare Pod: use a Deployment (or another controller) so it is rescheduled"
        return
    if kind in ("Deployment", "StatefulSet"):
        replicas = dig(p, "spec", "replicas", default=None if patch else 1)
        if replicas is not None and int(replicas) < low:
            yield f"{kind} has {num(replicas)} replica(s), fewer than {num(low)}"
    if kind == "HorizontalPodAutoscaler":
        floor = dig(p, "spec", "minReplicas", default=None if patch else 1)
        if floor is not None and int(floor) < low:
            yield f"HorizontalPodAutoscaler may scale down to {num(floor)} replica(s), fewer than {num(low)}"


def _pdb(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    max_unavailable = dig(p, "spec", "maxUnavailable")
    min_available = dig(p, "spec", "minAvailable")
    if max_unavailable is not None and is_zero(max_unavailable):
        yield "PodDisruptionBudget allows no disruption (maxUnavailable 0): it blocks node drains"
    if min_available is not None and str(min_available).strip() == "100%":
        yield "PodDisruptionBudget allows no disruption (minAvailable 100%): it blocks node drains"


def _spread(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    spec = pod_spec(t, p)
    if spec is None or is_patch(t) or kind_of(t) not in ("Deployment", "StatefulSet"):
        return
    if int(dig(p, "spec", "replicas", default=1)) < 2:
        return
    if not items(dig(spec, "topologySpreadConstraints")) and dig(spec, "affinity", "podAntiAffinity") is None:
        yield "replicas may all land on one node or zone (no topologySpreadConstraints or podAntiAffinity)"


# ---------------------------------------------------------------------- namespaces

PSS_LABEL = "pod-security.kubernetes.io/enforce"
PSS_LEVELS = ("privileged", "baseline", "restricted")


def _pod_security(t: str, p: Mapping[str, Any], c: Mapping[str, Any]) -> Iterable[str]:
    level = str(c["level"])
    found = labels(p).get(PSS_LABEL)
    if found is None and is_patch(t):
        return
    rank = PSS_LEVELS.index(str(found)) if str(found) in PSS_LEVELS else -1
    if rank < PSS_LEVELS.index(level):
        yield (f"namespace {dig(p, 'metadata', 'name', default='?')!r} does not enforce the {level} Pod Security Standard "
               f"(label {PSS_LABEL}: {found if found is not None else 'unset'})")


NAMESPACED = (
    *(t for t in WORKLOAD_TYPES if not is_patch(t)),
    "kubernetes:core/v1:Service", "kubernetes:core/v1:Secret", "kubernetes:core/v1:ServiceAccount",
    "kubernetes:core/v1:ConfigMap", "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:rbac.authorization.k8s.io/v1:Role", "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
)
"""What checkov CKV_K8S_21 looks at (DefaultNamespace.py): the namespaced kinds people create."""


def _default_namespace(t: str, p: Mapping[str, Any], _c: Mapping[str, Any]) -> Iterable[str]:
    namespace = dig(p, "metadata", "namespace")
    if namespace not in (None, "", "default"):
        return
    kind, name = kind_of(t), dig(p, "metadata", "name")
    if (kind, name) in (("ServiceAccount", "default"), ("Service", "kubernetes")):
        return  # what Kubernetes itself puts there
    where = "in the default namespace" if namespace == "default" else "in no namespace (the provider's default: default unless it sets one)"
    yield f"{kind} {name or '?'} is {where}"


K8S = "kubernetes:"
RBAC_TYPES = with_patches(f"kubernetes:rbac.authorization.k8s.io/v1:{k}" for k in ("ClusterRoleBinding", "RoleBinding", "ClusterRole", "Role"))
BINDING_TYPES = with_patches(f"kubernetes:rbac.authorization.k8s.io/v1:{k}" for k in ("ClusterRoleBinding", "RoleBinding"))
SERVICE = with_patches(("kubernetes:core/v1:Service",))
HPA_TYPES = with_patches(("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "kubernetes:autoscaling/v1:HorizontalPodAutoscaler"))
PDB_TYPES = with_patches(("kubernetes:policy/v1:PodDisruptionBudget",))
NAMESPACE = with_patches(("kubernetes:core/v1:Namespace",))
SERVICE_ACCOUNT = with_patches(("kubernetes:core/v1:ServiceAccount",))

RULES = [
    Rule("k8s-no-host-network", "Pods use neither the host network nor host ports.", "high",
         "kube-linter host-network; checkov CKV_K8S_19, CKV_K8S_26", "mandatory", _host_network, types=WORKLOAD_TYPES),
    Rule("k8s-no-unfronted-nodeport", "No NodePort Services except those fronted by a fleetform-provisioned load "
         "balancer; LoadBalancer Services only for services configured public or internal.", "medium",
         "kube-linter exposed-services (narrowed to what fleetform did not provision)", "mandatory", _nodeport, types=SERVICE),
    Rule("k8s-service-account", "Pods use a dedicated ServiceAccount and do not automount its token.", "medium",
         "kube-linter default-service-account; checkov CKV_K8S_38; CIS Kubernetes 5.1.5, 5.1.6", "mandatory",
         _service_account, types=WORKLOAD_TYPES,
         refs=("https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/",)),
    Rule("k8s-default-service-account", "The default ServiceAccount mounts no token and is bound to no role.", "medium",
         "checkov CKV_K8S_41, CKV_K8S_42; CIS Kubernetes 5.1.5", "mandatory", _default_service_account,
         types=(*SERVICE_ACCOUNT, *BINDING_TYPES)),
    Rule("k8s-no-cluster-admin", "No binding to cluster-admin or system:masters; roles grant no wildcard, no "
         "escalate/bind/impersonate and no read access to Secrets.", "high",
         "kube-linter cluster-admin-role-binding, wildcard-in-rules, access-to-secrets; checkov CKV_K8S_49, CKV_K8S_157, "
         "CKV_K8S_158; CIS Kubernetes 5.1.1, 5.1.2, 5.1.3, 5.1.7, 5.1.8", "mandatory", _rbac, types=RBAC_TYPES,
         refs=("https://kubernetes.io/docs/concepts/security/rbac-good-practices/",)),
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
         "checkov CKV_K8S_14 (CKV_K8S_43 with requireDigest)", "mandatory", _image_pinned, types=WORKLOAD_TYPES,
         config={"requireDigest": {"type": "boolean", "default": False, "description": "Require @sha256 digests."}}),
    Rule("k8s-seccomp-runtime-default", "Containers run with the RuntimeDefault (or a Localhost) seccomp profile.",
         "medium", "checkov CKV_K8S_31", "mandatory", _seccomp, types=WORKLOAD_TYPES,
         refs=("https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted",)),
    Rule("k8s-no-secrets-in-env", "No secrets in environment variables: neither plain values under secret-looking "
         "names nor secretKeyRef or envFrom.secretRef (mount secrets as files).", "medium",
         "checkov CKV_K8S_35; kube-linter read-secret-from-env-var, env-var-secret; CIS Kubernetes 5.4.1", "mandatory",
         _env_secrets, types=WORKLOAD_TYPES),
    Rule("k8s-resources", "Containers set CPU and memory requests and limits.", "medium",
         "checkov CKV_K8S_10, CKV_K8S_11, CKV_K8S_12, CKV_K8S_13", "mandatory", _resources, types=WORKLOAD_TYPES),
    Rule("k8s-probes", "Long-running containers have readiness and liveness probes (Jobs and CronJobs need none).",
         "medium", "checkov CKV_K8S_8, CKV_K8S_9", "mandatory", _probes, types=WORKLOAD_TYPES),
    Rule("k8s-probes-distinct", "A container's liveness probe asks something other than its readiness probe (path "
         "and port, command, or socket).", "medium", "kube-score pod-probes-identical", "mandatory", _probes_distinct,
         types=WORKLOAD_TYPES, refs=("https://github.com/zegl/kube-score/blob/master/README_PROBES.md",)),
    Rule("k8s-replicas", "Workloads run at least minReplicas replicas under a controller (no bare Pods).", "medium",
         "kube-score deployment-replicas; Polaris deploymentMissingReplicas", "mandatory", _replicas,
         types=(*WORKLOAD_TYPES, *HPA_TYPES),
         config={"minReplicas": {"type": "integer", "default": 2, "description": "Fewest replicas allowed."}}),
    Rule("k8s-pdb-allows-disruption", "PodDisruptionBudgets leave room for voluntary disruption (node drains).",
         "medium", "Polaris pdbDisruptionsIsZero; kube-linter pdb-max-unavailable, pdb-min-available", "mandatory", _pdb,
         types=PDB_TYPES),
    Rule("k8s-topology-spread", "Replicated workloads spread over nodes/zones (topology spread or anti-affinity).",
         "low", "Polaris topologySpreadConstraint; kube-linter no-anti-affinity", "advisory", _spread,
         types=WORKLOAD_TYPES),
    Rule("k8s-pod-security-namespace", "Namespaces enforce a Pod Security Standard of at least `level` (label "
         "pod-security.kubernetes.io/enforce).", "high", "Kubernetes Pod Security Admission; CIS Kubernetes 5.2.1",
         "mandatory", _pod_security, types=NAMESPACE,
         config={"level": {"type": "string", "enum": list(PSS_LEVELS[1:]), "default": "restricted",
                           "description": "Lowest Pod Security Standard a namespace may enforce."}},
         refs=("https://kubernetes.io/docs/concepts/security/pod-security-admission/",
               "https://kubernetes.io/docs/concepts/security/pod-security-standards/")),
    Rule("k8s-no-default-namespace", "Workloads, Services, Secrets, ConfigMaps, ServiceAccounts and roles are not "
         "in the default namespace.", "low", "checkov CKV_K8S_21", "mandatory", _default_namespace, types=NAMESPACED),
]
