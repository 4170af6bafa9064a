"""The whole fleet: :class:`FleetSpec`, everything under the ``fleetform:`` config namespace.

Its clusters and services, the default namespace and Kubernetes version, the onprem SSH key; and
the checks across them (:func:`fleet_problems`): unique names, references between services and
clusters, ``expose: internal`` only where the load balancer has private addresses, NodePort clashes
on self-managed cloud clusters, public services' ports under ServiceLB on onprem clusters, the onprem SSH key. They report every problem at once, and
:func:`~fleetform.config.loading.load_spec` runs them even when some entries did not validate.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, Optional

from pydantic import Field, SecretStr, field_validator, model_validator

from fleetform_policies.versions import TARGETS, described, support_of

from .cluster import ClusterSpec
from .errors import _problem, _raise_all
from .onprem import SSH_PRIVATE_KEY_DESCRIPTION
from .service import ServiceSpec
from .release import ReleaseSpec, release_problems
from .traffic import TrafficSpec, traffic_problems
from .values import (
    CLOUD_TARGETS,
    DEFAULT_KUBERNETES_VERSION,
    _dns_label,
    _Model,
    KubernetesVersion,
)

EXTENDS_DESCRIPTION = (
    "A stack whose fleetform config this stack builds on: its name in the same folder, or a relative path to its "
    "Pulumi.<name>.yaml. Services merge by name; this stack's other keys replace the base's."
)
"""``fleetform:extends`` as Pulumi.yaml and docs/configuration.md describe it (merged by :mod:`.extends`)."""


class FleetSpec(_Model):
    """Everything under the ``fleetform:`` config namespace."""

    clusters: list[ClusterSpec] = Field(min_length=1, description="The clusters of this stack (at least one).")
    services: list[ServiceSpec] = Field(default_factory=list, description="The microservices deployed on the clusters.")
    traffic: list[TrafficSpec] = Field(
        default_factory=list,
        description="Global hostnames: one name in front of a public service on several clusters, health-checked "
        "DNS routing on Route 53, Cloud DNS or Traffic Manager.",
    )
    release: Optional[ReleaseSpec] = Field(
        default=None,
        description="A release a rollout is moving: images per service, the clusters that run them already, the "
        "clusters drained of traffic. Written by fleetform rollout; cleared when its last wave passes.",
    )
    namespace: str = Field(default="fleetform", description="Kubernetes namespace fleetform creates for the services.")
    kubernetes_version: KubernetesVersion = Field(
        default=DEFAULT_KUBERNETES_VERSION, description="Default Kubernetes minor version of the clusters."
    )
    ssh_private_key: Optional[SecretStr] = Field(
        default=None, description=SSH_PRIVATE_KEY_DESCRIPTION
    )
    extends: Optional[str] = Field(default=None, description=EXTENDS_DESCRIPTION)

    @field_validator("namespace", mode="after")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if v in ("default", "kube-system", "kube-public", "kube-node-lease"):
            raise _problem("a namespace of fleetform's own, not default or a kube-* system namespace")
        return _dns_label(v, 63)

    @model_validator(mode="after")
    def _cross_checks(self) -> "FleetSpec":
        key = self.ssh_private_key.get_secret_value().strip() if self.ssh_private_key is not None else ""
        _raise_all(fleet_problems([(c, c) for c in self.clusters], [(s, s) for s in self.services], bool(key))
                   + self._version_problems()
                   + traffic_problems(self.clusters, self.services, [(t, t) for t in self.traffic], self.drained())
                   + release_problems(self.release, self.clusters, self.services, self.traffic))
        return self

    def _version_problems(self) -> list[tuple[str, Any, str]]:
        """Each cluster's minor must be one its target offers a new cluster today (the table in
        ``fleetform_policies/kubernetes_versions.json``, with its sources and check date)."""
        found: list[tuple[str, Any, str]] = []
        for i, cluster in enumerate(self.clusters):
            table, version = cluster.version_table, self.version_of(cluster)
            if table is None or support_of(table, version) is not None:
                continue
            key = f"clusters[{i}].kubernetesVersion" if cluster.kubernetes_version else "kubernetesVersion"
            where = "" if cluster.kubernetes_version else f" (the default, for cluster {cluster.name})"
            found.append((key, version, f"a minor {TARGETS[table]['name']} offers{where}: {described(table)}"))
        return found

    @staticmethod
    def node_port_of(service: "ServiceSpec") -> int:
        """The service's NodePort on self-managed cloud clusters: configured, or derived from its
        name (stable as services come and go; a clash is a config error asking for an explicit one)."""
        if service.node_port is not None:
            return service.node_port
        return 30000 + zlib.crc32(service.name.encode()) % 2768

    @field_validator("ssh_private_key", mode="before")
    @classmethod
    def _encrypted_key(cls, v: Any) -> Any:
        # A stack file read as YAML holds the encrypted value ({secure: ...}); the engine hands
        # programs the decrypted string. Either way a key is configured.
        if isinstance(v, Mapping) and set(v) == {"secure"} and isinstance(v["secure"], str) and v["secure"]:
            return "[secret]"
        return v

    def version_of(self, cluster: ClusterSpec) -> str:
        """The cluster's Kubernetes minor version after defaults."""
        return cluster.kubernetes_version or self.kubernetes_version

    def image_of(self, service: ServiceSpec, cluster: ClusterSpec) -> str:
        """The image ``service`` runs on ``cluster``: the release's where that cluster runs it."""
        released = self.release.image_for(service.name, cluster.name) if self.release is not None else None
        return released or service.image

    def drained(self) -> frozenset[str]:
        """The clusters a rollout drained of traffic (weight 0 in the weighted traffic entries)."""
        return frozenset(self.release.drained) if self.release is not None else frozenset()

    def services_on(self, cluster: ClusterSpec) -> list[ServiceSpec]:
        """The services that run on ``cluster``."""
        return [s for s in self.services if s.clusters is None or cluster.name in s.clusters]


