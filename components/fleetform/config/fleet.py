"""The whole fleet: :class:`FleetSpec`, everything under the ``fleetform:`` config namespace.

Its clusters and services, the default namespace and Kubernetes version, the onprem SSH key; and
the checks across them: unique names, references between services and clusters, NodePort clashes
on self-managed cloud clusters.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any, Optional

from pydantic import Field, SecretStr, field_validator, model_validator

from .cluster import ClusterSpec
from .errors import _problem, _problems
from .onprem import SSH_PRIVATE_KEY_DESCRIPTION
from .service import ServiceSpec
from .values import (
    CLOUD_TARGETS,
    DEFAULT_KUBERNETES_VERSION,
    SUPPORTED_KUBERNETES_VERSIONS,
    _dns_label,
    _Model,
    _quoted_version,
)

class FleetSpec(_Model):
    """Everything under the ``fleetform:`` config namespace."""

    clusters: list[ClusterSpec] = Field(min_length=1, description="The clusters of this stack (at least one).")
    services: list[ServiceSpec] = Field(default_factory=list, description="The microservices deployed on the clusters.")
    namespace: str = Field(default="fleetform", description="Kubernetes namespace fleetform creates for the services.")
    kubernetes_version: str = Field(
        default=DEFAULT_KUBERNETES_VERSION, description="Default Kubernetes minor version of the clusters."
    )
    ssh_private_key: Optional[SecretStr] = Field(
        default=None, description=SSH_PRIVATE_KEY_DESCRIPTION
    )

    @field_validator("namespace", mode="after")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if v in ("default", "kube-system", "kube-public", "kube-node-lease"):
            raise _problem("a namespace of fleetform's own, not default or a kube-* system namespace")
        return _dns_label(v, 63)

    @field_validator("kubernetes_version", mode="before")
    @classmethod
    def _quoted_version(cls, v: Any) -> Any:
        return _quoted_version(v)

    @field_validator("kubernetes_version", mode="after")
    @classmethod
    def _version(cls, v: str) -> str:
        if v not in SUPPORTED_KUBERNETES_VERSIONS:
            raise _problem("one of " + ", ".join(SUPPORTED_KUBERNETES_VERSIONS) + " (a quoted minor version)")
        return v

    @model_validator(mode="after")
    def _cross_checks(self) -> "FleetSpec":
        _unique(self.clusters, "clusters")
        _unique(self.services, "services")
        cluster_names = {c.name for c in self.clusters}
        service_names = {s.name for s in self.services}
        found: list[tuple[str, Any, str]] = []  # every reference problem, not just the first
        for i, svc in enumerate(self.services):
            for j, name in enumerate(svc.clusters or []):
                if name not in cluster_names:
                    found.append((f"services[{i}].clusters[{j}]", name,
                                  "a cluster of this stack: " + ", ".join(sorted(cluster_names))))
            for j, rule in enumerate(svc.egress):
                if rule.service is not None and rule.service not in service_names:
                    found.append((f"services[{i}].egress[{j}].service", rule.service,
                                  "a service of this stack: " + ", ".join(sorted(service_names))))
        if found:
            raise _problems(found)
        # NodePorts matter only where fleetform's own load balancer forwards to them: on the
        # self-managed cloud clusters. Two exposed services sharing one there would collide.
        for cluster in self.clusters:
            if cluster.target not in CLOUD_TARGETS or cluster.effective_mode != "self-managed":
                continue
            taken: dict[int, str] = {}
            for i, svc in enumerate(self.services):
                if svc.expose == "cluster" or (svc.clusters is not None and cluster.name not in svc.clusters):
                    continue
                port = self.node_port_of(svc)
                if port in taken:
                    raise _problem(
                        f"a NodePort not used by service {taken[port]} on cluster {cluster.name} (set nodePort "
                        "explicitly, 30000-32767)",
                        key=f"services[{i}].nodePort",
                        got=port,
                    )
                taken[port] = svc.name
        return self

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

    @model_validator(mode="after")
    def _onprem_needs_ssh_key(self) -> "FleetSpec":
        onprem = [c.name for c in self.clusters if c.target == "onprem"]
        key = self.ssh_private_key.get_secret_value().strip() if self.ssh_private_key is not None else ""
        if onprem and not key:
            raise _problem(
                "an SSH private key for the hosts of " + ", ".join(onprem) + ", set as a secret "
                "(pulumi config set --secret fleetform:sshPrivateKey < key)",
                key="sshPrivateKey", got=None,
            )
        return self

    def version_of(self, cluster: ClusterSpec) -> str:
        """The cluster's Kubernetes minor version after defaults."""
        return cluster.kubernetes_version or self.kubernetes_version

    def services_on(self, cluster: ClusterSpec) -> list[ServiceSpec]:
        """The services that run on ``cluster``."""
        return [s for s in self.services if s.clusters is None or cluster.name in s.clusters]


def _unique(items: list[Any], key: str) -> None:
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.name in seen:
            raise _problem(f"a name not used by another entry of {key}", key=f"{key}[{i}].name", got=item.name)
        seen.add(item.name)