def _read(entry: Any, attr: str, alias: str) -> Any:
    """A field of a validated entry, or of a raw mapping where the entry did not validate (None if absent)."""
    if isinstance(entry, _Model):
        return getattr(entry, attr)
    if isinstance(entry, Mapping):
        return entry.get(alias, entry.get(attr))
    return None


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def fleet_problems(
    clusters: list[tuple[Any, Optional[ClusterSpec]]],
    services: list[tuple[Any, Optional[ServiceSpec]]],
    ssh_key_given: bool,
) -> list[tuple[str, Any, str]]:
    """The checks across clusters and services, as (key path, value given, allowed), every one.

    Each entry is (what the user wrote, its validated model or None when it did not validate): names,
    references and expose values are read from the raw entries where they are strings, so these
    checks run in the same pass as the entries' own (the NodePort check needs both models).
    """
    found: list[tuple[str, Any, str]] = []
    found += _unique([_text(_read(c, "name", "name")) for c, _ in clusters], "clusters")
    found += _unique([_text(_read(s, "name", "name")) for s, _ in services], "services")
    cluster_names = {n for c, _ in clusters if (n := _text(_read(c, "name", "name"))) is not None}
    service_names = {n for s, _ in services if (n := _text(_read(s, "name", "name"))) is not None}
    runs_on: list[Optional[set[str]]] = []  # per service: the names of its clusters (None: all)
    for i, (svc, _) in enumerate(services):
        listed = _read(svc, "clusters", "clusters")
        runs_on.append({n for n in listed if isinstance(n, str)} if isinstance(listed, list) else None)
        for j, name in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(name, str) and name not in cluster_names:
                found.append((f"services[{i}].clusters[{j}]", name,
                              "a cluster of this stack: " + ", ".join(sorted(cluster_names))))
        egress = _read(svc, "egress", "egress")
        for j, rule in enumerate(egress if isinstance(egress, list) else []):
            target = _text(_read(rule, "service", "service"))
            if target is not None and target not in service_names:
                found.append((f"services[{i}].egress[{j}].service", target,
                              "a service of this stack: " + ", ".join(sorted(service_names))))
    found += _internal_problems(clusters, services, runs_on)
    # NodePorts matter only where fleetform's own load balancer forwards to them: on the
    # self-managed cloud clusters. Two exposed services sharing one there would collide.
    clashing: set[int] = set()
    for _, cluster in clusters:
        if cluster is None or cluster.target not in CLOUD_TARGETS or cluster.effective_mode != "self-managed":
            continue
        taken: dict[int, str] = {}
        for i, (_, svc) in enumerate(services):
            if svc is None or svc.expose == "cluster" or (svc.clusters is not None and cluster.name not in svc.clusters):
                continue
            port = FleetSpec.node_port_of(svc)
            if port in taken:
                if i not in clashing:  # one line per service, on the first cluster it clashes on
                    clashing.add(i)
                    found.append((f"services[{i}].nodePort", port,
                                  f"a NodePort not used by service {taken[port]} on cluster {cluster.name} (set nodePort "
                                  "explicitly, 30000-32767)"))
                continue
            taken[port] = svc.name
    found += _servicelb_port_problems(clusters, services)
    onprem = [name for c, spec in clusters
              if (spec.target if spec is not None else _read(c, "target", "target")) == "onprem"
              and (name := _text(_read(c, "name", "name"))) is not None]
    if onprem and not ssh_key_given:
        found.append(("sshPrivateKey", None,
                      "an SSH private key for the hosts of " + ", ".join(onprem) + ", set as a secret "
                      "(pulumi config set --secret fleetform:sshPrivateKey < key)"))
    return found


_K3S_HOST_PORTS = {6443: "the Kubernetes API", 10250: "the kubelet", 2379: "etcd", 2380: "etcd", 5001: "Spegel"}
"""TCP ports k3s itself listens on at a node (https://docs.k3s.io/installation/requirements, "Inbound
Rules for K3s Nodes"; fleetform's onprem servers run embedded etcd, --cluster-init)."""


def _servicelb_port_problems(
    clusters: list[tuple[Any, Optional[ClusterSpec]]],
    services: list[tuple[Any, Optional[ServiceSpec]]],
) -> list[tuple[str, Any, str]]:
    """Public services' ports on fleetform's k3s (onprem) under ServiceLB. ServiceLB (klipper-lb)
    serves each LoadBalancer Service with a host port on the nodes, the Service's own port (k3s
    pkg/cloudprovider/servicelb.go: ``HostPort: port.Port``); "if there are no free host ports, the
    service load balancer will stay in pending" (k3s-io/klipper-lb README). Two public services on
    one port compete for it; a port the node itself serves (SSH, k3s, NodePorts) is taken over by
    the CNI's portmap rule. Only onprem: on an ``existing`` cluster ``servicelb`` only means
    fleetform adds no annotations (kind, minikube give each Service its own address). One line per
    service, on the first cluster."""
    found: list[tuple[str, Any, str]] = []
    reported: set[int] = set()
    for _, cluster in clusters:
        if cluster is None or cluster.target != "onprem" or cluster.load_balancer.provider != "servicelb":
            continue
        held = {**_K3S_HOST_PORTS, cluster.ssh.port: "SSH"}
        taken: dict[int, str] = {}
        for i, (_, svc) in enumerate(services):
            if svc is None or svc.expose != "public" or (svc.clusters is not None and cluster.name not in svc.clusters):
                continue
            port = svc.service_port
            if i not in reported and (port in held or 30000 <= port <= 32767):
                reported.add(i)
                what = held.get(port, "the NodePort range")
                found.append((f"services[{i}].servicePort", port,
                              f"a port the nodes of cluster {cluster.name} do not serve themselves ({port} is "
                              f"{what}'s; ServiceLB would take it over on every node)"))
                continue
            if port in taken:
                if i not in reported:
                    reported.add(i)
                    found.append((f"services[{i}].servicePort", port,
                                  f"a port not used by service {taken[port]} on cluster {cluster.name}: ServiceLB gives "
                                  "each public service a host port of its own on the nodes, and two Services on one "
                                  "port compete for it (one stays pending, or each answers on only some nodes)"))
                continue
            taken[port] = svc.name
    return found


def _internal_problems(
    clusters: list[tuple[Any, Optional[ClusterSpec]]],
    services: list[tuple[Any, Optional[ServiceSpec]]],
    runs_on: list[Optional[set[str]]],
) -> list[tuple[str, Any, str]]:
    """expose: internal where the load balancer has no private addresses to give
    (:meth:`LoadBalancerSpec.internal_problem`): config refuses it rather than plan a Service as
    reachable as a public one."""
    found: list[tuple[str, Any, str]] = []
    for i, (svc, _) in enumerate(services):
        if _read(svc, "expose", "expose") != "internal":
            continue
        listed = runs_on[i]
        open_on: list[tuple[str, str]] = []
        for _, cluster in clusters:
            if cluster is None or cluster.target not in ("onprem", "existing"):
                continue
            if listed is not None and cluster.name not in listed:
                continue
            why = cluster.load_balancer.internal_problem()
            if why is not None:
                open_on.append((cluster.name, why))
        if open_on:
            names = ", ".join(n for n, _ in open_on)
            reasons = "; ".join(f"on cluster {n}, {why}" for n, why in open_on)
            found.append((f"services[{i}].expose", "internal",
                          f"internal only where the load balancer has private addresses ({reasons}); set "
                          f"loadBalancer: {{provider: metallb, internalPool: <pool>}} (or, on an existing cluster with a "
                          f"cloud controller, {{provider: cloud, internalAnnotations: {{...}}}}) on "
                          f"cluster{'s' if len(open_on) > 1 else ''} {names}, or expose: cluster"))
    return found


def _unique(names: list[Optional[str]], key: str) -> list[tuple[str, Any, str]]:
    found: list[tuple[str, Any, str]] = []
    seen: set[str] = set()
    for i, name in enumerate(names):
        if name is None:
            continue
        if name in seen:
            found.append((f"{key}[{i}].name", name, f"a name not used by another entry of {key}"))
        seen.add(name)
    return found
